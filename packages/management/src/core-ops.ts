/**
 * State changes made by the API go through the same core channel operations as the protocols (DESIGN.md §7): one
 * internal pseudo-connection per request, opened as the HTTP user on the vhost, so permissions, name rules and
 * arguments are checked exactly as for an AMQP client, and the answer waits until durable definitions are on disk.
 */
import type { ChannelHost, ConnectionHost, ConnectionInfo, CoreChannel, Delivery, Message } from '@warren/core';
import type { Principal } from './auth.js';
import type { ManagementContext } from './context.js';
import { notFound } from './http-error.js';

/** A channel host that records what the core tells it: returns of mandatory publishes and confirms. */
export class HttpChannelHost implements ChannelHost {
  readonly writable = true;
  returnedCount = 0;
  readonly #confirms = new Map<number, (ack: boolean) => void>();

  deliver(_delivery: Delivery): void {
    // The API never consumes; basic.get answers come back from CoreChannel.get.
  }
  confirm(sequence: number, ack: boolean): void {
    const waiter = this.#confirms.get(sequence);
    this.#confirms.delete(sequence);
    waiter?.(ack);
  }
  returned(_message: Message, _replyCode: number, _replyText: string): void {
    this.returnedCount++;
  }
  consumerCancelled(_consumerTag: string): void {}

  /** Resolves with the confirm of `sequence` (true = taken, on disk where that applies). */
  confirmed(sequence: number): Promise<boolean> {
    return new Promise((resolve) => this.#confirms.set(sequence, resolve));
  }
}

/** The host of the API's pseudo-connections: alarms do not apply to them (they never publish in a loop). */
export const NO_ALARMS: ConnectionHost = { blocked() {}, unblocked() {} };
let nextId = 0;

/** Connection info of one of the API's internal pseudo-connections (not listed, not counted, not limited). */
export function internalConnectionInfo(kind: string): ConnectionInfo {
  return {
    id: `${kind}-${++nextId}`,
    protocol: 'http',
    remoteAddress: '127.0.0.1',
    remotePort: 0,
    localPort: 0,
    tls: false,
    listener: 'management',
    internal: true,
  };
}

/**
 * Run `fn` on a core channel of `vhost` opened as the request's user, then close it; resolves once any durable
 * definition it changed is on disk. 404 when the vhost does not exist; 401 when the user has no access to it.
 */
export async function withChannel<T>(
  ctx: ManagementContext,
  principal: Principal,
  vhost: string,
  fn: (ch: CoreChannel, host: HttpChannelHost) => T | Promise<T>,
): Promise<T> {
  const broker = ctx.broker;
  if (broker.vhost(vhost) === undefined) throw notFound();
  const info = internalConnectionInfo('management');
  const before = broker.definitionsVersion;
  const connection = broker.openConnection(info, principal.user, vhost, NO_ALARMS);
  const host = new HttpChannelHost();
  try {
    return await fn(connection.openChannel(host), host);
  } finally {
    connection.close();
    if (broker.definitionsVersion !== before) await broker.flushDefinitions();
  }
}

/** Resolves once definitions changed by a direct administration call (users, vhosts, permissions) are on disk. */
export async function durably<T>(ctx: ManagementContext, fn: () => T): Promise<T> {
  const before = ctx.broker.definitionsVersion;
  const result = fn();
  if (ctx.broker.definitionsVersion !== before) await ctx.broker.flushDefinitions();
  return result;
}
