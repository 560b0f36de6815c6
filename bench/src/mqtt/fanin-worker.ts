/**
 * A fan-in device process (forked by mqtt-load.ts): it opens its share of the device connections and publishes QoS 1
 * to `devices-<tag>/<id>/temp` 10 times a second per device. Spreading the devices over several such processes keeps
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
import { nowUs } from '../worker.js';
import { PhaseSchedule } from './fanin-schedule.js';
import { LoadClient, PublishTemplate, type MqttRunOptions } from './mqtt-load.js';

/** Parent → device process. `ids`: this process's device numbers, of `devices` in all. */
export type FanInWorkerCommand =
  | { type: 'init'; options: MqttRunOptions; tag: string; ids: number[]; devices: number }
  | { type: 'start'; atUs: number }
  | { type: 'stop' };

/** Device process → parent. */
export type FanInWorkerReply = { type: 'ready' } | { type: 'stopped'; sent: number; error?: string } | { type: 'failed'; message: string };

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
  process.on('message', (m: FanInWorkerCommand) => {
    if (m.type === 'init') {
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
      const failure = devs.find((d) => d.c.error !== undefined)?.c.error;
      for (const d of devs) d.c.close();
      send({ type: 'stopped', sent, ...(failure !== undefined ? { error: failure.message } : {}) });
      process.disconnect?.();
    }
  });
  process.on('disconnect', () => process.exit(0));
}

void main();
