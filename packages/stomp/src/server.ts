/**
 * Listener glue: wires one accepted byte stream (TCP, TLS, or any Duplex such as a WebSocket stream) to a
 * {@link StompSession} through the transport's {@link OutboundWriter}.
 */
import type { Duplex } from 'node:stream';
import type { BrokerApi, ConnectionInfo, Logger } from '@warren/core';
import { OutboundWriter, StreamIo, type OutboundStream } from '@warren/transport';
import type { StompIo } from './session/io.js';
import { StompSession, type StompSessionOptions } from './session/stomp-session.js';

/** The STOMP session's I/O: the transport's stream-and-writer adapter as is. */
class StompStreamIo extends StreamIo implements StompIo {}

/** Serve one STOMP connection on `stream` until it closes. Never throws. Returns the session (tests, metrics). */
export function serveStompConnection(
  stream: Duplex,
  info: ConnectionInfo,
  broker: BrokerApi,
  logger: Logger,
  options: StompSessionOptions,
): StompSession {
  const writer = new OutboundWriter(stream as unknown as OutboundStream);
  const io = new StompStreamIo(stream, writer);
  const session = new StompSession(io, info, broker, logger, options);
  writer.onDrain(() => session.onWritable());
  stream.on('data', (chunk: Buffer | string) => {
    io.received(chunk.length);
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
