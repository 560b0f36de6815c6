import type { ChannelHost, ConnectionHost, ConnectionInfo, CoreChannel, CoreConnection, User } from './contract.js';
import { CoreChannelImpl, type ChannelContext } from './channel.js';
import type { PermissionCheck, Permissions } from './auth/users.js';
import type { MessageStore } from './store/store.js';
import type { TopicPermission } from './runtime-parameters.js';
import type { BrokerStats, ProtocolCounters } from './stats/counters.js';
import type { VHost } from './vhost.js';

/** What a connection needs of the broker. */
export interface ConnectionOwner {
  readonly store: MessageStore;
  /** Broker-wide churn and per-protocol counters. */
  readonly stats: BrokerStats;
  permissionsOf(user: string, vhost: string): Permissions | undefined;
  permissionGeneration(): number;
  connectionClosed(connection: CoreConnectionImpl): void;
  /** A channel is about to open: throws when the user's max-channels limit is reached. */
  channelOpening?(connection: CoreConnectionImpl): void;
  /** The user's topic permission on an exchange (undefined = every routing key allowed). */
  topicPermission?(user: string, vhost: string, exchange: string): TopicPermission | undefined;
  /** For a user an external backend authenticated: its permissions on the vhost (undefined for internal users). */
  externalPermissions?(user: User, vhost: string, info: ConnectionInfo): PermissionCheck | undefined;
}

/** One client connection: its channels and exclusive queues. */
export class CoreConnectionImpl implements CoreConnection {
  readonly info: ConnectionInfo;
  readonly user: User;
  readonly host: ConnectionHost;
  /** When it opened (ms since the epoch): management's `connected_at`. */
  readonly connectedAt = Date.now();
  readonly #vhost: VHost;
  readonly #owner: ConnectionOwner;
  /** Open channels; an array, not a Set (whose table is ~240 bytes per idle connection): a connection has few. */
  readonly #channels: CoreChannelImpl[] = [];
  #nextChannelId = 1;
  #closed = false;
  /** Shared by this connection's channels; created with the first channel. */
  #channelContext: ConnectionChannelContext | undefined;

  constructor(info: ConnectionInfo, user: User, vhost: VHost, host: ConnectionHost, owner: ConnectionOwner) {
    this.info = info;
    this.user = user;
    this.host = host;
    this.#vhost = vhost;
    this.#owner = owner;
  }

  /** The vhost name. */
  get vhost(): string {
    return this.#vhost.name;
  }

  /** Open channels (for management). */
  get channelCount(): number {
    return this.#channels.length;
  }

  /** The open channels, oldest first (for management; do not modify). */
  get channels(): readonly CoreChannelImpl[] {
    return this.#channels;
  }

  openChannel(host: ChannelHost): CoreChannel {
    this.#owner.channelOpening?.(this);
    const ctx = (this.#channelContext ??= new ConnectionChannelContext(this.#vhost, this.user, this.info, this.#owner, this.#channels));
    const ch = new CoreChannelImpl(this.#nextChannelId++, ctx, host);
    this.#channels.push(ch);
    if (this.info.internal !== true) this.#owner.stats.channelCreated++;
    return ch;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ch of [...this.#channels]) ch.close();
    this.#vhost.dropExclusive(this.info.id);
    this.#owner.connectionClosed(this);
  }
}

/**
 * The {@link ChannelContext} of one connection's channels: a class (methods on the prototype) rather than an object of
 * closures, so an idle connection carries one small object instead of a context plus three closures per channel.
 */
class ConnectionChannelContext implements ChannelContext {
  readonly vhost: VHost;
  readonly user: User;
  readonly connectionId: string;
  readonly counters: ProtocolCounters;
  readonly clientId: string | undefined;
  /** Set for a user an external backend authenticated: every check goes to it. */
  readonly external: PermissionCheck | undefined;
  readonly #internal: boolean;
  readonly #owner: ConnectionOwner;
  readonly #channels: CoreChannelImpl[];

  constructor(vhost: VHost, user: User, info: ConnectionInfo, owner: ConnectionOwner, channels: CoreChannelImpl[]) {
    this.vhost = vhost;
    this.user = user;
    this.connectionId = info.id;
    this.counters = owner.stats.protocol(info.protocol);
    this.clientId = info.clientId;
    this.#internal = info.internal === true;
    this.#owner = owner;
    this.#channels = channels;
    this.external = owner.externalPermissions?.(user, vhost.name, info);
  }

  get store(): MessageStore {
    return this.#owner.store;
  }

  permissions(): PermissionCheck | undefined {
    return this.external ?? this.#owner.permissionsOf(this.user.name, this.vhost.name);
  }

  permissionGeneration(): number {
    return this.#owner.permissionGeneration();
  }

  topicPermission(exchange: string): TopicPermission | undefined {
    return this.#owner.topicPermission?.(this.user.name, this.vhost.name, exchange);
  }

  channelClosed(channel: CoreChannelImpl): void {
    const i = this.#channels.indexOf(channel);
    if (i >= 0) this.#channels.splice(i, 1);
    if (!this.#internal) this.#owner.stats.channelClosed++;
  }
}
