/**
 * The MQTT connection state machine (3.1, 3.1.1 and 5.0): one per client connection. It takes packets from the
 * mqtt-packet parser, calls the core through one {@link CoreChannel}, and writes packets through {@link MqttIo},
 * never a socket (STYLE.md habit 1). Spec rule ids sit beside the code that enforces them.
 */
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import {
  BrokerError,
  isAuthorizationPending,
  isBrokerError,
  KeyedQueue,
  type ChannelDetails,
  type ChannelHost,
  type ConnectionDetails,
  type CoreChannel,
  type CoreConnection,
  type Delivery,
  type ConnectionInfo,
  type Message,
  type TrafficCounters,
  type User,
} from '@warren/core';
import mqttPacket, { type IConnectPacket, type IPublishPacket, type ISubscribePacket, type Packet, type QoS } from 'mqtt-packet';
import { encodePuback, encodePublish } from '../codec/fast-path.js';
import { PacketReader, ReadResult, type PacketSink } from '../codec/packet-reader.js';
import { messageQos, messageToProperties, messageTopic, publishToMessage, type PublishProperties } from '../mapping.js';
import {
  checkTopicFilter,
  checkTopicName,
  filterToBindingKey,
  parseSharedFilter,
  topicMatches,
  topicToRoutingKey,
} from '../topic.js';
import { keepAliveWheel, type KeepAliveTarget } from './keep-alive.js';
import type { SessionState, SubscriptionState } from './session-store.js';
import type { MqttRuntime } from './runtime.js';

/** What the state machine needs of its transport: the outbound writer plus read flow control. */
export interface MqttIo {
  /** Optional: the transport's byte counters (management's recv_oct, send_oct). */
  traffic?(): TrafficCounters;
  write(buf: Buffer): void;
  readonly writable: boolean;
  /** Flush, then close. */
  end(last?: Buffer): void;
  destroy(): void;
  pause(): void;
  resume(): void;
  /** The client has logged in (CONNACK accepted sent): the transport lifts its pre-login limits. */
  authenticated?(): void;
}

/** MQTT 5 reason codes used here (MQTT 5 §2.4). */
export const ReasonCode = {
  Success: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  DisconnectWithWill: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerShuttingDown: 0x8b,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  SharedSubscriptionsNotSupported: 0x9e,
} as const;

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
const Connack311 = {
  Accepted: 0,
  UnacceptableProtocolVersion: 1,
  IdentifierRejected: 2,
  ServerUnavailable: 3,
  BadUserNameOrPassword: 4,
  NotAuthorized: 5,
} as const;

const enum Phase {
  AwaitConnect,
  Connected,
  Closed,
}

/** A subscription as held while connected: its state plus the precomputed queue and binding. */
interface ActiveSubscription extends SubscriptionState {
  /** The core queue it is bound to / consumes from. */
  queue: string;
  bindingKey: string;
  shared: boolean;
  /** The consumer tag its deliveries come with (qos0, qos1, or this shared queue's). */
  consumerTag: string;
  /** The filter deliveries are matched against (a shared subscription's without `$share/<group>/`). */
  matchFilter: string;
}

/** Replies held and packets waiting while this connection waits (for the disk, or a huge SUBSCRIBE). */
interface DefsWait {
  pending: number;
  held: Buffer[];
  backlog: Packet[];
}

/** A SUBSCRIBE being handled (a huge one over several event-loop turns). */
interface SubscribeJob {
  packet: ISubscribePacket;
  /** Index of the next filter to handle. */
  next: number;
  /** The SUBACK codes so far. */
  granted: number[];
  /** The subscriptions made, whose retained messages follow the SUBACK. */
  retained: Array<{ sub: ActiveSubscription; isNew: boolean }>;
  /** Invalid filters, and the first one (logged once per SUBSCRIBE). */
  invalid: number;
  firstInvalid?: string;
  /** Filters refused because the session has its maximum of subscriptions. */
  overCap: number;
  /** The definitions version and MQTT state changes when it began (its SUBACK waits for what changed since). */
  defsStart: number;
  stateStart: number;
}

/**
 * Filters of one SUBSCRIBE handled per event-loop turn. A SUBSCRIBE with more is handled over several turns, so one
 * client subscribing 100,000 filters at once delays the others by a slice (about 2 ms), not by the whole packet.
 * 64 rather than 256: with 256, bystanders' p99 during a 40,000-filter flood was 50–64 ms; with 64 it is 27–36 ms
 * and the flood takes no longer (bench/src/security/flood-bench.ts).
 */
const SUBSCRIBE_SLICE = 64;

/** Outbound QoS ≥ 1 delivery awaiting PUBACK / PUBREC. */
interface Outbound {
  deliveryTag: number;
  qos: QoS;
  /** Value of {@link MqttConnection#idStep} when its packet id was allocated. */
  step: number;
}

/** Server-side tuning of one connection (from the service options). */
export interface ConnectionLimits {
  maxPacketSize: number;
  maxPacketSizeUnauthenticated: number;
  receiveMaximum: number;
  topicAliasMaximum: number;
  /** Session expiry cap, seconds. */
  maxSessionExpiry: number;
  /** Close a client that sends nothing within this long before CONNECT, ms. */
  connectTimeoutMs: number;
  /** Largest keep-alive a client may use, seconds (MQTT 5 Server Keep Alive); 0 = whatever the client asks. */
  maxKeepAlive: number;
  /** Topic filters one session may have subscribed; 0 = no cap. */
  maxSubscriptions: number;
}

const ACK_CMDS = new Set<Packet['cmd']>(['puback', 'pubrec', 'pubrel', 'pubcomp']);
// mqtt-packet's encoder otherwise builds, at its first use, a cache of 65,536 two-byte Buffers for packet ids and
// lengths: 6.3 MB of heap (0.6 KiB per connection at 10,000) and 65k objects for every full collection to mark. Its
// encoder is off the hot path here (PUBLISH and PUBACK have their own), so it computes them instead.
mqttPacket.writeToStream.cacheNumbers = false;

/** Response Information given to an MQTT 5 client that requests it: `response/<client id>`. */
export const RESPONSE_TOPIC_PREFIX = 'response';

/** Shared empty placeholders; never written to (see the fields of {@link MqttConnection}). */
const EMPTY_MAP: ReadonlyMap<unknown, unknown> = new Map();
const EMPTY_SET: ReadonlySet<unknown> = new Set();
const CONSUMER_QOS0 = 'mqtt-qos0';
const CONSUMER_QOS1 = 'mqtt-qos1';
const SHARE_PREFIX = 'mqtt-share:';

/** The queue names RabbitMQ's MQTT plugin uses for a client's subscriptions. */
export function subscriptionQueueName(clientId: string, qos: 0 | 1): string {
  return `mqtt-subscription-${clientId}qos${qos}`;
}

/** The core queue of a shared subscription group: competing consumers, readable by AMQP and STOMP too. */
export function sharedQueueName(group: string, filter: string): string {
  return `mqtt-shared-${group}-${filterToBindingKey(filter)}`;
}

/** One MQTT connection. */
export class MqttConnection implements ChannelHost, KeepAliveTarget, PacketSink {
  readonly info: ConnectionInfo;
  readonly #io: MqttIo;
  readonly #rt: MqttRuntime;
  /** Finds packet boundaries and decodes packets (the codec's one reader; it holds no parser between packets). */
  readonly #reader: PacketReader;
  #phase = Phase.AwaitConnect;
  #version: 3 | 4 | 5 = 4;
  #connectTimer: NodeJS.Timeout | undefined;
  /** The keep-alive wheel slot this connection waits in; 0 = none. */
  #keepAliveSlot = 0;
  #keepAliveMs = 0;
  #lastActivity = 0;

  // ---- after CONNECT ----
  clientId = '';
  vhost = '';
  #user: User | undefined;
  #conn: CoreConnection | undefined;
  #ch: CoreChannel | undefined;
  #session: SessionState | undefined;
  #will: IConnectPacket['will'] | undefined;
  #cleanDisconnect = false;
  // Maps and sets start as shared empty instances and are replaced on first write: most connections never use
  // most of them, and idle connections should cost little memory.
  #subs: Map<string, ActiveSubscription> = EMPTY_MAP as Map<string, ActiveSubscription>;
  #consuming: Set<string> = EMPTY_SET as Set<string>;
  #declared: Set<string> = EMPTY_SET as Set<string>;
  #hasNoLocal = false;
  /** Filters (un)subscribed since this connection last yielded the event loop (see #spendTurn). */
  #turnFilters = 0;
  /** Subscriptions with No Local, and `$SYS` ones: counted as they come and go (see #setSub). */
  #noLocalSubs = 0;
  #sysSubs = 0;
  /** Subscriptions per queue and binding key (`queue\0key`): UNSUBSCRIBE unbinds when the last one goes. */
  #bindingRefs: Map<string, number> = EMPTY_MAP as Map<string, number>;
  /** Some subscription's filter starts with `$SYS` (only those get the broker statistics, [MQTT-4.7.2-1]). */
  #hasSys = false;

  // flow control and packet ids
  #clientReceiveMax = 65535;
  #clientMaxPacketSize = 0;
  /**
   * MQTT 5 Request Problem Information (default 1): when 0, no Reason String on anything but PUBLISH, CONNACK and
   * DISCONNECT [MQTT-3.1.2-29].
   */
  #problemInformation = true;
  #clientTopicAliasMax = 0;
  #outAliases: Map<string, number> = EMPTY_MAP as Map<string, number>;
  #inAliases: Map<number, string> = EMPTY_MAP as Map<number, string>;
  #nextPacketId = 1;
  /** Packet id allocation steps so far: ids repeat only every 65,535 steps (see #allocatePacketId). */
  #idStep = 0;
  /**
   * The sequence of the QoS 1 PUBLISH being handed to the core right now, and its packet id: a core confirm that
   * comes back within publish() (no durable queue to wait for) is answered without the pending maps.
   */
  #publishingSeq = -1;
  #publishingId = 0;
  #outbound: KeyedQueue<Outbound> | undefined;
  /** QoS 2 outbound: PUBREL sent, awaiting PUBCOMP. */
  #pubrel: Set<number> = EMPTY_SET as Set<number>;
  /** QoS 2 inbound: PUBREC sent, awaiting PUBREL ([MQTT-4.3.3-9]). */
  #qos2In: Set<number> = EMPTY_SET as Set<number>;
  /** Inbound QoS 1 publishes awaiting their confirm: sequence → packet id. */
  #pendingAcks: Map<number, number> = EMPTY_MAP as Map<number, number>;
  /** The packet ids of {@link #pendingAcks}. */
  #pendingIds: Set<number> = EMPTY_SET as Set<number>;
  #nextSequence = 1;
  #inflightIn = 0;
  /**
   * Issue 3: while a SUBACK/UNSUBACK that changed durable definitions (a persistent session's queue or its bindings)
   * waits for the definitions fsync: its held writes and the packets read meanwhile. Created on first use.
   */
  #defsWait: DefsWait | undefined;
  /** Writes captured while handling a SUBSCRIBE/UNSUBSCRIBE (they may have to wait for the definitions). */
  #capture: Buffer[] | undefined;

  constructor(io: MqttIo, info: ConnectionInfo, rt: MqttRuntime) {
    this.#io = io;
    this.info = info;
    this.#rt = rt;
    this.#reader = new PacketReader(rt.limits.maxPacketSizeUnauthenticated, this);
    this.#connectTimer = setTimeout(() => {
      if (this.#phase === Phase.AwaitConnect) this.#abort('no CONNECT within the connect timeout', undefined);
    }, rt.limits.connectTimeoutMs);
    this.#connectTimer.unref();
  }

  #outAliasesW(): Map<string, number> {
    if ((this.#outAliases as unknown) === EMPTY_MAP) this.#outAliases = new Map();
    return this.#outAliases;
  }

  #inAliasesW(): Map<number, string> {
    if ((this.#inAliases as unknown) === EMPTY_MAP) this.#inAliases = new Map();
    return this.#inAliases;
  }

  #pubrelW(): Set<number> {
    if ((this.#pubrel as unknown) === EMPTY_SET) this.#pubrel = new Set();
    return this.#pubrel;
  }

  #qos2InW(): Set<number> {
    if ((this.#qos2In as unknown) === EMPTY_SET) this.#qos2In = new Set();
    return this.#qos2In;
  }

  #outboundW(): KeyedQueue<Outbound> {
    // Keyed by packet id, in the order they were sent (ids wrap, so not sorted); PUBACKs mostly come in order.
    return (this.#outbound ??= new KeyedQueue(false));
  }

  #pendingAcksW(): Map<number, number> {
    if ((this.#pendingAcks as unknown) === EMPTY_MAP) this.#pendingAcks = new Map();
    return this.#pendingAcks;
  }

  #declaredW(): Set<string> {
    if ((this.#declared as unknown) === EMPTY_SET) this.#declared = new Set();
    return this.#declared;
  }

  #consumingW(): Set<string> {
    if ((this.#consuming as unknown) === EMPTY_SET) this.#consuming = new Set();
    return this.#consuming;
  }

  #subsW(): Map<string, ActiveSubscription> {
    if ((this.#subs as unknown) === EMPTY_MAP) this.#subs = new Map();
    return this.#subs;
  }

  #bindingRefsW(): Map<string, number> {
    if ((this.#bindingRefs as unknown) === EMPTY_MAP) this.#bindingRefs = new Map();
    return this.#bindingRefs;
  }

  #pendingIdsW(): Set<number> {
    if ((this.#pendingIds as unknown) === EMPTY_SET) this.#pendingIds = new Set();
    return this.#pendingIds;
  }

  // ---- ChannelHost ---------------------------------------------------------------------------------------------

  get writable(): boolean {
    return this.#io.writable;
  }

  deliver(d: Delivery): void {
    try {
      this.#deliver(d);
    } catch (err) {
      this.#internalError(err);
    }
  }

  confirm(sequence: number, ack: boolean): void {
    let packetId: number | undefined;
    if (sequence === this.#publishingSeq) {
      packetId = this.#publishingId;
      this.#publishingSeq = -1;
    } else {
      packetId = this.#pendingAcks.get(sequence);
      if (packetId === undefined) return;
      this.#pendingAcks.delete(sequence);
      this.#pendingIds.delete(packetId);
    }
    this.#inflightIn--;
    // The core refused it (a queue limit): MQTT 5 can say so; 3.1.1 has no negative PUBACK.
    if (ack) {
      const buf = encodePuback(packetId);
      if (this.#capture !== undefined) this.#capture.push(buf);
      // A PUBACK confirmed while an earlier reply waits for the disk goes after it ([MQTT-4.6.0-2] order).
      else if (this.#defsWait !== undefined) this.#defsWait.held.push(buf);
      else this.#io.write(buf);
      return;
    }
    this.#send({ cmd: 'puback', messageId: packetId, reasonCode: ReasonCode.QuotaExceeded } as Packet);
  }

  returned(): void {
    // MQTT publishes are not mandatory.
  }

  consumerCancelled(consumerTag: string): void {
    // A subscription queue was deleted under us (e.g. by an AMQP client): forget the consumer; a resubscribe fixes it.
    this.#consuming.delete(consumerTag);
  }

  // ---- input ---------------------------------------------------------------------------------------------------

  /** Bytes from the transport. */
  receive(chunk: Buffer): void {
    if (this.#phase === Phase.Closed) return;
    this.#lastActivity = Date.now();
    let result: ReadResult;
    try {
      result = this.#reader.read(chunk);
    } catch (err) {
      this.#internalError(err);
      return;
    }
    if (result === ReadResult.TooLarge) {
      // [MQTT-3.1.2-24] / MQTT 5 §3.2.2.3.6: close with 0x95 Packet Too Large.
      this.#protocolError(ReasonCode.PacketTooLarge, `packet of ${this.#reader.tooLargeSize} bytes exceeds the maximum`);
    } else if (result === ReadResult.MalformedLength) {
      this.#protocolError(ReasonCode.MalformedPacket, 'malformed remaining length');
    }
  }

  /** {@link PacketSink}: one packet from the reader. */
  onPacket(packet: Packet): boolean {
    this.#onPacket(packet);
    return this.#phase !== Phase.Closed;
  }

  /** The transport closed (or failed). Idempotent. */
  transportClosed(err?: Error): void {
    if (err !== undefined && this.#phase !== Phase.Closed) {
      this.#rt.logger.debug({ err, connection: this.info.id }, 'MQTT transport error');
    }
    this.#teardown();
  }

  /** The writer drained: deliveries may continue. */
  onWritable(): void {
    this.#ch?.resume();
  }

  /** The core blocked publishers (resource alarm): stop reading (DESIGN.md §5). */
  blocked(): void {
    this.#alarmBlocked = true;
    this.#io.pause();
  }

  unblocked(): void {
    this.#alarmBlocked = false;
    if (this.#defsWait === undefined) this.#io.resume();
  }

  /** A resource alarm is in force: reading stays paused whatever else finishes meanwhile. */
  #alarmBlocked = false;

  /** Management's view of this connection: RabbitMQ lists the client id in client_properties and variable_map. */
  connectionDetails(): ConnectionDetails {
    const traffic = this.#io.traffic?.();
    const version = this.#version === 5 ? '5-0' : this.#version === 3 ? '3.1.0' : '3.1.1';
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
    if (this.#phase === Phase.Closed) return;
    this.#rt.logger.info({ connection: this.info.id, clientId: this.clientId, reason }, `MQTT disconnecting client: ${text}`);
    const last = this.#version === 5 && this.#phase === Phase.Connected ? this.#encodeWithReason({ cmd: 'disconnect', reasonCode: reason }, text) : undefined;
    this.#teardown();
    this.#io.end(last);
  }

  /** {@link PacketSink}: mqtt-packet refused a packet. */
  onParseError(err: Error): void {
    if (this.#phase === Phase.Closed) return;
    const text = err.message;
    if (this.#phase === Phase.AwaitConnect && /protocol version/i.test(text)) {
      // [MQTT-3.1.2-2] unsupported level: CONNACK 0x01 (3.1.1) / 0x84 (5), then close.
      this.#io.end(mqttPacket.generate({ cmd: 'connack', returnCode: Connack311.UnacceptableProtocolVersion, sessionPresent: false }, { protocolVersion: 4 }));
      this.#log('unsupported MQTT protocol version');
      this.#teardown();
      return;
    }
    if (/protocolId/i.test(text) && this.#phase === Phase.AwaitConnect) {
      this.#abort(`invalid protocol name: ${text}`, undefined);
      return;
    }
    this.#protocolError(ReasonCode.MalformedPacket, `malformed packet: ${text}`);
  }

  #onPacket(packet: Packet): void {
    if (this.#phase === Phase.Closed) return;
    const wait = this.#defsWait;
    if (wait !== undefined && wait.pending > 0) {
      wait.backlog.push(packet);
      return;
    }
    const authReady = this.#prepareAuth(packet);
    if (authReady !== undefined) {
      this.#waitForAuth([packet], authReady);
      return;
    }
    // Counted when handled (a backlogged packet comes through here again).
    this.#rt.stats.packetsIn++;
    const broker = this.#rt.broker;
    // Replies that must not go out before a change is on disk: the CONNACK of a session that outlives its
    // connection (a client told Session Present 1 after a crash must find it), SUBACK/UNSUBACK (durable queues and
    // bindings, the persistent session's subscriptions) and the PUBACK/PUBREC of a retained PUBLISH (so PUBCOMP
    // follows too). A clean session changes nothing on disk, so its CONNACK waits for nothing.
    const watch =
      packet.cmd === 'connect' || packet.cmd === 'subscribe' || packet.cmd === 'unsubscribe' || (packet.cmd === 'publish' && packet.retain && packet.qos > 0);
    const before = watch ? broker.definitionsVersion : undefined;
    const stateBefore = watch ? this.#rt.stateChanges() : 0;
    if (before !== undefined) this.#capture = [];
    try {
      this.#handle(packet);
    } catch (err) {
      this.#releaseCapture(false, false);
      if (isAuthorizationPending(err) && packet.cmd !== 'publish') this.#waitForAuth([packet], err.ready);
      else this.#internalError(err);
      return;
    }
    if (before !== undefined) this.#releaseCapture(broker.definitionsVersion !== before, this.#rt.stateChanges() !== stateBefore);
  }

  /**
   * For a user an external auth backend authenticated: have the answers a PUBLISH will need cached before it is
   * handled (handling it has effects, a retained message among them, that must not happen twice). The promise when
   * the packet must wait for them; undefined to handle it now.
   */
  #prepareAuth(packet: Packet): Promise<void> | undefined {
    if (packet.cmd !== 'publish' || this.#ch === undefined || this.#ch.externalAuth !== true) return undefined;
    let topic = packet.topic;
    const alias = packet.properties?.topicAlias;
    if (topic === '' && alias !== undefined) topic = this.#inAliases.get(alias) ?? '';
    if (checkTopicName(topic) !== undefined) return undefined;
    try {
      this.#ch.authorizePublish?.(this.#rt.options.exchange, topicToRoutingKey(topic));
    } catch (err) {
      if (isAuthorizationPending(err)) return err.ready;
      // A refusal: the PUBLISH's own handling meets it (the answer is cached) and answers as for internal users.
    }
    return undefined;
  }

  /** Handle `packets` (in order, after any already waiting) once an external auth backend answered. */
  #waitForAuth(packets: Packet[], ready: Promise<void>): void {
    const wait = (this.#defsWait ??= { pending: 0, held: [], backlog: [] });
    wait.backlog.unshift(...packets);
    if (wait.pending++ === 0) this.#io.pause();
    void ready.then(() => this.#definitionsDurable());
  }

  /**
   * Write the captured packets, or hold them (and every later packet) until the definitions (`defs`) and the MQTT
   * state (`state`) changed by the packet are on disk.
   */
  #releaseCapture(defs: boolean, state: boolean): void {
    const captured = this.#capture;
    this.#capture = undefined;
    if (captured === undefined || this.#phase === Phase.Closed) return;
    if (!defs && !state) {
      for (const b of captured) this.#io.write(b);
      return;
    }
    const wait = (this.#defsWait ??= { pending: 0, held: [], backlog: [] });
    for (const b of captured) wait.held.push(b);
    if (wait.pending++ === 0) this.#io.pause();
    const defsFlushed = defs ? (this.#rt.broker.flushDefinitions?.() ?? Promise.resolve()) : undefined;
    const stateSynced = state ? this.#rt.stateSync() : undefined;
    const flushed = defsFlushed !== undefined && stateSynced !== undefined ? Promise.all([defsFlushed, stateSynced]) : (defsFlushed ?? stateSynced)!;
    flushed.then(
      () => this.#definitionsDurable(),
      (err: unknown) => this.#internalError(err),
    );
  }

  /** The definitions are on disk: send the held packets, handle the packets that waited, read again. */
  #definitionsDurable(): void {
    const wait = this.#defsWait;
    if (wait === undefined || --wait.pending > 0 || this.#phase === Phase.Closed) return;
    const held = wait.held;
    const backlog = wait.backlog;
    this.#defsWait = undefined;
    for (const b of held) this.#io.write(b);
    if (backlog.length > 0) this.#handleBatch(backlog);
    // Not while a resource alarm holds the connection: it resumes when the alarm clears (unblocked).
    if (this.#defsWait === undefined && (this.#phase as Phase) !== Phase.Closed && !this.#alarmBlocked) this.#io.resume();
  }

  /**
   * Handle the packets that waited as one batch: their replies are captured together and wait for one flush and
   * one sync, so a client with many retained PUBLISHes (or SUBSCRIBEs) in flight pays one fsync per batch, not one
   * per packet. Replies keep their order.
   */
  #handleBatch(packets: Packet[]): void {
    const broker = this.#rt.broker;
    const before = broker.definitionsVersion;
    const stateBefore = this.#rt.stateChanges();
    this.#capture = [];
    for (let i = 0; i < packets.length; i++) {
      const packet = packets[i]!;
      if (this.#phase === Phase.Closed) break;
      let authReady = this.#prepareAuth(packet);
      if (authReady === undefined) {
        try {
          this.#handle(packet);
        } catch (err) {
          if (!isAuthorizationPending(err) || packet.cmd === 'publish') {
            this.#releaseCapture(false, false);
            this.#internalError(err);
            return;
          }
          authReady = err.ready;
        }
      }
      if (authReady !== undefined) {
        // This packet and the rest wait for the auth backend (after the replies so far reach the disk if need be).
        this.#releaseCapture(broker.definitionsVersion !== before, this.#rt.stateChanges() !== stateBefore);
        this.#waitForAuth(packets.slice(i), authReady);
        return;
      }
      // A huge SUBSCRIBE goes on over later turns: the packets after it wait for it.
      const wait = this.#defsWait;
      if (wait !== undefined && wait.pending > 0) {
        for (let j = i + 1; j < packets.length; j++) wait.backlog.push(packets[j] as Packet);
        break;
      }
    }
    this.#releaseCapture(broker.definitionsVersion !== before, this.#rt.stateChanges() !== stateBefore);
  }

  #handle(packet: Packet): void {
    // mqtt-packet leaves a property it could not read as null, and a packet identifier cut short as -1, instead of
    // failing the packet: that is a malformed packet (MQTT 5 §4.13), refused here before any handler trusts it.
    const unreadable = unreadableField(packet);
    if (unreadable !== undefined) {
      this.#protocolError(ReasonCode.MalformedPacket, `malformed ${packet.cmd.toUpperCase()}: unreadable ${unreadable}`);
      return;
    }
    if (this.#phase === Phase.AwaitConnect) {
      // [MQTT-3.1.0-1] the first packet must be CONNECT.
      if (packet.cmd !== 'connect') {
        this.#abort(`first packet was ${packet.cmd}, not CONNECT`, undefined);
        return;
      }
      this.#onConnect(packet);
      return;
    }
    switch (packet.cmd) {
      case 'publish':
        this.#onPublish(packet);
        return;
      case 'puback':
        this.#onPuback(packet.messageId ?? 0);
        return;
      case 'pubrec':
        this.#onPubrec(packet.messageId ?? 0, packet.reasonCode ?? 0);
        return;
      case 'pubrel':
        this.#onPubrel(packet.messageId ?? 0);
        return;
      case 'pubcomp':
        this.#onPubcomp(packet.messageId ?? 0);
        return;
      case 'subscribe':
        // [MQTT-3.8.3-3] at least one filter (mqtt-packet parses an empty list, and then cannot encode its SUBACK).
        if (packet.subscriptions.length === 0) {
          this.#protocolError(ReasonCode.ProtocolError, 'SUBSCRIBE without a topic filter');
          return;
        }
        this.#onSubscribe(packet);
        return;
      case 'unsubscribe':
        // [MQTT-3.10.3-2] at least one filter.
        if (packet.unsubscriptions.length === 0) {
          this.#protocolError(ReasonCode.ProtocolError, 'UNSUBSCRIBE without a topic filter');
          return;
        }
        this.#onUnsubscribe(packet.messageId ?? 0, packet.unsubscriptions);
        return;
      case 'pingreq':
        // [MQTT-3.12.4-1]
        this.#send({ cmd: 'pingresp' });
        return;
      case 'disconnect':
        this.#onDisconnect(packet.reasonCode ?? 0, packet.properties?.sessionExpiryInterval);
        return;
      case 'connect':
        // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
        this.#protocolError(ReasonCode.ProtocolError, 'second CONNECT');
        return;
      case 'auth':
        // Enhanced authentication is not offered, so an AUTH packet is a protocol error (MQTT 5 §4.12).
        this.#protocolError(ReasonCode.ProtocolError, 'AUTH without an authentication method');
        return;
      case 'connack':
      case 'suback':
      case 'unsuback':
      case 'pingresp':
        this.#protocolError(ReasonCode.ProtocolError, `${packet.cmd} sent by a client`);
        return;
      default: {
        const never: never = packet;
        this.#protocolError(ReasonCode.MalformedPacket, `unknown packet ${String((never as Packet).cmd)}`);
      }
    }
  }

  // ---- CONNECT -------------------------------------------------------------------------------------------------

  #onConnect(p: IConnectPacket): void {
    const version = p.protocolVersion ?? 4;
    this.#version = version;
    const v5 = version === 5;
    const limits = this.#rt.limits;
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;

    const refuse = (rc311: number, rc5: number, why: string): void => {
      // The connection has no client id yet: log the one it asked for.
      this.#log(`CONNECT refused: ${why}`, { clientId: p.clientId, user: p.username });
      // MQTT 5: the reason as a Reason String too, unless it would exceed the client's Maximum Packet Size.
      const connack = v5
        ? { cmd: 'connack' as const, reasonCode: rc5, sessionPresent: false, properties: { reasonString: why } }
        : { cmd: 'connack' as const, returnCode: rc311, sessionPresent: false };
      let out = mqttPacket.generate(connack, { protocolVersion: version });
      const max = p.properties?.maximumPacketSize ?? 0;
      if (v5 && max > 0 && out.length > max) out = mqttPacket.generate({ ...connack, properties: {} }, { protocolVersion: version });
      this.#phase = Phase.Closed;
      this.#io.end(out);
      this.#teardown();
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
    let vhost = this.#rt.options.defaultVhost;
    // RabbitMQ's mqtt.ssl_cert_login: a verified certificate stands for a missing username (a given one wins), and
    // such a client is never the anonymous user.
    const cert = this.info.peerCertificate;
    const certUser =
      this.#rt.options.sslCertLogin === true && cert !== undefined && (username === undefined || username === '')
        ? (this.#rt.options.certLoginFrom === 'common_name' ? cert.commonName : cert.distinguishedName) ?? null
        : undefined;
    if (certUser === null) {
      refuse(Connack311.BadUserNameOrPassword, ReasonCode.BadUserNameOrPassword, 'the client certificate has no common name');
      return;
    }
    if (certUser !== undefined) {
      username = certUser;
    } else if (username === undefined || username === '') {
      if (!this.#rt.options.allowAnonymous) {
        refuse(Connack311.BadUserNameOrPassword, ReasonCode.BadUserNameOrPassword, 'anonymous connections are disabled');
        return;
      }
      username = this.#rt.options.anonymousUser.username;
      password = this.#rt.options.anonymousUser.password;
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
        if (this.#rt.broker.authenticateExternal === undefined) throw new BrokerError('ACCESS_REFUSED', 'certificate login is not supported');
        user = this.#rt.broker.authenticateExternal(certUser, this.info.remoteAddress, this.info.protocol);
      } else {
        // RabbitMQ's MQTT plugin gives an external backend the client id (and vhost) with the credentials.
        user = this.#rt.broker.authenticate(username, password ?? '', this.info.remoteAddress, this.info.protocol, { client_id: clientId, vhost });
      }
    } catch (err) {
      if (!isBrokerError(err)) throw err;
      refuse(Connack311.BadUserNameOrPassword, ReasonCode.BadUserNameOrPassword, err.message);
      return;
    }
    let conn: CoreConnection;
    try {
      this.info.clientId = clientId;
      // RabbitMQ's MQTT plugin adds the client id to the variables of topic permission patterns ({client_id}).
      conn = this.#rt.broker.openConnection({ ...this.info, topicVariables: { client_id: clientId } }, user, vhost, this);
    } catch (err) {
      if (!isBrokerError(err)) throw err;
      // A connection limit is a quota (RabbitMQ 3.13's MQTT 5: 0x97); 3.1.1 has no such code: 5, as RabbitMQ.
      refuse(Connack311.NotAuthorized, err.limit ? ReasonCode.QuotaExceeded : ReasonCode.NotAuthorized, err.message);
      return;
    }
    let ch: CoreChannel;
    try {
      ch = conn.openChannel(this);
    } catch (err) {
      // The user's max-channels: an MQTT connection is one channel.
      conn.close();
      if (!isBrokerError(err)) throw err;
      refuse(Connack311.NotAuthorized, err.limit ? ReasonCode.QuotaExceeded : ReasonCode.NotAuthorized, err.message);
      return;
    }
    this.#user = user;
    this.#conn = conn;
    this.#ch = ch;
    this.clientId = clientId;
    this.vhost = vhost;
    this.#phase = Phase.Connected;
    this.#reader.maxPacketSize = limits.maxPacketSize;
    this.#reader.version = version;
    this.#reader.fast = true;

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
        this.#protocolError(ReasonCode.ProtocolError, 'Receive Maximum or Maximum Packet Size of 0');
        return;
      }
      this.#clientReceiveMax = props?.receiveMaximum ?? 65535;
      this.#clientMaxPacketSize = props?.maximumPacketSize ?? 0;
      this.#clientTopicAliasMax = props?.topicAliasMaximum ?? 0;
      this.#problemInformation = props?.requestProblemInformation !== false;
    }

    // ---- takeover, then the session ----
    // [MQTT-3.1.4-3] a second connection with this client id closes the first.
    this.#rt.register(this);
    const previous = this.#rt.sessions.get(vhost, clientId);
    let sessionPresent = false;
    if (previous !== undefined && cleanStart) {
      this.#rt.endSession(previous, conn);
    } else if (previous !== undefined) {
      sessionPresent = true;
    }
    const session: SessionState =
      sessionPresent && previous !== undefined
        ? previous
        : { vhost, clientId, user: { name: user.name, tags: [...user.tags] }, expiry, subscriptions: [], qos2Inbound: [], qos2Pubrel: [] };
    session.expiry = expiry;
    delete session.disconnectedAt;
    this.#session = session;
    this.#rt.sessions.put(session);
    this.#rt.cancelExpiry(vhost, clientId);
    this.#rt.cancelWill(vhost, clientId);
    this.#will = p.will;
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
      this.#keepAliveMs = keepalive * 1500;
      this.#lastActivity = Date.now();
      this.#armKeepAlive(this.#keepAliveMs);
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
      this.#send({ cmd: 'connack', reasonCode: 0, sessionPresent, properties });
    } else {
      this.#send({ cmd: 'connack', returnCode: 0, sessionPresent });
    }
    this.#io.authenticated?.();
    this.#log('MQTT connection accepted', { user: user.name, vhost, version, cleanStart, expiry });

    // ---- resume the session's subscriptions and QoS 2 state ----
    for (const id of session.qos2Inbound) this.#qos2InW().add(id);
    for (const s of session.subscriptions) this.#activate(s);
    this.#recountNoLocal();
    // The client's Receive Maximum bounds our in-flight QoS ≥ 1 deliveries ([MQTT-3.3.4-9]).
    this.#ch.qos(Math.min(this.#clientReceiveMax, 65535), true);
    for (const id of session.qos2Pubrel) {
      this.#pubrelW().add(id);
      // [MQTT-4.4.0-1] on reconnect, resend PUBREL for unfinished QoS 2 flows.
      this.#send({ cmd: 'pubrel', messageId: id });
    }
    for (const s of this.#subs.values()) this.#ensureConsumer(s);
  }

  /**
   * The `$SYS` interval came: send the broker statistics to this connection's `$SYS` subscriptions, at QoS 0 as
   * Mosquitto does. Never to `#` or `+/...` subscriptions [MQTT-4.7.2-1]; these messages do not go through the core.
   */
  publishSys(): void {
    if (!this.#hasSys || this.#phase !== Phase.Connected) return;
    for (const e of this.#rt.sysEntries(this.vhost)) {
      let matched = false;
      let ids: number[] | undefined;
      for (const s of this.#subs.values()) {
        if (s.shared || !s.matchFilter.startsWith('$SYS') || !topicMatches(s.matchFilter, e.topic)) continue;
        matched = true;
        if (s.identifier !== undefined) (ids ??= []).push(s.identifier);
      }
      if (matched) this.#sendPublish(e.topic, e.message, 0, false, false, ids, undefined, undefined);
    }
  }

  #armKeepAlive(ms: number): void {
    this.#keepAliveSlot = keepAliveWheel.schedule(this, Date.now() + ms);
  }

  /** Called by the shared keep-alive wheel ({@link keepAliveWheel}) when this connection's deadline has passed. */
  keepAliveDue(): void {
    this.#keepAliveSlot = 0;
    if (this.#phase !== Phase.Connected) return;
    const idle = Date.now() - this.#lastActivity;
    if (idle >= this.#keepAliveMs) {
      this.disconnect(ReasonCode.KeepAliveTimeout, 'keep-alive timeout');
      return;
    }
    this.#armKeepAlive(this.#keepAliveMs - idle);
  }

  // ---- PUBLISH (inbound) ---------------------------------------------------------------------------------------

  #onPublish(p: IPublishPacket): void {
    const ch = this.#ch as CoreChannel;
    this.#rt.stats.publishIn++;
    const v5 = this.#version === 5;
    let topic = p.topic;
    const alias = p.properties?.topicAlias;
    if (alias !== undefined) {
      // MQTT 5 §3.3.2.3.4: 0 or above our Topic Alias Maximum is invalid.
      if (alias === 0 || alias > this.#rt.limits.topicAliasMaximum) {
        this.#protocolError(ReasonCode.TopicAliasInvalid, `topic alias ${alias} out of range`);
        return;
      }
      if (topic === '') {
        const known = this.#inAliases.get(alias);
        if (known === undefined) {
          this.#protocolError(ReasonCode.ProtocolError, `unknown topic alias ${alias}`);
          return;
        }
        topic = known;
      } else {
        this.#inAliasesW().set(alias, topic);
      }
    }
    const bad = checkTopicName(topic);
    if (bad !== undefined) {
      // [MQTT-3.3.2-2] no wildcards in a topic name; [MQTT-4.7.3-1] not empty.
      this.#protocolError(bad === 'empty' && v5 ? ReasonCode.ProtocolError : ReasonCode.TopicNameInvalid, `invalid topic name (${bad})`);
      return;
    }
    const qos = p.qos;
    const packetId = p.messageId ?? 0;
    if (qos === 2 && this.#qos2In.has(packetId)) {
      // [MQTT-4.3.3-10] a resent QoS 2 PUBLISH is not delivered again; answer PUBREC again.
      this.#send({ cmd: 'pubrec', messageId: packetId });
      return;
    }
    if (qos > 0 && (this.#pendingIds.has(packetId) || this.#qos2In.has(packetId))) {
      // [MQTT-2.2.1-3] a packet id stays in use until its acknowledgement flow ends; reusing it earlier is a
      // protocol error (a QoS 2 resend of the same id is handled above).
      this.#protocolError(ReasonCode.ProtocolError, `packet identifier ${packetId} reused while in flight`);
      return;
    }
    if (qos > 0) {
      // [MQTT-3.3.4-7] the client must not exceed our Receive Maximum: QoS 1 PUBLISHes not yet PUBACKed plus QoS 2
      // ones not yet PUBCOMPed (PUBREC sent, PUBREL awaited) ([MQTT-4.9.0-2]).
      if (v5 && this.#inflightIn + this.#qos2In.size >= this.#rt.limits.receiveMaximum) {
        this.#protocolError(ReasonCode.ReceiveMaximumExceeded, 'receive maximum exceeded');
        return;
      }
    }
    const props = v5 ? p.properties : undefined;
    if (props?.subscriptionIdentifier !== undefined) {
      // [MQTT-3.3.4-6] a client must not send a Subscription Identifier.
      this.#protocolError(ReasonCode.ProtocolError, 'PUBLISH with a subscription identifier');
      return;
    }
    const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
    this.#rt.stats.publishBytesIn += payload.length;
    if (props?.payloadFormatIndicator === true && !isUtf8(payload)) {
      this.#protocolError(ReasonCode.PayloadFormatInvalid, 'payload is not UTF-8 as its format indicator says');
      return;
    }
    const message = publishToMessage(this.#rt.options.exchange, topic, payload, qos, p.dup, props);
    if (this.#rt.noLocalCount > 0) this.#rt.origin.set(message, this);
    if (p.retain) {
      // Refused before it is routed when it cannot be retained within the byte cap (it is stored after the core
      // accepted it, below).
      if (this.#rt.retained.wouldExceed(this.vhost, topic, message)) {
        this.#retainedQuotaExceeded(topic, qos, packetId, v5);
        return;
      }
      // Marked before the publish, whose deliveries may happen at once (Retain As Published reads the mark).
      this.#rt.retainedMessages.add(message);
    }
    let sequence: number | undefined;
    if (qos === 1) {
      sequence = this.#nextSequence++;
      this.#publishingSeq = sequence;
      this.#publishingId = packetId;
      this.#inflightIn++;
    }
    try {
      if (sequence !== undefined) {
        ch.publish(message, { sequence });
        if (this.#publishingSeq === sequence) {
          // Not confirmed yet (a durable queue's write): PUBACK when the core confirms.
          this.#publishingSeq = -1;
          this.#pendingAcksW().set(sequence, packetId);
          this.#pendingIdsW().add(packetId);
        }
      } else ch.publish(message, {});
    } catch (err) {
      if (!isBrokerError(err)) throw err;
      if (sequence !== undefined) {
        if (this.#publishingSeq === sequence) this.#publishingSeq = -1;
        else {
          this.#pendingAcks.delete(sequence);
          this.#pendingIds.delete(packetId);
        }
        this.#inflightIn--;
      }
      if (v5 && qos > 0) {
        const reason = err.code === 'ACCESS_REFUSED' ? ReasonCode.NotAuthorized : ReasonCode.UnspecifiedError;
        this.#log(`PUBLISH refused: ${err.message}`);
        const ack = this.#encodeWithReason({ cmd: qos === 1 ? 'puback' : 'pubrec', messageId: packetId, reasonCode: reason } as Packet, err.message);
        if (this.#capture !== undefined) this.#capture.push(ack);
        else this.#io.write(ack);
        return;
      }
      // RabbitMQ closes a 3.1.1 connection whose publish is refused.
      this.disconnect(err.code === 'ACCESS_REFUSED' ? ReasonCode.NotAuthorized : ReasonCode.UnspecifiedError, `PUBLISH refused: ${err.message}`);
      return;
    }
    if (p.retain) {
      // [MQTT-3.3.1-5] store (or, for an empty payload, clear [MQTT-3.3.1-10]) the retained message: only once the
      // core accepted the publish, so a refused one (permissions, topic permissions) neither sets nor clears it.
      if (!this.#rt.retained.set(this.vhost, topic, qos, message)) this.#log(`retained message for ${topic} not kept: the retained byte cap was reached meanwhile`);
    }
    if (qos === 2) {
      this.#qos2InW().add(packetId);
      this.#persistQos2();
      this.#send({ cmd: 'pubrec', messageId: packetId });
    }
  }

  /**
   * A retained PUBLISH past the retained-bytes cap is refused whole (neither retained nor routed): MQTT 5 answers QoS
   * 1/2 with 0x97 Quota exceeded and closes a QoS 0 sender with DISCONNECT 0x97 (it has no ack to carry a reason);
   * MQTT 3.1.1 has no way to refuse a PUBLISH, so the connection is closed, as RabbitMQ does for a refused publish.
   * (Mosquitto has no such cap: its retained messages grow until memory runs out.)
   */
  #retainedQuotaExceeded(topic: string, qos: number, packetId: number, v5: boolean): void {
    const text = `retained messages are at their cap of ${this.#rt.retained.maxBytes} bytes`;
    if (v5 && qos > 0) {
      this.#log(`retained PUBLISH to '${topic}' refused: ${text}`);
      const ack = this.#encodeWithReason({ cmd: qos === 1 ? 'puback' : 'pubrec', messageId: packetId, reasonCode: ReasonCode.QuotaExceeded } as Packet, text);
      if (this.#capture !== undefined) this.#capture.push(ack);
      else this.#io.write(ack);
      return;
    }
    this.disconnect(ReasonCode.QuotaExceeded, `retained PUBLISH to '${topic}' refused: ${text}`);
  }

  #onPubrel(packetId: number): void {
    const known = this.#qos2In.delete(packetId);
    if (known) this.#persistQos2();
    // [MQTT-4.3.3-11] PUBCOMP; MQTT 5 says 0x92 when the id is unknown.
    if (this.#version === 5 && !known) this.#send({ cmd: 'pubcomp', messageId: packetId, reasonCode: ReasonCode.PacketIdentifierNotFound });
    else this.#send({ cmd: 'pubcomp', messageId: packetId });
  }

  #persistQos2(): void {
    const s = this.#session;
    if (s === undefined || s.expiry === 0) return;
    s.qos2Inbound = [...this.#qos2In];
    s.qos2Pubrel = [...this.#pubrel];
    this.#rt.sessions.changed(s);
  }

  // ---- PUBLISH (outbound) --------------------------------------------------------------------------------------

  #deliver(d: Delivery): void {
    const ch = this.#ch;
    if (ch === undefined || this.#phase !== Phase.Connected) return;
    const message = d.message;
    const topic = messageTopic(message);
    const tag = d.consumerTag;
    // Which of our subscriptions does it match? (RabbitMQ: the queue's bindings; we also need their options.)
    let qosCap: QoS = 0;
    let matched = false;
    let ids: number[] | undefined;
    let retainAsPublished = false;
    let allNoLocal = true;
    // A QoS 0 consumer has no acks; a shared queue's consumer follows its subscription's QoS.
    let noAck = tag === CONSUMER_QOS0;
    for (const s of this.#subs.values()) {
      if (s.consumerTag !== tag) continue;
      if (s.shared) noAck = s.qos === 0;
      if (!topicMatches(s.matchFilter, topic)) continue;
      matched = true;
      if (s.qos > qosCap) qosCap = s.qos;
      if (s.identifier !== undefined) (ids ??= []).push(s.identifier);
      if (s.retainAsPublished) retainAsPublished = true;
      if (!s.noLocal) allNoLocal = false;
    }
    // What to ack in the core when the message is not sent, or sent at QoS 0 (nothing for a no-ack consumer).
    const ackTag = noAck ? undefined : d.deliveryTag;
    // [MQTT-4.7.2-1] `$` topics do not match leading wildcards; AMQP's `#` would. Also stale bindings. And
    // [MQTT-3.8.3-3] No Local: not back to the publishing connection.
    if (!matched || (allNoLocal && this.#rt.origin.get(message) === this)) {
      if (ackTag !== undefined) ch.ack(ackTag, false);
      return;
    }
    // MQTT 5 §3.3.2.3.3: a message that waited is sent with the Message Expiry Interval that remains; one that
    // expired on its way out (the queue drops those it sees) is not sent.
    let expirySeconds: number | undefined;
    const expiresAt = d.expiresAt ?? 0;
    if (expiresAt !== 0 && message.properties.expiration !== undefined) {
      const left = expiresAt - Date.now();
      if (left <= 0) {
        if (ackTag !== undefined) ch.ack(ackTag, false);
        return;
      }
      expirySeconds = Math.ceil(left / 1000);
    }
    const qos = Math.min(qosCap, messageQos(message)) as QoS;
    const retain = retainAsPublished && this.#rt.retainedMessages.has(message);
    this.#sendPublish(topic, message, qos, retain, d.redelivered, ids, qos > 0 ? ackTag : undefined, ackTag, expirySeconds);
  }

  /**
   * Encode and write one PUBLISH. For QoS ≥ 1, `deliveryTag` is the core delivery to settle on PUBACK/PUBREC;
   * `ackTag` is the one to ack at once when it goes out at QoS 0 or is discarded (undefined: nothing to ack);
   * `expirySeconds`, the Message Expiry Interval left after waiting in a queue (MQTT 5).
   */
  #sendPublish(
    topic: string,
    message: Message,
    qos: QoS,
    retain: boolean,
    dup: boolean,
    ids: number[] | undefined,
    deliveryTag: number | undefined,
    ackTag: number | undefined,
    expirySeconds?: number,
  ): void {
    const v5 = this.#version === 5;
    let properties: PublishProperties | undefined;
    let wireTopic = topic;
    if (v5) {
      properties = messageToProperties(message);
      if (expirySeconds !== undefined && properties !== undefined) properties.messageExpiryInterval = expirySeconds;
      if (ids !== undefined) (properties ??= {}).subscriptionIdentifier = ids.length === 1 ? (ids[0] as number) : ids;
      if (this.#clientTopicAliasMax > 0) {
        const alias = this.#outAliases.get(topic);
        if (alias !== undefined) {
          (properties ??= {}).topicAlias = alias;
          wireTopic = '';
        } else if (this.#outAliases.size < this.#clientTopicAliasMax) {
          const next = this.#outAliases.size + 1;
          this.#outAliasesW().set(topic, next);
          (properties ??= {}).topicAlias = next;
        }
      }
    }
    let messageId: number | undefined;
    if (qos > 0) messageId = this.#allocatePacketId();
    let buf: Buffer;
    if (properties === undefined) {
      // The common case (every 3.1.1 PUBLISH): the fast encoder, byte-identical to mqtt-packet's.
      buf = encodePublish(this.#version, wireTopic, message.body, qos, retain, qos > 0 && dup, messageId);
    } else {
      const packet: IPublishPacket = { cmd: 'publish', topic: wireTopic, payload: message.body, qos, retain, dup: qos > 0 && dup, properties };
      if (messageId !== undefined) packet.messageId = messageId;
      buf = this.#encode(packet);
    }
    if (this.#clientMaxPacketSize > 0 && buf.length > this.#clientMaxPacketSize) {
      // [MQTT-3.1.2-25] a packet over the client's Maximum Packet Size is discarded as if delivered.
      if (messageId !== undefined) this.#releasePacketId(messageId);
      if (ackTag !== undefined) this.#ch?.ack(ackTag, false);
      return;
    }
    this.#rt.stats.publishOut++;
    this.#rt.stats.publishBytesOut += message.body.length;
    if (messageId !== undefined) this.#outboundW().push(messageId, { deliveryTag: deliveryTag ?? -1, qos, step: this.#idStep - 1 });
    else if (ackTag !== undefined) this.#ch?.ack(ackTag, false);
    if (this.#capture !== undefined) this.#capture.push(buf);
    else this.#io.write(buf);
  }

  #allocatePacketId(): number {
    // Packet ids in use: awaiting PUBACK/PUBREC, or PUBCOMP ([MQTT-2.2.1-3]).
    for (let i = 0; i < 65535; i++) {
      const id = this.#nextPacketId;
      this.#nextPacketId = id === 65535 ? 1 : id + 1;
      const step = this.#idStep++;
      // Every step advances the id by one (mod 65,535), so an id in flight can come round again only once its
      // allocation is 65,535 steps old: below that (the usual case) no search of the in-flight list is needed.
      const oldest = this.#outbound?.first;
      const mayBeInFlight = oldest !== undefined && step - oldest.step >= 65535;
      if (mayBeInFlight && this.#outbound?.has(id) === true) continue;
      if (!this.#pubrel.has(id)) return id;
    }
    throw new Error('no free packet identifier');
  }

  #releasePacketId(id: number): void {
    this.#outbound?.delete(id);
  }

  #onPuback(packetId: number): void {
    const o = this.#outbound?.get(packetId);
    if (o === undefined || o.qos !== 1) return; // Unknown ids are ignored, as Mosquitto does.
    this.#outbound?.delete(packetId);
    if (o.deliveryTag >= 0) this.#ch?.ack(o.deliveryTag, false);
  }

  #onPubrec(packetId: number, reason: number): void {
    const o = this.#outbound?.get(packetId);
    if (o === undefined || o.qos !== 2) {
      if (this.#version === 5) this.#send({ cmd: 'pubrel', messageId: packetId, reasonCode: ReasonCode.PacketIdentifierNotFound });
      return;
    }
    this.#outbound?.delete(packetId);
    // The receiver owns the message now: settle it in the core.
    if (o.deliveryTag >= 0) this.#ch?.ack(o.deliveryTag, false);
    if (reason >= 0x80) return; // MQTT 5: a failed PUBREC ends the flow.
    this.#pubrelW().add(packetId);
    this.#persistQos2();
    this.#send({ cmd: 'pubrel', messageId: packetId });
  }

  #onPubcomp(packetId: number): void {
    if (this.#pubrel.delete(packetId)) this.#persistQos2();
  }

  // ---- SUBSCRIBE / UNSUBSCRIBE ---------------------------------------------------------------------------------

  #onSubscribe(p: ISubscribePacket): void {
    const job: SubscribeJob = {
      packet: p,
      next: 0,
      granted: [],
      retained: [],
      invalid: 0,
      overCap: 0,
      defsStart: this.#rt.broker.definitionsVersion ?? 0,
      stateStart: this.#rt.stateChanges(),
    };
    if (p.subscriptions.length <= SUBSCRIBE_SLICE) {
      if (!this.#subscribeSlice(job)) return;
      this.#answerSubscribe(job);
      this.#spendTurn(p.subscriptions.length);
      return;
    }
    // A huge SUBSCRIBE is handled a slice per event-loop turn, so every other client keeps its latency. Meanwhile
    // this connection reads nothing and later packets wait (their replies must follow this SUBACK), as they do while
    // definitions are flushed.
    const wait = (this.#defsWait ??= { pending: 0, held: [], backlog: [] });
    if (wait.pending++ === 0) this.#io.pause();
    setImmediate(() => this.#subscribeStep(job));
  }

  /**
   * Many small SUBSCRIBE/UNSUBSCRIBE packets read at once cost as much as one huge one: after a slice's worth of
   * filters, the rest of what was read waits for the next event-loop turn.
   */
  #spendTurn(filters: number): void {
    this.#turnFilters += filters;
    if (this.#turnFilters < SUBSCRIBE_SLICE) return;
    this.#turnFilters = 0;
    const wait = (this.#defsWait ??= { pending: 0, held: [], backlog: [] });
    if (wait.pending++ === 0) this.#io.pause();
    setImmediate(() => this.#definitionsDurable());
  }

  /** One slice of a huge SUBSCRIBE; the last one answers it and lets the packets that waited through. */
  #subscribeStep(job: SubscribeJob): void {
    if (this.#phase === Phase.Closed) return;
    try {
      if (!this.#subscribeSlice(job)) return;
      if (job.next < job.packet.subscriptions.length) {
        setImmediate(() => this.#subscribeStep(job));
        return;
      }
      const wait = this.#defsWait as DefsWait;
      this.#capture = [];
      this.#answerSubscribe(job);
      const captured = this.#capture;
      this.#capture = undefined;
      for (const b of captured) wait.held.push(b);
      const defs = (this.#rt.broker.definitionsVersion ?? 0) !== job.defsStart;
      const state = this.#rt.stateChanges() !== job.stateStart;
      if (defs || state) {
        wait.pending++;
        const defsFlushed = defs ? (this.#rt.broker.flushDefinitions?.() ?? Promise.resolve()) : undefined;
        const stateSynced = state ? this.#rt.stateSync() : undefined;
        void Promise.all([defsFlushed, stateSynced]).then(
          () => this.#definitionsDurable(),
          (err: unknown) => this.#internalError(err),
        );
      }
      // Release this SUBSCRIBE's own hold.
      this.#definitionsDurable();
    } catch (err) {
      this.#capture = undefined;
      this.#internalError(err);
    }
  }

  /**
   * Subscribe the next filters of `job` (at most {@link SUBSCRIBE_SLICE}). False when the connection was closed
   * (a protocol error). Each filter costs the same however many the session has: no per-filter copy of the
   * subscription list, no per-filter walk of the subscriptions.
   */
  #subscribeSlice(job: SubscribeJob): boolean {
    const p = job.packet;
    const v5 = this.#version === 5;
    const identifier = v5 ? p.properties?.subscriptionIdentifier : undefined;
    const session = this.#session as SessionState;
    const max = this.#rt.limits.maxSubscriptions;
    const end = Math.min(job.next + SUBSCRIBE_SLICE, p.subscriptions.length);
    // The filters subscribed in this slice, last one winning; those already in the session are replaced below.
    const added = new Map<string, SubscriptionState>();
    let replaces = false;
    for (; job.next < end; job.next++) {
      const req = p.subscriptions[job.next] as ISubscribePacket['subscriptions'][number];
      const filter = req.topic;
      const shared = parseSharedFilter(filter);
      const bad = shared === null ? 'bad-wildcard' : checkTopicFilter(shared === undefined ? filter : shared.filter);
      if (bad !== undefined) {
        // One log line per SUBSCRIBE (see #answerSubscribe), however many filters are bad.
        if (job.invalid++ === 0) job.firstInvalid = `${JSON.stringify(filter)} (${bad})`;
        job.granted.push(v5 ? ReasonCode.TopicFilterInvalid : 0x80);
        continue;
      }
      if (shared !== undefined && shared !== null && req.nl === true) {
        // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error.
        this.#protocolError(ReasonCode.ProtocolError, 'No Local on a shared subscription');
        return false;
      }
      const existing = this.#subs.get(filter);
      if (existing === undefined && max > 0 && this.#subs.size >= max) {
        job.overCap++;
        job.granted.push(v5 ? ReasonCode.QuotaExceeded : 0x80);
        continue;
      }
      const qos = Math.min(req.qos, 2) as QoS;
      const state: SubscriptionState = {
        filter,
        qos,
        noLocal: v5 && req.nl === true,
        retainAsPublished: v5 && req.rap === true,
        retainHandling: (v5 ? (req.rh ?? 0) : 0) as 0 | 1 | 2,
      };
      if (identifier !== undefined) state.identifier = identifier;
      try {
        const active = this.#activate(state);
        if (existing !== undefined && existing.queue !== active.queue) this.#unbind(existing);
        if (existing !== undefined || added.has(filter)) replaces = true;
        added.delete(filter);
        added.set(filter, state);
        this.#ensureConsumer(active);
        if (!active.shared && active.retainHandling !== 2 && (active.retainHandling !== 1 || existing === undefined)) {
          if (active.matchFilter.startsWith('$SYS') || this.#rt.retained.match(this.vhost, filter).length > 0) {
            job.retained.push({ sub: active, isNew: existing === undefined });
          }
        }
        job.granted.push(qos);
      } catch (err) {
        if (!isBrokerError(err)) throw err;
        this.#log(`SUBSCRIBE to ${JSON.stringify(filter)} refused: ${err.message}`);
        if (this.#deleteSub(filter)) replaces = true;
        // MQTT 5 as RabbitMQ 3.13: 0x87 for a permission or topic permission, 0x97 for the vhost's queue limit.
        job.granted.push(v5 ? (err.code === 'ACCESS_REFUSED' ? ReasonCode.NotAuthorized : err.limit ? ReasonCode.QuotaExceeded : ReasonCode.UnspecifiedError) : 0x80);
      }
    }
    // Re-subscribing moves a filter to the end of the session's list; new filters are appended.
    if (replaces) session.subscriptions = session.subscriptions.filter((s) => !added.has(s.filter) && this.#subs.has(s.filter));
    for (const s of added.values()) session.subscriptions.push(s);
    if (added.size > 0 || replaces) this.#rt.sessions.changed(session);
    return true;
  }

  /** SUBACK for a handled SUBSCRIBE, then the retained messages of its new subscriptions. */
  #answerSubscribe(job: SubscribeJob): void {
    this.#recountNoLocal();
    if (job.invalid > 0) {
      this.#log(`SUBSCRIBE to an invalid filter ${job.firstInvalid ?? ''}${job.invalid > 1 ? ` and ${job.invalid - 1} more` : ''}`);
    }
    if (job.overCap > 0) {
      this.#log(`SUBSCRIBE: ${job.overCap} filter(s) refused, the session has its maximum of ${this.#rt.limits.maxSubscriptions} subscriptions`);
    }
    // [MQTT-3.8.4-1] SUBACK with the same packet id; [MQTT-3.8.4-5] one code per filter in order.
    this.#send({ cmd: 'suback', messageId: job.packet.messageId ?? 0, granted: job.granted });
    // [MQTT-3.8.4-4] retained messages after the SUBACK; MQTT 5 Retain Handling 1 = only for a new subscription,
    // 2 = never; never for shared subscriptions (MQTT 5 §4.8.2). Only the subscriptions that may have some were
    // kept (#subscribeSlice), so a huge SUBSCRIBE without retained messages costs nothing here.
    for (const { sub } of job.retained) {
      // The broker statistics are retained in Mosquitto: a `$SYS` subscriber gets the current values at once.
      if (sub.matchFilter.startsWith('$SYS')) {
        const ids = sub.identifier !== undefined ? [sub.identifier] : undefined;
        for (const e of this.#rt.sysEntries(this.vhost)) {
          if (topicMatches(sub.matchFilter, e.topic)) this.#sendPublish(e.topic, e.message, 0, true, false, ids, undefined, undefined);
        }
      }
      const now = Date.now();
      for (const r of this.#rt.retained.match(this.vhost, sub.filter, now)) {
        const qos = Math.min(sub.qos, r.qos) as QoS;
        const ids = sub.identifier !== undefined ? [sub.identifier] : undefined;
        // MQTT 5 §3.3.2.3.3: a retained message goes out with the expiry interval it has left.
        const expirySeconds = r.expiresAt === undefined ? undefined : Math.ceil((r.expiresAt - now) / 1000);
        // [MQTT-3.3.1-8] retained messages sent on subscribe carry RETAIN=1.
        this.#sendPublish(r.topic, r.message, qos, true, false, ids, undefined, undefined, expirySeconds);
      }
    }
  }

  /** Add or replace a subscription, keeping the counts that spare walking them all. */
  #setSub(filter: string, active: ActiveSubscription): void {
    const subs = this.#subsW();
    const old = subs.get(filter);
    if (old !== undefined) this.#countSub(old, -1);
    subs.set(filter, active);
    this.#countSub(active, 1);
  }

  /** Remove a subscription; false when there was none. */
  #deleteSub(filter: string): boolean {
    const old = this.#subs.get(filter);
    if (old === undefined) return false;
    this.#subs.delete(filter);
    this.#countSub(old, -1);
    return true;
  }

  #countSub(s: ActiveSubscription, delta: 1 | -1): void {
    if (!s.shared && s.matchFilter.startsWith('$SYS')) this.#sysSubs += delta;
    if (s.noLocal) this.#noLocalSubs += delta;
    const key = s.queue + '\u0000' + s.bindingKey;
    const n = (this.#bindingRefs.get(key) ?? 0) + delta;
    if (n > 0) this.#bindingRefsW().set(key, n);
    else this.#bindingRefs.delete(key);
  }

  /** Declare the subscription's queue and bind it. Idempotent (also used to resume a session). */
  #activate(state: SubscriptionState): ActiveSubscription {
    const ch = this.#ch as CoreChannel;
    const session = this.#session as SessionState;
    const shared = parseSharedFilter(state.filter);
    const persistent = session.expiry > 0;
    let queue: string;
    let bindingKey: string;
    if (shared) {
      queue = sharedQueueName(shared.group, shared.filter);
      bindingKey = filterToBindingKey(shared.filter);
      this.#declare(queue, () => {
        try {
          ch.declareQueue(queue, { durable: true, autoDelete: !persistent });
        } catch (err) {
          // A group's queue is made by its first member: a member whose session lives longer or shorter joins the
          // queue as it is (it must not be refused because another client chose another session expiry).
          if (!isBrokerError(err) || err.code !== 'PRECONDITION_FAILED') throw err;
          ch.declareQueue(queue, { passive: true });
        }
      });
    } else {
      const q01 = state.qos === 0 ? 0 : 1;
      queue = subscriptionQueueName(this.clientId, q01);
      bindingKey = filterToBindingKey(state.filter);
      this.#declare(queue, () => this.#declareSessionQueue(queue, persistent));
    }
    ch.bindQueue(queue, this.#rt.options.exchange, bindingKey);
    const isShared = shared !== undefined && shared !== null;
    const active: ActiveSubscription = {
      ...state,
      queue,
      bindingKey,
      shared: isShared,
      consumerTag: isShared ? SHARE_PREFIX + state.filter : state.qos === 0 ? CONSUMER_QOS0 : CONSUMER_QOS1,
      matchFilter: isShared ? shared.filter : state.filter,
    };
    this.#setSub(state.filter, active);
    return active;
  }

  #declare(queue: string, declare: () => void): void {
    if (this.#declared.has(queue)) return;
    declare();
    this.#declaredW().add(queue);
  }

  /**
   * Subscription queue flags. A clean session's queues are transient and auto-delete, QoS 0 and QoS 1 alike:
   * RabbitMQ 3.10 declares the qos1 one durable, but a clean session's messages die with its connection (a clean
   * reconnect deletes the queue), so writing each persistent message to disk and holding the publisher's PUBACK
   * for the group commit bought nothing and cost ~30 µs of broker CPU per message in the fan-in benchmark (issue 4).
   * Persistent sessions keep both durable (offline QoS 0 messages are queued, as Mosquitto does), bounded by the
   * offline queue limit.
   */
  #declareSessionQueue(queue: string, persistent: boolean): void {
    const ch = this.#ch as CoreChannel;
    const args = persistent && this.#rt.options.maxOfflineMessages > 0 ? { 'x-max-length': this.#rt.options.maxOfflineMessages } : undefined;
    const options = persistent
      ? { durable: true, autoDelete: false, ...(args ? { arguments: args } : {}) }
      : { durable: false, autoDelete: true };
    let declared;
    try {
      declared = ch.declareQueue(queue, options);
    } catch (err) {
      // The vhost's queue limit is no inequivalence: the subscription is refused.
      if (!isBrokerError(err) || err.code !== 'PRECONDITION_FAILED' || err.limit) throw err;
      // A persistent session resumed by a connection with Session Expiry 0: its durable queue holds what was
      // queued meanwhile, which this connection must still get; the session (and the queue) ends with it.
      if (!persistent) return;
      // Left over with other flags (the session changed between clean and persistent): replace it.
      ch.deleteQueue(queue, {});
      declared = ch.declareQueue(queue, options);
    }
    const limit = this.#rt.options.maxOfflineMessages;
    const session = this.#session;
    if (persistent && limit > 0 && session !== undefined) {
      // The queue counts what x-max-length removed from its head; what is new since the last reconnect was lost
      // while this client was away (or too slow). A counter below the one seen restarted with the broker.
      const total = declared.lengthOverflow ?? 0;
      const seen = session.overflowSeen?.[queue] ?? 0;
      const dropped = total >= seen ? total - seen : total;
      if (dropped > 0) this.#rt.offlineOverflow(this.clientId, queue, limit, dropped);
      if (total !== seen) {
        (session.overflowSeen ??= {})[queue] = total;
        this.#rt.sessions.changed(session);
      }
    }
  }

  #ensureConsumer(s: ActiveSubscription): void {
    const ch = this.#ch as CoreChannel;
    const tag = s.consumerTag;
    if (this.#consuming.has(tag)) return;
    this.#consumingW().add(tag);
    ch.consume(s.queue, { consumerTag: tag, noAck: s.qos === 0 });
  }

  #unbind(s: ActiveSubscription): void {
    const ch = this.#ch as CoreChannel;
    try {
      ch.unbindQueue(s.queue, this.#rt.options.exchange, s.bindingKey);
    } catch (err) {
      if (!isBrokerError(err)) throw err;
    }
    if (s.shared) {
      this.#consuming.delete(s.consumerTag);
      ch.cancel(s.consumerTag);
    }
  }

  #onUnsubscribe(packetId: number, filters: string[]): void {
    const codes: number[] = [];
    const session = this.#session as SessionState;
    for (const filter of filters) {
      const s = this.#subs.get(filter);
      if (s === undefined) {
        codes.push(ReasonCode.NoSubscriptionExisted);
        continue;
      }
      // Another filter may bind the same key on the same queue; unbind only the last one.
      const sameKey = (this.#bindingRefs.get(s.queue + '\u0000' + s.bindingKey) ?? 0) > 1;
      this.#deleteSub(filter);
      if (!sameKey) this.#unbind(s);
      codes.push(ReasonCode.Success);
    }
    session.subscriptions = session.subscriptions.filter((s) => this.#subs.has(s.filter));
    this.#recountNoLocal();
    this.#rt.sessions.changed(session);
    // [MQTT-3.10.4-4] UNSUBACK with the same packet id.
    if (this.#version === 5) this.#send({ cmd: 'unsuback', messageId: packetId, granted: codes });
    else this.#send({ cmd: 'unsuback', messageId: packetId } as Packet);
    this.#spendTurn(filters.length);
  }

  #recountNoLocal(): void {
    this.#hasSys = this.#sysSubs > 0;
    const has = this.#noLocalSubs > 0;
    if (has !== this.#hasNoLocal) {
      this.#rt.noLocalCount += has ? 1 : -1;
      this.#hasNoLocal = has;
    }
  }

  // ---- DISCONNECT and teardown ---------------------------------------------------------------------------------

  #onDisconnect(reason: number, sessionExpiry: number | undefined): void {
    const session = this.#session;
    if (sessionExpiry !== undefined && session !== undefined) {
      // [MQTT-3.14.2-2] a session that ends with the connection cannot be extended at DISCONNECT.
      if (session.expiry === 0 && sessionExpiry > 0) {
        this.#protocolError(ReasonCode.ProtocolError, 'session expiry set at DISCONNECT after 0 at CONNECT');
        return;
      }
      session.expiry = Math.min(sessionExpiry, this.#rt.limits.maxSessionExpiry);
    }
    // [MQTT-3.14.4-3] a normal DISCONNECT discards the will; MQTT 5 reason 0x04 asks for it to be sent.
    this.#cleanDisconnect = reason !== ReasonCode.DisconnectWithWill;
    this.#teardown();
    this.#io.end();
  }

  #teardown(): void {
    if (this.#phase === Phase.Closed) {
      return;
    }
    const wasConnected = this.#phase === Phase.Connected;
    this.#phase = Phase.Closed;
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);
    if (this.#keepAliveSlot !== 0) keepAliveWheel.cancel(this, this.#keepAliveSlot);
    this.#keepAliveSlot = 0;
    this.#connectTimer = undefined;
    if (!wasConnected) return;
    // DESIGN.md §7: one line per connection closed (the lines before it, if any, say why).
    this.#log('MQTT connection closed', { user: this.#user?.name, vhost: this.vhost, clean: this.#cleanDisconnect });
    if (this.#hasNoLocal) {
      this.#rt.noLocalCount--;
      this.#hasNoLocal = false;
    }
    const session = this.#session as SessionState;
    const current = this.#rt.unregister(this);
    const ch = this.#ch as CoreChannel;
    const conn = this.#conn as CoreConnection;
    // [MQTT-3.1.2-8] the will is published when the connection closes without a normal DISCONNECT.
    if (this.#will !== undefined && !this.#cleanDisconnect) {
      this.#rt.publishWill(this.vhost, this.clientId, this.#will, this.#user as User, Math.min(this.#will.properties?.willDelayInterval ?? 0, session.expiry), ch);
    }
    this.#persistQos2();
    // Unacked deliveries are requeued by the core (redelivered on the next connection, with DUP set).
    ch.close();
    if (current) {
      if (session.expiry === 0) this.#rt.endSession(session, conn);
      else {
        session.disconnectedAt = Date.now();
        this.#rt.sessions.changed(session);
        this.#rt.scheduleExpiry(session);
      }
    }
    conn.close();
  }

  // ---- errors --------------------------------------------------------------------------------------------------

  /**
   * A protocol violation: MQTT 5 gets DISCONNECT with the reason code ([MQTT-4.13.1-1]); 3.1.1 is closed without
   * one ([MQTT-4.8.0-1]). Logged, and nothing else is affected.
   */
  #protocolError(reason: number, text: string): void {
    if (this.#phase === Phase.Closed) return;
    if (this.#phase === Phase.AwaitConnect) {
      this.#abort(text, undefined);
      return;
    }
    this.#rt.logger.warn({ connection: this.info.id, clientId: this.clientId, reason }, `MQTT protocol error: ${text}`);
    const last = this.#version === 5 ? this.#encodeWithReason({ cmd: 'disconnect', reasonCode: reason }, text) : undefined;
    this.#teardown();
    this.#io.end(last);
  }

  /**
   * Encode an MQTT 5 packet with `text` as its Reason String, unless the client asked for no problem information
   * (for packets other than CONNACK and DISCONNECT) or the string would take it over the client's Maximum Packet
   * Size [MQTT-3.14.2-3], [MQTT-3.4.2-2]: then without it.
   */
  #encodeWithReason(packet: Packet & { properties?: { reasonString?: string } }, text: string): Buffer {
    const plain = this.#encode(packet);
    if (this.#version !== 5 || (!this.#problemInformation && packet.cmd !== 'connack' && packet.cmd !== 'disconnect')) return plain;
    const withText = this.#encode({ ...packet, properties: { ...packet.properties, reasonString: text } } as Packet);
    return this.#clientMaxPacketSize > 0 && withText.length > this.#clientMaxPacketSize ? plain : withText;
  }

  #abort(text: string, last: Buffer | undefined): void {
    this.#rt.logger.warn({ connection: this.info.id, peer: this.info.remoteAddress }, `MQTT connection closed: ${text}`);
    this.#teardown();
    this.#io.end(last);
  }

  #internalError(err: unknown): void {
    this.#rt.logger.error({ err, connection: this.info.id, clientId: this.clientId }, 'MQTT connection failed');
    const last = this.#version === 5 && this.#phase === Phase.Connected ? this.#encode({ cmd: 'disconnect', reasonCode: ReasonCode.ImplementationSpecificError }) : undefined;
    try {
      this.#teardown();
    } catch (e) {
      this.#rt.logger.error({ err: e }, 'MQTT teardown failed');
    }
    this.#io.end(last);
  }

  #log(msg: string, extra: Record<string, unknown> = {}): void {
    this.#rt.logger.info({ connection: this.info.id, clientId: this.clientId, peer: this.info.remoteAddress, ...extra }, msg);
  }

  #encode(packet: Packet): Buffer {
    if (this.#version === 5 && ACK_CMDS.has(packet.cmd)) {
      const ack = packet as { reasonCode?: number };
      // MQTT 5 §3.4.2.1: reason 0 without properties may be omitted; mqtt-packet does so only for an explicit 0, and
      // paho 1.6 cannot read the long form of PUBREL.
      ack.reasonCode ??= 0;
    }
    return mqttPacket.generate(packet, { protocolVersion: this.#version });
  }

  #send(packet: Packet): void {
    const buf = this.#encode(packet);
    if (this.#capture !== undefined) this.#capture.push(buf);
    else this.#io.write(buf);
  }
}

/** A field of `packet` (its packet identifier, a property or a will property) that mqtt-packet could not read. */
function unreadableField(packet: Packet): string | undefined {
  const id = (packet as { messageId?: number }).messageId;
  if (id !== undefined && !(id >= 0 && id <= 0xffff)) return 'packet identifier';
  if (!('properties' in packet) && packet.cmd !== 'connect') return undefined;
  const sets: unknown[] = [(packet as { properties?: unknown }).properties];
  if (packet.cmd === 'connect') sets.push(packet.will?.properties);
  for (const props of sets) {
    if (props === undefined || props === null || typeof props !== 'object') continue;
    for (const [name, value] of Object.entries(props)) {
      if (value === null) return `property ${name}`;
      // mqtt-packet turns a property given twice into an array; only these two may repeat (MQTT 5 §2.2.2.2).
      if (Array.isArray(value) && name !== 'subscriptionIdentifier' && name !== 'userProperties') return `property ${name} (given twice)`;
      if (name === 'userProperties') {
        for (const [k, v] of Object.entries(value as object)) {
          const values: unknown[] = Array.isArray(v) ? v : [v];
          if (values.some((x) => typeof x !== 'string')) return `property userProperties.${k}`;
        }
      }
    }
  }
  return undefined;
}
