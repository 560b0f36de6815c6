/**
 * The adapter ↔ core contract (DESIGN.md §3).
 *
 * Every protocol adapter talks to the core only through these types: it opens a {@link CoreConnection} per client
 * connection and a {@link CoreChannel} per AMQP channel / MQTT connection / STOMP connection, and receives
 * deliveries and notifications through the {@link ChannelHost} and {@link ConnectionHost} objects it passes in.
 * Nothing here knows about sockets or any wire format.
 */

/** A decimal value from an AMQP field table ('D'): value × 10^-scale. */
export interface Decimal {
  readonly scale: number;
  readonly value: number;
}

/**
 * A header value. Wire-typed protocols map these to and from their own types:
 * string ⇄ long string, integer number ⇄ signed 32-bit (or 64-bit when it does not fit), non-integer number ⇄
 * double, bigint ⇄ signed 64-bit, boolean ⇄ boolean, null ⇄ void, Buffer ⇄ byte array, Date ⇄ timestamp,
 * array ⇄ array, {@link Decimal} (tagged by the `decimal` brand below) ⇄ decimal, plain object ⇄ nested table.
 */
export type FieldValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Buffer
  | Date
  | DecimalValue
  | FieldValue[]
  | FieldTable;

/** A decimal, branded so it cannot be mistaken for a nested table. */
export interface DecimalValue extends Decimal {
  readonly $decimal: true;
}

/** An ordered map of header names to values (AMQP field table). */
export interface FieldTable {
  [name: string]: FieldValue;
}

/** AMQP basic properties: the protocol-neutral message properties of the core. */
export interface MessageProperties {
  contentType?: string;
  contentEncoding?: string;
  headers?: FieldTable;
  /** 1 = transient, 2 = persistent. */
  deliveryMode?: number;
  priority?: number;
  correlationId?: string;
  replyTo?: string;
  /** Per-message TTL in milliseconds, as a decimal string (AMQP's shortstr). */
  expiration?: string;
  messageId?: string;
  /** Seconds since the epoch. */
  timestamp?: number;
  type?: string;
  userId?: string;
  appId?: string;
  clusterId?: string;
}

/**
 * A message as the core sees it. The body is immutable and shared by every queue the message is routed to.
 */
export interface Message {
  /** The exchange it was published to (or dead-lettered through). */
  exchange: string;
  routingKey: string;
  properties: MessageProperties;
  /**
   * The properties exactly as an AMQP client encoded them (property flags and property list, i.e. the content
   * header payload from byte 12 on), when they are unchanged since. An AMQP adapter may write these bytes instead of
   * re-encoding `properties`. Whoever changes `properties` must set this to undefined.
   */
  rawProperties: Buffer | undefined;
  body: Buffer;
}

/** A message handed to a consumer, or returned by basic.get. */
export interface Delivery {
  /** The consumer's tag; '' for basic.get. */
  consumerTag: string;
  /** Channel-scoped, starts at 1, increments per delivery on that channel. */
  deliveryTag: number;
  redelivered: boolean;
  message: Message;
  /** The queue it came from. */
  queue: string;
  /**
   * When the queue would have expired it (epoch ms; 0 or absent = never): per-message or queue TTL, counted from
   * when it was enqueued. MQTT 5 sends the Message Expiry Interval that remains.
   */
  expiresAt?: number;
}

/** Who is connected: filled in by the transport, read by the core for loopback checks and exclusivity. */
export interface ConnectionInfo {
  /** Process-unique connection id. */
  id: string;
  /** 'amqp', 'mqtt', 'stomp', ... */
  protocol: string;
  remoteAddress: string;
  remotePort: number;
  localPort: number;
  tls: boolean;
  /** Name of the listener that accepted it, e.g. 'amqp' or 'amqps'. */
  listener: string;
  /** The local address the client connected to (management's `host`). */
  localAddress?: string;
  /** True when the bytes travel in WebSocket messages (web-stomp, web-mqtt): management's "Web STOMP 1.2". */
  websocket?: boolean;
  /**
   * True for the broker's own pseudo-connections (the management API acting for an HTTP request): they pass the same
   * checks as a client's, but are not listed, counted against limits or shown to operators.
   */
  internal?: boolean;
  /**
   * MQTT's client identifier, set by the adapter before it opens the core connection: the `{client_id}` variable of
   * topic permission patterns (RabbitMQ's variable_map, which its AMQP and STOMP connections lack, so there a
   * `{client_id}` stays as written) and of the HTTP auth backend's requests.
   */
  clientId?: string;
  /** The client's TLS certificate, present only when it verified against the listener's CA (`--tls-verify peer`). */
  peerCertificate?: PeerCertificate;
}

/** A verified TLS client certificate's subject, for certificate login (SASL EXTERNAL, MQTT/STOMP ssl_cert_login). */
export interface PeerCertificate {
  /** The subject's first CN, unescaped. */
  commonName?: string;
  /** The subject DN, RFC 4514 style, most specific RDN first ("CN=alice,O=Example,C=GB"), as RabbitMQ prints it. */
  distinguishedName: string;
}

/** An authenticated user. */
export interface User {
  readonly name: string;
  readonly tags: readonly string[];
}

/**
 * Traffic counters of one connection's transport: counted per read chunk and per write batch, never per message.
 */
export interface TrafficCounters {
  /** Bytes received. */
  readonly recvOct: number;
  /** Read chunks received. */
  readonly recvCnt: number;
  /** Bytes handed to the socket. */
  readonly sendOct: number;
  /** Writes made to the socket (one per batch). */
  readonly sendCnt: number;
  /** Bytes queued but not yet written. */
  readonly sendPend: number;
}

/**
 * What an adapter reports about one of its connections, read on demand by the management API (RabbitMQ's connection
 * info items). Protocol-neutral: each adapter fills it from its own state.
 */
export interface ConnectionDetails {
  /** The protocol as RabbitMQ labels it: 'AMQP 0-9-1', 'MQTT 3.1.1', 'STOMP 1.2', 'Web STOMP 1.2', 'Web MQTT 5-0'. */
  protocol: string;
  /** RabbitMQ's connection `type`: 'network' for AMQP clients, 'direct' for the plugins' (MQTT, STOMP) connections. */
  type: 'network' | 'direct';
  /** AMQP's client properties from connection.start-ok; MQTT's client id; STOMP's product. */
  clientProperties: FieldTable;
  /** MQTT's `variable_map` (the client id); absent for other protocols. */
  variableMap?: Record<string, string>;
  frameMax: number;
  channelMax: number;
  /** Heartbeat / keep-alive in seconds; absent where RabbitMQ lists no `timeout` (MQTT). */
  timeout?: number;
  /** SASL mechanism (AMQP). */
  authMechanism?: string;
  /** The name the client gave its connection (AMQP client property connection_name). */
  userProvidedName?: string;
  /** Traffic so far. */
  traffic?: TrafficCounters;
}

/** What an adapter reports about one core channel (RabbitMQ's channel info items the core cannot know). */
export interface ChannelDetails {
  /** The protocol's channel number (AMQP's channel id; 1 for MQTT and STOMP). */
  number: number;
  /** Publisher confirms are on. */
  confirm: boolean;
  /** tx.select was called (AMQP) or a STOMP transaction is open. */
  transactional: boolean;
  /** Publishes held in an open transaction. */
  messagesUncommitted: number;
  /** Acks held in an open transaction. */
  acksUncommitted: number;
  /** Confirms not sent yet. */
  messagesUnconfirmed: number;
}

/** Callbacks from the core to a connection. */
export interface ConnectionHost {
  /** A resource alarm blocked publishing; the adapter stops reading from publishers and tells the client. */
  blocked(reason: string): void;
  /** The alarm cleared. */
  unblocked(): void;
  /**
   * Optional: this connection's details for management (named apart from {@link ChannelHost.channelDetails}, since
   * MQTT and STOMP adapters are both hosts in one object). Called on demand (a management request), never per message.
   */
  connectionDetails?(): ConnectionDetails;
  /**
   * Optional: an operator closes this connection (management DELETE /api/connections/{name}). The adapter tells the
   * client in its protocol's way (AMQP connection.close 320 CONNECTION_FORCED with `reason`, MQTT 5 DISCONNECT 0x98,
   * STOMP ERROR) and closes. Absent: the connection cannot be closed this way.
   */
  close?(reason: string): void;
}

/** Callbacks from the core to one channel of an adapter. None of them may throw. */
export interface ChannelHost {
  /**
   * Hand a message to a consumer of this channel. Synchronous, never awaited: the adapter encodes it and queues it
   * for writing.
   */
  deliver(delivery: Delivery): void;
  /**
   * False while the adapter's outbound writer is above its high-water mark: the core then delivers nothing more to
   * this channel until the adapter calls {@link CoreChannel.resume}.
   */
  readonly writable: boolean;
  /**
   * A publish made with a `sequence` is settled: ack=true once the broker has taken responsibility for it (routed to
   * every queue, on disk where that applies, or unroutable), ack=false when a queue refused it (x-overflow
   * reject-publish). Called in sequence order, possibly later than the publish call.
   */
  confirm(sequence: number, ack: boolean): void;
  /** A mandatory message had no route (reply 312 NO_ROUTE). Called before its confirm. */
  returned(message: Message, replyCode: number, replyText: string): void;
  /** The server cancelled a consumer of this channel (its queue was deleted, or a single-active-consumer handover). */
  consumerCancelled(consumerTag: string): void;
  /** Optional: this channel's protocol-side details for management, called on demand. */
  channelDetails?(): ChannelDetails;
}

export interface ExchangeDeclareOptions {
  passive?: boolean;
  durable?: boolean;
  autoDelete?: boolean;
  internal?: boolean;
  arguments?: FieldTable;
}

export interface QueueDeclareOptions {
  passive?: boolean;
  durable?: boolean;
  exclusive?: boolean;
  autoDelete?: boolean;
  arguments?: FieldTable;
}

export interface QueueDeclareResult {
  queue: string;
  messageCount: number;
  consumerCount: number;
  /** Messages the queue has removed from its head for its length limit (x-max-length), since created or recovered. */
  lengthOverflow?: number;
}

export interface ConsumeOptions {
  /** '' or absent: the server generates `amq.ctag-…`. */
  consumerTag?: string;
  noAck?: boolean;
  exclusive?: boolean;
  /** x-priority and other consumer arguments. */
  arguments?: FieldTable;
}

export interface PublishOptions {
  mandatory?: boolean;
  /** Publisher-confirm sequence number; when present the core calls {@link ChannelHost.confirm} for it. */
  sequence?: number;
}

export interface GetResult {
  delivery: Delivery;
  /** Messages left in the queue after this one. */
  messageCount: number;
}

/**
 * One core channel: an AMQP channel, or the single channel of an MQTT or STOMP connection.
 * Methods throw {@link BrokerError} for everything the client did wrong.
 */
export interface CoreChannel {
  readonly id: number;
  declareExchange(name: string, type: string, options: ExchangeDeclareOptions): void;
  deleteExchange(name: string, options: { ifUnused?: boolean }): void;
  /** Returns the actual name (server-generated `amq.gen-…` for ''). */
  declareQueue(name: string, options: QueueDeclareOptions): QueueDeclareResult;
  /** Returns the number of messages deleted with the queue. */
  deleteQueue(name: string, options: { ifUnused?: boolean; ifEmpty?: boolean }): number;
  /** Returns the number of messages purged. */
  purgeQueue(name: string): number;
  bindQueue(queue: string, exchange: string, routingKey: string, args?: FieldTable): void;
  unbindQueue(queue: string, exchange: string, routingKey: string, args?: FieldTable): void;
  bindExchange(destination: string, source: string, routingKey: string, args?: FieldTable): void;
  unbindExchange(destination: string, source: string, routingKey: string, args?: FieldTable): void;
  /**
   * Throw BrokerError ACCESS_REFUSED unless the user's topic permission on `exchange` (a topic exchange) lets
   * `routingKey` be read or written: what publish and bind check, for adapters that check before acting (STOMP checks
   * a /topic/ subscription before it declares the queue, as RabbitMQ's STOMP plugin). Unknown exchanges pass.
   */
  checkTopicAccess(exchange: string, permission: 'read' | 'write', routingKey: string): void;
  /** Route a message. Confirms and returns are reported through the host. */
  publish(message: Message, options: PublishOptions): void;
  /**
   * For a user an external backend authenticated: ask now the questions a publish to `exchange` with `routingKey`
   * will ask (throws AuthorizationPending until the answers are cached, ACCESS_REFUSED when refused). A no-op for
   * internal users. Adapters call it where they can still wait (before the message's content is assembled).
   */
  authorizePublish?(exchange: string, routingKey: string): void;
  /** True when an external backend authenticated the channel's user (see {@link authorizePublish}). */
  readonly externalAuth?: boolean;
  /** Returns the consumer tag. */
  consume(queue: string, options: ConsumeOptions): string;
  cancel(consumerTag: string): void;
  /** How many consumers this channel has (adapters enforce a per-channel cap with it). */
  readonly consumerCount: number;
  /** basic.qos: global=false sets the limit for consumers created afterwards, global=true a limit shared by the channel. */
  qos(prefetchCount: number, global: boolean): void;
  ack(deliveryTag: number, multiple: boolean): void;
  nack(deliveryTag: number, multiple: boolean, requeue: boolean): void;
  reject(deliveryTag: number, requeue: boolean): void;
  /** basic.get; undefined when the queue is empty. */
  get(queue: string, noAck: boolean): GetResult | undefined;
  /** basic.recover: requeue every unacked message of this channel. */
  recover(requeue: boolean): void;
  /** channel.flow: stop (false) or restart (true) deliveries to this channel. */
  flow(active: boolean): void;
  /** The host became writable again: continue delivering. */
  resume(): void;
  /** Close the channel: cancel its consumers and requeue its unacked messages. Idempotent. */
  close(): void;
}

/** One client connection as the core sees it: owns exclusive queues and channels. */
export interface CoreConnection {
  readonly info: ConnectionInfo;
  readonly user: User;
  readonly vhost: string;
  openChannel(host: ChannelHost): CoreChannel;
  /** Close every channel and delete the connection's exclusive queues. Idempotent. */
  close(): void;
}

/** A pino-compatible logger subset, so the core does not import pino. */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
  isLevelEnabled?(level: string): boolean;
}

/**
 * What adapters need of the broker. The core's `Broker` class implements it (plus administration: users, vhosts,
 * permissions, alarms).
 */
export interface BrokerApi {
  /**
   * Check a user's password. Throws BrokerError ACCESS_REFUSED when the user is unknown, the password is wrong, or
   * the user may only connect from loopback and `remoteAddress` is not a loopback address. `protocol` (the
   * ConnectionInfo.protocol, or 'http' for the management API) files the attempt under that protocol's auth counters.
   * With an external backend configured this may throw AuthorizationPending: wait for its `ready` and call again.
   * `extra` holds further credentials the protocol knows (MQTT's client_id), passed to an external backend.
   */
  authenticate(username: string, password: string, remoteAddress: string, protocol?: string, extra?: Readonly<Record<string, string>>): User;
  /**
   * Log in a user whose identity something else proved (a verified TLS client certificate): no password is checked,
   * but the user must exist and loopback-only users must come from loopback. Throws BrokerError ACCESS_REFUSED.
   * Optional: a broker without it refuses certificate logins.
   */
  authenticateExternal?(username: string, remoteAddress: string, protocol?: string): User;
  /** Throws BrokerError NOT_ALLOWED when the vhost does not exist or the user has no permission on it. */
  openConnection(info: ConnectionInfo, user: User, vhost: string, host: ConnectionHost): CoreConnection;
  /** True while a resource alarm blocks publishers. */
  readonly blocked: boolean;
  /**
   * Optional. Counts changes of durable definitions (durable exchanges and queues, bindings between durable ends,
   * vhosts, users, permissions). An adapter compares it before and after a declare/delete/bind/unbind to learn whether
   * that operation changed them, and if so holds its reply until {@link BrokerApi.flushDefinitions} resolves
   * (a declare-ok is sent only once the definitions are on disk, so a crash cannot lose what a client was told exists). Absent: nothing is durable.
   */
  readonly definitionsVersion?: number;
  /** Optional. Resolves once every definitions change made so far is on disk (one fsync round covers many). */
  flushDefinitions?(): Promise<void>;
}
