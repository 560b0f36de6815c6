/**
 * The short CI version of the Jepsen-style run (bench/src/cluster/jepsen-main.ts is the long one): three members
 * and etcd on loopback, AMQP publishers with confirms and MQTT QoS 1 publishers spread over every member, the leader
 * killed with SIGKILL, stopped with SIGSTOP, and cut off from etcd, and a follower gone silent. Every confirmed
 * message must be consumed, and the retained message acknowledged before the fault must be there after it.
 */
import { describe, expect, it } from 'vitest';
import { runJepsen } from '../../bench/src/cluster/jepsen.js';

describe('a replicated cluster under leader faults', () => {
  it('loses no confirmed message when the leader is killed, stopped or partitioned from etcd, or a follower goes silent', async () => {
    const lines: string[] = [];
    const report = await runJepsen({
      rounds: 4,
      faults: ['kill', 'stop', 'etcd-partition', 'follower-stop'],
      amqpPublishers: 6,
      mqttPublishers: 2,
      loadMs: 1500,
      leaseTtl: 2,
      ackTimeoutMs: 1000,
      log: (line) => lines.push(line),
    });
    console.log(lines.join('\n'));
    expect(report.rounds).toHaveLength(4);
    // Every round confirmed messages both before and after the fault, or the test proved nothing.
    for (const r of report.rounds) {
      expect(r.confirmed).toBeGreaterThan(0);
      expect(r.failoverMs).toBeDefined();
      // A hurt leader is replaced; a silent follower leaves the ISR and the leader carries on.
      if (r.fault === 'follower-stop') expect(r.newLeader).toBe(r.oldLeader);
      else expect(r.newLeader).not.toBe(r.oldLeader);
    }
    expect(report.lost).toBe(0);
    expect(report.retainedLost).toBe(0);
  }, 300_000);
});
