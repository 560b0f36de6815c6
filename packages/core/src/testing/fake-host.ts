import type { ChannelHost, ConnectionHost, ConnectionInfo, Delivery, Message, MessageProperties } from '../contract.js';

/** A recording {@link ChannelHost} for tests (of the core and of adapters). */
export class FakeChannelHost implements ChannelHost {
  writable = true;
  readonly deliveries: Delivery[] = [];
  readonly confirms: [number, boolean][] = [];
  readonly returns: { message: Message; replyCode: number; replyText: string }[] = [];
  readonly cancelled: string[] = [];
  /** Everything in call order, e.g. ['returned', 'confirm']. */
  readonly calls: string[] = [];

  deliver(delivery: Delivery): void {
    this.deliveries.push(delivery);
    this.calls.push('deliver');
  }
  confirm(sequence: number, ack: boolean): void {
    this.confirms.push([sequence, ack]);
    this.calls.push('confirm');
  }
  returned(message: Message, replyCode: number, replyText: string): void {
    this.returns.push({ message, replyCode, replyText });
    this.calls.push('returned');
  }
  consumerCancelled(consumerTag: string): void {
    this.cancelled.push(consumerTag);
    this.calls.push('cancelled');
  }

  /** Bodies delivered so far, as strings. */
  bodies(): string[] {
    return this.deliveries.map((d) => d.message.body.toString());
  }
}

/** A recording {@link ConnectionHost}. */
export class FakeConnectionHost implements ConnectionHost {
  readonly events: string[] = [];
  blocked(reason: string): void {
    this.events.push(`blocked:${reason}`);
  }
  unblocked(): void {
    this.events.push('unblocked');
  }
}

let nextId = 0;

/** Connection info for a loopback AMQP client. */
export function fakeConnectionInfo(overrides: Partial<ConnectionInfo> = {}): ConnectionInfo {
  return {
    id: `test-${++nextId}`,
    protocol: 'amqp',
    remoteAddress: '127.0.0.1',
    remotePort: 50000 + nextId,
    localPort: 5672,
    tls: false,
    listener: 'amqp',
    ...overrides,
  };
}

/** Build a message. */
export function makeMessage(exchange: string, routingKey: string, body: string, properties: MessageProperties = {}): Message {
  return { exchange, routingKey, properties, rawProperties: undefined, body: Buffer.from(body) };
}
