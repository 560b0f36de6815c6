/** One segment file of one queue (or of the shared body log, which has no ack file). */
export class Segment {
  /** Entries written here and not yet settled. */
  live = 0;
  /** Bytes in the file (flushed) and bytes appended including the pending ones. */
  flushed: number;
  size: number;
  ackFd: number | undefined = undefined;
  /** Place in the store's list of segments with open files (-1 = none open), and the clock's second-chance bit. */
  openIndex = -1;
  used = false;
  /** Marks waiting for the next flush: offset × 2 + kind. */
  ackPending: number[] = [];
  /** For a recovered segment: offsets settled and offsets delivered in a previous run. */
  acked: Set<number> | undefined = undefined;
  delivered: Set<number> | undefined = undefined;
  /** For a recovered segment: offsets of references whose body was not found (skipped when reading back). */
  missing: Set<number> | undefined = undefined;

  constructor(
    readonly id: number,
    readonly file: string,
    /** The segment file's fd; -1 while closed (not opened yet, or closed by the store's file cache). */
    public fd: number,
    size: number,
    /** Written by an earlier run: its transient records are dead. */
    readonly old: boolean,
  ) {
    this.flushed = size;
    this.size = size;
  }

  get ackFile(): string {
    return this.file.slice(0, -4) + '.ack';
  }
}
