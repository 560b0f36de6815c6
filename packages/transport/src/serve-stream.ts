/**
 * The glue between an accepted byte stream (TCP, TLS, WebSocket, or an in-memory pair) and a protocol session,
 * written once for every adapter: it makes the {@link OutboundWriter} and the {@link ConnectionIo}, creates the
 * session, and forwards the stream's events to it.
 *
 * The stream's listeners are module-level functions shared by every connection; each finds its session through a
 * symbol on the stream, so an idle connection carries no listener closures (an MQTT broker holds many idle ones).
 */
import type { Duplex } from 'node:stream';
import { ConnectionIo } from './connection-io.js';
import { OutboundWriter, type OutboundStream, type OutboundWriterOptions } from './outbound-writer.js';
import type { PeerInfo } from './peer-info.js';

/** What {@link serveStream} drives: a protocol state machine, fed bytes and told about the transport. */
export interface StreamSession {
  /** Bytes read from the client, in any split. */
  receive(chunk: Buffer): void;
  /** The writer drained below its low-water mark: deliveries (and reading) may continue. */
  onWritable(): void;
  /** The transport ended, failed or closed (may be called more than once): release everything quietly. */
  transportClosed(err?: Error): void;
  /** The output stayed over the high-water mark for the stall timeout: the client is not reading. */
  onStalled?(): void;
}

/** Where {@link serveStream} registers its sessions while their stream is open (a Set will do). */
export interface SessionTracker<S> {
  add(session: S): unknown;
  delete(session: S): unknown;
}

/**
 * How to serve streams. Meant to be made once per service and shared by all its connections (nothing in it is
 * per connection).
 */
export interface ServeStreamOptions<S extends StreamSession, I extends ConnectionIo = ConnectionIo, X = undefined> {
  /**
   * Create the session over its I/O. `context` is what the caller passed to {@link serveStream} for this stream
   * (typically its connection info), so that this options object need not be made per connection. May throw: the
   * stream is then destroyed and the error rethrown.
   */
  createSession(io: I, stream: Duplex, context: X): S;
  /** Make the I/O object (an adapter's subclass of {@link ConnectionIo}); default a plain ConnectionIo. */
  createIo?(stream: Duplex, writer: OutboundWriter): I;
  /** Water marks, batch size and stall timeout of the writer; `onStalled` is wired to the session's. */
  writer?: Omit<OutboundWriterOptions, 'onStalled'>;
  /** {@link ConnectionIoOptions.readPauseBytes}, for the default `createIo`. */
  readPauseBytes?: number;
  /** Called after each chunk was handled (MQTT's output pacer, its byte statistics). */
  afterRead?(session: S, bytes: number): void;
  /** Sessions are added here and removed when their stream closes. */
  registry?: SessionTracker<S>;
}

/** What one served stream holds: found by the shared listeners through {@link SERVED}. */
interface Served<S extends StreamSession, I extends ConnectionIo, X> {
  readonly io: I;
  session: S;
  readonly options: ServeStreamOptions<S, I, X>;
}

const SERVED = Symbol('warren.transport.served');
type ServedStream = Duplex & { [SERVED]: Served<StreamSession, ConnectionIo, unknown> };

function onData(this: ServedStream, chunk: Buffer | string): void {
  const s = this[SERVED];
  s.io.received(chunk.length);
  s.session.receive(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  s.options.afterRead?.(s.session, chunk.length);
}

// The peer half-closed: nothing more will come; answer with our FIN (the writer destroys after a grace period).
function onEnd(this: ServedStream): void {
  const s = this[SERVED];
  s.session.transportClosed();
  s.io.end();
}

function onError(this: ServedStream, err: Error): void {
  this[SERVED].session.transportClosed(err);
}

function onClose(this: ServedStream): void {
  const s = this[SERVED];
  s.session.transportClosed();
  s.options.registry?.delete(s.session);
}

/**
 * Serve `stream` with a new session until it closes (`context`, e.g. its connection info, is handed to
 * `createSession`): creates the writer (the session is its host: drains reach `session.onWritable`, the stall
 * timeout `session.onStalled`) and the I/O, creates the session, registers it, and forwards data, end, error and close.
 * Returns the session and its I/O (for tests and metrics).
 */
export function serveStream<S extends StreamSession, I extends ConnectionIo = ConnectionIo, X = undefined>(
  stream: Duplex,
  options: ServeStreamOptions<S, I, X>,
  context?: X,
): { session: S; io: I } {
  // The shared writer options as they are: the session hears about drains and stalls as the writer's host.
  const writer = new OutboundWriter(stream as unknown as OutboundStream, options.writer);
  const io = options.createIo !== undefined
    ? options.createIo(stream, writer)
    : (new ConnectionIo(stream, writer, options.readPauseBytes !== undefined ? { readPauseBytes: options.readPauseBytes } : {}) as I);
  let session: S;
  try {
    session = options.createSession(io, stream, context as X);
  } catch (err) {
    io.destroy();
    throw err;
  }
  const served: Served<S, I, X> = { io, session, options };
  (stream as unknown as { [SERVED]: Served<S, I, X> })[SERVED] = served;
  options.registry?.add(session);
  writer.setHost(session);
  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.on('error', onError);
  stream.on('close', onClose);
  return { session, io };
}

/**
 * What every protocol package's `createXService(...)` returns: the listeners hand it each accepted stream, and the
 * server closes it on shutdown.
 */
export interface ProtocolService {
  /** Serve one accepted stream until it closes. Never throws: a failure closes this connection only. */
  handleConnection(stream: Duplex, info: PeerInfo): void;
  /** Close every live connection the protocol's way, then resolve. */
  close(): Promise<void>;
  /** Live connections. */
  readonly connectionCount: number;
}
