/**
 * The cold side of frame dispatch: channel 0 after open, frames for channels not (yet) in the table, waits for an
 * external auth backend and the replay of the frames read meanwhile, resource-alarm blocking, and the details the
 * management API shows. The per-frame path itself stays in {@link AmqpConnection}.
 */
import type { ConnectionDetails } from '@warren/core';
import { PauseReason } from '@warren/transport';
import { encodeMethod, METHOD_IDS, type AmqpMethod, type Frame } from '../codec/index.js';
import { AmqpError } from '../errors.js';
import { AmqpChannel } from './channel.js';
import { finish } from './closing.js';
import { ChannelState, State, type ConnectionState } from './connection-state.js';

/** A frame on a channel that is not in the table: only channel.open (or a close) is expected. */
export function unopenedChannelFrame(s: ConnectionState, frame: Frame): void {
  const id = frame.channel;
  if (frame.type === 'method' && frame.method.name === 'channel.open') {
    openChannel(s, id);
    return;
  }
  if (frame.type === 'method' && frame.method.name === 'channel.close') {
    // Closing a channel that is not open: answer close-ok so the client is not left waiting.
    s.write(encodeMethod(id, { name: 'channel.close-ok' }));
    return;
  }
  if (frame.type === 'method' && frame.method.name === 'channel.close-ok') return;
  const ids = frame.type === 'method' ? METHOD_IDS[frame.method.name] : undefined;
  throw new AmqpError(504, "expected 'channel.open'", ids?.classId ?? 0, ids?.methodId ?? 0);
}

function openChannel(s: ConnectionState, id: number): void {
  const max = s.channelMax;
  if (max !== 0 && s.channels.size >= max) {
    // rabbit_reader:create_channel/2.
    throw new AmqpError(
      530,
      `number of channels opened (${s.channels.size}) has reached the negotiated channel_max (${max})`,
      20,
      10,
    );
  }
  const channel = new AmqpChannel(s.owner, id);
  channel.attach(s.core!.openChannel(channel));
  s.channels.set(id, { channel, state: ChannelState.Open });
  s.write(encodeMethod(id, { name: 'channel.open-ok', channelId: Buffer.alloc(0) }));
}

/** A method on channel 0 once the connection is open. */
export function connectionMethod(s: ConnectionState, method: AmqpMethod): void {
  switch (method.name) {
    case 'connection.close':
      s.write(encodeMethod(0, { name: 'connection.close-ok' }));
      finish(s);
      return;
    case 'connection.close-ok':
      return;
    case 'connection.update-secret':
      // RabbitMQ re-checks the new secret (OAuth 2 tokens); with password users there is nothing to refresh.
      s.write(encodeMethod(0, { name: 'connection.update-secret-ok' }));
      return;
    default: {
      const ids = METHOD_IDS[method.name];
      // rabbit_reader: a non-connection method on channel 0, or a handshake method after open.
      throw new AmqpError(504, 'unexpected method in connection state running', ids.classId, ids.methodId);
    }
  }
}

/**
 * The frame's authentication or authorisation waits for an external backend: stop reading, keep it (first) and
 * every later frame in order, and handle them again once the backend answered (the cache then has the answer).
 */
export function waitForAuth(s: ConnectionState, frame: Frame, ready: Promise<void>): void {
  s.authWait = true;
  s.backlog.unshift(frame);
  s.io.pause(PauseReason.Auth);
  void ready.then(() => authReady(s));
}

function authReady(s: ConnectionState): void {
  s.authWait = false;
  if (s.state === State.Closed) return;
  // While replies wait for a definitions fsync, the barrier's release handles the backlog.
  if (!s.barrier.waiting) handleBacklog(s);
  if (!s.authWait && (s.state as State) !== State.Closed) s.io.resume(PauseReason.Auth);
}

/**
 * The definitions are on disk and the held replies written: handle the frames that waited (the barrier then
 * reads again unless one of them started another wait).
 */
export function replayBacklog(s: ConnectionState): void {
  // The backlog waits for the auth backend now; authReady handles it.
  if (s.authWait || s.state === State.Closed) return;
  // A frame of the backlog may start another wait: onFrame then puts the rest back into the backlog, in order.
  handleBacklog(s);
}

function handleBacklog(s: ConnectionState): void {
  const backlog = s.backlog;
  s.backlog = [];
  s.inReceive = true;
  try {
    for (const frame of backlog) s.onFrame(frame);
  } finally {
    s.inReceive = false;
    s.flushConfirms();
  }
}

// RabbitMQ (rabbit_reader control_throttle) blocks only connections that publish: an alarm puts every connection
// in a "blocking" state, and the first publish seen afterwards blocks it: connection.blocked (with the
// capability) and no more reading. A connection that only consumes keeps being read, so consumers drain queues.

/** A resource alarm went on: the next publish blocks. */
export function onBlocked(s: ConnectionState, reason: string): void {
  s.alarmReason = reason;
}

/** A basic.publish arrived while an alarm is on: block now. */
export function blockPublisher(s: ConnectionState): void {
  if (s.capabilities['connection.blocked'] === true) {
    s.write(encodeMethod(0, { name: 'connection.blocked', reason: s.alarmReason ?? 'resource alarm' }));
  }
  s.io.pause(PauseReason.Alarm);
}

/** Every resource alarm is off: unblock a blocked publisher. */
export function onUnblocked(s: ConnectionState): void {
  s.alarmReason = undefined;
  if (s.state !== State.Open) return;
  if ((s.io.pauseReasons & PauseReason.Alarm) === 0) return;
  if (s.capabilities['connection.blocked'] === true) {
    s.write(encodeMethod(0, { name: 'connection.unblocked' }));
  }
  s.io.resume(PauseReason.Alarm);
}

/** What the management API shows of this connection. */
export function connectionDetails(s: ConnectionState): ConnectionDetails {
  const name = s.clientProperties['connection_name'];
  const traffic = s.io.traffic();
  return {
    protocol: 'AMQP 0-9-1',
    type: 'network',
    clientProperties: s.clientProperties,
    frameMax: s.frameMax,
    channelMax: s.channelMax,
    timeout: s.heartbeat,
    authMechanism: s.authMechanism,
    ...(typeof name === 'string' ? { userProvidedName: name } : Buffer.isBuffer(name) ? { userProvidedName: name.toString('utf8') } : {}),
    ...(traffic !== undefined ? { traffic } : {}),
  };
}
