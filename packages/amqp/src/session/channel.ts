/**
 * One AMQP channel: turns channel-level methods into {@link CoreChannel} calls, assembles published content
 * (method → header → body frames, AMQP 0-9-1 §4.2.6), and writes the core's callbacks (deliveries, returns, confirms,
 * cancels) back as frames. Implements {@link ChannelHost} for the core.
 *
 * Errors are thrown (AmqpError, BrokerError) and scoped by the connection: the channel never closes itself.
 */
import type {
  ChannelDetails,
  ChannelHost,
  ConsumeOptions,
  CoreChannel,
  Delivery,
  ExchangeDeclareOptions,
  Message,
  MessageProperties,
  PublishOptions,
  QueueDeclareOptions,
} from '@warren/core';
import { isBrokerError } from '@warren/core';
import {
  encodeBasicDeliver,
  encodeMethod,
  encodeMethodWithContent,
  type AmqpMethod,
  type BasicPublish,
  type Frame,
} from '../codec/index.js';
import { AmqpError } from '../errors.js';

/** What a channel needs of its connection. */
export interface ChannelOwner {
  /** Write bytes to the client. */
  write(buf: Buffer): void;
  /** False while the outbound writer is above its high-water mark. */
  readonly writable: boolean;
  /** Negotiated frame-max (bytes), used to split outgoing bodies. */
  readonly frameMax: number;
  /** Largest accepted message body (bytes). */
  readonly maxMessageSize: number;
  /** Consumers one channel may have; 0 = no cap. */
  readonly consumerMaxPerChannel: number;
  /** The client announced the consumer_cancel_notify capability. */
  readonly consumerCancelNotify: boolean;
  /** This channel has confirms to flush: the owner calls {@link AmqpChannel.flushConfirms} soon. */
  confirmsPending(channel: AmqpChannel): void;
  /** A host callback failed unexpectedly (a bug): the owner closes the connection with 541. */
  hostFailed(err: unknown): void;
  /** The broker's count of durable definition changes ({@link BrokerApi.definitionsVersion}; 0 without a store). */
  readonly definitionsVersion: number;
  /**
   * The method just handled changed durable definitions: write `reply` (if any) only once they are on disk, and
   * handle no further frame of the connection until then (DESIGN.md §3: "when it must wait, it stops reading").
   */
  holdUntilDefinitionsDurable(reply: Buffer | undefined): void;
}

/** Class id of basic, the only class with content (spec §1.8). */
const BASIC_CLASS = 60;

/** Content assembly state (spec §4.2.6). */
const enum Expect {
  Method = 0,
  Header = 1,
  Body = 2,
}

/** A publish or settlement held until tx.commit (spec §1.9: tx class). */
type TxOp =
  | { kind: 'publish'; message: Message; mandatory: boolean }
  | { kind: 'ack'; deliveryTag: number; multiple: boolean }
  | { kind: 'nack'; deliveryTag: number; multiple: boolean; requeue: boolean }
  | { kind: 'reject'; deliveryTag: number; requeue: boolean };

const EMPTY_BODY = Buffer.alloc(0);

/** State of one open AMQP channel. */
export class AmqpChannel implements ChannelHost {
  /** The channel number. */
  readonly id: number;
  readonly #owner: ChannelOwner;
  #core: CoreChannel | undefined;

  // Content assembly.
  #expect: Expect = Expect.Method;
  #publish: BasicPublish | undefined;
  #properties: MessageProperties | undefined;
  #rawProperties: Buffer | undefined;
  #bodySize = 0;
  #received = 0;
  #body: Buffer | undefined;

  // Publisher confirms (RabbitMQ extension): sequence numbers start at 1 after confirm.select.
  #confirmMode = false;
  #nextSequence = 1;
  /** Coalesced confirms not yet written: the range [#confirmFirst, #confirmLast] all with #confirmAck. */
  #confirmFirst = 0;
  #confirmLast = 0;
  #confirmAck = true;

  // Transactions.
  #tx: TxOp[] | undefined;

  /** While core.consume runs, deliveries are held so that consume-ok goes first. */
  #held: Buffer[] | undefined;
  /** Consumer tags cancelled while this channel runs queue.delete: their basic.cancel follows the delete-ok. */
  #cancelsDuringDelete: string[] | undefined;

  /** @param owner The connection. @param id The channel number. */
  constructor(owner: ChannelOwner, id: number) {
    this.#owner = owner;
    this.id = id;
  }

  /** Attach the core channel (opened by the connection with this object as host). */
  attach(core: CoreChannel): void {
    this.#core = core;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // ChannelHost (core → adapter). None of these may throw.

  /** @inheritdoc */
  get writable(): boolean {
    return this.#owner.writable;
  }

  /** @inheritdoc */
  deliver(delivery: Delivery): void {
    try {
      const m = delivery.message;
      const frames = encodeBasicDeliver(
        this.id,
        delivery.consumerTag,
        delivery.deliveryTag,
        delivery.redelivered,
        m.exchange,
        m.routingKey,
        m.properties,
        m.rawProperties,
        m.body,
        this.#owner.frameMax,
      );
      if (this.#held !== undefined) this.#held.push(frames);
      else this.#owner.write(frames);
    } catch (err) {
      this.#owner.hostFailed(err);
    }
  }

  /** @inheritdoc */
  confirm(sequence: number, ack: boolean): void {
    // Coalesce consecutive confirms of the same kind into one basic.ack/nack with multiple=true (flushed once per
    // input chunk or tick by the connection). The core reports them in sequence order.
    if (this.#confirmFirst !== 0) {
      if (ack === this.#confirmAck && sequence === this.#confirmLast + 1) {
        this.#confirmLast = sequence;
        return;
      }
      this.flushConfirms();
    }
    this.#confirmFirst = sequence;
    this.#confirmLast = sequence;
    this.#confirmAck = ack;
    this.#owner.confirmsPending(this);
  }

  /** @inheritdoc */
  returned(message: Message, replyCode: number, replyText: string): void {
    try {
      this.#owner.write(
        encodeMethodWithContent(
          this.id,
          {
            name: 'basic.return',
            replyCode,
            replyText,
            exchange: message.exchange,
            routingKey: message.routingKey,
          },
          message.properties,
          message.rawProperties,
          message.body,
          this.#owner.frameMax,
        ),
      );
    } catch (err) {
      this.#owner.hostFailed(err);
    }
  }

  /** @inheritdoc */
  channelDetails(): ChannelDetails {
    let publishes = 0;
    let acks = 0;
    for (const op of this.#tx ?? []) {
      if (op.kind === 'publish') publishes++;
      else acks++;
    }
    return {
      number: this.id,
      confirm: this.#confirmMode,
      transactional: this.#tx !== undefined,
      messagesUncommitted: publishes,
      acksUncommitted: acks,
      // Confirms are coalesced until the end of the turn, so between requests none is outstanding for long.
      messagesUnconfirmed: this.#confirmLast === 0 ? 0 : this.#confirmLast - this.#confirmFirst + 1,
    };
  }

  /** @inheritdoc */
  consumerCancelled(consumerTag: string): void {
    // RabbitMQ sends basic.cancel only to clients that announced consumer_cancel_notify.
    if (!this.#owner.consumerCancelNotify) return;
    if (this.#cancelsDuringDelete !== undefined) {
      this.#cancelsDuringDelete.push(consumerTag);
      return;
    }
    try {
      this.#owner.write(encodeMethod(this.id, { name: 'basic.cancel', consumerTag, nowait: true }));
    } catch (err) {
      this.#owner.hostFailed(err);
    }
  }

  /** Write the coalesced confirms, if any. */
  flushConfirms(): void {
    const first = this.#confirmFirst;
    if (first === 0) return;
    const last = this.#confirmLast;
    this.#confirmFirst = 0;
    const multiple = last !== first;
    const method: AmqpMethod = this.#confirmAck
      ? { name: 'basic.ack', deliveryTag: last, multiple }
      : { name: 'basic.nack', deliveryTag: last, multiple, requeue: false };
    this.#owner.write(encodeMethod(this.id, method));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Client → server.

  /** Handle one frame for this channel (the connection has dealt with channel.open/close). */
  handleFrame(frame: Frame): void {
    switch (frame.type) {
      case 'method':
        if (this.#expect !== Expect.Method) this.#unexpected();
        this.#method(frame.method);
        return;
      case 'header':
        this.#header(frame.classId, frame.bodySize, frame.properties, frame.rawProperties);
        return;
      case 'body':
        this.#bodyFrame(frame.payload);
        return;
      case 'heartbeat':
        // Heartbeats belong on channel 0 (spec §4.2.7 would say 501); RabbitMQ answers 505 UNEXPECTED_FRAME, and
        // clients match on RabbitMQ's behaviour.
        throw new AmqpError(505, 'heartbeat frame on a non-zero channel');
      default: {
        const never: never = frame;
        throw new AmqpError(505, `unknown frame ${String(never)}`);
      }
    }
  }

  /** Close the core channel (cancel consumers, requeue unacked). Idempotent. */
  closeCore(): void {
    const core = this.#core;
    this.#core = undefined;
    this.#held = undefined;
    this.#tx = undefined;
    this.#confirmFirst = 0;
    if (core !== undefined) core.close();
  }

  /** Ask the core to continue delivering after the writer drained. */
  resume(): void {
    this.#core?.resume();
  }

  #coreChannel(): CoreChannel {
    const core = this.#core;
    if (core === undefined) throw new AmqpError(504, 'channel is closed');
    return core;
  }

  /** A frame arrived where content (header or body) was expected (RabbitMQ's wording, rabbit_command_assembler). */
  #unexpected(): never {
    const text =
      this.#expect === Expect.Header
        ? `expected content header for class ${BASIC_CLASS}, got non content header frame instead`
        : 'expected content body, got non content body frame instead';
    this.#resetContent();
    throw new AmqpError(505, text, BASIC_CLASS, 40);
  }

  #resetContent(): void {
    this.#expect = Expect.Method;
    this.#publish = undefined;
    this.#properties = undefined;
    this.#rawProperties = undefined;
    this.#body = undefined;
    this.#bodySize = 0;
    this.#received = 0;
  }

  #header(classId: number, bodySize: number, properties: MessageProperties, rawProperties: Buffer): void {
    if (this.#expect === Expect.Method) {
      throw new AmqpError(505, 'expected method frame, got non method frame instead');
    }
    if (this.#expect === Expect.Body) this.#unexpected();
    if (classId !== BASIC_CLASS) {
      this.#resetContent();
      throw new AmqpError(
        505,
        `expected content header for class ${BASIC_CLASS}, got one for class ${classId} instead`,
        BASIC_CLASS,
        40,
      );
    }
    const max = this.#owner.maxMessageSize;
    if (bodySize > max) {
      this.#resetContent();
      // rabbit_channel:check_msg_size/2; checked on the header so an oversized body is never buffered.
      throw new AmqpError(406, `message size ${bodySize} is larger than configured max size ${max}`, BASIC_CLASS, 40);
    }
    this.#properties = properties;
    this.#rawProperties = rawProperties;
    this.#bodySize = bodySize;
    this.#received = 0;
    if (bodySize === 0) {
      this.#completePublish(EMPTY_BODY);
      return;
    }
    this.#expect = Expect.Body;
  }

  #bodyFrame(payload: Buffer): void {
    if (this.#expect !== Expect.Body) {
      if (this.#expect === Expect.Header) this.#unexpected();
      throw new AmqpError(505, 'expected method frame, got non method frame instead');
    }
    const size = this.#bodySize;
    const received = this.#received + payload.length;
    if (received > size) {
      this.#resetContent();
      throw new AmqpError(505, `content body exceeds the declared size of ${size} bytes`, BASIC_CLASS, 40);
    }
    if (this.#received === 0 && received === size) {
      // The whole body in one frame: one copy (the payload is a view that pins the socket chunk).
      this.#completePublish(Buffer.from(payload));
      return;
    }
    let body = this.#body;
    if (body === undefined) {
      body = Buffer.allocUnsafe(size);
      this.#body = body;
    }
    payload.copy(body, this.#received);
    this.#received = received;
    if (received === size) this.#completePublish(body);
  }

  #completePublish(body: Buffer): void {
    const publish = this.#publish!;
    const message: Message = {
      exchange: publish.exchange,
      routingKey: publish.routingKey,
      properties: this.#properties!,
      rawProperties: this.#rawProperties,
      body,
    };
    this.#resetContent();
    const tx = this.#tx;
    if (tx !== undefined) {
      tx.push({ kind: 'publish', message, mandatory: publish.mandatory });
      return;
    }
    const options: PublishOptions = {};
    if (publish.mandatory) options.mandatory = true;
    if (this.#confirmMode) options.sequence = this.#nextSequence++;
    this.#coreChannel().publish(message, options);
  }

  #reply(method: AmqpMethod): void {
    this.#owner.write(encodeMethod(this.id, method));
  }

  /**
   * Reply to a method that may have changed durable definitions (declare, delete, bind, unbind). When it did (the
   * broker's definitionsVersion moved while it ran), the -ok waits for the definitions file's fsync, so a client never
   * hears declare-ok for a queue that a crash could lose. Otherwise (transient entities, redeclares) it goes
   * at once. A nowait method still holds the connection's later frames: a publish right after a nowait declare must
   * not be confirmed into a queue whose definition is not yet on disk.
   */
  #replyDurable(before: number, method: AmqpMethod | undefined): void {
    if (this.#owner.definitionsVersion !== before) {
      this.#owner.holdUntilDefinitionsDurable(method === undefined ? undefined : encodeMethod(this.id, method));
    } else if (method !== undefined) {
      this.#reply(method);
    }
  }

  #method(method: AmqpMethod): void {
    switch (method.name) {
      case 'basic.publish':
        if (method.immediate) {
          // RabbitMQ 3.x: rabbit_channel refuses immediate=true as a connection error.
          throw new AmqpError(540, 'immediate=true', BASIC_CLASS, 40);
        }
        // An external auth backend answers here, while the connection can still wait and repeat this frame.
        this.#coreChannel().authorizePublish?.(method.exchange, method.routingKey);
        this.#publish = method;
        this.#expect = Expect.Header;
        return;
      case 'basic.ack':
        if (this.#tx !== undefined) {
          this.#tx.push({ kind: 'ack', deliveryTag: method.deliveryTag, multiple: method.multiple });
          return;
        }
        this.#coreChannel().ack(method.deliveryTag, method.multiple);
        return;
      case 'basic.nack':
        if (this.#tx !== undefined) {
          this.#tx.push({
            kind: 'nack',
            deliveryTag: method.deliveryTag,
            multiple: method.multiple,
            requeue: method.requeue,
          });
          return;
        }
        this.#coreChannel().nack(method.deliveryTag, method.multiple, method.requeue);
        return;
      case 'basic.reject':
        if (this.#tx !== undefined) {
          this.#tx.push({ kind: 'reject', deliveryTag: method.deliveryTag, requeue: method.requeue });
          return;
        }
        this.#coreChannel().reject(method.deliveryTag, method.requeue);
        return;
      case 'basic.qos':
        if (method.prefetchSize !== 0) {
          // rabbit_channel: prefetch_size is not implemented (connection error 540).
          throw new AmqpError(540, `prefetch_size!=0 (${method.prefetchSize})`, BASIC_CLASS, 10);
        }
        this.#coreChannel().qos(method.prefetchCount, method.global);
        this.#reply({ name: 'basic.qos-ok' });
        return;
      case 'basic.consume': {
        const max = this.#owner.consumerMaxPerChannel;
        if (max > 0 && this.#coreChannel().consumerCount >= max) {
          // rabbit_channel: consumer_max_per_channel is a connection error, 530 NOT_ALLOWED.
          throw new AmqpError(530, `reached maximum (${max}) of consumers per channel`, BASIC_CLASS, 20);
        }
        const options: ConsumeOptions = {
          consumerTag: method.consumerTag,
          noAck: method.noAck,
          exclusive: method.exclusive,
          arguments: method.arguments,
        };
        // Deliveries the core makes during consume() are held so that consume-ok is written first.
        const held: Buffer[] = [];
        this.#held = held;
        let tag: string;
        try {
          tag = this.#coreChannel().consume(method.queue, options);
        } finally {
          this.#held = undefined;
        }
        if (!method.nowait) this.#reply({ name: 'basic.consume-ok', consumerTag: tag });
        for (const frames of held) this.#owner.write(frames);
        return;
      }
      case 'basic.cancel': {
        try {
          this.#coreChannel().cancel(method.consumerTag);
        } catch (err) {
          // Cancelling an unknown consumer is not an error (spec §1.8.3.5; RabbitMQ replies cancel-ok).
          if (!(isBrokerError(err) && err.code === 'NOT_FOUND')) throw err;
        }
        if (!method.nowait) this.#reply({ name: 'basic.cancel-ok', consumerTag: method.consumerTag });
        return;
      }
      case 'basic.get': {
        const result = this.#coreChannel().get(method.queue, method.noAck);
        if (result === undefined) {
          this.#reply({ name: 'basic.get-empty', clusterId: '' });
          return;
        }
        const d = result.delivery;
        const m = d.message;
        this.#owner.write(
          encodeMethodWithContent(
            this.id,
            {
              name: 'basic.get-ok',
              deliveryTag: d.deliveryTag,
              redelivered: d.redelivered,
              exchange: m.exchange,
              routingKey: m.routingKey,
              messageCount: result.messageCount,
            },
            m.properties,
            m.rawProperties,
            m.body,
            this.#owner.frameMax,
          ),
        );
        return;
      }
      case 'basic.recover':
        this.#coreChannel().recover(method.requeue);
        this.#reply({ name: 'basic.recover-ok' });
        return;
      case 'basic.recover-async':
        this.#coreChannel().recover(method.requeue);
        return;
      case 'exchange.declare': {
        const options: ExchangeDeclareOptions = {
          passive: method.passive,
          durable: method.durable,
          autoDelete: method.autoDelete,
          internal: method.internal,
          arguments: method.arguments,
        };
        const v = this.#owner.definitionsVersion;
        this.#coreChannel().declareExchange(method.exchange, method.type, options);
        this.#replyDurable(v, method.nowait ? undefined : { name: 'exchange.declare-ok' });
        return;
      }
      case 'exchange.delete': {
        const v = this.#owner.definitionsVersion;
        this.#coreChannel().deleteExchange(method.exchange, { ifUnused: method.ifUnused });
        this.#replyDurable(v, method.nowait ? undefined : { name: 'exchange.delete-ok' });
        return;
      }
      case 'exchange.bind': {
        const v = this.#owner.definitionsVersion;
        this.#coreChannel().bindExchange(method.destination, method.source, method.routingKey, method.arguments);
        this.#replyDurable(v, method.nowait ? undefined : { name: 'exchange.bind-ok' });
        return;
      }
      case 'exchange.unbind': {
        const v = this.#owner.definitionsVersion;
        this.#coreChannel().unbindExchange(method.destination, method.source, method.routingKey, method.arguments);
        this.#replyDurable(v, method.nowait ? undefined : { name: 'exchange.unbind-ok' });
        return;
      }
      case 'queue.declare': {
        const options: QueueDeclareOptions = {
          passive: method.passive,
          durable: method.durable,
          exclusive: method.exclusive,
          autoDelete: method.autoDelete,
          arguments: method.arguments,
        };
        const v = this.#owner.definitionsVersion;
        const r = this.#coreChannel().declareQueue(method.queue, options);
        this.#replyDurable(
          v,
          method.nowait
            ? undefined
            : { name: 'queue.declare-ok', queue: r.queue, messageCount: r.messageCount, consumerCount: r.consumerCount },
        );
        return;
      }
      case 'queue.bind': {
        const v = this.#owner.definitionsVersion;
        this.#coreChannel().bindQueue(method.queue, method.exchange, method.routingKey, method.arguments);
        this.#replyDurable(v, method.nowait ? undefined : { name: 'queue.bind-ok' });
        return;
      }
      case 'queue.unbind': {
        const v = this.#owner.definitionsVersion;
        this.#coreChannel().unbindQueue(method.queue, method.exchange, method.routingKey, method.arguments);
        this.#replyDurable(v, { name: 'queue.unbind-ok' });
        return;
      }
      case 'queue.purge': {
        const messageCount = this.#coreChannel().purgeQueue(method.queue);
        if (!method.nowait) this.#reply({ name: 'queue.purge-ok', messageCount });
        return;
      }
      case 'queue.delete': {
        const v = this.#owner.definitionsVersion;
        // The consumers of this channel that the delete cancels hear basic.cancel after queue.delete-ok (RabbitMQ's
        // order: the client resolves the delete before it sees the cancel).
        const cancels: string[] = [];
        this.#cancelsDuringDelete = cancels;
        let messageCount: number;
        try {
          messageCount = this.#coreChannel().deleteQueue(method.queue, {
            ifUnused: method.ifUnused,
            ifEmpty: method.ifEmpty,
          });
        } finally {
          this.#cancelsDuringDelete = undefined;
        }
        const frames: Buffer[] = [];
        if (!method.nowait) frames.push(encodeMethod(this.id, { name: 'queue.delete-ok', messageCount }));
        for (const consumerTag of cancels) frames.push(encodeMethod(this.id, { name: 'basic.cancel', consumerTag, nowait: true }));
        if (this.#owner.definitionsVersion !== v) {
          this.#owner.holdUntilDefinitionsDurable(frames.length === 0 ? undefined : Buffer.concat(frames));
        } else {
          for (const f of frames) this.#owner.write(f);
        }
        return;
      }
      case 'channel.flow':
        // RabbitMQ 3.x refuses active=false (540); Warren implements it through the core.
        this.#coreChannel().flow(method.active);
        this.#reply({ name: 'channel.flow-ok', active: method.active });
        return;
      case 'channel.flow-ok':
        // Answer to a server channel.flow, which Warren never sends: nothing to do.
        return;
      case 'access.request':
        // Deprecated in 0-9-1; RabbitMQ answers with ticket 1 and ignores tickets everywhere.
        this.#reply({ name: 'access.request-ok', ticket: 1 });
        return;
      case 'confirm.select':
        if (this.#tx !== undefined) throw new AmqpError(406, 'cannot switch from tx to confirm mode', 85, 10);
        this.#confirmMode = true;
        if (!method.nowait) this.#reply({ name: 'confirm.select-ok' });
        return;
      case 'tx.select':
        if (this.#confirmMode) throw new AmqpError(406, 'cannot switch from confirm to tx mode', 90, 10);
        if (this.#tx === undefined) this.#tx = [];
        this.#reply({ name: 'tx.select-ok' });
        return;
      case 'tx.commit': {
        const ops = this.#tx;
        if (ops === undefined) throw new AmqpError(406, 'channel is not transactional', 90, 20);
        this.#tx = [];
        this.#commit(ops);
        this.#reply({ name: 'tx.commit-ok' });
        return;
      }
      case 'tx.rollback':
        if (this.#tx === undefined) throw new AmqpError(406, 'channel is not transactional', 90, 30);
        this.#tx = [];
        this.#reply({ name: 'tx.rollback-ok' });
        return;
      default:
        // Server-to-client methods, connection-class methods on a channel, and channel.open/close (handled by the
        // connection before this point).
        throw new AmqpError(503, `unexpected method '${method.name}' on channel ${this.id}`);
    }
  }

  #commit(ops: TxOp[]): void {
    const core = this.#coreChannel();
    for (const op of ops) {
      switch (op.kind) {
        case 'publish':
          core.publish(op.message, op.mandatory ? { mandatory: true } : {});
          break;
        case 'ack':
          core.ack(op.deliveryTag, op.multiple);
          break;
        case 'nack':
          core.nack(op.deliveryTag, op.multiple, op.requeue);
          break;
        case 'reject':
          core.reject(op.deliveryTag, op.requeue);
          break;
        default: {
          const never: never = op;
          throw new Error(`unknown tx op ${String(never)}`);
        }
      }
    }
  }
}
