/**
 * The handshake (spec §4.2.2-§4.2.4 and RabbitMQ's capabilities):
 *
 *   header → start → start-ok → tune → tune-ok → open → open-ok
 *
 * with SASL PLAIN, AMQPLAIN and EXTERNAL (the verified client certificate), RabbitMQ's login refusal, the tune
 * limits, and the handshake timeout.
 */
import type { CoreConnection, FieldTable, User } from '@warren/core';
import { BrokerError, isBrokerError } from '@warren/core';
import { encodeMethod, type AmqpMethod, type Frame } from '../codec/index.js';
import { AmqpError, amqpReplyFor, replyText } from '../errors.js';
import { abort, clearTimers, finish, sendConnectionClose } from './closing.js';
import { FRAME_MIN_SIZE, State, type ConnectionState } from './connection-state.js';
import { startHeartbeat } from './heartbeat.js';
import { certificateUserName, parseSaslResponse, SASL_MECHANISMS, SASL_MECHANISMS_WITH_CERTIFICATE } from './sasl.js';

/** Warren's version, announced in connection.start. */
export const SERVER_VERSION = '0.1.0';

/** Close the connection if it is not open within the handshake timeout (0 = no limit). */
export function startHandshakeTimer(s: ConnectionState): void {
  if (s.options.handshakeTimeoutMs > 0) {
    s.handshakeTimer = setTimeout(() => onHandshakeTimeout(s), s.options.handshakeTimeoutMs);
    s.handshakeTimer.unref?.();
  }
}

/** A frame before the connection is open. */
export function handshakeFrame(s: ConnectionState, frame: Frame): void {
  if (frame.type === 'heartbeat') return;
  if (frame.type !== 'method' || frame.channel !== 0) {
    throw new AmqpError(505, 'expected method frame on channel 0 during the handshake');
  }
  handshakeMethod(s, frame.method);
}

/** The protocol header arrived: send connection.start. */
export function sendStart(s: ConnectionState): void {
  s.state = State.Starting;
  s.write(
    encodeMethod(0, {
      name: 'connection.start',
      versionMajor: 0,
      versionMinor: 9,
      serverProperties: {
        product: 'Warren',
        version: SERVER_VERSION,
        platform: 'Node.js',
        copyright: 'Copyright (c) the Warren authors',
        information: 'Licensed under the MIT license',
        cluster_name: 'warren',
        capabilities: {
          publisher_confirms: true,
          exchange_exchange_bindings: true,
          'basic.nack': true,
          consumer_cancel_notify: true,
          'connection.blocked': true,
          consumer_priorities: true,
          authentication_failure_close: true,
          per_consumer_qos: true,
          direct_reply_to: true,
        },
      },
      mechanisms: Buffer.from(
        s.info.peerCertificate !== undefined ? SASL_MECHANISMS_WITH_CERTIFICATE : SASL_MECHANISMS,
      ),
      locales: Buffer.from('en_US'),
    }),
  );
}

function handshakeMethod(s: ConnectionState, method: AmqpMethod): void {
  const state = s.state;
  if (state === State.Starting && method.name === 'connection.start-ok') {
    startOk(s, method.clientProperties, method.mechanism, method.response);
    return;
  }
  if (state === State.Tuning && method.name === 'connection.tune-ok') {
    tuneOk(s, method.channelMax, method.frameMax, method.heartbeat);
    return;
  }
  if (state === State.Opening && method.name === 'connection.open') {
    open(s, method.virtualHost);
    return;
  }
  if (method.name === 'connection.close') {
    s.write(encodeMethod(0, { name: 'connection.close-ok' }));
    finish(s);
    return;
  }
  throw new AmqpError(504, `unexpected method '${method.name}' during the handshake`);
}

function startOk(s: ConnectionState, clientProperties: FieldTable, mechanism: string, response: Buffer): void {
  s.clientProperties = clientProperties;
  s.authMechanism = mechanism;
  const caps = clientProperties['capabilities'];
  if (caps !== null && typeof caps === 'object' && !Array.isArray(caps) && !Buffer.isBuffer(caps) && !(caps instanceof Date) && !('$decimal' in caps)) {
    s.capabilities = caps as FieldTable;
  }
  if (mechanism === 'EXTERNAL') {
    external(s);
    return;
  }
  const credentials = parseSaslResponse(mechanism, response);
  if (credentials === undefined && mechanism !== 'PLAIN' && mechanism !== 'AMQPLAIN') {
    // rabbit_reader: unknown mechanism is a handshake failure; the socket is closed.
    s.log.warn({ mechanism }, 'AMQP handshake failed: unknown authentication mechanism');
    abort(s);
    return;
  }
  let user: User | undefined;
  let reason = 'malformed SASL response';
  if (credentials !== undefined) {
    try {
      user = s.broker.authenticate(credentials.username, credentials.password, s.info.remoteAddress, s.info.protocol);
    } catch (err) {
      if (!isBrokerError(err)) throw err;
      reason = err.message;
    }
  }
  loginResult(s, user, credentials?.username, mechanism, reason);
}

/**
 * SASL EXTERNAL (rabbitmq_auth_mechanism_ssl): the user is the verified client certificate's subject DN or CN; no
 * password. The response is ignored, as RabbitMQ ignores it. Without a verified certificate, or with one naming no
 * such user, the login is refused like a wrong password.
 */
function external(s: ConnectionState): void {
  const cert = s.info.peerCertificate;
  const username = cert === undefined ? undefined : certificateUserName(cert, s.options.certLoginFrom);
  let user: User | undefined;
  let reason = 'no verified client certificate';
  if (cert !== undefined && username === undefined) reason = 'the client certificate has no common name';
  if (username !== undefined) {
    try {
      if (s.broker.authenticateExternal === undefined) throw new BrokerError('ACCESS_REFUSED', 'certificate login is not supported');
      user = s.broker.authenticateExternal(username, s.info.remoteAddress, s.info.protocol);
    } catch (err) {
      if (!isBrokerError(err)) throw err;
      reason = err.message;
    }
  }
  loginResult(s, user, username, 'EXTERNAL', reason);
}

/** Continue the handshake as `user`, or refuse the login (undefined) as RabbitMQ does. */
function loginResult(s: ConnectionState, user: User | undefined, username: string | undefined, mechanism: string, reason: string): void {
  if (user === undefined) {
    s.log.warn({ user: username, mechanism, reason }, 'AMQP login refused');
    if (s.capabilities['authentication_failure_close'] === true) {
      // RabbitMQ's authentication_failure_close: connection.close 403, then the socket is closed.
      s.state = State.Closed;
      clearTimers(s);
      s.io.end(
        encodeMethod(0, {
          name: 'connection.close',
          replyCode: 403,
          replyText: replyText(
            403,
            `Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`,
          ),
          classId: 0,
          methodId: 0,
        }),
      );
    } else {
      abort(s);
    }
    return;
  }
  s.user = user;
  s.state = State.Tuning;
  s.write(
    encodeMethod(0, {
      name: 'connection.tune',
      channelMax: s.options.channelMax,
      frameMax: s.options.frameMax,
      heartbeat: s.options.heartbeat,
    }),
  );
}

function tuneOk(s: ConnectionState, channelMax: number, frameMax: number, heartbeat: number): void {
  const serverFrameMax = s.options.frameMax;
  const serverChannelMax = s.options.channelMax;
  // A client value of 0 means "no limit of its own": take the server's.
  const fm = frameMax === 0 ? serverFrameMax : frameMax;
  const cm = channelMax === 0 ? serverChannelMax : channelMax;
  // rabbit_reader:validate_negotiated_integer_value/3: RabbitMQ closes the socket on these.
  let problem: string | undefined;
  if (fm < FRAME_MIN_SIZE) {
    problem = `negotiated frame_max = ${fm} is lower than the minimum allowed value (${FRAME_MIN_SIZE})`;
  } else if (serverFrameMax !== 0 && fm > serverFrameMax) {
    problem = `negotiated frame_max = ${fm} is higher than the maximum allowed value (${serverFrameMax})`;
  } else if (serverChannelMax !== 0 && cm > serverChannelMax) {
    problem = `negotiated channel_max = ${cm} is higher than the maximum allowed value (${serverChannelMax})`;
  }
  if (problem !== undefined) {
    s.log.warn({ reason: problem }, 'AMQP handshake failed');
    abort(s);
    return;
  }
  s.frameMax = fm;
  s.parser.frameMax = fm;
  s.channelMax = cm;
  // The client's tune-ok heartbeat is the negotiated value (spec §1.4.2.6.1).
  s.heartbeat = heartbeat;
  s.state = State.Opening;
  startHeartbeat(s);
}

function open(s: ConnectionState, vhost: string): void {
  const user = s.user!;
  let core: CoreConnection;
  try {
    core = s.broker.openConnection(s.info, user, vhost, s.host);
  } catch (err) {
    if (isBrokerError(err)) {
      const reply = amqpReplyFor(err.code);
      s.log.warn({ user: user.name, vhost, reason: err.message }, 'AMQP connection.open refused');
      // RabbitMQ answers a refused vhost with connection.close 530 (hard error, whatever the code's usual scope).
      const code = reply.scope === 'connection' ? reply.replyCode : 530;
      sendConnectionClose(s, code, replyText(code, err.message), 10, 40);
      return;
    }
    throw err;
  }
  s.core = core;
  s.vhost = vhost;
  s.state = State.Open;
  s.opened = true;
  if (s.handshakeTimer !== undefined) {
    clearTimeout(s.handshakeTimer);
    s.handshakeTimer = undefined;
  }
  s.write(encodeMethod(0, { name: 'connection.open-ok', knownHosts: '' }));
  s.io.authenticated?.();
  s.log.info({ user: user.name, vhost }, 'AMQP connection opened');
  // An alarm already on was reported by openConnection (host.blocked): the first publish blocks. A BrokerApi that
  // only exposes the flag still gets the same behaviour.
  if (s.broker.blocked && s.alarmReason === undefined) s.alarmReason = 'resource alarm';
}

function onHandshakeTimeout(s: ConnectionState): void {
  s.handshakeTimer = undefined;
  if (s.state === State.Open || s.state === State.Closed) return;
  s.log.warn({ timeoutMs: s.options.handshakeTimeoutMs }, 'AMQP handshake timeout');
  abort(s);
}
