/**
 * The broker's logger: pino, JSON lines on standard output (DESIGN.md §7). The core and the adapters see it through
 * the core's pino-compatible {@link Logger} subset.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

/** The pino logger type used across the server. */
export type WarrenLogger = PinoLogger;

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** pino level name, or 'silent' to log nothing. */
  level: string;
  /** Where the JSON lines go; default standard output. Tests pass a stream to read them back. */
  destination?: DestinationStream;
}

/** Create the root logger. Lines carry `time`, `level` (as a label, e.g. "info"), `msg` and the given fields. */
export function createLogger(options: LoggerOptions): WarrenLogger {
  const pinoOptions = {
    level: options.level,
    base: { name: 'warren' },
    // Level labels rather than numbers: operators grep for "error", not 50.
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return options.destination !== undefined ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}
