/**
 * The web load tool's wire layer: its frames must be what a real WebSocket server (ws) reads, and its decoder must
 * read what ws sends, or the bench measures nothing. Part of `npm test`.
 */
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { startNullWebServer } from './null-ws-server.js';
import {
  BatchTemplate,
  connectEndpoint,
  encodeFrame,
  frameDecoder,
  mqttPublish,
  mqttReader,
  OP_TEXT,
  readStamp,
  stompReader,
  stompSend,
  placeholderBody,
} from './ws-wire.js';

const MASK = Buffer.from([1, 2, 3, 4]);

describe('ws-wire', () => {
  it('decodes masked frames of every length class back to their payloads, split at any byte', () => {
    const small = [Buffer.from('a'), Buffer.alloc(200, 'b')];
    const all = [...small, Buffer.alloc(70_000, 'c')];
    // Byte by byte only over the small frames: the decoder re-concatenates a partial frame on every chunk.
    for (const [payloads, step] of [[small, 1], [small, 7], [all, 4096], [all, 1 << 20]] as const) {
      const wire = Buffer.concat(payloads.map((p) => encodeFrame(OP_TEXT, p, MASK)));
      const got: Buffer[] = [];
      const decode = frameDecoder((b) => got.push(Buffer.from(b)));
      for (let i = 0; i < wire.length; i += step) decode(Buffer.from(wire.subarray(i, i + step)));
      expect(Buffer.concat(got).equals(Buffer.concat(payloads))).toBe(true);
    }
  });

  it('stamps every message of a masked batch so the receiver reads the send time back', () => {
    const { frame, bodyOffset } = stompSend('/topic/t', placeholderBody(100));
    const template = new BatchTemplate(frame, bodyOffset, 8, { opcode: OP_TEXT, mask: MASK });
    const batch = template.stamped(5, 1234567.891);
    expect(batch.length).toBe(5 * template.messageLength);
    const stamps: number[] = [];
    frameDecoder(stompReader((f) => stamps.push(readStamp(f, f.indexOf('\n\n') + 2))))(batch);
    expect(stamps).toEqual([1234567.891, 1234567.891, 1234567.891, 1234567.891, 1234567.891]);
  });

  it('reads MQTT PUBLISH bodies back from an unmasked template', () => {
    const { packet, bodyOffset } = mqttPublish('bench/x', placeholderBody(100));
    const batch = new BatchTemplate(packet, bodyOffset, 3).stamped(3, 42.5);
    const stamps: number[] = [];
    mqttReader((type, b) => type === 3 && stamps.push(readStamp(b, 2 + b.readUInt16BE(0))))(batch);
    expect(stamps).toEqual([42.5, 42.5, 42.5]);
  });

  it('completes a handshake with ws, which reads its masked batch as separate text messages', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'v12.stomp' });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const port = (wss.address() as { port: number }).port;
    const got: Array<{ text: string; isBinary: boolean }> = [];
    const all = new Promise<void>((resolve) =>
      wss.on('connection', (ws) =>
        ws.on('message', (d: Buffer, isBinary) => {
          got.push({ text: d.toString(), isBinary });
          if (got.length === 3) resolve();
        }),
      ),
    );
    const { socket } = await connectEndpoint({ host: '127.0.0.1', port, path: '/ws', subprotocol: 'v12.stomp' });
    const { frame, bodyOffset } = stompSend('/topic/t', placeholderBody(30));
    socket.write(new BatchTemplate(frame, bodyOffset, 3, { opcode: OP_TEXT, mask: MASK }).stamped(3, 7));
    await all;
    expect(got.every((m) => !m.isBinary && m.text.startsWith('SEND\ndestination:/topic/t\n'))).toBe(true);
    socket.destroy();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  it('the do-nothing server answers CONNECT and SUBSCRIBE, then streams stamped MESSAGE frames', async () => {
    const server = await startNullWebServer('stomp', true, 100);
    const { socket } = await connectEndpoint({ host: '127.0.0.1', port: server.port, path: '/ws' });
    const commands: string[] = [];
    const enough = new Promise<void>((resolve) => {
      socket.on(
        'data',
        frameDecoder(
          stompReader((f) => {
            commands.push(f.toString('latin1', 0, f.indexOf('\n')));
            if (commands.length === 100) resolve();
          }),
        ),
      );
    });
    socket.resume();
    socket.write(encodeFrame(OP_TEXT, Buffer.from('CONNECT\n\n\0'), MASK));
    socket.write(encodeFrame(OP_TEXT, Buffer.from('SUBSCRIBE\nid:0\ndestination:/topic/x\n\n\0'), MASK));
    await enough;
    expect(commands.slice(0, 3)).toEqual(['CONNECTED', 'RECEIPT', 'MESSAGE']);
    socket.destroy();
    await server.close();
  });
});
