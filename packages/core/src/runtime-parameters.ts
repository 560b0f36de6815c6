/**
 * RabbitMQ's runtime parameters that are not tied to a queue or exchange: vhost-scoped parameters of components Warren
 * does not implement (federation-upstream, shovel, ...: kept and listed so tools and definitions round-trip), global
 * parameters (cluster_name lives there), user limits and topic permissions. Policies and vhost limits live on their
 * {@link VHost}. The broker owns one instance and writes it with the durable definitions.
 */

/** One vhost-scoped runtime parameter. */
export interface RuntimeParameter {
  component: string;
  vhost: string;
  name: string;
  value: unknown;
}

/** RabbitMQ's user limits; an absent or negative value means no limit. */
export interface UserLimits {
  'max-connections'?: number;
  'max-channels'?: number;
}

/** A topic permission: regular expressions on routing keys for one exchange (rabbit_topic_permission). */
export interface TopicPermission {
  write: string;
  read: string;
}

/** The stores themselves; the broker wraps every change so the definitions are written. */
export class RuntimeParameters {
  /** Keyed by component, vhost and name. */
  readonly parameters = new Map<string, RuntimeParameter>();
  readonly global = new Map<string, unknown>();
  readonly userLimits = new Map<string, UserLimits>();
  /** user → vhost → exchange → permission. */
  readonly topicPermissions = new Map<string, Map<string, Map<string, TopicPermission>>>();

  static key(component: string, vhost: string, name: string): string {
    return `${component}\u0000${vhost}\u0000${name}`;
  }

  /** The topic permission of `user` on `exchange` in `vhost`, if any (none = every routing key allowed). */
  topicPermission(user: string, vhost: string, exchange: string): TopicPermission | undefined {
    return this.topicPermissions.get(user)?.get(vhost)?.get(exchange);
  }

  /** Forget everything about a deleted vhost. */
  forgetVhost(vhost: string): void {
    for (const [k, p] of this.parameters) if (p.vhost === vhost) this.parameters.delete(k);
    for (const perVhost of this.topicPermissions.values()) perVhost.delete(vhost);
  }

  /** Forget everything about a deleted user. */
  forgetUser(user: string): void {
    this.userLimits.delete(user);
    this.topicPermissions.delete(user);
  }
}

/** Expand RabbitMQ's topic permission variables ({username}, {vhost}, {client_id}) in a pattern. */
export function expandTopicPattern(pattern: string, vars: Readonly<Record<string, string>>): string {
  return pattern.replace(/\{(username|vhost|client_id)\}/g, (m, k: string) => vars[k] ?? m);
}

const compiled = new Map<string, RegExp>();

/**
 * True when `routingKey` matches the topic permission `pattern` (an empty pattern matches nothing, as '^$' in
 * RabbitMQ). Compiled patterns are cached (bounded), since a publisher checks the same few on every message.
 */
export function topicAllowed(pattern: string, routingKey: string, vars: Readonly<Record<string, string>>): boolean {
  const expanded = pattern === '' ? '^$' : expandTopicPattern(pattern, vars);
  let re = compiled.get(expanded);
  if (re === undefined) {
    try {
      re = new RegExp(expanded);
    } catch {
      return false;
    }
    if (compiled.size >= 1024) compiled.clear();
    compiled.set(expanded, re);
  }
  return re.test(routingKey);
}
