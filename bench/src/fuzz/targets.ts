/**
 * What the fuzzer feeds. Codec targets take the bytes straight into a decoder; session targets take them into a
 * whole protocol adapter over an in-memory stream, with a broker behind it, the way a socket's reads arrive.
 *
 * A target returns normally for input that was handled (accepted, or refused with the protocol's own error) and
 * throws {@link CatchAll} for anything else: an exception that is not the codec's protocol error, or a line the
 * adapter logs at error level (its "internal error" path). A crash is an exception that escapes to the process; a
 * hang is a target that stops making progress (the runner watches for both).
 */
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { FrameParser, AmqpProtocolError, createAmqpService, DEFAULT_AMQP_OPTIONS } from '@warren/amqp';
import { Broker, type ConnectionInfo, type Logger } from '@warren/core';
import { createMqttService, PacketReader, ReadResult } from '@warren/mqtt';
import { createStompService, PRE_CONNECT_LIMITS, StompDecoder, StompProtocolError } from '@warren/stomp';
import { streamPair } from '@warren/transport';

/** An input was handled by a path that was not meant for it. */
export class CatchAll extends Error {}

export interface Target {
  /** Seeds (capture file prefixes) this target takes. */
  seeds: readonly string[];
  /** Strip what comes before the bytes this target reads (the HTTP upgrade of a WebSocket capture). */
  prepare?(seed: Buffer): Buffer;
  run(chunks: readonly Buffer[]): void | Promise<void>;
  close?(): Promise<void>;
}

const errorText = (err: unknown): string => (err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err));

// ---- codecs ----------------------------------------------------------------------------------------------------

function amqpCodec(): Target {
  return {
    seeds: ['amqp-'],
    run(chunks) {
      const parser = new FrameParser({ frameMax: 131072 });
      let frames = 0;
      for (const c of chunks) {
        try {
          parser.push(c, () => frames++);
        } catch (err) {
          if (err instanceof AmqpProtocolError) return;
          throw new CatchAll(errorText(err));
        }
      }
    },
  };
}

function stompCodec(): Target {
  return {
    seeds: ['stomp-'],
    run(chunks) {
      // Before CONNECT with the small limits, then as after CONNECT (the server raises them).
      const decoder = new StompDecoder(PRE_CONNECT_LIMITS);
      let frames = 0;
      for (const c of chunks) {
        try {
          decoder.push(c, (f) => {
            if (frames++ === 0 && (f.command === 'CONNECT' || f.command === 'STOMP')) {
              decoder.limits = { maxFrameSize: 1 << 20, maxHeaders: 1000, maxHeaderLength: 65536 };
            }
          });
        } catch (err) {
          if (err instanceof StompProtocolError) return;
          throw new CatchAll(errorText(err));
        }
      }
    },
  };
}

/** MQTT's reading path: the packet reader finds boundaries and sizes, decodes the hot packets and hands the rest to mqtt-packet. */
function mqttCodec(): Target {
  return {
    seeds: ['mqtt-', 'web-mqtt-'],
    prepare: webSocketPayloads,
    run(chunks) {
      for (const protocolVersion of [3, 4, 5] as const) {
        for (const fast of [false, true]) {
          let failed = false;
          const reader = new PacketReader(65536, {
            onPacket: () => true,
            onParseError: () => {
              failed = true;
            },
          });
          reader.version = protocolVersion;
          reader.fast = fast;
          for (const c of chunks) {
            if (failed) break;
            try {
              if (reader.read(Buffer.from(c)) !== ReadResult.Ok) break;
            } catch (err) {
              throw new CatchAll(`packet reader v${protocolVersion} threw ${errorText(err)}`);
            }
          }
        }
      }
    },
  };
}

interface WsReceiver {
  on(event: string, fn: (...a: unknown[]) => void): void;
  write(chunk: Buffer): boolean;
  end(): void;
}

/** WebSocket framing as the listeners read it (ws's Receiver, server side, 64 KiB messages). */
function websocketCodec(): Target {
  const require = createRequire(import.meta.url);
  const Receiver = (require('ws') as { Receiver: new (o: object) => WsReceiver }).Receiver;
  return {
    seeds: ['web-stomp-', 'web-mqtt-'],
    prepare: stripHttpUpgrade,
    async run(chunks) {
      const r = new Receiver({ isServer: true, maxPayload: 64 * 1024, binaryType: 'nodebuffer', extensions: {} });
      let bad: unknown;
      let refused = false;
      r.on('error', (err) => {
        // ws's own refusals carry a WS_ERR_* code and a close status; the listener then closes the socket.
        const code = (err as { code?: string }).code;
        if (typeof code !== 'string' || !code.startsWith('WS_ERR_')) bad ??= err;
        refused = true;
      });
      for (const ev of ['message', 'ping', 'pong', 'conclude']) r.on(ev, () => {});
      for (const c of chunks) {
        if (refused) break;
        r.write(c);
        // Errors are emitted on the next tick: let each read be judged before the next one arrives.
        await new Promise((resolve) => process.nextTick(resolve));
      }
      if (!refused) r.end();
      await new Promise((resolve) => setImmediate(resolve));
      if (bad !== undefined) throw new CatchAll(errorText(bad));
    },
  };
}

function stripHttpUpgrade(seed: Buffer): Buffer {
  const end = seed.indexOf('\r\n\r\n');
  return end < 0 ? seed : seed.subarray(end + 4);
}

/**
 * What a client sent inside a WebSocket capture: the payloads of its text and binary frames after the upgrade,
 * unmasked and joined (the clients recorded send single, unfragmented frames). A plain TCP capture is returned as
 * it is.
 */
function webSocketPayloads(seed: Buffer): Buffer {
  if (!seed.subarray(0, 4).equals(Buffer.from('GET '))) return seed;
  const b = stripHttpUpgrade(seed);
  const out: Buffer[] = [];
  let p = 0;
  while (p + 2 <= b.length) {
    let len = (b[p + 1] as number) & 0x7f;
    let at = p + 2;
    if (len === 126) {
      len = b.readUInt16BE(at);
      at += 2;
    } else if (len === 127) {
      len = Number(b.readBigUInt64BE(at));
      at += 8;
    }
    const mask = b.subarray(at, at + 4);
    at += 4;
    const payload = Buffer.from(b.subarray(at, at + len));
    for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (mask[i & 3] as number);
    const opcode = (b[p] as number) & 0x0f;
    if (opcode === 1 || opcode === 2) out.push(payload);
    p = at + len;
  }
  return Buffer.concat(out);
}

// ---- whole adapters ----------------------------------------------------------------------------------------------

/** A logger that counts error-level lines: each one is a catch-all (bad input is logged at warn or below). */
class WatchingLogger implements Logger {
  errors: string[] = [];
  debug(): void {}
  info(): void {}
  warn(): void {}
  error(obj: object | string, msg?: string): void {
    const e = typeof obj === 'object' && obj !== null && 'err' in obj ? (obj as { err: unknown }).err : undefined;
    // The message and where it was thrown (the first frames of our code), to find the bug from the report alone.
    const where = e instanceof Error ? (e.stack ?? '').split("\n").slice(1, 14).map((l) => l.trim()).join(' < ') : '';
    const err = e === undefined ? '' : `${errorText(e)}${where === '' ? '' : ` at ${where}`}`;
    this.errors.push(`${msg ?? String(obj)}${err === '' ? '' : ` (${err})`}`);
  }
  child(): Logger {
    return this;
  }
}

let connectionSeq = 0;
const info = (protocol: ConnectionInfo['protocol']): ConnectionInfo => ({
  id: `fuzz-${++connectionSeq}`,
  protocol,
  remoteAddress: '127.0.0.1',
  remotePort: 40000 + (connectionSeq % 20000),
  localPort: 1,
  tls: false,
  listener: protocol,
});

/** Feed the chunks to `serve`'s side of a stream pair, end it, and wait until the adapter closes its side. */
async function feedSession(serve: (server: Duplex) => void, chunks: readonly Buffer[], logger: WatchingLogger): Promise<void> {
  const [client, server] = streamPair();
  client.on('data', () => {});
  client.on('error', () => {});
  let closed = false;
  server.once('close', () => (closed = true));
  serve(server);
  for (const c of chunks) {
    if (closed) break;
    client.write(c);
    await new Promise((r) => setImmediate(r));
  }
  client.end();
  // Give the adapter a few turns to answer, then drop the connection as a vanished client would.
  for (let i = 0; i < 5 && !closed; i++) await new Promise((r) => setImmediate(r));
  client.destroy();
  await new Promise((r) => setImmediate(r));
  if (logger.errors.length > 0) {
    const lines = logger.errors.splice(0);
    throw new CatchAll(lines.join('; '));
  }
}

function sessionBroker(logger: Logger): Broker {
  return new Broker({ logger, users: [{ name: 'guest', password: 'guest', tags: ['administrator'] }] });
}

function amqpSession(): Target {
  const logger = new WatchingLogger();
  const broker = sessionBroker(logger);
  const service = createAmqpService({ broker, logger, options: { ...DEFAULT_AMQP_OPTIONS, handshakeTimeoutMs: 0, heartbeat: 0 } });
  return {
    seeds: ['amqp-'],
    run: (chunks) => feedSession((s) => service.handleConnection(s, info('amqp')), chunks, logger),
    close: async () => broker.close(),
  };
}

function mqttSession(): Target {
  const logger = new WatchingLogger();
  const broker = sessionBroker(logger);
  const service = createMqttService({ broker, logger, dataDir: '', options: { maxFrameSize: 1 << 20, connectTimeoutMs: 0, sysInterval: 0 } });
  return {
    seeds: ['mqtt-', 'web-mqtt-'],
    prepare: webSocketPayloads,
    run: (chunks) => feedSession((s) => service.handleConnection(s, info('mqtt')), chunks, logger),
    close: async () => {
      await service.close();
      broker.close();
    },
  };
}

function stompSession(): Target {
  const logger = new WatchingLogger();
  const broker = sessionBroker(logger);
  const service = createStompService({ broker, logger, dataDir: '', options: { maxFrameSize: 1 << 20, connectTimeoutMs: 0, errorCloseDelayMs: 0 } });
  return {
    seeds: ['stomp-', 'web-stomp-'],
    prepare: webSocketPayloads,
    run: (chunks) => feedSession((s) => service.handleConnection(s, info('stomp')), chunks, logger),
    close: async () => {
      await service.close();
      broker.close();
    },
  };
}

/** Every target by name. */
export const TARGETS: Record<string, () => Target> = {
  'amqp-codec': amqpCodec,
  'mqtt-codec': mqttCodec,
  'stomp-codec': stompCodec,
  'websocket-codec': websocketCodec,
  'amqp-session': amqpSession,
  'mqtt-session': mqttSession,
  'stomp-session': stompSession,
};
