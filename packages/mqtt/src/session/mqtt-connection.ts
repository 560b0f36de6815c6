/**
 * The MQTT connection state machine (3.1, 3.1.1 and 5.0): one per client connection. It takes packets from the
 * mqtt-packet parser, calls the core through one {@link CoreChannel}, and writes packets through {@link MqttIo},
 * never a socket (STYLE.md habit 1). Spec rule ids sit beside the code that enforces them.
 */
import { PauseReason, type ProtocolIo } from '@warren/transport';
import { DefinitionsBarrier, KeyedQueue, type ChannelDetails, type ChannelHost, type ConnectionDetails, type CoreChannel, type CoreConnection, type Delivery, type ConnectionInfo, type TrafficCounters, type User } from '@warren/core';
import mqttPacket, { type IConnectPacket, type Packet, type QoS } from 'mqtt-packet';
import { encodePuback } from '../codec/fast-path.js';
import { PacketReader, ReadResult, type PacketSink } from '../codec/packet-reader.js';
import { ReasonCode, Connack311 } from '../codec/reason-codes.js';
import { unreadableField } from '../codec/unreadable-field.js';
import { topicMatches } from '../topic.js';
import { keepAliveWheel, type KeepAliveTarget } from './keep-alive.js';
import type { SessionState } from './session-store.js';
import type { MqttRuntime } from './runtime.js';
import { EMPTY_MAP, EMPTY_SET, Phase, type ActiveSubscription, type ConsumerSubscriptions, type Outbound, type ConnectionLimits } from './state.js';
import { handlePacket } from './reply-order.js';
import { onConnect, armKeepAlive, onDisconnect, teardown, RESPONSE_TOPIC_PREFIX } from './connect.js';
import { onPublish, onPubrel } from './inbound-publish.js';
import { sendDelivery, sendPublish, onPuback, onPubrec, onPubcomp } from './delivery.js';
import { onSubscribe, onUnsubscribe } from './subscriptions.js';
import { subscriptionQueueName, sharedQueueName } from './subscription-queues.js';

export { ReasonCode } from '../codec/reason-codes.js';
export type { ConnectionLimits } from './state.js';
export { RESPONSE_TOPIC_PREFIX } from './connect.js';
export { sharedQueueName, subscriptionQueueName } from './subscription-queues.js';

/**
 * What the state machine needs of its transport: the transport's {@link ProtocolIo} (the outbound writer, read flow
 * control with pause reasons, byte counters).
 */
export type MqttIo = ProtocolIo;

const ACK_CMDS = new Set<Packet['cmd']>(['puback', 'pubrec', 'pubrel', 'pubcomp']);
// mqtt-packet's encoder otherwise builds, at its first use, a cache of 65,536 two-byte Buffers for packet ids and
// lengths: 6.3 MB of heap (0.6 KiB per connection at 10,000) and 65k objects for every full collection to mark. Its
// encoder is off the hot path here (PUBLISH and PUBACK have their own), so it computes them instead.
mqttPacket.writeToStream.cacheNumbers = false;



/** One MQTT connection. */
export class MqttConnection implements ChannelHost, KeepAliveTarget, PacketSink {
  readonly info: ConnectionInfo;
  readonly io: MqttIo;
  readonly rt: MqttRuntime;
  /** Finds packet boundaries and decodes packets (the codec's one reader; it holds no parser between packets). */
  readonly reader: PacketReader;
  phase: Phase = Phase.AwaitConnect;
  version: 3 | 4 | 5 = 4;
  connectTimer: NodeJS.Timeout | undefined;
  /** The keep-alive wheel slot this connection waits in; 0 = none. */
  keepAliveSlot = 0;
  keepAliveMs = 0;
  lastActivity = 0;

  // ---- after CONNECT ----
  clientId = '';
  vhost = '';
  user: User | undefined;
  conn: CoreConnection | undefined;
  ch: CoreChannel | undefined;
  session: SessionState | undefined;
  will: IConnectPacket['will'] | undefined;
  cleanDisconnect = false;
  // Maps and sets start as shared empty instances and are replaced on first write: most connections never use
  // most of them, and idle connections should cost little memory.
  subs: Map<string, ActiveSubscription> = EMPTY_MAP as Map<string, ActiveSubscription>;
  /** {@link subs} by consumer tag (see subscription-queues.ts). */
  byConsumer: Map<string, ConsumerSubscriptions> = EMPTY_MAP as Map<string, ConsumerSubscriptions>;
  consuming: Set<string> = EMPTY_SET as Set<string>;
  declared: Set<string> = EMPTY_SET as Set<string>;
  hasNoLocal = false;
  /** Filters (un)subscribed since this connection last yielded the event loop (see #spendTurn). */
  turnFilters = 0;
  /** Subscriptions with No Local, and `$SYS` ones: counted as they come and go (see #setSub). */
  noLocalSubs = 0;
  sysSubs = 0;
  /** Subscriptions per queue and binding key (`queue\0key`): UNSUBSCRIBE unbinds when the last one goes. */
  bindingRefs: Map<string, number> = EMPTY_MAP as Map<string, number>;
  /** Some subscription's filter starts with `$SYS` (only those get the broker statistics, [MQTT-4.7.2-1]). */
  hasSys = false;

  // flow control and packet ids
  clientReceiveMax = 65535;
  clientMaxPacketSize = 0;
  /**
   * MQTT 5 Request Problem Information (default 1): when 0, no Reason String on anything but PUBLISH, CONNACK and
   * DISCONNECT [MQTT-3.1.2-29].
   */
  problemInformation = true;
  clientTopicAliasMax = 0;
  outAliases: Map<string, number> = EMPTY_MAP as Map<string, number>;
  inAliases: Map<number, string> = EMPTY_MAP as Map<number, string>;
  nextPacketId = 1;
  /** Packet id allocation steps so far: ids repeat only every 65,535 steps (see #allocatePacketId). */
  idStep = 0;
  /**
   * The sequence of the QoS 1 PUBLISH being handed to the core right now, and its packet id: a core confirm that
   * comes back within publish() (no durable queue to wait for) is answered without the pending maps.
   */
  publishingSeq = -1;
  publishingId = 0;
  outbound: KeyedQueue<Outbound> | undefined;
  /** QoS 2 outbound: PUBREL sent, awaiting PUBCOMP. */
  pubrel: Set<number> = EMPTY_SET as Set<number>;
  /** QoS 2 inbound: PUBREC sent, awaiting PUBREL ([MQTT-4.3.3-9]). */
  qos2In: Set<number> = EMPTY_SET as Set<number>;
  /** Inbound QoS 1 publishes awaiting their confirm: sequence → packet id. */
  pendingAcks: Map<number, number> = EMPTY_MAP as Map<number, number>;
  /** The packet ids of {@link #pendingAcks}. */
  pendingIds: Set<number> = EMPTY_SET as Set<number>;
  nextSequence = 1;
  inflightIn = 0;
  /**
   * While a reply waits for the disk (a persistent session's queues and bindings, retained messages), an auth
   * backend or the next turn: the core's barrier holding the replies written meanwhile (reply-order.ts). Created
   * when a wait begins and dropped when the last one ends, so connections that never wait carry none.
   */
  barrier: DefinitionsBarrier | undefined;
  /** Packets read while the barrier waits, handled in order when it ends. */
  backlog: Packet[] | undefined;
  /** Writes captured while handling a packet whose replies may have to wait for the disk. */
  capture: Buffer[] | undefined;

  constructor(io: MqttIo, info: ConnectionInfo, rt: MqttRuntime) {
    this.io = io;
    this.info = info;
    this.rt = rt;
    this.reader = new PacketReader(rt.limits.maxPacketSizeUnauthenticated, this);
    this.connectTimer = setTimeout(() => {
      if (this.phase === Phase.AwaitConnect) this.abort('no CONNECT within the connect timeout', undefined);
    }, rt.limits.connectTimeoutMs);
    this.connectTimer.unref();
  }

  outAliasesW(): Map<string, number> {
    if ((this.outAliases as unknown) === EMPTY_MAP) this.outAliases = new Map();
    return this.outAliases;
  }

  inAliasesW(): Map<number, string> {
    if ((this.inAliases as unknown) === EMPTY_MAP) this.inAliases = new Map();
    return this.inAliases;
  }

  pubrelW(): Set<number> {
    if ((this.pubrel as unknown) === EMPTY_SET) this.pubrel = new Set();
    return this.pubrel;
  }

  qos2InW(): Set<number> {
    if ((this.qos2In as unknown) === EMPTY_SET) this.qos2In = new Set();
    return this.qos2In;
  }

  outboundW(): KeyedQueue<Outbound> {
    // Keyed by packet id, in the order they were sent (ids wrap, so not sorted); PUBACKs mostly come in order.
    return (this.outbound ??= new KeyedQueue(false));
  }

  pendingAcksW(): Map<number, number> {
    if ((this.pendingAcks as unknown) === EMPTY_MAP) this.pendingAcks = new Map();
    return this.pendingAcks;
  }

  declaredW(): Set<string> {
    if ((this.declared as unknown) === EMPTY_SET) this.declared = new Set();
    return this.declared;
  }

  consumingW(): Set<string> {
    if ((this.consuming as unknown) === EMPTY_SET) this.consuming = new Set();
    return this.consuming;
  }

  byConsumerW(): Map<string, ConsumerSubscriptions> {
    if ((this.byConsumer as unknown) === EMPTY_MAP) this.byConsumer = new Map();
    return this.byConsumer;
  }

  subsW(): Map<string, ActiveSubscription> {
    if ((this.subs as unknown) === EMPTY_MAP) this.subs = new Map();
    return this.subs;
  }

  bindingRefsW(): Map<string, number> {
    if ((this.bindingRefs as unknown) === EMPTY_MAP) this.bindingRefs = new Map();
    return this.bindingRefs;
  }

  pendingIdsW(): Set<number> {
    if ((this.pendingIds as unknown) === EMPTY_SET) this.pendingIds = new Set();
    return this.pendingIds;
  }

  // ---- ChannelHost ---------------------------------------------------------------------------------------------

  get writable(): boolean {
    return this.io.writable;
  }

  deliver(d: Delivery): void {
    try {
      sendDelivery(this, d);
    } catch (err) {
      this.internalError(err);
    }
  }

  confirm(sequence: number, ack: boolean): void {
    let packetId: number | undefined;
    if (sequence === this.publishingSeq) {
      packetId = this.publishingId;
      this.publishingSeq = -1;
    } else {
      packetId = this.pendingAcks.get(sequence);
      if (packetId === undefined) return;
      this.pendingAcks.delete(sequence);
      this.pendingIds.delete(packetId);
    }
    this.inflightIn--;
    // The core refused it (a queue limit): MQTT 5 can say so; 3.1.1 has no negative PUBACK.
    if (ack) {
      const buf = encodePuback(packetId);
      if (this.capture !== undefined) this.capture.push(buf);
      // A PUBACK confirmed while an earlier reply waits for the disk goes after it ([MQTT-4.6.0-2] order).
      else if (this.barrier !== undefined) this.barrier.hold(buf);
      else this.io.write(buf);
      return;
    }
    this.send({ cmd: 'puback', messageId: packetId, reasonCode: ReasonCode.QuotaExceeded } as Packet);
  }

  returned(): void {
    // MQTT publishes are not mandatory.
  }

  consumerCancelled(consumerTag: string): void {
    // A subscription queue was deleted under us (e.g. by an AMQP client): forget the consumer; a resubscribe fixes it.
    this.consuming.delete(consumerTag);
  }

  // ---- input ---------------------------------------------------------------------------------------------------

  /** Bytes from the transport. */
  receive(chunk: Buffer): void {
    if (this.phase === Phase.Closed) return;
    this.lastActivity = Date.now();
    let result: ReadResult;
    try {
      result = this.reader.read(chunk);
    } catch (err) {
      this.internalError(err);
      return;
    }
    if (result === ReadResult.TooLarge) {
      // [MQTT-3.1.2-24] / MQTT 5 §3.2.2.3.6: close with 0x95 Packet Too Large.
      this.protocolError(ReasonCode.PacketTooLarge, `packet of ${this.reader.tooLargeSize} bytes exceeds the maximum`);
    } else if (result === ReadResult.MalformedLength) {
      this.protocolError(ReasonCode.MalformedPacket, 'malformed remaining length');
    }
  }

  /** {@link PacketSink}: one packet from the reader. */
  onPacket(packet: Packet): boolean {
    handlePacket(this, packet);
    return this.phase !== Phase.Closed;
  }

  /** The transport closed (or failed). Idempotent. */
  transportClosed(err?: Error): void {
    if (err !== undefined && this.phase !== Phase.Closed) {
      this.rt.logger.debug({ err, connection: this.info.id }, 'MQTT transport error');
    }
    teardown(this);
  }

  /** The writer drained: deliveries may continue. */
  onWritable(): void {
    this.ch?.resume();
  }

  /**
   * The writer stayed over its high-water mark for the slow-consumer timeout: the client is not reading. Closed
   * without a DISCONNECT (it would not be read either), as AMQP does; its unacknowledged messages are requeued.
   */
  onStalled(): void {
    if (this.phase === Phase.Closed) return;
    this.rt.logger.warn({ connection: this.info.id, clientId: this.clientId, peer: this.info.remoteAddress }, 'MQTT client closed: it did not read its deliveries within the slow-consumer timeout');
    teardown(this);
    this.io.destroy();
  }

  /** The core blocked publishers (resource alarm): stop reading (DESIGN.md §5). */
  blocked(): void {
    this.io.pause(PauseReason.Alarm);
  }

  /** The alarm cleared: reading resumes unless something else (a wait for the disk) still holds it. */
  unblocked(): void {
    this.io.resume(PauseReason.Alarm);
  }

  /** Management's view of this connection: RabbitMQ lists the client id in client_properties and variable_map. */
  connectionDetails(): ConnectionDetails {
    const traffic = this.io.traffic?.();
    const version = this.version === 5 ? '5-0' : this.version === 3 ? '3.1.0' : '3.1.1';
    return {
      protocol: `${this.info.websocket === true ? 'Web ' : ''}MQTT ${version}`,
      // RabbitMQ's MQTT plugin works over direct (in-node) AMQP connections.
      type: 'direct',
      clientProperties: { client_id: this.clientId, product: 'MQTT client' },
      variableMap: { client_id: this.clientId },
      frameMax: 0,
      channelMax: 1,
      ...(traffic !== undefined ? { traffic } : {}),
    };
  }

  channelDetails(): ChannelDetails {
    return { number: 1, confirm: false, transactional: false, messagesUncommitted: 0, acksUncommitted: 0, messagesUnconfirmed: 0 };
  }

  /** An operator closed this connection (management API): MQTT 5 clients get DISCONNECT 0x98 Administrative action. */
  close(reason: string): void {
    this.disconnect(ReasonCode.AdministrativeAction, reason);
  }

  /** Close this connection from the server side: MQTT 5 clients get a DISCONNECT with `reason`. */
  disconnect(reason: number, text: string): void {
    if (this.phase === Phase.Closed) return;
    this.rt.logger.info({ connection: this.info.id, clientId: this.clientId, reason }, `MQTT disconnecting client: ${text}`);
    const last = this.version === 5 && this.phase === Phase.Connected ? this.encodeWithReason({ cmd: 'disconnect', reasonCode: reason }, text) : undefined;
    teardown(this);
    this.io.end(last);
  }

  /** {@link PacketSink}: mqtt-packet refused a packet. */
  onParseError(err: Error): void {
    if (this.phase === Phase.Closed) return;
    const text = err.message;
    if (this.phase === Phase.AwaitConnect && /protocol version/i.test(text)) {
      // [MQTT-3.1.2-2] unsupported level: CONNACK 0x01 (3.1.1) / 0x84 (5), then close.
      this.io.end(mqttPacket.generate({ cmd: 'connack', returnCode: Connack311.UnacceptableProtocolVersion, sessionPresent: false }, { protocolVersion: 4 }));
      this.log('unsupported MQTT protocol version');
      teardown(this);
      return;
    }
    if (/protocolId/i.test(text) && this.phase === Phase.AwaitConnect) {
      this.abort(`invalid protocol name: ${text}`, undefined);
      return;
    }
    this.protocolError(ReasonCode.MalformedPacket, `malformed packet: ${text}`);
  }







  dispatch(packet: Packet): void {
    // mqtt-packet leaves a property it could not read as null, and a packet identifier cut short as -1, instead of
    // failing the packet: that is a malformed packet (MQTT 5 §4.13), refused here before any handler trusts it.
    const unreadable = unreadableField(packet);
    if (unreadable !== undefined) {
      this.protocolError(ReasonCode.MalformedPacket, `malformed ${packet.cmd.toUpperCase()}: unreadable ${unreadable}`);
      return;
    }
    if (this.phase === Phase.AwaitConnect) {
      // [MQTT-3.1.0-1] the first packet must be CONNECT.
      if (packet.cmd !== 'connect') {
        this.abort(`first packet was ${packet.cmd}, not CONNECT`, undefined);
        return;
      }
      onConnect(this, packet);
      return;
    }
    switch (packet.cmd) {
      case 'publish':
        onPublish(this, packet);
        return;
      case 'puback':
        onPuback(this, packet.messageId ?? 0);
        return;
      case 'pubrec':
        onPubrec(this, packet.messageId ?? 0, packet.reasonCode ?? 0);
        return;
      case 'pubrel':
        onPubrel(this, packet.messageId ?? 0);
        return;
      case 'pubcomp':
        onPubcomp(this, packet.messageId ?? 0);
        return;
      case 'subscribe':
        // [MQTT-3.8.3-3] at least one filter (mqtt-packet parses an empty list, and then cannot encode its SUBACK).
        if (packet.subscriptions.length === 0) {
          this.protocolError(ReasonCode.ProtocolError, 'SUBSCRIBE without a topic filter');
          return;
        }
        onSubscribe(this, packet);
        return;
      case 'unsubscribe':
        // [MQTT-3.10.3-2] at least one filter.
        if (packet.unsubscriptions.length === 0) {
          this.protocolError(ReasonCode.ProtocolError, 'UNSUBSCRIBE without a topic filter');
          return;
        }
        onUnsubscribe(this, packet.messageId ?? 0, packet.unsubscriptions);
        return;
      case 'pingreq':
        // [MQTT-3.12.4-1]
        this.send({ cmd: 'pingresp' });
        return;
      case 'disconnect':
        onDisconnect(this, packet.reasonCode ?? 0, packet.properties?.sessionExpiryInterval);
        return;
      case 'connect':
        // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
        this.protocolError(ReasonCode.ProtocolError, 'second CONNECT');
        return;
      case 'auth':
        // Enhanced authentication is not offered, so an AUTH packet is a protocol error (MQTT 5 §4.12).
        this.protocolError(ReasonCode.ProtocolError, 'AUTH without an authentication method');
        return;
      case 'connack':
      case 'suback':
      case 'unsuback':
      case 'pingresp':
        this.protocolError(ReasonCode.ProtocolError, `${packet.cmd} sent by a client`);
        return;
      default: {
        const never: never = packet;
        this.protocolError(ReasonCode.MalformedPacket, `unknown packet ${String((never as Packet).cmd)}`);
      }
    }
  }

  // ---- CONNECT -------------------------------------------------------------------------------------------------


  /**
   * The `$SYS` interval came: send the broker statistics to this connection's `$SYS` subscriptions, at QoS 0 as
   * Mosquitto does. Never to `#` or `+/...` subscriptions [MQTT-4.7.2-1]; these messages do not go through the core.
   */
  publishSys(): void {
    if (!this.hasSys || this.phase !== Phase.Connected) return;
    for (const e of this.rt.sysEntries(this.vhost)) {
      let matched = false;
      let ids: number[] | undefined;
      for (const s of this.subs.values()) {
        if (s.shared || !s.matchFilter.startsWith('$SYS') || !topicMatches(s.matchFilter, e.topic)) continue;
        matched = true;
        if (s.identifier !== undefined) (ids ??= []).push(s.identifier);
      }
      if (matched) sendPublish(this, e.topic, e.message, 0, false, false, ids, undefined, undefined);
    }
  }


  /** Called by the shared keep-alive wheel ({@link keepAliveWheel}) when this connection's deadline has passed. */
  keepAliveDue(): void {
    this.keepAliveSlot = 0;
    if (this.phase !== Phase.Connected) return;
    const idle = Date.now() - this.lastActivity;
    if (idle >= this.keepAliveMs) {
      this.disconnect(ReasonCode.KeepAliveTimeout, 'keep-alive timeout');
      return;
    }
    armKeepAlive(this, this.keepAliveMs - idle);
  }

  // ---- PUBLISH (inbound) ---------------------------------------------------------------------------------------





  // ---- PUBLISH (outbound) --------------------------------------------------------------------------------------








  // ---- SUBSCRIBE / UNSUBSCRIBE ---------------------------------------------------------------------------------
















  // ---- DISCONNECT and teardown ---------------------------------------------------------------------------------



  // ---- errors --------------------------------------------------------------------------------------------------

  /**
   * A protocol violation: MQTT 5 gets DISCONNECT with the reason code ([MQTT-4.13.1-1]); 3.1.1 is closed without
   * one ([MQTT-4.8.0-1]). Logged, and nothing else is affected.
   */
  protocolError(reason: number, text: string): void {
    if (this.phase === Phase.Closed) return;
    if (this.phase === Phase.AwaitConnect) {
      this.abort(text, undefined);
      return;
    }
    this.rt.logger.warn({ connection: this.info.id, clientId: this.clientId, reason }, `MQTT protocol error: ${text}`);
    const last = this.version === 5 ? this.encodeWithReason({ cmd: 'disconnect', reasonCode: reason }, text) : undefined;
    teardown(this);
    this.io.end(last);
  }

  /**
   * Encode an MQTT 5 packet with `text` as its Reason String, unless the client asked for no problem information
   * (for packets other than CONNACK and DISCONNECT) or the string would take it over the client's Maximum Packet
   * Size [MQTT-3.14.2-3], [MQTT-3.4.2-2]: then without it.
   */
  encodeWithReason(packet: Packet & { properties?: { reasonString?: string } }, text: string): Buffer {
    const plain = this.encode(packet);
    if (this.version !== 5 || (!this.problemInformation && packet.cmd !== 'connack' && packet.cmd !== 'disconnect')) return plain;
    const withText = this.encode({ ...packet, properties: { ...packet.properties, reasonString: text } } as Packet);
    return this.clientMaxPacketSize > 0 && withText.length > this.clientMaxPacketSize ? plain : withText;
  }

  abort(text: string, last: Buffer | undefined): void {
    this.rt.logger.warn({ connection: this.info.id, peer: this.info.remoteAddress }, `MQTT connection closed: ${text}`);
    teardown(this);
    this.io.end(last);
  }

  internalError(err: unknown): void {
    this.rt.logger.error({ err, connection: this.info.id, clientId: this.clientId }, 'MQTT connection failed');
    const last = this.version === 5 && this.phase === Phase.Connected ? this.encode({ cmd: 'disconnect', reasonCode: ReasonCode.ImplementationSpecificError }) : undefined;
    try {
      teardown(this);
    } catch (e) {
      this.rt.logger.error({ err: e }, 'MQTT teardown failed');
    }
    this.io.end(last);
  }

  log(msg: string, extra: Record<string, unknown> = {}): void {
    this.rt.logger.info({ connection: this.info.id, clientId: this.clientId, peer: this.info.remoteAddress, ...extra }, msg);
  }

  encode(packet: Packet): Buffer {
    if (this.version === 5 && ACK_CMDS.has(packet.cmd)) {
      const ack = packet as { reasonCode?: number };
      // MQTT 5 §3.4.2.1: reason 0 without properties may be omitted; mqtt-packet does so only for an explicit 0, and
      // paho 1.6 cannot read the long form of PUBREL.
      ack.reasonCode ??= 0;
    }
    return mqttPacket.generate(packet, { protocolVersion: this.version });
  }

  send(packet: Packet): void {
    const buf = this.encode(packet);
    if (this.capture !== undefined) this.capture.push(buf);
    else this.io.write(buf);
  }
}
