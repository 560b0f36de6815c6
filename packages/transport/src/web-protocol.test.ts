import { mkdir, mkdtemp, readFile, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Listener } from './listener.js';
import type { PeerInfo } from './peer-info.js';
import { bundleExamplePage, listenWebProtocol, type WebProtocol } from './web-protocol.js';

let dir = '';
const open: Listener[] = [];
const clients: WebSocket[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'warren-web-protocol-'));
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await Promise.all(open.splice(0).map((l) => l.close()));
  await rm(dir, { recursive: true, force: true });
});

function protocol(overrides: Partial<WebProtocol> = {}): WebProtocol {
  return {
    name: 'web-test',
    protocol: 'test',
    subprotocols: ['b.test', 'a.test'],
    maxPayloadBeforeConnect: 16,
    messageType: 'binary',
    examplesDir: join(dir, 'www'),
    ...overrides,
  };
}

/** A service that records each connection it is handed. */
function recorder(): { handleConnection(stream: Duplex, info: PeerInfo): void; next(): Promise<{ stream: Duplex; info: PeerInfo }> } {
  const waiting: Array<(a: { stream: Duplex; info: PeerInfo }) => void> = [];
  const got: Array<{ stream: Duplex; info: PeerInfo }> = [];
  return {
    handleConnection(stream, info) {
      const w = waiting.shift();
      if (w !== undefined) w({ stream, info });
      else got.push({ stream, info });
    },
    next() {
      const first = got.shift();
      return first !== undefined ? Promise.resolve(first) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

function connect(port: number, protocols: string[]): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, protocols);
  clients.push(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

describe('listenWebProtocol', () => {
  it("hands each WebSocket to the service as a stream, named after the protocol, in the protocol's subprotocol order", async () => {
    const service = recorder();
    const listener = await listenWebProtocol(service, protocol(), { host: '127.0.0.1', port: 0, maxPayload: 1024 });
    open.push(listener);
    expect(listener.name).toBe('web-test');
    const ws = await connect(listener.port, ['a.test', 'b.test']);
    expect(ws.protocol).toBe('b.test');
    const { stream, info } = await service.next();
    expect(info).toMatchObject({ protocol: 'test', listener: 'web-test', tls: false, websocket: true });
    const received = new Promise<Buffer>((resolve) => stream.once('data', resolve));
    ws.send(Buffer.from('hello'));
    expect((await received).toString()).toBe('hello');
  });

  it('keeps the pre-login message limit of the protocol unless the options give one', async () => {
    const service = recorder();
    const listener = await listenWebProtocol(service, protocol(), { host: '127.0.0.1', port: 0, maxPayload: 1024 });
    open.push(listener);
    const ws = await connect(listener.port, []);
    await service.next();
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    ws.send(Buffer.alloc(17));
    expect(await closed).toBe(1009);

    const roomy = await listenWebProtocol(recorder(), protocol(), {
      host: '127.0.0.1', port: 0, maxPayload: 1024, maxPayloadBeforeConnect: 64, name: 'custom',
    });
    open.push(roomy);
    expect(roomy.name).toBe('custom');
  });

  it('refuses text messages when the protocol accepts binary only', async () => {
    const service = recorder();
    const listener = await listenWebProtocol(service, protocol({ acceptText: false }), { host: '127.0.0.1', port: 0, maxPayload: 1024 });
    open.push(listener);
    const ws = await connect(listener.port, []);
    await service.next();
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    ws.send('text');
    expect(await closed).toBe(1003);
  });

  it("serves the example page at '/', and says how to build it when it is missing", async () => {
    const listener = await listenWebProtocol(recorder(), protocol(), { host: '127.0.0.1', port: 0, maxPayload: 1024 });
    open.push(listener);
    const missing = await fetch(`http://127.0.0.1:${listener.port}/`);
    expect(missing.status).toBe(503);
    expect((await missing.text()).trim()).toBe('The web-test example page is not built: run npm run build.');

    const off = await listenWebProtocol(recorder(), protocol(), { host: '127.0.0.1', port: 0, maxPayload: 1024, examples: false });
    open.push(off);
    expect((await fetch(`http://127.0.0.1:${off.port}/`)).status).toBe(404);
  });
});

describe('bundleExamplePage', () => {
  it('bundles app.js with what it imports, and copies index.html beside it', async () => {
    const src = join(dir, 'src');
    const out = join(dir, 'out');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'lib.js'), "export const marker = 'bundled-library-marker';\n");
    await writeFile(join(src, 'app.js'), "import { marker } from './lib.js';\ndocument.title = marker;\n");
    await writeFile(join(src, 'index.html'), '<script type="module" src="app.js"></script>\n');
    await bundleExamplePage(src, out);
    const app = await readFile(join(out, 'app.js'), 'utf8');
    expect(app).toContain('bundled-library-marker');
    expect(app).not.toContain('import');
    expect(await readFile(join(out, 'index.html'), 'utf8')).toBe('<script type="module" src="app.js"></script>\n');
    expect((await readFile(join(out, 'app.js.map'), 'utf8')).length).toBeGreaterThan(0);
  });
});
