/** warrenctl as a library: `run(argv, io)` is the whole CLI; tests call it in-process. */
export { run, type RunIO } from './main.js';
export { COMMANDS } from './commands.js';
export type { Command } from './context.js';
