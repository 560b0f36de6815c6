/**
 * STOMP and durability: the RECEIPT of a persistent SEND comes from the core's confirm (after the store's group
 * commit), so a message whose RECEIPT arrived survives a restart; so does a durable topic subscription's queue.
 * Raw frames over TCP against an embedded Warren restarted on the same data directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Running = Awaited<ReturnType<(typeof import('@warren/server'))['startEmbeddedBroker']>>;
let dataDir = '';
let running: Running | undefined;

async function start(): Promise<number> {
  const { startEmbeddedBroker: startBroker, SETTINGS } = await import('@warren/server');
  const config: Record<string, unknown> = { dataDir, log: { level: 'silent' } };
  for (const setting of SETTINGS) {
    const [section, field] = setting.path.split('.');
    if (setting.kind !== 'port' || section === undefined || field === undefined) continue;
    ((config[section] ??= {}) as Record<string, unknown>)[field] = field === 'port' ? 0 : null;
  }
  running = await startBroker(config as Parameters<typeof startBroker>[0]);
  return running.ports.stomp ?? 0;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'warren-stomp-durable-'));
});
afterAll(async () => {
  await running?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** A raw STOMP connection: write text, wait until the received text matches. */
async function raw(port: number): Promise<{ send(t: string): void; until(re: RegExp): Promise<string>; close(): void }> {
  const s = await new Promise<net.Socket>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => resolve(c));
    c.once('error', reject);
  });
  let text = '';
  const waiters: Array<() => void> = [];
  s.on('data', (d: Buffer) => {
    text += d.toString('utf8');
    for (const w of waiters.splice(0)) w();
  });
  const until = (re: RegExp): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in ${JSON.stringify(text)}`)), 5000);
      const check = (): void => {
        if (re.test(text)) {
          clearTimeout(timer);
          resolve(text);
        } else waiters.push(check);
      };
      check();
    });
  return { send: (t) => void s.write(t), until, close: () => void s.destroy() };
}

describe('STOMP durability', () => {
  it('a persistent SEND whose RECEIPT arrived, and a durable subscription queue, survive a restart', async () => {
    let port = await start();
    const a = await raw(port);
    a.send('CONNECT\naccept-version:1.2\nlogin:guest\npasscode:guest\n\n\0');
    await a.until(/^CONNECTED/);
    a.send('SUBSCRIBE\ndestination:/topic/alerts\nid:dur-1\ndurable:true\nauto-delete:false\nreceipt:s\n\n\0');
    await a.until(/receipt-id:s\n/);
    a.send('UNSUBSCRIBE\nid:dur-1\nreceipt:u\n\n\0'); // the durable queue stays
    await a.until(/receipt-id:u\n/);
    a.send('SEND\ndestination:/queue/durable-q\npersistent:true\nreceipt:p1\n\nkept\0');
    a.send('SEND\ndestination:/topic/alerts\npersistent:true\nreceipt:p2\n\nwhile away\0');
    await a.until(/receipt-id:p2\n/);
    a.close();
    await running?.stop();

    port = await start();
    const b = await raw(port);
    b.send('CONNECT\naccept-version:1.2\nlogin:guest\npasscode:guest\n\n\0');
    await b.until(/^CONNECTED/);
    b.send('SUBSCRIBE\ndestination:/queue/durable-q\nid:1\n\n\0');
    b.send('SUBSCRIBE\ndestination:/topic/alerts\nid:dur-1\ndurable:true\nauto-delete:false\n\n\0');
    const text = await b.until(/\n\nkept\0[\s\S]*\n\nwhile away\0|\n\nwhile away\0[\s\S]*\n\nkept\0/);
    expect(text).toMatch(/persistent:true/);
    b.close();
  });
});
