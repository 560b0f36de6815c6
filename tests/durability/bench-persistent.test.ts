/**
 * The persistent bench scenarios (bench group `p`) against a real in-process Warren on a data directory: confirms
 * arrive (after fsync), deliveries are acked, and the messages are really written as persistent.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenersOff, startEmbeddedBroker as startBroker, type RunningBroker } from '@warren/server';
import { SCENARIOS, runScenario } from '../../bench/src/runner.js';
import { publishTemplate } from '../../bench/src/wire.js';

describe('bench: persistent publish template', () => {
  it('carries delivery-mode 2 as the only property (flag bit 12)', () => {
    const t = publishTemplate(1, '', 'q', 100, true);
    const methodLen = t.bytes.readUInt32BE(3) + 8;
    const header = t.bytes.subarray(methodLen, methodLen + 23);
    expect(header.toString('hex')).toBe('02' + '0001' + '0000000f' + '003c' + '0000' + '0000000000000064' + '1000' + '02' + 'ce');
    expect(t.timestampOffset).toBe(methodLen + 23 + 7);
  });
});

describe('bench group p against Warren with its file store', () => {
  let dataDir = '';
  let running: RunningBroker;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-p-'));
    running = await startBroker({ ...listenersOff(), dataDir, host: '127.0.0.1', log: { level: 'silent' }, amqp: { port: 0, tlsPort: null } });
  });
  afterAll(async () => {
    await running.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  for (const id of ['p-persistent', 'p-persistent-10']) {
    it(`${id}: confirmed, delivered and acked`, async () => {
      const spec = SCENARIOS.find((s) => s.id === id)!;
      const r = await runScenario(spec, {
        target: { host: '127.0.0.1', port: running.ports.amqp! },
        durationS: 0.4,
        warmupS: 0,
        bodySize: 100,
        confirmWindow: 100,
        spawn: 'inline',
      });
      expect(r.error).toBeUndefined();
      // Totals, not the rate inside the 0.4 s window: on a loaded machine the first fsync round can outlast the window.
      // The publishers wait for their outstanding confirms when they stop, so every publish is settled by then.
      expect(r.totalPublished).toBeGreaterThan(0);
      expect(r.totalConfirmed).toBe(r.totalPublished);
      expect(r.totalDelivered).toBeGreaterThan(0);
      expect(r.nacked).toBe(0);
    });
  }

  it('f-fanout-10: persistent fan-out to 10 durable queues is confirmed and delivered; bodies go to the shared body log', async () => {
    const spec = SCENARIOS.find((s) => s.id === 'f-fanout-10')!;
    const r = await runScenario(spec, {
      target: { host: '127.0.0.1', port: running.ports.amqp! },
      durationS: 0.4,
      warmupS: 0,
      bodySize: 4096,
      confirmWindow: 100,
      spawn: 'inline',
      brokerPid: process.pid,
    });
    expect(r.error).toBeUndefined();
    expect(r.totalPublished).toBeGreaterThan(0);
    expect(r.totalConfirmed).toBe(r.totalPublished);
    expect(r.totalDelivered).toBeGreaterThan(0);
    expect(r.nacked).toBe(0);
    const bodies = join(dataDir, 'messages', 'bodies');
    expect(existsSync(bodies) && readdirSync(bodies).length > 0).toBe(true);
  });
});
