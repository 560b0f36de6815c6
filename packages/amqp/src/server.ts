/**
 * Listener glue: wires one accepted byte stream (TCP, TLS, or any Duplex) to an {@link AmqpConnection} through the
 * transport's {@link OutboundWriter}. Reading is paused and resumed by the connection (backpressure, alarms).
 */
import type { Duplex } from 'node:stream';
import type { ConnectionInfo } from '@warren/core';
import { OutboundWriter, StreamIo, type OutboundStream } from '@warren/transport';
import { AmqpConnection, type AmqpConnectionContext } from './connection/connection.js';
import type { AmqpIo } from './connection/io.js';

/** The writer's high-water mark (the transport's default, 1 MiB): deliveries stop there. */
const HIGH_WATER_MARK = 1024 * 1024;
/** Reading stops only at this many pending output bytes ("well over" the mark, see AmqpConnection.receive). */
const READ_PAUSE_BYTES = 4 * HIGH_WATER_MARK;

/**
 * The live AMQP connections of a server, so that a stopping broker can close each one properly (connection.close
 * 320 CONNECTION_FORCED) before the sockets go.
 */
export class AmqpConnectionRegistry {
  readonly #connections = new Set<AmqpConnection>();

  /** Number of live connections. */
  get size(): number {
    return this.#connections.size;
  }

  add(connection: AmqpConnection): void {
    this.#connections.add(connection);
  }

  delete(connection: AmqpConnection): void {
    this.#connections.delete(connection);
  }

  /**
   * Send every live connection RabbitMQ's shutdown close and wait for the clients' close-ok, at most `timeoutMs`
   * (connections that have not answered by then are left to the caller, which destroys the sockets).
   */
  async closeAll(timeoutMs: number): Promise<void> {
    const all = [...this.#connections].map((c) => c.shutdown());
    if (all.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    await Promise.race([Promise.all(all), timeout]);
    clearTimeout(timer);
  }
}

/** Adapts a socket and its writer to the state machine's {@link AmqpIo}. */
class SocketIo extends StreamIo implements AmqpIo {
  /** Enough output pending that reading more input should wait. */
  override get overloaded(): boolean {
    return this.writer.pendingBytes >= READ_PAUSE_BYTES;
  }
}

/**
 * Serve one AMQP connection on `socket` until it closes. Never throws: failures close this connection only.
 * Returns the connection (for tests and metrics).
 */
export function serveAmqpConnection(
  socket: Duplex,
  info: ConnectionInfo,
  ctx: AmqpConnectionContext,
  registry?: AmqpConnectionRegistry,
): AmqpConnection {
  const writer = new OutboundWriter(socket as unknown as OutboundStream, { highWaterMark: HIGH_WATER_MARK });
  const io = new SocketIo(socket, writer);
  const connection = new AmqpConnection(io, info, ctx);
  registry?.add(connection);
  writer.onDrain(() => connection.onWritable());
  socket.on('data', (chunk: Buffer | string) => {
    io.received(chunk.length);
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
    registry?.delete(connection);
  });
  return connection;
}
