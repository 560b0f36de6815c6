/**
 * The MQTT connection state machine (3.1, 3.1.1 and 5.0): one per client connection. It takes packets from the
 * mqtt-packet parser, calls the core through one {@link CoreChannel}, and writes packets through {@link ProtocolIo},
 * never a socket (STYLE.md habit 1). Spec rule ids sit beside the code that enforces them.
 */
import { PauseReason, type ProtocolIo } from '@warren/transport';
import { DefinitionsBarrier, KeyedQueue, type ChannelDetails, type ChannelHost, type ConnectionDetails, type CoreChannel, type CoreConnection, type Delivery, type ConnectionInfo, type User } from '@warren/core';
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';
import { PacketReader, ReadResult, type PacketSink } from '../codec/packet-reader.js';
import { ReasonCode } from '../codec/reason-codes.js';
import { keepAliveWheel, type KeepAliveTarget } from './keep-alive.js';
import type { SessionState } from './session-store.js';
import type { MqttRuntime } from './runtime.js';
import { EMPTY_LIST, EMPTY_MAP, EMPTY_SET, Phase, type ActiveSubscription, type ConsumerSubscriptions, type Outbound, type ConnectionLimits } from './state.js';
import { dispatch, onParseError } from './dispatch.js';
import { handlePacket } from './reply-order.js';
import { connectionDetailsOf, MQTT_CHANNEL_DETAILS, armKeepAlive, teardown } from './connect.js';
import { confirmPublish } from './inbound-publish.js';
import { publishSys, sendDelivery } from './delivery.js';

export { ReasonCode } from '../codec/reason-codes.js';
export type { ConnectionLimits } from './state.js';
export { RESPONSE_TOPIC_PREFIX } from './connect.js';
export { sharedQueueName, subscriptionQueueName } from './subscription-queues.js';

const ACK_CMDS = new Set<Packet['cmd']>(['puback', 'pubrec', 'pubrel', 'pubcomp']);
// mqtt-packet's encoder otherwise builds, at its first use, a cache of 65,536 two-byte Buffers for packet ids and
// lengths: 6.3 MB of heap (0.6 KiB per connection at 10,000) and 65k objects for every full collection to mark. Its
// encoder is off the hot path here (PUBLISH and PUBACK have their own), so it computes them instead.
mqttPacket.writeToStream.cacheNumbers = false;

/** The bits of {@link MqttConnection.ownedStructures}. */
export const OwnedStructures = {
  /** Subscription maps and sets (made by the first SUBSCRIBE). */
  Subscriptions: 1,
  /** In-flight QoS 1/2 state: the outbound queue, pending acks, QoS 2 sets. */
  Inflight: 2,
  /** Topic alias maps (MQTT 5). */
  Aliases: 4,
  /** The session's own subscription or QoS 2 lists. */
  SessionLists: 8,
} as const;

/** One MQTT connection. */
export class MqttConnection implements ChannelHost, KeepAliveTarget, PacketSink {
  readonly info: ConnectionInfo;
  readonly io: ProtocolIo;
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
  /** Filters (un)subscribed since this connection last yielded the event loop (see spendTurn). */
  turnFilters = 0;
  /** Subscriptions with No Local, and `$SYS` ones: counted as they come and go (see setSub). */
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
  /** Packet id allocation steps so far: ids repeat only every 65,535 steps (see allocatePacketId). */
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
  /** The packet ids of {@link pendingAcks}. */
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

  constructor(io: ProtocolIo, info: ConnectionInfo, rt: MqttRuntime) {
    this.io = io;
    this.info = info;
    this.rt = rt;
    this.reader = new PacketReader(rt.limits.maxPacketSizeUnauthenticated, this);
    this.connectTimer = setTimeout(() => {
      if (this.phase === Phase.AwaitConnect) this.abort('no CONNECT within the connect timeout', undefined);
    }, rt.limits.connectTimeoutMs);
    this.connectTimer.unref();
  }

  // Writable views of the shared empty placeholders above: the real map or set is made on the first write.
  outAliasesW(): Map<string, number> {
    return (this.outAliases as unknown) === EMPTY_MAP ? (this.outAliases = new Map()) : this.outAliases;
  }
  inAliasesW(): Map<number, string> {
    return (this.inAliases as unknown) === EMPTY_MAP ? (this.inAliases = new Map()) : this.inAliases;
  }
  pubrelW(): Set<number> {
    return (this.pubrel as unknown) === EMPTY_SET ? (this.pubrel = new Set()) : this.pubrel;
  }
  qos2InW(): Set<number> {
    return (this.qos2In as unknown) === EMPTY_SET ? (this.qos2In = new Set()) : this.qos2In;
  }
  outboundW(): KeyedQueue<Outbound> {
    // Keyed by packet id, in the order they were sent (ids wrap, so not sorted); PUBACKs mostly come in order.
    return (this.outbound ??= new KeyedQueue(false));
  }

  pendingAcksW(): Map<number, number> {
    return (this.pendingAcks as unknown) === EMPTY_MAP ? (this.pendingAcks = new Map()) : this.pendingAcks;
  }
  declaredW(): Set<string> {
    return (this.declared as unknown) === EMPTY_SET ? (this.declared = new Set()) : this.declared;
  }
  consumingW(): Set<string> {
    return (this.consuming as unknown) === EMPTY_SET ? (this.consuming = new Set()) : this.consuming;
  }
  byConsumerW(): Map<string, ConsumerSubscriptions> {
    return (this.byConsumer as unknown) === EMPTY_MAP ? (this.byConsumer = new Map()) : this.byConsumer;
  }
  subsW(): Map<string, ActiveSubscription> {
    return (this.subs as unknown) === EMPTY_MAP ? (this.subs = new Map()) : this.subs;
  }
  bindingRefsW(): Map<string, number> {
    return (this.bindingRefs as unknown) === EMPTY_MAP ? (this.bindingRefs = new Map()) : this.bindingRefs;
  }
  pendingIdsW(): Set<number> {
    return (this.pendingIds as unknown) === EMPTY_SET ? (this.pendingIds = new Set()) : this.pendingIds;
  }
  /**
   * Which per-connection structures this connection has made for itself ({@link OwnedStructures} bits): the
   * service's {@link MqttServiceImpl.debugStats} counts them, so a test can check that idle connections make none.
   */
  ownedStructures(): number {
    let bits = 0;
    const own = (x: unknown): boolean => x !== EMPTY_MAP && x !== EMPTY_SET;
    if (own(this.subs) || own(this.byConsumer) || own(this.bindingRefs) || own(this.consuming) || own(this.declared)) bits |= OwnedStructures.Subscriptions;
    if (this.outbound !== undefined || own(this.pendingAcks) || own(this.pendingIds) || own(this.pubrel) || own(this.qos2In)) bits |= OwnedStructures.Inflight;
    if (own(this.outAliases) || own(this.inAliases)) bits |= OwnedStructures.Aliases;
    const s = this.session;
    if (s !== undefined && ((s.subscriptions as readonly unknown[]) !== EMPTY_LIST || (s.qos2Inbound as readonly unknown[]) !== EMPTY_LIST ||
        (s.qos2Pubrel as readonly unknown[]) !== EMPTY_LIST)) bits |= OwnedStructures.SessionLists;
    return bits;
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
    confirmPublish(this, sequence, ack);
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
    return connectionDetailsOf(this);
  }

  channelDetails(): ChannelDetails {
    return MQTT_CHANNEL_DETAILS;
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
    onParseError(this, err);
  }

  /** Handle one packet now (reply-order.ts decides when). */
  dispatch(packet: Packet): void {
    dispatch(this, packet);
  }

  /**
   * The `$SYS` interval came: send the broker statistics to this connection's `$SYS` subscriptions, at QoS 0 as
   * Mosquitto does. Never to `#` or `+/...` subscriptions [MQTT-4.7.2-1]; these messages do not go through the core.
   */
  publishSys(): void {
    publishSys(this);
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
