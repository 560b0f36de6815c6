/**
 * A fan-in load process (forked by mqtt-load.ts), in one of two roles. A device process opens its share of the device
 * connections and publishes QoS 1 to `devices-<tag>/<id>/temp` 10 times a second per device. The subscriber process
 * subscribes to `devices-<tag>/#` and records latency; it runs alone so that nothing else (the parent's heap from
 * earlier scenarios, the device timers) shares its event loop and collector. Spreading the devices over several such processes keeps
 * the load tool from being the latency limit (one Node process with 500 sockets was: its tick took long enough to
 * delay its own reads and writes). Timestamps are µs of the host's monotonic clock (`process.hrtime`), which every
 * process on the machine shares, so the subscriber process can compute latency.
 *
 * The schedule (fanin-schedule.ts) spreads the devices' publishes over the 100 ms period, as independent devices
 * would be, and a 1 ms timer sends whatever has come due (a few messages, late by at most the timer's jitter; the
 * timestamp is taken at the send, so lateness is not counted as latency). The earlier schedule (every process sending
 * a tenth of its devices at once every 10 ms) made bursts of 12–50 simultaneous messages whenever the processes'
 * timers lined up, so the latency tail measured the tool's lockstep, for Mosquitto as for Warren (p99 ~1 ms for both
 * on this machine; ~0.35 ms for Mosquitto with the spread schedule).
 */
import { Histogram } from '../histogram.js';
import { nowUs } from '../worker.js';
import { PhaseSchedule } from './fanin-schedule.js';
import { LoadClient, PublishTemplate, type MqttRunOptions } from './mqtt-load.js';

/**
 * Parent → load process. Devices: `init` (`ids`: this process's device numbers, of `devices` in all), `start`, `stop`.
 * Subscriber: `subscribe`, `measure` (start the window), `report` (end it), `stop`. Each but `start` is answered.
 */
export type FanInWorkerCommand =
  | { type: 'init'; options: MqttRunOptions; tag: string; ids: number[]; devices: number }
  | { type: 'start'; atUs: number }
  | { type: 'subscribe'; options: MqttRunOptions; tag: string }
  | { type: 'measure' }
  | { type: 'report' }
  | { type: 'stop' };

/** Load process → parent. `report`: the window's latency histogram (µs, sparse) and counts. */
export type FanInWorkerReply =
  | { type: 'ready' }
  | { type: 'measuring' }
  | { type: 'report'; hist: Array<[number, number]>; delivered: number; seconds: number }
  | { type: 'stopped'; sent: number; received: number; error?: string }
  | { type: 'failed'; message: string };

const send = (m: FanInWorkerReply): void => void process.send?.(m);

interface Device {
  c: LoadClient;
  tpl: PublishTemplate;
}

async function main(): Promise<void> {
  const devs: Device[] = [];
  let ids: number[] = [];
  let devices = 0;
  let timer: NodeJS.Timeout | undefined;
  let sent = 0;
  let packetId = 0;
  // Subscriber role.
  let sub: LoadClient | undefined;
  let hist = new Histogram();
  let measuring = false;
  let windowStartUs = 0;
  let delivered = 0;
  let received = 0;
  process.on('message', (m: FanInWorkerCommand) => {
    if (m.type === 'subscribe') {
      void (async () => {
        try {
          const c = await LoadClient.open(`bench-fanin-sub-${m.tag}`, m.options);
          sub = c;
          c.onPublish = (payload) => {
            received++;
            if (!measuring) return;
            delivered++;
            hist.record(nowUs() - payload.readDoubleLE(0));
          };
          await c.subscribe(`devices-${m.tag}/#`, 1);
          send({ type: 'ready' });
        } catch (err) {
          send({ type: 'failed', message: (err as Error).message });
        }
      })();
    } else if (m.type === 'measure') {
      hist = new Histogram();
      delivered = 0;
      windowStartUs = nowUs();
      measuring = true;
      send({ type: 'measuring' });
    } else if (m.type === 'report') {
      measuring = false;
      send({ type: 'report', hist: hist.toSparse(), delivered, seconds: (nowUs() - windowStartUs) / 1e6 });
    } else if (m.type === 'init') {
      void (async () => {
        try {
          ids = [...m.ids].sort((a, b) => a - b);
          devices = m.devices;
          for (const i of ids) {
            const c = await LoadClient.open(`bench-dev-${m.tag}-${i}`, m.options);
            devs.push({ c, tpl: new PublishTemplate(`devices-${m.tag}/${i}/temp`, 1, Math.max(m.options.bodySize, 8)) });
          }
          send({ type: 'ready' });
        } catch (err) {
          send({ type: 'failed', message: (err as Error).message });
        }
      })();
    } else if (m.type === 'start') {
      const schedule = new PhaseSchedule(ids, devices, m.atUs);
      const publish = (j: number): void => {
        const d = devs[j] as Device;
        packetId = packetId === 65535 ? 1 : packetId + 1;
        const out = Buffer.allocUnsafe(d.tpl.buf.length);
        d.tpl.fill(out, 0, packetId);
        d.c.socket.write(out);
        sent++;
      };
      timer = setInterval(() => schedule.due(nowUs(), publish), 1);
    } else {
      if (timer !== undefined) clearInterval(timer);
      const failure = sub?.error ?? devs.find((d) => d.c.error !== undefined)?.c.error;
      for (const d of devs) d.c.close();
      sub?.close();
      send({ type: 'stopped', sent, received, ...(failure !== undefined ? { error: failure.message } : {}) });
      process.disconnect?.();
    }
  });
  process.on('disconnect', () => process.exit(0));
}

void main();
