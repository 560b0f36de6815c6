import type { ConfirmSink, MessageStore, QueueEntry, QueueStore, QueueStoreOptions } from './store.js';

/**
 * A FIFO of entries kept sorted by `seq`: an array with a moving head, compacted when the dead prefix grows.
 * Requeues are rare and land near the head, so a binary-search insert is cheap.
 */
class EntryList {
  #items: (QueueEntry | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(e: QueueEntry): void {
    this.#items.push(e);
  }

  peek(): QueueEntry | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  shift(): QueueEntry | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const e = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return e;
  }

  insertBySeq(e: QueueEntry): void {
    const items = this.#items;
    let lo = this.#head;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (items[mid]!.seq < e.seq) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.#head && this.#head > 0) {
      this.#items[--this.#head] = e;
      return;
    }
    items.splice(lo, 0, e);
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

/** In-memory ready messages of one queue, one {@link EntryList} per priority level. */
export class MemoryQueueStore implements QueueStore {
  readonly #levels: EntryList[];
  #count = 0;
  #bytes = 0;

  constructor(maxPriority = 0) {
    this.#levels = [];
    for (let i = 0; i <= maxPriority; i++) this.#levels.push(new EntryList());
  }

  get messageCount(): number {
    return this.#count;
  }
  get byteCount(): number {
    return this.#bytes;
  }

  push(entry: QueueEntry): void {
    this.#levels[entry.priority]!.push(entry);
    this.#count++;
    this.#bytes += entry.message.body.length;
  }

  requeue(entry: QueueEntry): void {
    this.#levels[entry.priority]!.insertBySeq(entry);
    this.#count++;
    this.#bytes += entry.message.body.length;
  }

  peek(): QueueEntry | undefined {
    if (this.#count === 0) return undefined;
    for (let p = this.#levels.length - 1; p >= 0; p--) {
      const e = this.#levels[p]!.peek();
      if (e !== undefined) return e;
    }
    return undefined;
  }

  shift(): QueueEntry | undefined {
    if (this.#count === 0) return undefined;
    for (let p = this.#levels.length - 1; p >= 0; p--) {
      const level = this.#levels[p]!;
      if (level.length > 0) {
        const e = level.shift()!;
        this.#count--;
        this.#bytes -= e.message.body.length;
        return e;
      }
    }
    return undefined;
  }

  settled(_entry: QueueEntry): void {
    // Nothing to forget: the entry is garbage once the core drops it.
  }

  purge(): number {
    const n = this.#count;
    for (const l of this.#levels) l.clear();
    this.#count = 0;
    this.#bytes = 0;
    return n;
  }

  close(): void {
    this.purge();
  }
}

/** The in-memory {@link MessageStore}: nothing survives a restart; confirms are immediate. */
export class MemoryMessageStore implements MessageStore {
  openQueue(_vhost: string, _queue: string, options: QueueStoreOptions): QueueStore {
    return new MemoryQueueStore(options.maxPriority);
  }

  confirm(sink: ConfirmSink, sequence: number, ack: boolean): void {
    sink.confirm(sequence, ack);
  }

  close(): void {}
}
