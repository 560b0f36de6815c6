/**
 * The STOMP connection state machine: one per client connection, one core channel per connection (RabbitMQ's
 * rabbit_stomp_processor). It takes frames from the codec, calls the core, and writes frames through a
 * {@link StompIo}; it never touches a socket, so it runs over any Duplex (TCP, TLS, WebSocket) or an in-memory pair.
 *
 * Every error answers with an ERROR frame (a `message` header, a text body, and the `receipt-id` of the frame that
 * caused it) and closes this connection only (STOMP 1.2 §"ERROR": the server MUST close after sending it).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  BrokerError,
  isAuthorizationPending,
  isBrokerError,
  type BrokerApi,
  type ChannelDetails,
  type ChannelHost,
  type ConnectionDetails,
  type ConnectionHost,
  type ConnectionInfo,
  type CoreChannel,
  type CoreConnection,
  type Delivery,
  type Logger,
  type Message,
  type User,
} from '@warren/core';
import { StompDecoder, PRE_CONNECT_LIMITS, type DecoderLimits } from '../codec/decoder.js';
import { encodeFrame, type HeaderList } from '../codec/encoder.js';
import { StompProtocolError, type StompFrame, type StompVersion } from '../codec/frame.js';
import { destinationOf, invalidDestinationDetail, parseDestination, VALID_DESTINATION_TYPES, type Destination } from '../destination.js';
import { appendMessageHeaders, HeaderValueError, propertiesFromHeaders, queueArguments, streamOffsetArgument } from '../mapping.js';
import type { StompIo } from './io.js';

/** Settings of a session (shared by every connection of a service). */
export interface StompSessionOptions {
  /** Largest frame accepted after CONNECT, bytes. */
  maxFrameSize: number;
  /** Most headers in a frame after CONNECT. Default 1000. */
  maxHeaders?: number;
  /** Longest header line after CONNECT, bytes. Default 64 KiB. */
  maxHeaderLength?: number;
  /** The vhost when CONNECT has no `host` header. Default '/'. */
  defaultVhost?: string;
  /**
   * Credentials used when CONNECT has no login (RabbitMQ's `default_user`, guest/guest by default); null to require
   * a login.
   */
  defaultUser?: { login: string; passcode: string } | null;
  /** Close a connection that has not sent CONNECT within this time, ms. Default 10 000; 0 disables. */
  connectTimeoutMs?: number;
  /** Smallest heart-beat interval the server offers or accepts, ms. Default 0 (as the client asks). */
  minHeartbeatMs?: number;
  /**
   * After an ERROR frame, how long the server waits for the client to close before it closes, ms. Default 500.
   * Clients such as stompit read the ERROR body asynchronously and report "connection ended unexpectedly" instead
   * of the error when the FIN arrives first; the session is torn down at once either way, and nothing more is read.
   */
  errorCloseDelayMs?: number;
  /**
   * Drop a client whose output stays above the writer's high-water mark this long (its unacked messages are
   * requeued for other consumers), ms. Default 60 000 (as AMQP's `slowConsumerTimeoutMs`); 0 = never.
   */
  slowConsumerTimeoutMs?: number;
  /**
   * Subscriptions one connection may have at once; one more SUBSCRIBE gets an ERROR frame. 0 = no cap. Default
   * 50 000.
   */
  maxSubscriptions?: number;
  /**
   * RabbitMQ's stomp.ssl_cert_login: a client that presents a verified TLS certificate and no login header logs in
   * as the certificate's user (before the default user). Default false.
   */
  sslCertLogin?: boolean;
  /** The user name of a certificate login (RabbitMQ's ssl_cert_login_from). Default 'distinguished_name'. */
  certLoginFrom?: 'distinguished_name' | 'common_name';
}

/**
 * SUBSCRIBE/UNSUBSCRIBE frames one connection handles per event-loop turn before it lets the others run. 50 rather
 * than 200: bystanders' p99 during 40,000 SUBSCRIBEs went from 53–74 ms to 25–33 ms (bench/src/security/flood-bench.ts).
 */
const SUBSCRIBES_PER_TURN = 50;

/** Default of {@link StompSessionOptions.maxSubscriptions}. */
export const DEFAULT_MAX_SUBSCRIPTIONS = 50_000;

/** The `server` header of CONNECTED. */
export const SERVER_NAME = 'Warren/0.1.0';
/** A heart-beat: one EOL (STOMP 1.1+). */
const HEARTBEAT = Buffer.from('\n');
/** Versions this server speaks, highest last. */
const VERSIONS: readonly StompVersion[] = ['1.0', '1.1', '1.2'];
const ERROR_VERSION_HEADER = '1.0,1.1,1.2';

type AckMode = 'auto' | 'client' | 'client-individual';

/** One SUBSCRIBE (or the implicit subscription of a temp queue). */
interface Subscription {
  readonly id: string;
  readonly consumerTag: string;
  readonly queue: string;
  readonly ackMode: AckMode;
  /** The queue was made for this subscription (topic/exchange): UNSUBSCRIBE with durable:true deletes it. */
  readonly ownQueue: boolean;
  /** `T_<id>@@<session>@@`: the message-id prefix. */
  readonly idPrefix: string;
  /** Delivery tags awaiting ACK/NACK, ascending. */
  readonly outstanding: Set<number>;
}

/** A receipt waiting for earlier publishes to be confirmed (receipts go out in frame order). */
interface PendingReceipt {
  /** Publish sequence it waits for; 0 when it waits only for the entries before it. */
  readonly seq: number;
  readonly receipt: string | undefined;
  done: boolean;
}

/**
 * An error that becomes an ERROR frame. RabbitMQ's STOMP plugin keeps the connection open after most errors in a
 * frame of a connected session (a bad destination, a missing header, an unknown transaction: the frame is dropped,
 * without its RECEIPT); `fatal` ones close it, as AMQP channel errors do.
 */
class StompError extends Error {
  constructor(
    readonly summary: string,
    detail: string,
    readonly fatal = false,
  ) {
    super(detail);
  }
}

const hasOwn = (h: ReadonlyMap<string, string>, name: string): boolean => h.has(name);

/** A STOMP connection. Feed it bytes with {@link receive}; tell it when the transport closes. */
export class StompSession implements ChannelHost, ConnectionHost {
  readonly #io: StompIo;
  readonly #info: ConnectionInfo;
  readonly #broker: BrokerApi;
  readonly #logger: Logger;
  readonly #options: StompSessionOptions;
  readonly #decoder = new StompDecoder(PRE_CONNECT_LIMITS);
  readonly #session = 'session-' + randomBytes(16).toString('base64url').slice(0, 22);

  #state: 'connecting' | 'connected' | 'closing' | 'closed' = 'connecting';
  #version: StompVersion = '1.0';
  #user: User | undefined;
  #connection: CoreConnection | undefined;
  #channel: CoreChannel | undefined;

  readonly #subs = new Map<string, Subscription>();
  readonly #byTag = new Map<string, Subscription>();
  /** temp-queue name → server-named queue. */
  readonly #tempQueues = new Map<string, string>();
  /** /queue/ names declared by this connection (declare once, as RabbitMQ caches them per connection). */
  readonly #declared = new Set<string>();
  readonly #transactions = new Map<string, Array<() => void>>();
  readonly #pending: PendingReceipt[] = [];
  #seq = 0;
  #disconnecting = false;
  #published = false;
  #blocked = false;
  /**
   * Issue 3: a frame that changed durable definitions (SEND or SUBSCRIBE to /queue/q declaring the durable queue q, a
   * durable topic subscription) has its replies held until the definitions are fsynced, and later frames wait.
   */
  #defsPending = 0;
  /** Frames read while waiting, handled in order once the definitions are on disk. */
  #backlog: StompFrame[] = [];
  /** Writes made while handling a frame that may change definitions; undefined when not capturing. */
  #capture: Buffer[] | undefined;
  /** Replies waiting for the definitions fsync. */
  #held: Buffer[] = [];
  /** Deliveries made while a frame other than SEND is handled: written after its reply. */
  #deferred: Buffer[] | undefined;
  /** SUBSCRIBE/UNSUBSCRIBE frames handled since this connection last yielded the event loop (see #onFrame). */
  #turnSubscribes = 0;
  /** While a COMMIT runs its actions, the receipts of its SENDs wait until its messages are written. */
  #holdReceipts = false;

  #lastRead = Date.now();
  #lastWrite = Date.now();
  #connectTimer: NodeJS.Timeout | undefined;
  #sendTimer: NodeJS.Timeout | undefined;
  #recvTimer: NodeJS.Timeout | undefined;
  #slowTimer: NodeJS.Timeout | undefined;

  constructor(io: StompIo, info: ConnectionInfo, broker: BrokerApi, logger: Logger, options: StompSessionOptions) {
    this.#io = io;
    this.#info = info;
    this.#broker = broker;
    this.#logger = logger;
    this.#options = options;
    const timeout = options.connectTimeoutMs ?? 10_000;
    if (timeout > 0) {
      this.#connectTimer = setTimeout(() => {
        if (this.#state === 'connecting') this.#closeNow();
      }, timeout);
      this.#connectTimer.unref?.();
    }
  }

  /** The negotiated version ('1.0' until CONNECT). */
  get version(): StompVersion {
    return this.#version;
  }

  /** True once the connection is closed or closing. */
  get closed(): boolean {
    return this.#state === 'closed' || this.#state === 'closing';
  }

  // ---- input ---------------------------------------------------------------------------------------------------

  /** Bytes from the transport. Never throws. */
  receive(chunk: Buffer): void {
    if (this.#state === 'closed' || this.#state === 'closing') return;
    this.#lastRead = Date.now();
    try {
      this.#decoder.push(chunk, this.#onFrame);
    } catch (err) {
      this.#fail(err, undefined);
    }
  }

  /** The transport closed (or failed): release everything. Idempotent. */
  transportClosed(err?: Error): void {
    if (this.#state === 'closed') return;
    if (err !== undefined && this.#logger.isLevelEnabled?.('debug') === true) {
      this.#logger.debug({ err, connection: this.#info.id }, 'STOMP transport error');
    }
    this.#teardown();
  }

  /** The writer drained below its low-water mark: let the core deliver again. */
  onWritable(): void {
    if (this.#slowTimer !== undefined) {
      clearTimeout(this.#slowTimer);
      this.#slowTimer = undefined;
    }
    this.#channel?.resume();
  }

  readonly #onFrame = (frame: StompFrame): boolean => {
    if (this.#state !== 'connecting' && this.#state !== 'connected') return false;
    if (this.#defsPending > 0) {
      this.#backlog.push(frame);
      return true;
    }
    const receipt = frame.headers.get('receipt');
    const command = frame.command;
    // Only these can declare or delete durable queues; their writes are captured so they can be held (issue 3).
    const before =
      command === 'SEND' || command === 'SUBSCRIBE' || command === 'UNSUBSCRIBE' || command === 'COMMIT'
        ? this.#broker.definitionsVersion
        : undefined;
    if (before !== undefined) this.#capture = [];
    // RabbitMQ answers a frame (its RECEIPT) before the deliveries it causes (a redelivery after NACK, the backlog of
    // a new subscription, the messages of a COMMIT): those come from queue processes, after the reply. SEND is the
    // exception: its RECEIPT waits for the publish confirm, which follows the delivery.
    const defer = command !== 'SEND' && command !== 'CONNECT' && command !== 'STOMP';
    if (defer) this.#deferred = [];
    try {
      this.#handle(frame);
      if (defer) this.#flushDeferred();
    } catch (err) {
      if (defer) this.#flushDeferred();
      if (isAuthorizationPending(err)) {
        // An external auth backend answers later: this frame (first) and every later one wait, then run again.
        this.#releaseCapture(false);
        this.#backlog.unshift(frame);
        if (this.#defsPending++ === 0) this.#io.pause();
        void err.ready.then(() => this.#definitionsDurable());
        return true;
      }
      if (err instanceof StompError && !err.fatal && this.#state === 'connected') {
        // Not fatal: the ERROR goes out, the frame is dropped, the connection reads on (RabbitMQ's behaviour).
        this.#error(err.summary, err.message);
        if (before !== undefined) this.#releaseCapture(this.#broker.definitionsVersion !== before);
        return true;
      }
      this.#releaseCapture(false);
      // A failed SUBSCRIBE still has its RECEIPT sent after the ERROR (RabbitMQ's order), then the connection closes.
      this.#fail(err, this.#state === 'connecting' ? receipt : undefined, command === 'SUBSCRIBE' ? receipt : undefined);
      return false;
    }
    if (before !== undefined) this.#releaseCapture(this.#broker.definitionsVersion !== before);
    if ((command === 'SUBSCRIBE' || command === 'UNSUBSCRIBE') && ++this.#turnSubscribes >= SUBSCRIBES_PER_TURN) {
      // Each (un)subscription declares, binds and consumes: thousands of them read at once would hold the event loop
      // for every other client. The rest of what was read waits for the next turn, in order, as while definitions
      // are flushed.
      this.#turnSubscribes = 0;
      if (this.#defsPending++ === 0) this.#io.pause();
      setImmediate(() => this.#definitionsDurable());
    }
    return this.#state === 'connecting' || this.#state === 'connected';
  };

  /** End capturing: write what was captured, or hold it (and every later frame) until the definitions are on disk. */
  #releaseCapture(hold: boolean): void {
    const captured = this.#capture;
    this.#capture = undefined;
    if (captured === undefined) return;
    if (!hold || this.#state === 'closed' || this.#state === 'closing') {
      for (const b of captured) this.#write(b);
      return;
    }
    for (const b of captured) this.#held.push(b);
    if (this.#defsPending++ === 0) this.#io.pause();
    const flushed = this.#broker.flushDefinitions?.() ?? Promise.resolve();
    flushed.then(
      () => this.#definitionsDurable(),
      (err: unknown) => this.#fail(err, undefined),
    );
  }

  /** The definitions are on disk: send held replies and receipts, handle the frames that waited, read again. */
  #definitionsDurable(): void {
    if (--this.#defsPending > 0 || this.#state === 'closed' || this.#state === 'closing') return;
    const held = this.#held;
    this.#held = [];
    for (const b of held) this.#write(b);
    this.#flushReceipts();
    const backlog = this.#backlog;
    this.#backlog = [];
    for (const frame of backlog) {
      // A frame may start another wait (#onFrame then backlogs the rest, in order) or close the connection.
      if (!this.#onFrame(frame)) break;
    }
    if (this.#defsPending === 0 && !(this.#blocked && this.#published) && this.#state === 'connected') this.#io.resume();
  }

  #handle(frame: StompFrame): void {
    const command = frame.command;
    if (this.#state === 'connecting') {
      if (command === 'CONNECT' || command === 'STOMP') return this.#connect(frame);
      throw new StompError('Illegal command', 'You must log in using CONNECT first');
    }
    if (this.#disconnecting) return;
    switch (command) {
      case 'SEND':
        return this.#send(frame);
      case 'SUBSCRIBE':
        return this.#subscribe(frame);
      case 'UNSUBSCRIBE':
        return this.#unsubscribe(frame);
      case 'ACK':
        return this.#ack(frame, true);
      case 'NACK':
        return this.#ack(frame, false);
      case 'BEGIN':
        return this.#begin(frame);
      case 'COMMIT':
        return this.#commit(frame);
      case 'ABORT':
        return this.#abort(frame);
      case 'DISCONNECT':
        return this.#disconnect(frame);
      case 'CONNECT':
      case 'STOMP':
        // RabbitMQ closes the connection without a frame.
        this.#logger.info({ connection: this.#info.id }, `STOMP ${command} on a connected session: closing the connection`);
        this.#closeNow();
        return;
      default:
        throw new StompError('Bad command', `Could not interpret command "${command}"\n`);
    }
  }

  // ---- CONNECT -------------------------------------------------------------------------------------------------

  #connect(frame: StompFrame): void {
    const h = frame.headers;
    // STOMP 1.2 §"Protocol Negotiation": no accept-version means 1.0.
    const accepted = (h.get('accept-version') ?? '1.0').split(',').map((v) => v.trim());
    let version: StompVersion | undefined;
    for (const v of VERSIONS) if (accepted.includes(v)) version = v;
    if (version === undefined) throw new StompError('Version mismatch', `Supported versions are ${ERROR_VERSION_HEADER}\n`);

    const def = this.#options.defaultUser === undefined ? { login: 'guest', passcode: 'guest' } : this.#options.defaultUser;
    // RabbitMQ's stomp.ssl_cert_login: a verified certificate stands for a missing login header, before the default
    // user (a given login wins).
    const cert = this.#info.peerCertificate;
    const certLogin =
      this.#options.sslCertLogin === true && cert !== undefined && !h.has('login')
        ? (this.#options.certLoginFrom === 'common_name' ? cert.commonName : cert.distinguishedName)
        : undefined;
    if (this.#options.sslCertLogin === true && cert !== undefined && !h.has('login') && certLogin === undefined) {
      throw new StompError('Bad CONNECT', 'The client certificate has no common name\n');
    }
    const login = certLogin ?? h.get('login') ?? def?.login;
    const passcode = h.get('passcode') ?? (h.has('login') ? '' : def?.passcode) ?? '';
    if (login === undefined) throw new StompError('Bad CONNECT', 'No login was given and no default user is configured\n');
    let user: User;
    try {
      if (certLogin !== undefined) {
        if (this.#broker.authenticateExternal === undefined) throw new BrokerError('ACCESS_REFUSED', 'certificate login is not supported');
        user = this.#broker.authenticateExternal(certLogin, this.#info.remoteAddress, this.#info.protocol);
      } else {
        user = this.#broker.authenticate(login, passcode, this.#info.remoteAddress, this.#info.protocol);
      }
    } catch (err) {
      if (isBrokerError(err)) throw new StompError('Bad CONNECT', `Access refused for user '${login}'\n`);
      throw err;
    }
    const vhost = h.get('host') ?? this.#options.defaultVhost ?? '/';
    let connection: CoreConnection;
    try {
      connection = this.#broker.openConnection(this.#info, user, vhost, this);
    } catch (err) {
      if (isBrokerError(err)) throw new StompError('Bad CONNECT', `Virtual host '${vhost}' access denied`);
      throw err;
    }
    this.#user = user;
    this.#connection = connection;
    this.#channel = connection.openChannel(this);
    this.#version = version;
    this.#decoder.version = version;
    const limits: DecoderLimits = {
      maxFrameSize: this.#options.maxFrameSize,
      maxHeaders: this.#options.maxHeaders ?? 1000,
      maxHeaderLength: this.#options.maxHeaderLength ?? 64 * 1024,
    };
    this.#decoder.limits = limits;
    this.#state = 'connected';
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);

    // Heart-beats (STOMP 1.2 §"Heart-beating"): the client's "cx,cy" means it can send every cx ms and wants to
    // receive every cy ms. We answer "cy,cx" (as RabbitMQ does) and check the client's with a 2× allowance.
    let sendEvery = 0;
    let expectEvery = 0;
    const hb = h.get('heart-beat');
    if (hb !== undefined && version !== '1.0') {
      const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(hb);
      if (m === null) throw new StompError('Bad CONNECT', `Invalid heart-beat header: "${hb}"\n`);
      const min = this.#options.minHeartbeatMs ?? 0;
      const cx = Number(m[1]);
      const cy = Number(m[2]);
      expectEvery = cx === 0 ? 0 : Math.max(cx, min);
      sendEvery = cy === 0 ? 0 : Math.max(cy, min);
    }
    const headers: Array<[string, string]> = [
      ['server', SERVER_NAME],
      ['session', this.#session],
      ['heart-beat', `${sendEvery},${expectEvery}`],
      ['version', version],
    ];
    this.#write(encodeFrame('CONNECTED', headers, undefined, '1.0'));
    this.#io.authenticated?.();
    this.#startHeartbeats(sendEvery, expectEvery);
    this.#logger.info(
      {
        connection: this.#info.id,
        protocol: 'stomp',
        version,
        peer: `${this.#info.remoteAddress}:${this.#info.remotePort}`,
        listener: this.#info.listener,
        user: user.name,
        vhost,
      },
      'STOMP connection opened',
    );
    if (this.#broker.blocked) this.blocked('resource alarm');
  }

  #startHeartbeats(sendEvery: number, expectEvery: number): void {
    if (sendEvery > 0) {
      this.#sendTimer = setInterval(() => {
        if (Date.now() - this.#lastWrite >= sendEvery / 2) this.#write(HEARTBEAT);
      }, Math.max(1, Math.floor(sendEvery / 2)));
      this.#sendTimer.unref?.();
    }
    if (expectEvery > 0) {
      this.#recvTimer = setInterval(() => {
        if (Date.now() - this.#lastRead > expectEvery * 2) {
          this.#logger.info({ connection: this.#info.id }, 'STOMP heart-beat missed: closing the connection');
          this.#closeNow();
        }
      }, expectEvery);
      this.#recvTimer.unref?.();
    }
  }

  // ---- SEND ----------------------------------------------------------------------------------------------------

  #send(frame: StompFrame): void {
    const h = frame.headers;
    const channel = this.#requireChannel();
    const dest = this.#destination(frame);
    let exchange = '';
    let routingKey: string;
    switch (dest.kind) {
      case 'queue':
        this.#ensureQueue(dest.name, h);
        routingKey = dest.name;
        break;
      case 'amq-queue':
      case 'reply-queue':
        routingKey = dest.name;
        break;
      case 'topic':
        exchange = 'amq.topic';
        routingKey = dest.key;
        break;
      case 'exchange':
        exchange = dest.exchange;
        routingKey = dest.key;
        break;
      case 'temp-queue':
        routingKey = this.#tempQueue(dest.name);
        break;
    }
    const replyToHeader = h.get('reply-to');
    let replyTo: string | undefined;
    if (replyToHeader !== undefined && replyToHeader.startsWith('/temp-queue/')) {
      const name = replyToHeader.slice('/temp-queue/'.length);
      if (name === '' || name.includes('/')) throw this.#unknownDestination(replyToHeader);
      // Stored as the bare queue name, so an AMQP server can answer through the default exchange; STOMP readers
      // see it as /reply-queue/<name> (mapping.ts).
      replyTo = this.#tempQueue(name);
    }
    let properties;
    try {
      properties = propertiesFromHeaders(h, replyTo);
    } catch (err) {
      if (err instanceof HeaderValueError) throw new StompError('Invalid header', err.message + '\n');
      throw err;
    }
    const message: Message = { exchange, routingKey, properties, rawProperties: undefined, body: frame.body };
    const tx = this.#transaction(h);
    const receipt = h.get('receipt');
    if (tx !== undefined) {
      // RabbitMQ answers a SEND in a transaction at COMMIT, after the COMMIT's own RECEIPT and the messages; an
      // ABORTed SEND gets no RECEIPT at all.
      tx.push(() => this.#publish(channel, message, receipt, true));
      return;
    }
    this.#publish(channel, message, receipt, false);
  }

  #publish(channel: CoreChannel, message: Message, receipt: string | undefined, tracked: boolean): void {
    // An external auth backend's answers before anything is recorded: the SEND may be handled again once they came.
    channel.authorizePublish?.(message.exchange, message.routingKey);
    this.#published = true;
    if (receipt === undefined && !tracked) {
      channel.publish(message, {});
    } else {
      const seq = ++this.#seq;
      this.#pending.push({ seq, receipt, done: false });
      channel.publish(message, { sequence: seq });
    }
    if (this.#blocked) this.#io.pause();
  }

  // ---- receipts ------------------------------------------------------------------------------------------------

  /** Send a RECEIPT once every earlier tracked publish is confirmed (receipts keep frame order). */
  #receipt(receipt: string): void {
    if (this.#pending.length === 0) {
      this.#write(encodeFrame('RECEIPT', [['receipt-id', receipt]], undefined, this.#version));
      return;
    }
    this.#pending.push({ seq: 0, receipt, done: true });
  }

  #flushReceipts(): void {
    // While a frame's replies wait for the definitions fsync, no receipt may overtake them (a RECEIPT for a SEND to a
    // just-declared durable queue means the queue is on disk too).
    if (this.#defsPending > 0 || this.#holdReceipts) return;
    const pending = this.#pending;
    let n = 0;
    while (n < pending.length && pending[n]!.done) {
      const r = pending[n]!.receipt;
      if (r !== undefined) this.#write(encodeFrame('RECEIPT', [['receipt-id', r]], undefined, this.#version));
      n++;
    }
    if (n > 0) pending.splice(0, n);
    if (pending.length === 0 && this.#disconnecting) this.#endGracefully();
  }

  // ---- SUBSCRIBE / UNSUBSCRIBE ---------------------------------------------------------------------------------

  #subscribe(frame: StompFrame): void {
    const h = frame.headers;
    const channel = this.#requireChannel();
    const destHeader = h.get('destination');
    const dest = this.#destination(frame);
    const id = h.get('id') ?? destHeader ?? '';
    if (this.#subs.has(id)) {
      throw new StompError('Duplicated subscription identifier', `A subscription identified by 'T_${id}' already exists.`);
    }
    const max = this.#options.maxSubscriptions ?? DEFAULT_MAX_SUBSCRIPTIONS;
    if (max > 0 && this.#subs.size >= max) {
      throw new StompError('Too many subscriptions', `This connection already has the maximum of ${max} subscriptions.\n`);
    }
    const ackHeader = h.get('ack') ?? 'auto';
    if (ackHeader !== 'auto' && ackHeader !== 'client' && ackHeader !== 'client-individual') {
      throw new StompError('Invalid ack header', `Invalid ack mode "${ackHeader}": expected auto, client or client-individual\n`);
    }
    const ackMode: AckMode = ackHeader;
    const prefetchHeader = h.get('prefetch-count');
    let prefetch = 0;
    if (prefetchHeader !== undefined) {
      if (!/^\d{1,9}$/.test(prefetchHeader.trim())) {
        throw new StompError('Invalid header', `Invalid value for header "prefetch-count": "${prefetchHeader}"\n`);
      }
      prefetch = Number(prefetchHeader.trim());
    }
    const durable = h.get('durable') === 'true' || h.get('persistent') === 'true';
    let queue: string;
    let ownQueue = false;
    switch (dest.kind) {
      case 'queue':
        this.#ensureQueue(dest.name, h);
        queue = dest.name;
        break;
      case 'amq-queue':
      case 'reply-queue':
        queue = dest.name;
        break;
      case 'temp-queue':
        throw new StompError('Invalid destination', `'${destHeader ?? ''}' is not a valid destination for 'SUBSCRIBE'\n`);
      case 'topic':
      case 'exchange': {
        if (durable && !hasOwn(h, 'id')) {
          throw new StompError('Missing Header', `Header 'id' is required for durable subscriptions`);
        }
        const exchange = dest.kind === 'topic' ? 'amq.topic' : dest.exchange;
        if (dest.kind === 'topic') {
          // RabbitMQ's STOMP plugin checks a /topic/ subscription's read topic permission before it declares the
          // queue, and its ERROR carries the bare reason (no "ACCESS_REFUSED - " as a channel error has).
          try {
            channel.checkTopicAccess(exchange, 'read', dest.key);
          } catch (err) {
            if (isBrokerError(err) && err.code === 'ACCESS_REFUSED') throw new StompError('access_refused', err.message);
            throw err;
          }
        }
        // A durable subscription's queue is named by its destination and id, so a later connection finds it again;
        // any other is private to this connection, named from a random id (as RabbitMQ does) so that two connections
        // using the same id (every @stomp/stompjs client's first is sub-0) do not clash over one exclusive queue.
        queue = h.get('x-queue-name') ?? subscriptionQueueName(destHeader ?? '', durable ? id : randomUUID());
        const args = this.#queueArgs(h);
        channel.declareQueue(queue, {
          durable,
          // A durable subscription outlives its consumers only with auto-delete:false (RabbitMQ's default is true,
          // so `durable:true` alone, or the legacy `persistent:true`, makes a durable queue deleted on UNSUBSCRIBE);
          // a plain one is private.
          autoDelete: durable ? h.get('auto-delete') !== 'false' : true,
          exclusive: !durable,
          ...(args !== undefined ? { arguments: args } : {}),
        });
        channel.bindQueue(queue, exchange, dest.key);
        ownQueue = true;
        break;
      }
    }
    const sub: Subscription = {
      id,
      consumerTag: 'T_' + id,
      queue,
      ackMode,
      ownQueue,
      idPrefix: `T_${id}@@${this.#session}@@`,
      outstanding: new Set(),
    };
    // Registered before consume: the core may deliver synchronously from inside it.
    this.#subs.set(id, sub);
    this.#byTag.set(sub.consumerTag, sub);
    try {
      channel.qos(prefetch, false);
      const priority = h.get('x-priority');
      const offset = streamOffsetArgument(h.get('x-stream-offset'));
      let consumerArgs: Record<string, number | string | Date> | undefined;
      if (priority !== undefined && /^-?\d+$/.test(priority)) (consumerArgs ??= {})['x-priority'] = Number(priority);
      if (offset !== undefined) (consumerArgs ??= {})['x-stream-offset'] = offset;
      channel.consume(queue, {
        consumerTag: sub.consumerTag,
        noAck: ackMode === 'auto',
        ...(consumerArgs !== undefined ? { arguments: consumerArgs } : {}),
      });
    } catch (err) {
      this.#subs.delete(id);
      this.#byTag.delete(sub.consumerTag);
      throw err;
    }
    const receipt = h.get('receipt');
    if (receipt !== undefined) this.#receipt(receipt);
  }

  #unsubscribe(frame: StompFrame): void {
    const h = frame.headers;
    const channel = this.#requireChannel();
    const id = h.get('id') ?? h.get('destination');
    if (id === undefined) {
      throw new StompError('Missing destination or id', `UNSUBSCRIBE must include a 'destination' or 'id' header`);
    }
    const sub = this.#subs.get(id);
    if (sub === undefined) {
      throw new StompError(
        'No subscription found',
        `UNSUBSCRIBE must refer to an existing subscription.\nSubscription to "id='${id}'" not found.\n`,
      );
    }
    this.#subs.delete(id);
    this.#byTag.delete(sub.consumerTag);
    channel.cancel(sub.consumerTag);
    // Outstanding messages of a cancelled subscription go back to the queue (RabbitMQ requeues them on cancel).
    for (const tag of sub.outstanding) channel.nack(tag, false, true);
    sub.outstanding.clear();
    if (sub.ownQueue && (h.get('durable') === 'true' || h.get('persistent') === 'true')) {
      channel.deleteQueue(sub.queue, {});
    }
    const receipt = h.get('receipt');
    if (receipt !== undefined) this.#receipt(receipt);
  }

  // ---- ACK / NACK ----------------------------------------------------------------------------------------------

  #ack(frame: StompFrame, ack: boolean): void {
    const h = frame.headers;
    const channel = this.#requireChannel();
    const command = ack ? 'ACK' : 'NACK';
    // STOMP 1.2 identifies the message by the MESSAGE's `ack` header (sent back as `id`); 1.0/1.1 by message-id.
    const idName = this.#version === '1.2' ? 'id' : 'message-id';
    const id = this.#version === '1.2' ? (h.get('id') ?? h.get('message-id')) : (h.get('message-id') ?? h.get('id'));
    const bad = (): StompError => new StompError('Invalid header', `"${command}" must include a valid "${idName}" header\n`);
    if (id === undefined || !id.startsWith('T_')) throw bad();
    const marker = `@@${this.#session}@@`;
    const at = id.lastIndexOf(marker);
    if (at < 0) {
      // Another session's id (or a made-up one of the same form) names no subscription of this one.
      if (/^T_.*@@.*@@\d+$/.test(id)) throw new StompError('Subscription not found', `Message with id "${id}" has no subscription`);
      throw bad();
    }
    const sub = this.#subs.get(id.slice(2, at));
    const tagText = id.slice(at + marker.length);
    if (sub === undefined) throw new StompError('Subscription not found', `Message with id "${id}" has no subscription`);
    if (!/^\d{1,15}$/.test(tagText)) throw bad();
    const tag = Number(tagText);
    if (!sub.outstanding.has(tag)) {
      throw new StompError('precondition_failed', `PRECONDITION_FAILED - unknown delivery tag ${tag}`, true);
    }
    const requeue = h.get('requeue') !== 'false';
    const settle = (): void => {
      if (sub.ackMode === 'client') {
        // Cumulative within this subscription only (STOMP 1.2 §"SUBSCRIBE ack Header").
        for (const t of sub.outstanding) {
          if (t > tag) break;
          sub.outstanding.delete(t);
          if (ack) channel.ack(t, false);
          else channel.nack(t, false, requeue);
        }
      } else if (sub.outstanding.delete(tag)) {
        if (ack) channel.ack(tag, false);
        else channel.nack(tag, false, requeue);
      }
    };
    const tx = this.#transaction(h);
    if (tx !== undefined) tx.push(settle);
    else settle();
    const receipt = h.get('receipt');
    if (receipt !== undefined) this.#receipt(receipt);
  }

  // ---- transactions --------------------------------------------------------------------------------------------

  #transaction(h: ReadonlyMap<string, string>): Array<() => void> | undefined {
    const name = h.get('transaction');
    if (name === undefined) return undefined;
    const tx = this.#transactions.get(name);
    if (tx === undefined) throw new StompError('Bad transaction', `Invalid transaction identifier: "${name}"\n`);
    return tx;
  }

  #txName(frame: StompFrame): string {
    const name = frame.headers.get('transaction');
    if (name === undefined) throw new StompError('Missing transaction', `"${frame.command}" must include a 'transaction' header\n`);
    return name;
  }

  #begin(frame: StompFrame): void {
    const name = this.#txName(frame);
    if (this.#transactions.has(name)) throw new StompError('Bad transaction', `Transaction "${name}" has already begun\n`);
    this.#transactions.set(name, []);
    const receipt = frame.headers.get('receipt');
    if (receipt !== undefined) this.#receipt(receipt);
  }

  #commit(frame: StompFrame): void {
    const name = this.#txName(frame);
    const tx = this.#transactions.get(name);
    if (tx === undefined) throw new StompError('Bad transaction', `Invalid transaction identifier: "${name}"\n`);
    this.#transactions.delete(name);
    const receipt = frame.headers.get('receipt');
    if (receipt !== undefined) this.#receipt(receipt);
    this.#holdReceipts = true;
    try {
      for (const action of tx) action();
    } finally {
      this.#holdReceipts = false;
    }
    this.#flushDeferred();
    this.#flushReceipts();
  }

  #abort(frame: StompFrame): void {
    const name = this.#txName(frame);
    if (!this.#transactions.delete(name)) throw new StompError('Bad transaction', `Invalid transaction identifier: "${name}"\n`);
    const receipt = frame.headers.get('receipt');
    if (receipt !== undefined) this.#receipt(receipt);
  }

  // ---- DISCONNECT ----------------------------------------------------------------------------------------------

  #disconnect(frame: StompFrame): void {
    const receipt = frame.headers.get('receipt');
    this.#disconnecting = true;
    if (receipt !== undefined) this.#receipt(receipt);
    if (this.#pending.length === 0) this.#endGracefully();
  }

  #endGracefully(): void {
    if (this.#state === 'closed') return;
    this.#io.end();
    this.#teardown();
  }

  // ---- helpers -------------------------------------------------------------------------------------------------

  #requireChannel(): CoreChannel {
    const ch = this.#channel;
    if (ch === undefined) throw new StompError('Illegal command', 'You must log in using CONNECT first');
    return ch;
  }

  #unknownDestination(dest: string): StompError {
    const invalid = invalidDestinationDetail(dest);
    if (invalid !== undefined) return new StompError('Invalid destination', invalid);
    return new StompError(
      'Unknown destination',
      `'${dest}' is not a valid destination.\nValid destination types are: ${VALID_DESTINATION_TYPES}.\n`,
    );
  }

  #destination(frame: StompFrame): Destination {
    const d = frame.headers.get('destination');
    if (d === undefined) throw new StompError('Missing destination', `"${frame.command}" must include a 'destination' header\n`);
    const dest = parseDestination(d);
    if (dest === undefined) throw this.#unknownDestination(d);
    return dest;
  }

  #queueArgs(h: ReadonlyMap<string, string>): ReturnType<typeof queueArguments> {
    try {
      return queueArguments(h);
    } catch (err) {
      if (err instanceof HeaderValueError) throw new StompError('Invalid header', err.message + '\n');
      throw err;
    }
  }

  /** `/queue/q`: the durable queue q, declared on first use (with x-* arguments from the frame). */
  #ensureQueue(name: string, h: ReadonlyMap<string, string>): void {
    if (this.#declared.has(name)) return;
    const args = this.#queueArgs(h);
    this.#requireChannel().declareQueue(name, {
      durable: true,
      autoDelete: h.get('auto-delete') === 'true',
      exclusive: h.get('exclusive') === 'true',
      ...(args !== undefined ? { arguments: args } : {}),
    });
    this.#declared.add(name);
  }

  /** The private reply queue of `/temp-queue/<name>`, created (and subscribed, auto ack) on first use. */
  #tempQueue(name: string): string {
    const known = this.#tempQueues.get(name);
    if (known !== undefined) return known;
    const channel = this.#requireChannel();
    const { queue } = channel.declareQueue('', { exclusive: true, autoDelete: true });
    const id = '/temp-queue/' + name;
    const sub: Subscription = {
      id,
      consumerTag: 'T_' + id,
      queue,
      ackMode: 'auto',
      ownQueue: true,
      idPrefix: `T_${id}@@${this.#session}@@`,
      outstanding: new Set(),
    };
    this.#subs.set(id, sub);
    this.#byTag.set(sub.consumerTag, sub);
    this.#tempQueues.set(name, queue);
    channel.consume(queue, { consumerTag: sub.consumerTag, noAck: true });
    return queue;
  }

  #write(buf: Buffer): void {
    if (this.#capture !== undefined) {
      this.#capture.push(buf);
      return;
    }
    this.#lastWrite = Date.now();
    this.#io.write(buf);
    if (this.#slowTimer === undefined && !this.#io.writable) this.#watchSlowConsumer();
  }

  /** The output is over the high-water mark: drop the client unless it drains in time (DESIGN.md §5). */
  #watchSlowConsumer(): void {
    const timeout = this.#options.slowConsumerTimeoutMs ?? 60_000;
    if (timeout <= 0 || this.#state === 'closed') return;
    this.#slowTimer = setTimeout(() => {
      this.#slowTimer = undefined;
      if (this.#state === 'closed' || this.#io.writable) return;
      this.#logger.warn({ connection: this.#info.id, timeoutMs: timeout }, 'slow consumer: closing the STOMP connection');
      this.#closeNow();
    }, timeout);
    this.#slowTimer.unref?.();
  }

  /** A non-fatal ERROR: the connection stays open. */
  #error(summary: string, detail: string): void {
    this.#logger.warn({ connection: this.#info.id, peer: this.#info.remoteAddress, message: summary, detail }, 'STOMP error');
    const headers: Array<[string, string]> = [
      ['message', summary],
      ['content-type', 'text/plain'],
      ['version', ERROR_VERSION_HEADER],
    ];
    this.#write(encodeFrame('ERROR', headers, Buffer.from(detail), this.#version));
  }

  /** Write the deliveries held while a frame was handled. */
  #flushDeferred(): void {
    const deferred = this.#deferred;
    this.#deferred = undefined;
    if (deferred !== undefined) for (const b of deferred) this.#write(b);
  }

  /**
   * Answer an error with an ERROR frame, then close this connection. `receipt` becomes the ERROR's receipt-id (a
   * failed CONNECT); `after` is a RECEIPT written after the ERROR (a failed SUBSCRIBE, as RabbitMQ orders them).
   */
  #fail(err: unknown, receipt: string | undefined, after?: string): void {
    let summary: string;
    let detail: string;
    if (err instanceof StompError || err instanceof StompProtocolError) {
      summary = err.summary;
      detail = err.message;
    } else if (isBrokerError(err)) {
      // RabbitMQ's form: the AMQP error name in lower case, then "NAME - text" (rabbit_stomp_processor).
      summary = err.code.toLowerCase();
      detail = `${err.code} - ${err.message}`;
    } else {
      this.#logger.error({ err, connection: this.#info.id }, 'STOMP connection failed with an internal error');
      summary = 'internal_error';
      detail = 'INTERNAL_ERROR - the broker failed to process this frame';
    }
    if (this.#state === 'closed' || this.#state === 'closing') return;
    const headers: Array<[string, string]> = [
      ['message', summary],
      ['content-type', 'text/plain'],
      ['version', ERROR_VERSION_HEADER],
    ];
    if (receipt !== undefined) headers.push(['receipt-id', receipt]);
    // Every ERROR the client gets is also a log line (a bad frame, wrong credentials, a refused operation).
    this.#logger.warn({ connection: this.#info.id, peer: this.#info.remoteAddress, message: summary, detail }, 'STOMP error: closing the connection');
    this.#state = 'closing';
    let frame = encodeFrame('ERROR', headers, Buffer.from(detail), this.#version);
    if (after !== undefined) frame = Buffer.concat([frame, encodeFrame('RECEIPT', [['receipt-id', after]], undefined, this.#version)]);
    const delay = this.#options.errorCloseDelayMs ?? 500;
    if (delay <= 0) {
      this.#io.end(frame);
    } else {
      this.#io.write(frame);
      const io = this.#io;
      setTimeout(() => io.end(), delay).unref?.();
    }
    this.#teardown();
  }

  #closeNow(): void {
    this.#io.destroy();
    this.#teardown();
  }

  #teardown(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (this.#user !== undefined) {
      this.#logger.info({ connection: this.#info.id, protocol: 'stomp', user: this.#user.name }, 'STOMP connection closed');
    }
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);
    if (this.#sendTimer !== undefined) clearInterval(this.#sendTimer);
    if (this.#recvTimer !== undefined) clearInterval(this.#recvTimer);
    if (this.#slowTimer !== undefined) clearTimeout(this.#slowTimer);
    try {
      this.#channel?.close();
      this.#connection?.close();
    } catch (err) {
      this.#logger.error({ err, connection: this.#info.id }, 'closing the STOMP core connection failed');
    }
    this.#subs.clear();
    this.#byTag.clear();
    this.#transactions.clear();
    this.#pending.length = 0;
    this.#backlog = [];
    this.#held = [];
  }

  // ---- ChannelHost / ConnectionHost ----------------------------------------------------------------------------

  get writable(): boolean {
    return this.#io.writable;
  }

  deliver(delivery: Delivery): void {
    const sub = this.#byTag.get(delivery.consumerTag);
    if (sub === undefined || this.#state !== 'connected') return;
    const msg = delivery.message;
    const messageId = sub.idPrefix + delivery.deliveryTag;
    const headers: Array<[string, string]> = [
      ['subscription', sub.id],
      ['destination', destinationOf(msg.exchange, msg.routingKey)],
      ['message-id', messageId],
      ['redelivered', delivery.redelivered ? 'true' : 'false'],
    ];
    if (sub.ackMode !== 'auto') {
      sub.outstanding.add(delivery.deliveryTag);
      if (this.#version === '1.2') headers.push(['ack', messageId]);
    }
    appendMessageHeaders(headers, msg.properties);
    const frame = encodeFrame('MESSAGE', headers as HeaderList, msg.body, this.#version);
    if (this.#deferred !== undefined) this.#deferred.push(frame);
    else this.#write(frame);
  }

  confirm(sequence: number, ack: boolean): void {
    if (this.#state !== 'connected') return;
    for (const p of this.#pending) {
      if (p.seq === sequence) {
        p.done = true;
        break;
      }
    }
    if (!ack) {
      this.#fail(new StompError('Message rejected', 'A queue refused the message (x-overflow reject-publish)\n', true), undefined);
      return;
    }
    this.#flushReceipts();
  }

  returned(): void {
    // SEND is never mandatory: nothing to return.
  }

  consumerCancelled(consumerTag: string): void {
    const sub = this.#byTag.get(consumerTag);
    if (sub === undefined) return;
    this.#byTag.delete(consumerTag);
    this.#subs.delete(sub.id);
    // RabbitMQ sends an ERROR when a subscription's queue is deleted under it (and keeps the connection).
    if (this.#state === 'connected') {
      this.#write(
        encodeFrame(
          'ERROR',
          [
            ['message', 'Server cancelled subscription'],
            ['subscription', sub.id],
            ['content-type', 'text/plain'],
          ],
          Buffer.from(`The server has canceled a subscription.\nNo more messages will be delivered for ${sub.id}.\n`),
          this.#version,
        ),
      );
    }
  }

  connectionDetails(): ConnectionDetails {
    const traffic = this.#io.traffic?.();
    const web = this.#info.websocket === true;
    return {
      protocol: `${web ? 'Web ' : ''}STOMP ${this.#version}`,
      // RabbitMQ's STOMP plugin works over direct (in-node) AMQP connections.
      type: 'direct',
      clientProperties: { product: 'STOMP client' },
      frameMax: 0,
      channelMax: 1,
      // RabbitMQ lists a `timeout` (0) for STOMP over TCP, none for Web STOMP.
      ...(web ? {} : { timeout: 0 }),
      ...(traffic !== undefined ? { traffic } : {}),
    };
  }

  channelDetails(): ChannelDetails {
    let uncommitted = 0;
    for (const ops of this.#transactions.values()) uncommitted += ops.length;
    return {
      number: 1,
      confirm: false,
      transactional: this.#transactions.size > 0,
      messagesUncommitted: uncommitted,
      acksUncommitted: 0,
      messagesUnconfirmed: 0,
    };
  }

  /**
   * An operator closed this connection (management API). Over TCP the client gets RabbitMQ's ERROR frame ("AMQP
   * channel died", the reason in Erlang's words in the body), then the end; over WebSocket RabbitMQ sends no frame and
   * just closes.
   */
  close(reason: string): void {
    if (this.#state === 'closed' || this.#state === 'closing') return;
    this.#logger.info({ connection: this.#info.id, user: this.#user?.name, reason }, 'STOMP closing connection: closed by an operator');
    this.#state = 'closing';
    if (this.#info.websocket === true) {
      this.#io.end();
    } else {
      const body = Buffer.from(forcedCloseReason(reason));
      const headers: Array<[string, string]> = [
        ['message', 'AMQP channel died'],
        ['content-type', 'text/plain'],
        ['version', ERROR_VERSION_HEADER],
      ];
      // RabbitMQ's frame is followed by an EOL (allowed between frames, STOMP 1.2 §"Heart-beating").
      this.#io.end(Buffer.concat([encodeFrame('ERROR', headers, body, this.#version), EOL]));
    }
    this.#teardown();
  }

  blocked(_reason: string): void {
    this.#blocked = true;
    // Stop reading from publishers only: a pure consumer keeps acking while the alarm lasts.
    if (this.#published) this.#io.pause();
  }

  unblocked(): void {
    this.#blocked = false;
    if (this.#defsPending === 0) this.#io.resume();
  }
}

/**
 * The body of RabbitMQ's ERROR frame for a connection closed by an operator: the Erlang exit reason as its
 * pretty-printer lays it out (the last term moves to its own line when it would pass 80 columns).
 */
export function forcedCloseReason(reason: string): string {
  const quoted = JSON.stringify(reason);
  const oneLine = `                {server_initiated_close,320,${quoted}}}}`;
  const last = oneLine.length <= 80 ? oneLine : `                {server_initiated_close,320,\n                    ${quoted}}}}`;
  return `Reason: {shutdown,\n            {connection_closing,\n${last}`;
}

const EOL = Buffer.from('\n');

/** RabbitMQ's name for a topic/exchange subscription queue: `stomp-subscription-` + a hash of destination and id. */
export function subscriptionQueueName(destination: string, id: string): string {
  return 'stomp-subscription-' + createHash('md5').update(destination).update('\0').update(id).digest('base64url');
}
