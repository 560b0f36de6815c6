/**
 * A broker (AMQP only) on a data directory that lives for one test, for restart tests: `start` again after `stop`
 * reopens the same directory. Registers its own beforeEach/afterEach.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { listenersOff, startEmbeddedBroker, type RunningBroker } from '@warren/server';

export function restartableBroker(prefix: string): { start(): Promise<number>; stop(): Promise<void> } {
  let dataDir = '';
  let running: RunningBroker | undefined;
  const stop = async (): Promise<void> => {
    await running?.stop();
    running = undefined;
  };
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    await stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  return {
    /** Start on the test's data directory; resolves to the AMQP port. */
    async start() {
      running = await startEmbeddedBroker({ ...listenersOff(), dataDir, host: '127.0.0.1', log: { level: 'silent' }, amqp: { port: 0, tlsPort: null } });
      return running.ports.amqp!;
    },
    stop,
  };
}
