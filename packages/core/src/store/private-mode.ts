/**
 * Modes of everything the store creates in the data directory: messages, retained messages and sessions may be
 * confidential, so only the broker's own user may read them (RabbitMQ's package makes its mnesia directory 0700).
 * The process umask can only narrow these further.
 */

/** Directories: owner only (rwx------). */
export const PRIVATE_DIR = 0o700;
/** Files: owner read/write (rw-------). */
export const PRIVATE_FILE = 0o600;
