/**
 * CONNECT (authentication, client id, takeover, session resume, CONNACK), keep-alive, DISCONNECT and teardown of
 * one MQTT connection.
 */
import { randomBytes } from 'node:crypto';
import { BrokerError, isBrokerError, type ChannelDetails, type ConnectionDetails, type CoreChannel, type CoreConnection, type User } from '@warren/core';
import mqttPacket, { type IConnectPacket, type Packet, type QoS } from 'mqtt-packet';
import { ReasonCode, Connack311 } from '../codec/reason-codes.js';
import { wireCodeFor } from '../errors.js';
import { checkTopicName } from '../topic.js';
import { keepAliveWheel } from './keep-alive.js';
import type { SessionState } from './session-store.js';
import { EMPTY_LIST, Phase } from './state.js';
import type { MqttConnection } from './mqtt-connection.js';
import { persistQos2 } from './inbound-publish.js';
import { recountNoLocal } from './subscriptions.js';
import { activate, ensureConsumer } from './subscription-queues.js';

/** Response Information given to an MQTT 5 client that requests it: `response/<client id>`. */
export const RESPONSE_TOPIC_PREFIX = 'response';

export function onConnect(c: MqttConnection, p: IConnectPacket): void {
  const version = p.protocolVersion ?? 4;
  c.version = version;
  const v5 = version === 5;
  const limits = c.rt.limits;
  if (c.connectTimer !== undefined) clearTimeout(c.connectTimer);
  c.connectTimer = undefined;

  const refuse = (rc311: number, rc5: number, why: string): void => {
    // The connection has no client id yet: log the one it asked for.
    c.log(`CONNECT refused: ${why}`, { clientId: p.clientId, user: p.username });
    // MQTT 5: the reason as a Reason String too, unless it would exceed the client's Maximum Packet Size.
    const connack = v5
      ? { cmd: 'connack' as const, reasonCode: rc5, sessionPresent: false, properties: { reasonString: why } }
      : { cmd: 'connack' as const, returnCode: rc311, sessionPresent: false };
    let out = mqttPacket.generate(connack, { protocolVersion: version });
    const max = p.properties?.maximumPacketSize ?? 0;
    if (v5 && max > 0 && out.length > max) out = mqttPacket.generate({ ...connack, properties: {} }, { protocolVersion: version });
    c.phase = Phase.Closed;
    c.io.end(out);
    teardown(c);
  };

  // ---- client identifier ----
  let clientId = p.clientId;
  let assigned: string | undefined;
  const cleanStart = p.clean !== false;
  if (clientId === '') {
    // [MQTT-3.1.3-8] 3.1.1: an empty id with CleanSession=0 is rejected (0x02); 3.1 always needs an id.
    if (!v5 && (!cleanStart || version === 3)) {
      refuse(Connack311.IdentifierRejected, ReasonCode.ClientIdentifierNotValid, 'empty client id');
      return;
    }
    // [MQTT-3.1.3-6] assign a unique id; MQTT 5 returns it as Assigned Client Identifier.
    clientId = assigned = `warren-${randomBytes(12).toString('base64url')}`;
  }

  // ---- MQTT 5 enhanced authentication: none is offered, so any method is refused (MQTT 5 §4.12) ----
  const method = v5 ? p.properties?.authenticationMethod : undefined;
  if (method !== undefined) {
    refuse(Connack311.NotAuthorized, ReasonCode.BadAuthenticationMethod, `unsupported authentication method ${JSON.stringify(method)}`);
    return;
  }

  // ---- keep-alive cap (Mosquitto's max_keepalive): MQTT 5 is told a Server Keep Alive [MQTT-3.2.2-21]. 3.1.1
  // cannot be told, and holding it to a shorter interval than it keeps would close healthy connections: it keeps
  // its own, as Mosquitto 2.0 does.
  let keepalive = p.keepalive ?? 0;
  let serverKeepAlive: number | undefined;
  if (v5 && limits.maxKeepAlive > 0 && (keepalive === 0 || keepalive > limits.maxKeepAlive)) {
    keepalive = serverKeepAlive = limits.maxKeepAlive;
  }

  // ---- authentication (RabbitMQ: `vhost:user` selects the vhost) ----
  let username = p.username;
  let password = p.password?.toString('utf8');
  let vhost = c.rt.options.defaultVhost;
  // RabbitMQ's mqtt.ssl_cert_login: a verified certificate stands for a missing username (a given one wins), and
  // such a client is never the anonymous user.
  const cert = c.info.peerCertificate;
  const certUser =
    c.rt.options.sslCertLogin === true && cert !== undefined && (username === undefined || username === '')
      ? (c.rt.options.certLoginFrom === 'common_name' ? cert.commonName : cert.distinguishedName) ?? null
      : undefined;
  if (certUser === null) {
    refuse(Connack311.BadUserNameOrPassword, ReasonCode.BadUserNameOrPassword, 'the client certificate has no common name');
    return;
  }
  if (certUser !== undefined) {
    username = certUser;
  } else if (username === undefined || username === '') {
    if (!c.rt.options.allowAnonymous) {
      refuse(Connack311.BadUserNameOrPassword, ReasonCode.BadUserNameOrPassword, 'anonymous connections are disabled');
      return;
    }
    username = c.rt.options.anonymousUser.username;
    password = c.rt.options.anonymousUser.password;
  } else {
    const colon = username.indexOf(':');
    if (colon > 0) {
      vhost = username.slice(0, colon);
      username = username.slice(colon + 1);
    }
  }
  let user: User;
  try {
    if (certUser !== undefined) {
      if (c.rt.broker.authenticateExternal === undefined) throw new BrokerError('ACCESS_REFUSED', 'certificate login is not supported');
      user = c.rt.broker.authenticateExternal(certUser, c.info.remoteAddress, c.info.protocol);
    } else {
      // RabbitMQ's MQTT plugin gives an external backend the client id (and vhost) with the credentials.
      user = c.rt.broker.authenticate(username, password ?? '', c.info.remoteAddress, c.info.protocol, { client_id: clientId, vhost });
    }
  } catch (err) {
    if (!isBrokerError(err)) throw err;
    refuse(wireCodeFor(err, 'authenticate', false), wireCodeFor(err, 'authenticate', true), err.message);
    return;
  }
  let conn: CoreConnection;
  try {
    c.info.clientId = clientId;
    // RabbitMQ's MQTT plugin adds the client id to the variables of topic permission patterns ({client_id}).
    conn = c.rt.broker.openConnection(c.info, user, vhost, c);
  } catch (err) {
    if (!isBrokerError(err)) throw err;
    // A connection limit is a quota (RabbitMQ 3.13's MQTT 5: 0x97); 3.1.1 has no such code: 5, as RabbitMQ.
    refuse(wireCodeFor(err, 'connect', false), wireCodeFor(err, 'connect', true), err.message);
    return;
  }
  let ch: CoreChannel;
  try {
    ch = conn.openChannel(c);
  } catch (err) {
    // The user's max-channels: an MQTT connection is one channel.
    conn.close();
    if (!isBrokerError(err)) throw err;
    refuse(wireCodeFor(err, 'connect', false), wireCodeFor(err, 'connect', true), err.message);
    return;
  }
  c.user = user;
  c.conn = conn;
  c.ch = ch;
  c.clientId = clientId;
  c.vhost = vhost;
  c.phase = Phase.Connected;
  c.reader.maxPacketSize = limits.maxPacketSize;
  c.reader.version = version;
  c.reader.fast = true;

  // ---- session expiry ----
  let expiry: number;
  if (v5) expiry = p.properties?.sessionExpiryInterval ?? 0;
  else expiry = cleanStart ? 0 : limits.maxSessionExpiry;
  const requestedExpiry = expiry;
  expiry = Math.min(expiry, limits.maxSessionExpiry);

  // ---- MQTT 5 client limits ----
  if (v5) {
    const props = p.properties;
    // [MQTT-3.1.2-?] Receive Maximum 0 is a protocol error; mqtt-packet passes it through.
    if (props?.receiveMaximum === 0 || props?.maximumPacketSize === 0) {
      c.protocolError(ReasonCode.ProtocolError, 'Receive Maximum or Maximum Packet Size of 0');
      return;
    }
    c.clientReceiveMax = props?.receiveMaximum ?? 65535;
    c.clientMaxPacketSize = props?.maximumPacketSize ?? 0;
    c.clientTopicAliasMax = props?.topicAliasMaximum ?? 0;
    c.problemInformation = props?.requestProblemInformation !== false;
  }

  // ---- takeover, then the session ----
  // [MQTT-3.1.4-3] a second connection with this client id closes the first.
  c.rt.register(c);
  const previous = c.rt.sessions.get(vhost, clientId);
  let sessionPresent = false;
  if (previous !== undefined && cleanStart) {
    c.rt.endSession(previous, conn);
  } else if (previous !== undefined) {
    sessionPresent = true;
  }
  const session: SessionState =
    sessionPresent && previous !== undefined
      ? previous
      : newSession(vhost, clientId, user, expiry);
  session.expiry = expiry;
  delete session.disconnectedAt;
  c.session = session;
  c.rt.sessions.put(session);
  c.rt.cancelExpiry(vhost, clientId);
  c.rt.cancelWill(vhost, clientId);
  c.will = p.will;
  if (p.will !== undefined) {
    const bad = checkTopicName(p.will.topic);
    if (bad !== undefined) {
      refuse(Connack311.NotAuthorized, ReasonCode.TopicNameInvalid, `invalid will topic (${bad})`);
      return;
    }
  }

  // ---- keep-alive: [MQTT-3.1.2-24] close after 1.5 × the interval without a packet; [MQTT-3.2.2-21] the
  // Server Keep Alive when one was sent ----
  if (keepalive > 0) {
    c.keepAliveMs = keepalive * 1500;
    c.lastActivity = Date.now();
    armKeepAlive(c, c.keepAliveMs);
  }

  // ---- CONNACK ----
  if (v5) {
    const properties: NonNullable<import('mqtt-packet').IConnackPacket['properties']> = {
      receiveMaximum: limits.receiveMaximum,
      maximumPacketSize: limits.maxPacketSize,
      topicAliasMaximum: limits.topicAliasMaximum,
      retainAvailable: true,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: true,
      sharedSubscriptionAvailable: true,
    };
    if (assigned !== undefined) properties.assignedClientIdentifier = assigned;
    // Request Response Information: a topic prefix this client may use for response topics (MQTT 5 §4.10).
    if (p.properties?.requestResponseInformation === true) properties.responseInformation = `${RESPONSE_TOPIC_PREFIX}/${clientId}`;
    if (requestedExpiry !== expiry) properties.sessionExpiryInterval = expiry;
    if (serverKeepAlive !== undefined) properties.serverKeepAlive = serverKeepAlive;
    c.send({ cmd: 'connack', reasonCode: 0, sessionPresent, properties });
  } else {
    c.send({ cmd: 'connack', returnCode: 0, sessionPresent });
  }
  c.io.authenticated?.();
  c.log('MQTT connection accepted', { user: user.name, vhost, version, cleanStart, expiry });

  // ---- resume the session's subscriptions and QoS 2 state ----
  for (const id of session.qos2Inbound) c.qos2InW().add(id);
  for (const s of session.subscriptions) activate(c, s);
  recountNoLocal(c);
  // The client's Receive Maximum bounds our in-flight QoS ≥ 1 deliveries ([MQTT-3.3.4-9]).
  c.ch.qos(Math.min(c.clientReceiveMax, 65535), true);
  for (const id of session.qos2Pubrel) {
    c.pubrelW().add(id);
    // [MQTT-4.4.0-1] on reconnect, resend PUBREL for unfinished QoS 2 flows.
    c.send({ cmd: 'pubrel', messageId: id });
  }
  for (const s of c.subs.values()) ensureConsumer(c, s);
}

export function armKeepAlive(c: MqttConnection, ms: number): void {
  c.keepAliveSlot = keepAliveWheel.schedule(c, Date.now() + ms);
}

export function onDisconnect(c: MqttConnection, reason: number, sessionExpiry: number | undefined): void {
  const session = c.session;
  if (sessionExpiry !== undefined && session !== undefined) {
    // [MQTT-3.14.2-2] a session that ends with the connection cannot be extended at DISCONNECT.
    if (session.expiry === 0 && sessionExpiry > 0) {
      c.protocolError(ReasonCode.ProtocolError, 'session expiry set at DISCONNECT after 0 at CONNECT');
      return;
    }
    session.expiry = Math.min(sessionExpiry, c.rt.limits.maxSessionExpiry);
  }
  // [MQTT-3.14.4-3] a normal DISCONNECT discards the will; MQTT 5 reason 0x04 asks for it to be sent.
  c.cleanDisconnect = reason !== ReasonCode.DisconnectWithWill;
  teardown(c);
  c.io.end();
}

export function teardown(c: MqttConnection): void {
  if (c.phase === Phase.Closed) {
    return;
  }
  const wasConnected = c.phase === Phase.Connected;
  c.phase = Phase.Closed;
  // Replies still held for the disk are never sent, and the packets that waited are never handled.
  c.barrier?.close();
  c.barrier = undefined;
  c.backlog = undefined;
  if (c.connectTimer !== undefined) clearTimeout(c.connectTimer);
  if (c.keepAliveSlot !== 0) keepAliveWheel.cancel(c, c.keepAliveSlot);
  c.keepAliveSlot = 0;
  c.connectTimer = undefined;
  if (!wasConnected) return;
  // DESIGN.md §7: one line per connection closed (the lines before it, if any, say why).
  c.log('MQTT connection closed', { user: c.user?.name, vhost: c.vhost, clean: c.cleanDisconnect });
  if (c.hasNoLocal) {
    c.rt.noLocalCount--;
    c.hasNoLocal = false;
  }
  const session = c.session as SessionState;
  const current = c.rt.unregister(c);
  const ch = c.ch as CoreChannel;
  const conn = c.conn as CoreConnection;
  // [MQTT-3.1.2-8] the will is published when the connection closes without a normal DISCONNECT.
  if (c.will !== undefined && !c.cleanDisconnect) {
    c.rt.publishWill(c.vhost, c.clientId, c.will, c.user as User, Math.min(c.will.properties?.willDelayInterval ?? 0, session.expiry), ch);
  }
  persistQos2(c);
  // Unacked deliveries are requeued by the core (redelivered on the next connection, with DUP set).
  ch.close();
  if (current) {
    if (session.expiry === 0) c.rt.endSession(session, conn);
    else {
      session.disconnectedAt = Date.now();
      c.rt.sessions.changed(session);
      c.rt.scheduleExpiry(session);
    }
  }
  conn.close();
}

/** Management's view of a connection: RabbitMQ lists the client id in client_properties and variable_map. */
export function connectionDetailsOf(c: MqttConnection): ConnectionDetails {
  const traffic = c.io.traffic?.();
  const version = c.version === 5 ? '5-0' : c.version === 3 ? '3.1.0' : '3.1.1';
  return {
    protocol: `${c.info.websocket === true ? 'Web ' : ''}MQTT ${version}`,
    // RabbitMQ's MQTT plugin works over direct (in-node) AMQP connections.
    type: 'direct',
    clientProperties: { client_id: c.clientId, product: 'MQTT client' },
    variableMap: { client_id: c.clientId },
    frameMax: 0,
    channelMax: 1,
    ...(traffic !== undefined ? { traffic } : {}),
  };
}

/** An MQTT connection's one channel, as management shows it. */
export const MQTT_CHANNEL_DETAILS: ChannelDetails = { number: 1, confirm: false, transactional: false, messagesUncommitted: 0, acksUncommitted: 0, messagesUnconfirmed: 0 };

/**
 * A new session's state. Its lists start as the shared {@link EMPTY_LIST} (and a user without tags shares it too): an
 * idle clean-session client never subscribes, and costs no arrays.
 */
function newSession(vhost: string, clientId: string, user: User, expiry: number): SessionState {
  const empty = EMPTY_LIST as never[];
  const tags = user.tags.length === 0 ? empty : [...user.tags];
  return { vhost, clientId, user: { name: user.name, tags }, expiry, subscriptions: empty, qos2Inbound: empty, qos2Pubrel: empty };
}
