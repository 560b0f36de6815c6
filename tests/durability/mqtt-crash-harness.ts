/**
 * Crash rounds for MQTT state: the broker runs as a child process with MQTT; while one client publishes
 * retained QoS 1 messages (and clears some) over a few topics and another keeps creating persistent sessions (CONNECT
 * clean=0, SUBSCRIBE QoS 1), the broker is SIGKILLed at a random moment. After each restart:
 * - every retained topic holds the value of its last acknowledged operation, or of a later one that was in flight
 *   (never an older one, never a cleared one that was acknowledged as cleared);
 * - every session whose SUBACK arrived is there: CONNECT clean=0 answers Session Present 1, and a message published
 *   to its filter reaches it (then the session is ended with a clean connect).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { prng, startChild, type Child } from './crash-harness.js';

const TOPICS = 40;

export interface MqttCrashOptions {
  dataDir: string;
  rounds: number;
  minKillMs?: number;
  maxKillMs?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface MqttCrashReport {
  rounds: number;
  /** Retained publishes (and clears) acknowledged, and persistent sessions whose SUBACK arrived. */
  retainedAcked: number;
  sessionsAcked: number;
  /** Sessions checked after restarts. */
  sessionsChecked: number;
  violations: string[];
}

/** The broker child with its MQTT listener, and the URL to reach it. */
async function startMqttChild(dataDir: string): Promise<Child & { mqttUrl: string }> {
  const child = await startChild(dataDir, undefined, { mqtt: true });
  return { ...child, mqttUrl: `mqtt://127.0.0.1:${child.mqttPort!}` };
}

/** One retained operation: a value, or a clear (undefined). */
interface Op {
  value: string | undefined;
  acked: boolean;
}

function connect(url: string, opts: mqtt.IClientOptions): Promise<{ client: MqttClient; sessionPresent: boolean }> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, ...opts });
    client.once('connect', (connack) => resolve({ client, sessionPresent: connack.sessionPresent }));
    client.once('error', reject);
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

/** Every retained message under `crash/r/#`: the retained messages follow the SUBACK; a second SUBACK fences them. */
async function readRetained(url: string): Promise<Map<string, string>> {
  const { client } = await connect(url, { clientId: 'crash-verify', clean: true });
  const got = new Map<string, string>();
  client.on('message', (topic, payload, packet) => {
    if (packet.retain && topic.startsWith('crash/r/')) got.set(topic, payload.toString());
  });
  await client.subscribeAsync('crash/r/#', { qos: 1 });
  await client.subscribeAsync('crash/fence', { qos: 0 });
  await client.endAsync();
  return got;
}

/** A session acknowledged before the kill: present, and its subscription delivers. */
async function checkSession(url: string, id: number, round: number, violations: string[]): Promise<void> {
  const clientId = `crash-s-${id}`;
  const { client, sessionPresent } = await connect(url, { clientId, clean: false });
  try {
    if (!sessionPresent) {
      violations.push(`round ${round}: session ${clientId} (SUBACK received) is gone after the restart`);
      return;
    }
    const probe = `probe-${round}-${id}`;
    const got = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      client.on('message', (_t, payload) => {
        if (payload.toString() === probe) {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
    const { client: pub } = await connect(url, { clientId: `crash-probe-${id}`, clean: true });
    await pub.publishAsync(`crash/sess/${id}`, probe, { qos: 1 });
    await pub.endAsync();
    if (!(await got)) violations.push(`round ${round}: session ${clientId} lost its subscription to crash/sess/${id}`);
  } finally {
    await client.endAsync();
  }
  // End the session so the state stays small.
  const { client: clean } = await connect(url, { clientId, clean: true });
  await clean.endAsync();
}

export async function runMqttCrashRounds(o: MqttCrashOptions): Promise<MqttCrashReport> {
  const rand = prng(o.seed ?? Date.now());
  const log = o.log ?? (() => {});
  const minKill = o.minKillMs ?? 300;
  const maxKill = o.maxKillMs ?? 1500;
  const violations: string[] = [];
  /** What each topic held at the last check, and the operations sent since. */
  const baseline = new Map<string, string | undefined>();
  let ops = new Map<string, Op[]>();
  let sessions: number[] = [];
  let nextSession = 1;
  let n = 1;
  let retainedAcked = 0;
  let sessionsAcked = 0;
  let sessionsChecked = 0;

  for (let round = 0; round <= o.rounds; round++) {
    const child = await startMqttChild(o.dataDir);
    try {
      // ---- check what the previous round left ----
      const stored = await readRetained(child.mqttUrl);
      for (let t = 0; t < TOPICS; t++) {
        const topic = `crash/r/${t}`;
        const list = ops.get(topic) ?? [];
        let last = -1;
        for (let i = 0; i < list.length; i++) if (list[i]!.acked) last = i;
        const allowed = last >= 0 ? list.slice(last).map((x) => x.value) : [baseline.get(topic), ...list.map((x) => x.value)];
        const value = stored.get(topic);
        if (!allowed.includes(value)) {
          violations.push(`round ${round}: ${topic} holds ${JSON.stringify(value)}; allowed ${JSON.stringify(allowed.slice(0, 4))}`);
        }
        baseline.set(topic, value);
      }
      ops = new Map();
      await Promise.all(sessions.map((id) => checkSession(child.mqttUrl, id, round, violations)));
      sessionsChecked += sessions.length;
      log(`round ${round}: ${stored.size} retained topics, ${sessions.length} sessions checked, ${violations.length} violations so far`);
      sessions = [];
      if (round === o.rounds) {
        child.proc.kill('SIGTERM');
        await child.exited;
        break;
      }

      // ---- work until the kill ----
      let killed = false;
      const { client: pub } = await connect(child.mqttUrl, { clientId: 'crash-pub', clean: true });
      pub.on('error', () => {});
      const killTimer = setTimeout(
        () => {
          killed = true;
          child.proc.kill('SIGKILL');
        },
        minKill + rand() * (maxKill - minKill),
      );
      const publisher = (async () => {
        let inFlight = 0;
        let wake: (() => void) | undefined;
        while (!killed && pub.connected) {
          while (inFlight < 16 && !killed && pub.connected) {
            const k = n++;
            const topic = `crash/r/${k % TOPICS}`;
            const op: Op = { value: k % 9 === 0 ? undefined : String(k), acked: false };
            let list = ops.get(topic);
            if (list === undefined) ops.set(topic, (list = []));
            list.push(op);
            inFlight++;
            pub.publish(topic, op.value ?? '', { qos: 1, retain: true }, (err) => {
              inFlight--;
              if (err === undefined || err === null) {
                op.acked = true;
                retainedAcked++;
              }
              wake?.();
            });
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, 50);
          });
          wake = undefined;
        }
      })();
      const creator = (async () => {
        while (!killed) {
          const id = nextSession++;
          try {
            const { client } = await connect(child.mqttUrl, { clientId: `crash-s-${id}`, clean: false });
            client.on('error', () => {});
            await client.subscribeAsync(`crash/sess/${id}`, { qos: 1 });
            sessions.push(id);
            sessionsAcked++;
            client.end(true);
          } catch {
            // the kill came first
          }
        }
      })();
      await Promise.all([publisher, creator]);
      clearTimeout(killTimer);
      await child.exited;
      pub.end(true);
    } catch (err) {
      child.proc.kill('SIGKILL');
      await child.exited;
      throw err;
    }
  }
  return { rounds: o.rounds, retainedAcked, sessionsAcked, sessionsChecked, violations };
}
