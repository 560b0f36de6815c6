/**
 * The `warren` executable's logic, separate from process wiring so it can be tested in-process: resolve the
 * configuration, print help or start the broker, and stop gracefully on SIGINT/SIGTERM.
 */
import { ConfigError, helpText, resolveCommandLine } from './config.js';
import { createLogger, type WarrenLogger } from './logger.js';
import { startClusterMember, type RunningMember } from './cluster-mode.js';
import { startBroker, type RunningBroker, type StartOptions } from './start.js';
import { WARREN_VERSION } from './version.js';

/** What {@link runCli} touches of the outside world. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Hook for extra start options (tests inject a broker or handler). */
  startOptions?: StartOptions;
}

/** Outcome of {@link runCli}: an exit code now (help, version, errors), or a running broker. */
export type CliResult =
  | { kind: 'exit'; code: number }
  | { kind: 'running'; running: RunningBroker; logger: WarrenLogger }
  | { kind: 'member'; running: RunningMember; logger: WarrenLogger };

/** Exit code for a usage or configuration error (as in BSD sysexits' EX_USAGE spirit: not a crash). */
export const EXIT_USAGE = 2;
/** Exit code when the broker fails to start or dies. */
export const EXIT_FAILURE = 1;

function version(): string {
  return WARREN_VERSION;
}

/** Parse arguments and environment, then print help/version or start the broker. */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<CliResult> {
  let resolved;
  try {
    resolved = await resolveCommandLine(argv, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`warren: ${err.message}\n`);
      return { kind: 'exit', code: EXIT_USAGE };
    }
    throw err;
  }
  if (resolved.help) {
    io.stdout(helpText());
    return { kind: 'exit', code: 0 };
  }
  if (resolved.version) {
    io.stdout(`warren ${version()}\n`);
    return { kind: 'exit', code: 0 };
  }
  const logger = io.startOptions?.logger ?? createLogger({ level: resolved.config.log.level });
  try {
    if (resolved.config.cluster.etcd !== undefined) {
      const running = await startClusterMember(resolved.config, logger, io.startOptions);
      return { kind: 'member', running, logger };
    }
    const running = await startBroker(resolved.config, { ...io.startOptions, logger });
    return { kind: 'running', running, logger };
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`warren: ${err.message}\n`);
      return { kind: 'exit', code: EXIT_USAGE };
    }
    logger.fatal({ err }, 'Warren failed to start');
    return { kind: 'exit', code: EXIT_FAILURE };
  }
}
