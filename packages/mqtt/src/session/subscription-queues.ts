/**
 * The core side of subscriptions: each filter's queue (RabbitMQ's `mqtt-subscription-<client id>qos0|1`, or a shared
 * group's queue), its binding and its consumer, and the connection's index of subscriptions.
 */
import { isBrokerError, type CoreChannel } from '@warren/core';
import type { QoS } from 'mqtt-packet';
import { filterToBindingKey, parseSharedFilter } from '../topic.js';
import type { SessionState, SubscriptionState } from './session-store.js';
import type { ActiveSubscription, ConsumerSubscriptions } from './state.js';
import type { MqttConnection } from './mqtt-connection.js';

export const CONSUMER_QOS0 = 'mqtt-qos0';
export const CONSUMER_QOS1 = 'mqtt-qos1';
export const SHARE_PREFIX = 'mqtt-share:';

/** The queue names RabbitMQ's MQTT plugin uses for a client's subscriptions. */
export function subscriptionQueueName(clientId: string, qos: 0 | 1): string {
  return `mqtt-subscription-${clientId}qos${qos}`;
}

/** The core queue of a shared subscription group: competing consumers, readable by AMQP and STOMP too. */
export function sharedQueueName(group: string, filter: string): string {
  return `mqtt-shared-${group}-${filterToBindingKey(filter)}`;
}

/** Add or replace a subscription, keeping the counts that spare walking them all. */
export function setSub(c: MqttConnection, filter: string, active: ActiveSubscription): void {
  const subs = c.subsW();
  const old = subs.get(filter);
  if (old !== undefined) countSub(c, old, -1);
  subs.set(filter, active);
  countSub(c, active, 1);
  const tag = active.consumerTag;
  if (old !== undefined && old.consumerTag !== tag) {
    removeFromConsumer(c, old);
    // Moved to another consumer (a QoS change between 0 and 1/2) but kept its place in `subs`: the consumer's index
    // is rebuilt in that order, so a delivery lists subscription identifiers as before.
    const group = consumerGroup(c, tag);
    group.byFilter.clear();
    for (const s of subs.values()) if (s.consumerTag === tag) group.byFilter.set(s.filter, s);
    group.list = undefined;
    return;
  }
  const group = consumerGroup(c, tag);
  group.byFilter.set(filter, active);
  group.list = undefined;
}

/** The subscriptions whose deliveries come with `tag`, created on first use. */
function consumerGroup(c: MqttConnection, tag: string): ConsumerSubscriptions {
  let group = c.byConsumer.get(tag);
  if (group === undefined) {
    group = { byFilter: new Map(), list: undefined };
    c.byConsumerW().set(tag, group);
  }
  return group;
}

function removeFromConsumer(c: MqttConnection, s: ActiveSubscription): void {
  const group = c.byConsumer.get(s.consumerTag);
  if (group === undefined || !group.byFilter.delete(s.filter)) return;
  group.list = undefined;
  if (group.byFilter.size === 0) c.byConsumer.delete(s.consumerTag);
}

/**
 * The subscriptions a delivery with consumer tag `tag` came through, in subscription order (a shared group's
 * consumer has one; the session's qos0 / qos1 consumers have every filter of that QoS). Undefined when none.
 */
export function consumerSubscriptions(c: MqttConnection, tag: string): readonly ActiveSubscription[] | undefined {
  const group = c.byConsumer.get(tag);
  if (group === undefined) return undefined;
  return (group.list ??= [...group.byFilter.values()]);
}

/** Remove a subscription; false when there was none. */
export function deleteSub(c: MqttConnection, filter: string): boolean {
  const old = c.subs.get(filter);
  if (old === undefined) return false;
  c.subs.delete(filter);
  countSub(c, old, -1);
  removeFromConsumer(c, old);
  return true;
}

export function countSub(c: MqttConnection, s: ActiveSubscription, delta: 1 | -1): void {
  if (!s.shared && s.matchFilter.startsWith('$SYS')) c.sysSubs += delta;
  if (s.noLocal) c.noLocalSubs += delta;
  const key = s.queue + '\u0000' + s.bindingKey;
  const n = (c.bindingRefs.get(key) ?? 0) + delta;
  if (n > 0) c.bindingRefsW().set(key, n);
  else c.bindingRefs.delete(key);
}

/** Declare the subscription's queue and bind it. Idempotent (also used to resume a session). */
export function activate(c: MqttConnection, state: SubscriptionState): ActiveSubscription {
  const ch = c.ch as CoreChannel;
  const session = c.session as SessionState;
  const shared = parseSharedFilter(state.filter);
  const persistent = session.expiry > 0;
  let queue: string;
  let bindingKey: string;
  if (shared) {
    queue = sharedQueueName(shared.group, shared.filter);
    bindingKey = filterToBindingKey(shared.filter);
    declare(c, queue, () => {
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
    queue = subscriptionQueueName(c.clientId, q01);
    bindingKey = filterToBindingKey(state.filter);
    declare(c, queue, () => declareSessionQueue(c, queue, persistent));
  }
  ch.bindQueue(queue, c.rt.options.exchange, bindingKey);
  const isShared = shared !== undefined && shared !== null;
  const active: ActiveSubscription = {
    ...state,
    queue,
    bindingKey,
    shared: isShared,
    consumerTag: isShared ? SHARE_PREFIX + state.filter : state.qos === 0 ? CONSUMER_QOS0 : CONSUMER_QOS1,
    matchFilter: isShared ? shared.filter : state.filter,
  };
  setSub(c, state.filter, active);
  return active;
}

export function declare(c: MqttConnection, queue: string, declare: () => void): void {
  if (c.declared.has(queue)) return;
  declare();
  c.declaredW().add(queue);
}

/**
 * Subscription queue flags. A clean session's queues are transient and auto-delete, QoS 0 and QoS 1 alike:
 * RabbitMQ 3.10 declares the qos1 one durable, but a clean session's messages die with its connection (a clean
 * reconnect deletes the queue), so writing each persistent message to disk and holding the publisher's PUBACK
 * for the group commit bought nothing and cost ~30 µs of broker CPU per message in the fan-in benchmark.
 * Persistent sessions keep both durable (offline QoS 0 messages are queued, as Mosquitto does), bounded by the
 * offline queue limit.
 */
export function declareSessionQueue(c: MqttConnection, queue: string, persistent: boolean): void {
  const ch = c.ch as CoreChannel;
  const args = persistent && c.rt.options.maxOfflineMessages > 0 ? { 'x-max-length': c.rt.options.maxOfflineMessages } : undefined;
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
  const limit = c.rt.options.maxOfflineMessages;
  const session = c.session;
  if (persistent && limit > 0 && session !== undefined) {
    // The queue counts what x-max-length removed from its head; what is new since the last reconnect was lost
    // while this client was away (or too slow). A counter below the one seen restarted with the broker.
    const total = declared.lengthOverflow ?? 0;
    const seen = session.overflowSeen?.[queue] ?? 0;
    const dropped = total >= seen ? total - seen : total;
    if (dropped > 0) c.rt.offlineOverflow(c.clientId, queue, limit, dropped);
    if (total !== seen) {
      (session.overflowSeen ??= {})[queue] = total;
      c.rt.sessions.changed(session);
    }
  }
}

export function ensureConsumer(c: MqttConnection, s: ActiveSubscription): void {
  const ch = c.ch as CoreChannel;
  const tag = s.consumerTag;
  if (c.consuming.has(tag)) return;
  c.consumingW().add(tag);
  ch.consume(s.queue, { consumerTag: tag, noAck: s.qos === 0 });
}

export function unbind(c: MqttConnection, s: ActiveSubscription): void {
  const ch = c.ch as CoreChannel;
  try {
    ch.unbindQueue(s.queue, c.rt.options.exchange, s.bindingKey);
  } catch (err) {
    if (!isBrokerError(err)) throw err;
  }
  if (s.shared) {
    c.consuming.delete(s.consumerTag);
    ch.cancel(s.consumerTag);
  }
}
