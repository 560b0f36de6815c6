/**
 * Listener glue: wires one accepted byte stream (TCP, TLS, or any Duplex) to an {@link AmqpConnection} through the
 * transport's {@link OutboundWriter}. Reading is paused and resumed by the connection (backpressure, alarms).
 */
import type { Duplex } from 'node:stream';
import type { ConnectionInfo } from '@warren/core';
import { OutboundWriter, type OutboundStream } from '@warren/transport';
import { AmqpConnection, type AmqpConnectionContext } from './connection/connection.js';
import type { AmqpIo } from './connection/io.js';

/** Adapts a socket and its writer to the state machine's {@link AmqpIo}. */
class SocketIo implements AmqpIo {
  readonly #socket: Duplex;
  readonly #writer: OutboundWriter;

  constructor(socket: Duplex, writer: OutboundWriter) {
    this.#socket = socket;
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
    if (!this.#socket.destroyed) this.#socket.destroy();
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }
}

/**
 * Serve one AMQP connection on `socket` until it closes. Never throws: failures close this connection only.
 * Returns the connection (for tests and metrics).
 */
export function serveAmqpConnection(socket: Duplex, info: ConnectionInfo, ctx: AmqpConnectionContext): AmqpConnection {
  const writer = new OutboundWriter(socket as unknown as OutboundStream);
  const connection = new AmqpConnection(new SocketIo(socket, writer), info, ctx);
  writer.onDrain(() => connection.onWritable());
  socket.on('data', (chunk: Buffer | string) => {
    connection.receive(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  });
  // The peer half-closed: nothing more will come; answer with our FIN (the writer destroys after a grace period).
  socket.on('end', () => {
    connection.transportClosed();
    writer.end();
  });
  socket.on('error', (err: Error) => {
    connection.transportClosed(err);
  });
  socket.on('close', () => {
    connection.transportClosed();
  });
  return connection;
}
