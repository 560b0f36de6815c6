/**
 * Errors and closing: error scoping (§1.2 reply codes: 4xx close a channel, 5xx the connection), connection.close
 * and its close-ok wait, the server-side closes (broker shutdown, operator, slow consumer) and the final teardown.
 */
import { isBrokerError } from '@warren/core';
import { DEFAULT_SLOW_CONSUMER_TIMEOUT_MS } from '@warren/transport';
import { AmqpProtocolError, encodeMethod, METHOD_IDS, PROTOCOL_HEADER, type Frame } from '../codec/index.js';
import { AmqpError, amqpReplyFor, isHardError, replyText } from '../errors.js';
import { ChannelState, clampText, State, type ConnectionState } from './connection-state.js';

/** RabbitMQ's reply text when the node shuts down (rabbit_networking:close_connections at shutdown). */
export const SHUTDOWN_REPLY_TEXT = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'";

/** An error thrown while handling one frame. */
export function frameError(s: ConnectionState, err: unknown, frame: Frame): void {
  if (s.state !== State.Open) {
    // Before open-ok there is no one to tell: RabbitMQ closes the socket (rabbit_reader handshake errors).
    if (err instanceof AmqpError || isBrokerError(err) || err instanceof AmqpProtocolError) {
      s.log.warn({ reason: err.message }, 'AMQP handshake failed');
      abort(s);
      return;
    }
    internalError(s, err);
    return;
  }
  let code: number;
  let text: string;
  let classId = 0;
  let methodId = 0;
  if (frame.type === 'method') {
    const ids = METHOD_IDS[frame.method.name];
    classId = ids.classId;
    methodId = ids.methodId;
  } else if (frame.type === 'header' || frame.type === 'body') {
    // Content completes a basic.publish.
    classId = 60;
    methodId = 40;
  }
  if (err instanceof AmqpError) {
    code = err.replyCode;
    text = err.replyText;
    if (err.classId !== 0 || err.methodId !== 0 || code === 505) {
      classId = err.classId;
      methodId = err.methodId;
    }
  } else if (isBrokerError(err)) {
    const reply = amqpReplyFor(err.code);
    code = reply.replyCode;
    text = `${reply.name} - ${err.message}`;
  } else if (err instanceof AmqpProtocolError) {
    code = err.replyCode;
    text = replyText(code, err.message);
  } else {
    internalError(s, err);
    return;
  }
  if (isHardError(code) || frame.channel === 0) {
    s.log.warn({ user: s.user?.name, vhost: s.vhost, code, text }, 'AMQP connection error');
    sendConnectionClose(s, code, text, classId, methodId);
  } else {
    channelError(s, frame.channel, code, text, classId, methodId);
  }
}

function channelError(s: ConnectionState, id: number, code: number, text: string, classId: number, methodId: number): void {
  const entry = s.channels.get(id);
  if (entry === undefined || entry.state === ChannelState.Closing) return;
  s.log.info({ channel: id, code, text }, 'AMQP channel error');
  entry.state = ChannelState.Closing;
  // Send pending confirms first, then release the core channel (requeues unacked, cancels consumers).
  entry.channel.flushConfirms();
  entry.channel.closeCore();
  s.write(encodeMethod(id, { name: 'channel.close', replyCode: code, replyText: clampText(text), classId, methodId }));
}

/** Input the codec refused. */
export function parserError(s: ConnectionState, err: unknown): void {
  if (s.state === State.Closed) return;
  if (err instanceof AmqpProtocolError) {
    if (err.badProtocolHeader) {
      // §4.2.2: reply with the protocol header we support, then close.
      s.log.info({}, 'AMQP bad protocol header');
      s.state = State.Closed;
      clearTimers(s);
      s.io.end(PROTOCOL_HEADER);
      return;
    }
    if (s.state !== State.Open) {
      s.log.warn({ reason: err.message }, 'AMQP handshake failed');
      abort(s);
      return;
    }
    s.log.warn({ code: err.replyCode, reason: err.message }, 'AMQP frame error');
    // The parser is dead now: send close and end without waiting for close-ok (nothing more can be read).
    sendConnectionClose(s, err.replyCode, replyText(err.replyCode, err.message), err.classId, err.methodId);
    finish(s);
    return;
  }
  internalError(s, err);
}

/** A bug: log with the stack and close this connection only with 541. */
export function internalError(s: ConnectionState, err: unknown): void {
  if (s.state === State.Closed) return;
  s.log.error({ err, user: s.user?.name, vhost: s.vhost }, 'AMQP internal error');
  if (s.state === State.Open) {
    sendConnectionClose(s, 541, replyText(541, 'internal error'), 0, 0);
  } else {
    abort(s);
  }
}

/** Send connection.close and wait (at most the close timeout) for close-ok; nothing else is handled meanwhile. */
export function sendConnectionClose(s: ConnectionState, code: number, text: string, classId: number, methodId: number): void {
  if (s.state === State.Closing || s.state === State.Closed) return;
  s.state = State.Closing;
  // Replies still waiting for the definitions fsync would follow connection.close (§4.2.2 allows only close-ok):
  // they are dropped. One written while held stays in order before this close.
  if (!s.holdWrites) s.barrier.dropHeld();
  releaseCore(s);
  s.flushConfirms();
  s.write(encodeMethod(0, { name: 'connection.close', replyCode: code, replyText: clampText(text), classId, methodId }));
  s.closeTimer = setTimeout(() => finish(s), s.options.closeTimeoutMs ?? 3000);
  s.closeTimer.unref?.();
}

/** A frame while connection.close waits for close-ok: §4.2.2 discards everything until close-ok (or a close). */
export function closingFrame(s: ConnectionState, frame: Frame): void {
  if (frame.type !== 'method' || frame.channel !== 0) return;
  if (frame.method.name === 'connection.close-ok') {
    finish(s);
  } else if (frame.method.name === 'connection.close') {
    s.write(encodeMethod(0, { name: 'connection.close-ok' }));
    finish(s);
  }
}

/** The body of {@link AmqpConnection.onStalled}. */
export function stalled(s: ConnectionState): void {
  if (s.state === State.Closed || s.io.writable) return;
  s.log.warn(
    { user: s.user?.name, vhost: s.vhost, timeoutMs: s.options.slowConsumerTimeoutMs ?? DEFAULT_SLOW_CONSUMER_TIMEOUT_MS },
    'AMQP client did not drain its output in time (slow consumer); closing connection, unacked messages requeued',
  );
  abort(s);
}

/** The body of {@link AmqpConnection.transportClosed}. */
export function transportClosed(s: ConnectionState, err?: Error): void {
  if (s.state === State.Closed) return;
  if (err !== undefined && s.state !== State.Closing) {
    s.log.info({ err: err.message }, 'AMQP connection socket error');
  }
  teardown(s, 'socket closed');
}

/** The body of {@link AmqpConnection.shutdown}. */
export function brokerShutdown(s: ConnectionState): Promise<void> {
  if (s.state === State.Closed) return Promise.resolve();
  const done = new Promise<void>((resolve) => s.closedWaiters.push(resolve));
  if (s.state === State.Open) {
    s.log.info({ user: s.user?.name, vhost: s.vhost }, 'AMQP closing connection: broker shutdown');
    sendConnectionClose(s, 320, SHUTDOWN_REPLY_TEXT, 0, 0);
  } else if (s.state !== State.Closing) {
    abort(s);
  }
  return done;
}

/** The body of {@link AmqpConnection.forceClose}. */
export function forceClose(s: ConnectionState, reason: string): void {
  if (s.state !== State.Open) {
    if (s.state !== State.Closing && s.state !== State.Closed) abort(s);
    return;
  }
  s.log.info({ user: s.user?.name, vhost: s.vhost, reason }, 'AMQP closing connection: closed by an operator');
  sendConnectionClose(s, 320, replyText(320, reason), 0, 0);
}

/** Orderly end: flush what is written and half-close. */
export function finish(s: ConnectionState): void {
  if (s.state === State.Closed) return;
  teardown(s, 'closed');
  s.io.end();
}

/** Close the transport at once (handshake failures, heartbeat timeout). */
export function abort(s: ConnectionState): void {
  if (s.state === State.Closed) return;
  teardown(s, 'aborted');
  s.io.destroy();
}

function teardown(s: ConnectionState, why: string): void {
  s.state = State.Closed;
  s.backlog = [];
  s.barrier.close();
  clearTimers(s);
  releaseCore(s);
  if (s.opened) {
    s.log.info({ user: s.user?.name, vhost: s.vhost, why }, 'AMQP connection closed');
  }
  const waiters = s.closedWaiters;
  s.closedWaiters = [];
  for (const w of waiters) w();
}

function releaseCore(s: ConnectionState): void {
  for (const entry of s.channels.values()) entry.channel.closeCore();
  s.channels.clear();
  s.dirty.length = 0;
  const core = s.core;
  s.core = undefined;
  if (core !== undefined) {
    try {
      core.close();
    } catch (err) {
      s.log.error({ err }, 'AMQP core connection close failed');
    }
  }
}

/** Stop the handshake, heartbeat and close-ok timers. */
export function clearTimers(s: ConnectionState): void {
  if (s.handshakeTimer !== undefined) clearTimeout(s.handshakeTimer);
  if (s.heartbeatTimer !== undefined) clearInterval(s.heartbeatTimer);
  if (s.closeTimer !== undefined) clearTimeout(s.closeTimer);
  s.handshakeTimer = undefined;
  s.heartbeatTimer = undefined;
  s.closeTimer = undefined;
}
