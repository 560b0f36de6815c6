/**
 * Listener glue: wires one accepted byte stream (TCP, TLS, or any Duplex such as a WebSocket stream) to a
 * {@link StompSession} through the transport's {@link OutboundWriter}.
 */
import type { Duplex } from 'node:stream';
import type { BrokerApi, ConnectionInfo, Logger } from '@warren/core';
import { OutboundWriter, type OutboundStream } from '@warren/transport';
import type { StompIo } from './session/io.js';
import { StompSession, type StompSessionOptions } from './session/stomp-session.js';

class StreamIo implements StompIo {
  readonly #stream: Duplex;
  readonly #writer: OutboundWriter;
  constructor(stream: Duplex, writer: OutboundWriter) {
    this.#stream = stream;
    this.#writer = writer;
  }
  write(buf: Buffer): void {
    this.#writer.write(buf);
  }
  get writable(): boolean {
    return this.#writer.writable;
  }
  end(last?: Buffer): void {
    this.#writer.end(last);
  }
  destroy(): void {
    this.#writer.destroy();
    if (!this.#stream.destroyed) this.#stream.destroy();
  }
  pause(): void {
    this.#stream.pause();
  }
  resume(): void {
    this.#stream.resume();
  }
}

/** Serve one STOMP connection on `stream` until it closes. Never throws. Returns the session (tests, metrics). */
export function serveStompConnection(
  stream: Duplex,
  info: ConnectionInfo,
  broker: BrokerApi,
  logger: Logger,
  options: StompSessionOptions,
): StompSession {
  const writer = new OutboundWriter(stream as unknown as OutboundStream);
  const session = new StompSession(new StreamIo(stream, writer), info, broker, logger, options);
  writer.onDrain(() => session.onWritable());
  stream.on('data', (chunk: Buffer | string) => {
    session.receive(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  });
  stream.on('end', () => {
    session.transportClosed();
    writer.end();
  });
  stream.on('error', (err: Error) => session.transportClosed(err));
  stream.on('close', () => session.transportClosed());
  return session;
}
