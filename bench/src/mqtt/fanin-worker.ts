/**
 * A fan-in device process (forked by mqtt-load.ts): it opens its share of the device connections and publishes QoS 1
 * to `devices-<tag>/<id>/temp` 10 times a second per device, spread over 10 ms ticks. Spreading the devices over
 * several such processes keeps the load tool from being the latency limit (one Node process with 500 sockets was:
 * its tick took long enough to delay its own reads and writes). Timestamps are µs of the host's monotonic clock
 * (`process.hrtime`), which every process on the machine shares, so the subscriber process can compute latency.
 */
import { LoadClient, PublishTemplate, type MqttRunOptions } from './mqtt-load.js';

/** Parent → device process. */
export type FanInWorkerCommand =
  | { type: 'init'; options: MqttRunOptions; tag: string; from: number; to: number }
  | { type: 'start' }
  | { type: 'stop' };

/** Device process → parent. */
export type FanInWorkerReply = { type: 'ready' } | { type: 'stopped'; sent: number; error?: string } | { type: 'failed'; message: string };

const send = (m: FanInWorkerReply): void => void process.send?.(m);

async function main(): Promise<void> {
  const pubs: Array<{ c: LoadClient; tpl: PublishTemplate }> = [];
  let timer: NodeJS.Timeout | undefined;
  let sent = 0;
  let packetId = 0;
  process.on('message', (m: FanInWorkerCommand) => {
    if (m.type === 'init') {
      void (async () => {
        try {
          for (let i = m.from; i < m.to; i++) {
            const c = await LoadClient.open(`bench-dev-${m.tag}-${i}`, m.options);
            pubs.push({ c, tpl: new PublishTemplate(`devices-${m.tag}/${i}/temp`, 1, Math.max(m.options.bodySize, 8)) });
          }
          send({ type: 'ready' });
        } catch (err) {
          send({ type: 'failed', message: (err as Error).message });
        }
      })();
    } else if (m.type === 'start') {
      // Each 10 ms tick publishes for a tenth of this process's devices: every device publishes every 100 ms.
      let slot = 0;
      timer = setInterval(() => {
        for (let i = slot; i < pubs.length; i += 10) {
          const p = pubs[i] as { c: LoadClient; tpl: PublishTemplate };
          packetId = packetId === 65535 ? 1 : packetId + 1;
          const out = Buffer.allocUnsafe(p.tpl.buf.length);
          p.tpl.fill(out, 0, packetId);
          p.c.socket.write(out);
          sent++;
        }
        slot = (slot + 1) % 10;
      }, 10);
    } else {
      if (timer !== undefined) clearInterval(timer);
      const failure = pubs.find((p) => p.c.error !== undefined)?.c.error;
      for (const p of pubs) p.c.close();
      send({ type: 'stopped', sent, ...(failure !== undefined ? { error: failure.message } : {}) });
      process.disconnect?.();
    }
  });
  process.on('disconnect', () => process.exit(0));
}

void main();
