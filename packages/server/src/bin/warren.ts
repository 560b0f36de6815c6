#!/usr/bin/env node
/**
 * The `warren` executable. Process-level policy lives here and only here: SIGINT/SIGTERM stop gracefully (a second
 * signal exits at once); an uncaught exception or unhandled rejection is a bug that escaped every connection's own
 * error handling, so it is logged as fatal and the process exits non-zero rather than serving in an unknown state.
 */
import { EXIT_FAILURE, runCli } from '../cli.js';

const result = await runCli(process.argv.slice(2), process.env, {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});

if (result.kind === 'exit') {
  process.exitCode = result.code;
} else {
  const { running, logger } = result;

  const die = (err: unknown, origin: string): void => {
    logger.fatal({ err, origin }, 'unexpected error; exiting');
    process.exit(EXIT_FAILURE);
  };
  process.on('uncaughtException', (err, origin) => die(err, origin));
  process.on('unhandledRejection', (reason) => die(reason, 'unhandledRejection'));

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal; exiting without waiting');
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    logger.info({ signal }, 'signal received; stopping');
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => die(err, 'stop'),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
