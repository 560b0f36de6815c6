/**
 * The broker as a child process for the crash tests: starts Warren on a data directory with AMQP on a free port and
 * prints `{"port":n}` on stdout once listening. Run with vite-node (sources, no build):
 *   vite-node -c vitest.config.ts tests/durability/broker-child.ts -- <dataDir> [queueMemoryBudget]
 * With WARREN_CHILD_MQTT=1 it also listens for MQTT on a free port and prints `{"mqtt":n}` on a line before.
 */
import { listenersOff, startEmbeddedBroker as startBroker } from '@warren/server';

const args = process.argv.slice(2).filter((a) => a !== '--');
const dataDir = args[0];
if (dataDir === undefined) {
  process.stderr.write('usage: broker-child <dataDir> [queueMemoryBudget]\n');
  process.exit(2);
}
const budget = args[1] === undefined ? undefined : Number(args[1]);
// Only AMQP (and MQTT when asked): every other listener is switched off (tests run in parallel on one machine).
const withMqtt = process.env['WARREN_CHILD_MQTT'] === '1';
const running = await startBroker({
  ...listenersOff(),
  dataDir,
  host: '127.0.0.1',
  log: { level: process.env['WARREN_LOG'] ?? 'warn' },
  amqp: { port: 0, tlsPort: null },
  ...(withMqtt ? { mqtt: { port: 0, tlsPort: null } } : {}),
  ...(budget === undefined ? {} : { queueMemoryBudget: budget }),
});
if (withMqtt) process.stdout.write(`${JSON.stringify({ mqtt: (running.ports as Record<string, number>)['mqtt'] })}\n`);
process.stdout.write(`${JSON.stringify({ port: running.ports.amqp })}\n`);
process.on('SIGTERM', () => {
  void running.stop().then(() => process.exit(0));
});
