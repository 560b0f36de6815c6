/**
 * A private Mosquitto (Debian's /usr/sbin/mosquitto) for `npm run bench -- --compare-mosquitto`: a free loopback
 * port, anonymous access (MQTT only, so the AMQP port is a dummy 0), generous queue limits so QoS 1 is not dropped.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, type StartedBroker } from '../brokers.js';

/** Where Debian puts the broker. */
export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';

/** Start Mosquitto and resolve once it accepts TCP connections (`pid`: its process, to read its memory). */
export async function startMosquitto(timeoutMs = 10_000): Promise<StartedBroker & { pid: number }> {
  if (!existsSync(MOSQUITTO_BIN)) throw new Error('mosquitto is not installed (sudo apt-get install -y mosquitto)');
  const dir = mkdtempSync(path.join(tmpdir(), 'warren-bench-mosquitto-'));
  const port = await freePort();
  const wsPort = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  // The websockets listener (libwebsockets, compiled into Debian's build) is for the w group's MQTT-over-WebSocket
  // comparison. Mosquitto 2.0.11 refuses to start with websockets listeners only, so it always comes with the TCP one.
  writeFileSync(
    conf,
    [
      'allow_anonymous true',
      'max_queued_messages 1000000',
      'max_inflight_messages 0',
      `listener ${port} 127.0.0.1`,
      `listener ${wsPort} 127.0.0.1`,
      'protocol websockets',
      '',
    ].join('\n'),
  );
  const child = spawn(MOSQUITTO_BIN, ['-c', conf], { stdio: 'ignore' });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      await new Promise<void>((done) => {
        child.once('exit', () => done());
        child.kill('SIGTERM');
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error('Mosquitto did not start');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name: 'Mosquitto', host: '127.0.0.1', port: 0, mqttPort: port, webMqttUrl: `ws://127.0.0.1:${wsPort}/ws`, pid: child.pid ?? 0, stop };
}
