/**
 * The Jepsen-style workload of a replicated Warren: AMQP publishers with confirms and MQTT QoS 1 publishers, spread
 * over every member's ports, send uniquely numbered persistent messages to quorum queues while faults hit the
 * leader; they reconnect and carry on. At the end every queue is drained and each message that was confirmed must
 * have come back at least once.
 */
import amqp from 'amqplib';
import mqtt from 'mqtt';
import type { MemberProcess } from './harness.js';

/** The members publishers spread over (a {@link LocalCluster}, or one single node). */
export interface Members {
  readonly members: readonly MemberProcess[];
}

export const AMQP_QUEUES = ['jepsen-a', 'jepsen-b', 'jepsen-c', 'jepsen-d'];
export const MQTT_QUEUE = 'jepsen-mqtt';

/** What publishers saw. */
export interface Tally {
  /** Message ids the broker confirmed (AMQP basic.ack, MQTT PUBACK). */
  confirmed: Set<string>;
  /** Ids sent whose fate is unknown (the connection dropped first) or that were nacked. */
  unconfirmed: number;
  /** Times (ms since the epoch) of every confirm, to tell when service resumed after a fault. */
  confirmTimes: number[];
  reconnects: number;
}

export function newTally(): Tally {
  return { confirmed: new Set(), unconfirmed: 0, confirmTimes: [], reconnects: 0 };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Declare the quorum queues (and the MQTT queue's binding) through any member. */
export async function declareQueues(cluster: Members): Promise<void> {
  for (const m of cluster.members.filter((x) => x.running)) {
    try {
      const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${m.ports.amqp}`);
      const ch = await conn.createChannel();
      for (const q of [...AMQP_QUEUES, MQTT_QUEUE]) await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      await ch.bindQueue(MQTT_QUEUE, 'amq.topic', 'jepsen.mqtt.#');
      await conn.close();
      return;
    } catch {
      await sleep(200);
    }
  }
  throw new Error('could not declare the queues on any member');
}

/** One AMQP publisher with confirms (a window of `window` in flight), reconnecting round-robin over the members. */
async function amqpPublisher(id: number, cluster: Members, tally: Tally, stop: { stopped: boolean }, window: number): Promise<void> {
  let n = 0;
  let attempt = id;
  while (!stop.stopped) {
    const member = cluster.members[attempt++ % cluster.members.length]!;
    let conn: amqp.ChannelModel | undefined;
    try {
      conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${member.ports.amqp}`, { timeout: 2000 });
      conn.on('error', () => {});
      const ch = await conn.createConfirmChannel();
      ch.on('error', () => {});
      const queue = AMQP_QUEUES[id % AMQP_QUEUES.length]!;
      let failed: Error | undefined;
      const closed = new Promise<void>((resolve) => {
        conn!.once('close', () => {
          failed ??= new Error('connection closed');
          resolve();
        });
      });
      let inFlight = 0;
      let wake: (() => void) | undefined;
      while (!stop.stopped && failed === undefined) {
        if (inFlight >= window) {
          await Promise.race([new Promise<void>((r) => (wake = r)), closed]);
          continue;
        }
        const msgId = `a${id}-${n++}`;
        inFlight++;
        ch.sendToQueue(queue, Buffer.from(msgId), { persistent: true, messageId: msgId }, (err: unknown) => {
          inFlight--;
          if (err === null || err === undefined) {
            tally.confirmed.add(msgId);
            tally.confirmTimes.push(Date.now());
          } else tally.unconfirmed++;
          wake?.();
        });
        // Let the socket drain now and then.
        if (n % 50 === 0) await sleep(0);
      }
      if (!stop.stopped) throw failed ?? new Error('closed');
      // Wait for what is in flight, then leave.
      await Promise.race([ch.waitForConfirms().catch(() => {}), closed, sleep(10_000)]);
      tally.unconfirmed += inFlight;
      await conn.close().catch(() => {});
      return;
    } catch {
      tally.reconnects++;
      await conn?.close().catch(() => {});
      await sleep(200);
    }
  }
}

/** One MQTT QoS 1 publisher, with mqtt.js rotating over every member's MQTT port on reconnect. */
async function mqttPublisher(id: number, cluster: Members, tally: Tally, stop: { stopped: boolean }, window: number): Promise<void> {
  const servers = cluster.members.map((m, i) => cluster.members[(i + id) % cluster.members.length]!).map((m) => ({ host: '127.0.0.1', port: m.ports.mqtt }));
  const client = mqtt.connect({ servers, clientId: `jepsen-mqtt-${id}`, clean: true, reconnectPeriod: 200, connectTimeout: 2000, protocolVersion: 4 });
  client.on('error', () => {});
  client.on('reconnect', () => tally.reconnects++);
  let n = 0;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  while (!stop.stopped) {
    if (inFlight >= window || !client.connected) {
      await Promise.race([new Promise<void>((r) => (wake = r)), sleep(100)]);
      continue;
    }
    const msgId = `m${id}-${n++}`;
    inFlight++;
    client.publish(`jepsen/mqtt/${id}`, msgId, { qos: 1 }, (err) => {
      inFlight--;
      if (err === undefined || err === null) {
        tally.confirmed.add(msgId);
        tally.confirmTimes.push(Date.now());
      } else tally.unconfirmed++;
      wake?.();
    });
  }
  const deadline = Date.now() + 10_000;
  while (inFlight > 0 && Date.now() < deadline) await sleep(50);
  tally.unconfirmed += inFlight;
  await client.endAsync(true).catch(() => {});
}

/** Start the publishers; `stop()` ends them and resolves once they have settled what they had in flight. */
export function startPublishers(
  cluster: Members,
  tally: Tally,
  options: { amqp: number; mqtt: number; window?: number },
): { stop(): Promise<void> } {
  const flag = { stopped: false };
  const running: Promise<void>[] = [];
  for (let i = 0; i < options.amqp; i++) running.push(amqpPublisher(i, cluster, tally, flag, options.window ?? 20));
  for (let i = 0; i < options.mqtt; i++) running.push(mqttPublisher(i, cluster, tally, flag, options.window ?? 20));
  return {
    async stop() {
      flag.stopped = true;
      await Promise.all(running);
    },
  };
}

/** Drain every queue through `member`; returns how often each id came back. */
export async function drain(member: MemberProcess): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${member.ports.amqp}`);
  const ch = await conn.createChannel();
  await ch.prefetch(500);
  for (const q of [...AMQP_QUEUES, MQTT_QUEUE]) {
    const { messageCount } = await ch.checkQueue(q);
    if (messageCount === 0) continue;
    await new Promise<void>((resolve, reject) => {
      let got = 0;
      let idle: NodeJS.Timeout | undefined;
      const finish = (): void => {
        clearTimeout(idle);
        resolve();
      };
      ch.consume(q, (msg) => {
        if (msg === null) return reject(new Error(`consumer of ${q} cancelled`));
        const body = msg.content.toString();
        seen.set(body, (seen.get(body) ?? 0) + 1);
        ch.ack(msg);
        if (++got >= messageCount) {
          clearTimeout(idle);
          idle = setTimeout(finish, 300);
        }
      }).catch(reject);
    });
  }
  await conn.close();
  return seen;
}

/** Confirmed ids that never came back, and how many came back more than once. */
export function verdict(tally: Tally, seen: Map<string, number>): { lost: string[]; duplicates: number; consumed: number } {
  const lost: string[] = [];
  for (const id of tally.confirmed) if (!seen.has(id)) lost.push(id);
  let duplicates = 0;
  let consumed = 0;
  for (const count of seen.values()) {
    consumed += count;
    if (count > 1) duplicates += count - 1;
  }
  return { lost, duplicates, consumed };
}

/**
 * The outage a fault caused: the longest gap between consecutive confirms from just before `faultAt` on (ms). A
 * killed or stopped leader stops confirming at once; one cut off from etcd keeps confirming until its lease runs out,
 * so the gap, not the time since the fault, is what clients lived through. Undefined when nothing was confirmed
 * after the fault.
 */
export function outageAfter(tally: Tally, faultAt: number): number | undefined {
  const times = tally.confirmTimes.filter((t) => t >= faultAt - 1000).sort((a, b) => a - b);
  if (times.length === 0 || times[times.length - 1]! < faultAt) return undefined;
  let worst = 0;
  let previous = Math.min(times[0]!, faultAt);
  for (const t of times) {
    worst = Math.max(worst, t - previous);
    previous = t;
  }
  return worst;
}

/** Set a retained QoS 1 message through any member; resolves once it is acknowledged (PUBACK). */
export async function setRetained(members: Members, topic: string, payload: string): Promise<void> {
  const servers = members.members.map((m) => ({ host: '127.0.0.1', port: m.ports.mqtt }));
  const client = await mqtt.connectAsync({ servers, clean: true, reconnectPeriod: 0, connectTimeout: 3000 });
  try {
    await client.publishAsync(topic, payload, { qos: 1, retain: true });
  } finally {
    await client.endAsync(true).catch(() => {});
  }
}

/** The retained message of `topic` as a new subscriber gets it through `member` (undefined: none within 3 s). */
export async function readRetained(member: MemberProcess, topic: string): Promise<string | undefined> {
  const client = await mqtt.connectAsync({ host: '127.0.0.1', port: member.ports.mqtt, clean: true, reconnectPeriod: 0, connectTimeout: 3000 });
  try {
    const got = new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 3000);
      client.on('message', (_t, payload, packet) => {
        if (!packet.retain) return;
        clearTimeout(timer);
        resolve(payload.toString());
      });
    });
    await client.subscribeAsync(topic, { qos: 1 });
    return await got;
  } finally {
    await client.endAsync(true).catch(() => {});
  }
}
