/**
 * The seam of replicated mode (DESIGN.md §8): every change the durable store makes under its data directory can be
 * reported to one observer, which ships it to replicas, and every durability wait of the store (the group commit
 * behind a publisher confirm, `StateLog.sync`, a definitions flush) also waits for the observer's {@link
 * DataDirObserver.barrier}. With no observer registered the store works exactly as on a single node.
 *
 * Paths are relative to the observed root and use `/` separators. Changes are reported in the order the store makes
 * them, synchronously, from the call that makes them; applying them in that order to a copy of the directory taken
 * when observation began reproduces the directory byte for byte (files the store keeps only for the current run,
 * such as transient paging files, are reported too; the observer decides what to ship, see
 * {@link isRunLocalPath}).
 */
export type DataDirChange =
  /** `data` is a copy the observer owns. The file is created if missing; `position` may be past its end. */
  | { readonly kind: 'write'; readonly file: string; readonly position: number; readonly data: Buffer }
  /** Set the file's length, creating it (empty) if missing. */
  | { readonly kind: 'truncate'; readonly file: string; readonly length: number }
  /** Create a directory and its missing parents. */
  | { readonly kind: 'mkdir'; readonly dir: string }
  /** Rename a file or directory, replacing a file at `to`. */
  | { readonly kind: 'rename'; readonly from: string; readonly to: string }
  /** Remove a file or a whole directory tree; no error when it is already gone. */
  | { readonly kind: 'remove'; readonly path: string };

/** What replicated mode plugs into the store. */
export interface DataDirObserver {
  /** One change, just made locally. Must not throw and must not call back into the store. */
  change(change: DataDirChange): void;
  /**
   * Call back once every change reported so far is as durable as the observer promises (on a leader: fsynced and
   * acknowledged by every in-sync replica), or with an error when that can no longer be promised (the leader was
   * fenced); the store then fails the waits it was holding (a confirm becomes a nack).
   */
  barrier(callback: (error?: Error) => void): void;
}

/**
 * Paths (relative to the data directory) the store wipes at every start, so a replica never needs them: transient
 * queues' paging files and the trash of deleted queues.
 */
export function isRunLocalPath(file: string): boolean {
  return file.startsWith('messages/transient/') || file.startsWith('messages/trash/') || file === 'messages/transient' || file === 'messages/trash';
}
