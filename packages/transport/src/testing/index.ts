/** @warren/transport/testing: test doubles for protocol sessions (kept out of the main entry). */
export { MemoryIo } from './memory-io.js';
