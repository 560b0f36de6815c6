/**
 * The STOMP differential. Every scenario of bench/src/stomp/stomp-differential.ts (raw frames, one TCP
 * socket each) runs against Warren and against a private RabbitMQ 3.10 with its STOMP plugin; the frames that come
 * back (server/session values and the run's names masked) and whether the connection stayed open must be the same.
 * Skipped where RabbitMQ is not installed. Standalone: `npm run stomp-diff -- --compare-rabbitmq`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type RunningBroker } from '@warren/server';
import {
  DIFF_SCENARIOS,
  KEPT_DIFFERENCES as KEPT,
  describe as describeRecording,
  normalize,
  runScenario,
} from '../../bench/src/stomp/stomp-differential.js';
import { rabbitmqInstalled, startPrivateRabbitMQ, type PrivateRabbitMQ } from '../support/rabbitmq.js';


describe.skipIf(!rabbitmqInstalled())('STOMP frame for frame as RabbitMQ 3.10', () => {
  let rmq: PrivateRabbitMQ | undefined;
  let warren: RunningBroker | undefined;
  const token = 'diff' + Math.random().toString(36).slice(2, 8);
  beforeAll(async () => {
    [rmq, warren] = await Promise.all([
      startPrivateRabbitMQ({ plugins: ['rabbitmq_management', 'rabbitmq_stomp'] }),
      startEmbeddedBroker({ amqp: { port: null }, mqtt: { port: null }, webStomp: { port: null }, webMqtt: { port: null } }),
    ]);
  }, 180_000);
  afterAll(async () => {
    await warren?.stop();
    await rmq?.stop();
  }, 60_000);

  it.each(DIFF_SCENARIOS.map((s) => [s.name, s] as const))('%s', async (name, scenario) => {
    const [ours, theirs] = await Promise.all([
      runScenario(warren!.ports.stomp!, scenario, token).then((r) => normalize(r, token)),
      runScenario(rmq!.stompPort, scenario, token).then((r) => normalize(r, token)),
    ]);
    if (KEPT.has(name)) {
      expect(ours.frames.map((f) => f.command)).toEqual(theirs.frames.map((f) => f.command));
      expect(ours.closedByServer).toBe(theirs.closedByServer);
      return;
    }
    expect(describeRecording(ours, scenario.unorderedMessages)).toBe(describeRecording(theirs, scenario.unorderedMessages));
  }, 30_000);
});
