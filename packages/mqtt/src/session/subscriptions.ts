/**
 * SUBSCRIBE and UNSUBSCRIBE: filters checked and subscribed (huge packets a slice per event-loop turn), SUBACK and
 * UNSUBACK, then the retained messages of new subscriptions.
 */
import { DefinitionsBarrier, isBrokerError } from '@warren/core';
import type { ISubscribePacket, Packet, QoS } from 'mqtt-packet';
import { ReasonCode, SUBACK_FAILURE_311 } from '../codec/reason-codes.js';
import { wireCodeFor } from '../errors.js';
import { checkTopicFilter, parseSharedFilter, topicMatches } from '../topic.js';
import type { SessionState, SubscriptionState } from './session-store.js';
import { Phase, SUBSCRIBE_SLICE, sessionSubscriptionsW, type SubscribeJob } from './state.js';
import type { MqttConnection } from './mqtt-connection.js';
import { barrierOf, durableChanges } from './reply-order.js';
import { sendPublish } from './delivery.js';
import { deleteSub, activate, ensureConsumer, unbind } from './subscription-queues.js';

export function onSubscribe(c: MqttConnection, p: ISubscribePacket): void {
  const job: SubscribeJob = {
    packet: p,
    next: 0,
    granted: [],
    retained: [],
    invalid: 0,
    overCap: 0,
    defsStart: c.rt.broker.definitionsVersion ?? 0,
    stateStart: c.rt.stateChanges(),
  };
  if (p.subscriptions.length <= SUBSCRIBE_SLICE) {
    if (!subscribeSlice(c, job)) return;
    answerSubscribe(c, job);
    spendTurn(c, p.subscriptions.length);
    return;
  }
  // A huge SUBSCRIBE is handled a slice per event-loop turn, so every other client keeps its latency. Meanwhile
  // this connection reads nothing and later packets wait (their replies must follow this SUBACK), as they do while
  // definitions are flushed.
  barrierOf(c).enter();
  setImmediate(() => subscribeStep(c, job));
}

/**
 * Many small SUBSCRIBE/UNSUBSCRIBE packets read at once cost as much as one huge one: after a slice's worth of
 * filters, the rest of what was read waits for the next event-loop turn.
 */
export function spendTurn(c: MqttConnection, filters: number): void {
  c.turnFilters += filters;
  if (c.turnFilters < SUBSCRIBE_SLICE) return;
  c.turnFilters = 0;
  barrierOf(c).yieldTurn();
}

/** One slice of a huge SUBSCRIBE; the last one answers it and lets the packets that waited through. */
export function subscribeStep(c: MqttConnection, job: SubscribeJob): void {
  if (c.phase === Phase.Closed) return;
  try {
    if (!subscribeSlice(c, job)) return;
    if (job.next < job.packet.subscriptions.length) {
      setImmediate(() => subscribeStep(c, job));
      return;
    }
    const barrier = c.barrier as DefinitionsBarrier;
    c.capture = [];
    answerSubscribe(c, job);
    const captured = c.capture;
    c.capture = undefined;
    // Held behind this SUBSCRIBE's own wait, then behind the disk if it changed anything there.
    for (const b of captured) barrier.hold(b);
    const durable = durableChanges(c, (c.rt.broker.definitionsVersion ?? 0) !== job.defsStart, c.rt.stateChanges() !== job.stateStart);
    if (durable !== undefined) barrier.holdUntil(durable);
    // Release this SUBSCRIBE's own hold.
    barrier.leave();
  } catch (err) {
    c.capture = undefined;
    c.internalError(err);
  }
}

/**
 * Subscribe the next filters of `job` (at most {@link SUBSCRIBE_SLICE}). False when the connection was closed
 * (a protocol error). Each filter costs the same however many the session has: no per-filter copy of the
 * subscription list, no per-filter walk of the subscriptions.
 */
export function subscribeSlice(c: MqttConnection, job: SubscribeJob): boolean {
  const p = job.packet;
  const v5 = c.version === 5;
  const identifier = v5 ? p.properties?.subscriptionIdentifier : undefined;
  const session = c.session as SessionState;
  const max = c.rt.limits.maxSubscriptions;
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
      job.granted.push(v5 ? ReasonCode.TopicFilterInvalid : SUBACK_FAILURE_311);
      continue;
    }
    if (shared !== undefined && shared !== null && req.nl === true) {
      // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error.
      c.protocolError(ReasonCode.ProtocolError, 'No Local on a shared subscription');
      return false;
    }
    const existing = c.subs.get(filter);
    if (existing === undefined && max > 0 && c.subs.size >= max) {
      job.overCap++;
      job.granted.push(v5 ? ReasonCode.QuotaExceeded : SUBACK_FAILURE_311);
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
      const active = activate(c, state);
      if (existing !== undefined && existing.queue !== active.queue) unbind(c, existing);
      if (existing !== undefined || added.has(filter)) replaces = true;
      added.delete(filter);
      added.set(filter, state);
      ensureConsumer(c, active);
      if (!active.shared && active.retainHandling !== 2 && (active.retainHandling !== 1 || existing === undefined)) {
        if (active.matchFilter.startsWith('$SYS') || c.rt.retained.match(c.vhost, filter).length > 0) {
          job.retained.push({ sub: active, isNew: existing === undefined });
        }
      }
      job.granted.push(qos);
    } catch (err) {
      if (!isBrokerError(err)) throw err;
      c.log(`SUBSCRIBE to ${JSON.stringify(filter)} refused: ${err.message}`);
      if (deleteSub(c, filter)) replaces = true;
      // MQTT 5 as RabbitMQ 3.13: 0x87 for a permission or topic permission, 0x97 for the vhost's queue limit.
      job.granted.push(wireCodeFor(err, 'subscribe', v5));
    }
  }
  // Re-subscribing moves a filter to the end of the session's list; new filters are appended.
  if (replaces) session.subscriptions = session.subscriptions.filter((s) => !added.has(s.filter) && c.subs.has(s.filter));
  if (added.size > 0) {
    const list = sessionSubscriptionsW(session);
    for (const s of added.values()) list.push(s);
  }
  if (added.size > 0 || replaces) c.rt.sessions.changed(session);
  return true;
}

/** SUBACK for a handled SUBSCRIBE, then the retained messages of its new subscriptions. */
export function answerSubscribe(c: MqttConnection, job: SubscribeJob): void {
  recountNoLocal(c);
  if (job.invalid > 0) {
    c.log(`SUBSCRIBE to an invalid filter ${job.firstInvalid ?? ''}${job.invalid > 1 ? ` and ${job.invalid - 1} more` : ''}`);
  }
  if (job.overCap > 0) {
    c.log(`SUBSCRIBE: ${job.overCap} filter(s) refused, the session has its maximum of ${c.rt.limits.maxSubscriptions} subscriptions`);
  }
  // [MQTT-3.8.4-1] SUBACK with the same packet id; [MQTT-3.8.4-5] one code per filter in order.
  c.send({ cmd: 'suback', messageId: job.packet.messageId ?? 0, granted: job.granted });
  // [MQTT-3.8.4-4] retained messages after the SUBACK; MQTT 5 Retain Handling 1 = only for a new subscription,
  // 2 = never; never for shared subscriptions (MQTT 5 §4.8.2). Only the subscriptions that may have some were
  // kept (#subscribeSlice), so a huge SUBSCRIBE without retained messages costs nothing here.
  for (const { sub } of job.retained) {
    // The broker statistics are retained in Mosquitto: a `$SYS` subscriber gets the current values at once.
    if (sub.matchFilter.startsWith('$SYS')) {
      const ids = sub.identifier !== undefined ? [sub.identifier] : undefined;
      for (const e of c.rt.sysEntries(c.vhost)) {
        if (topicMatches(sub.matchFilter, e.topic)) sendPublish(c, e.topic, e.message, 0, true, false, ids, undefined, undefined);
      }
    }
    const now = Date.now();
    for (const r of c.rt.retained.match(c.vhost, sub.filter, now)) {
      const qos = Math.min(sub.qos, r.qos) as QoS;
      const ids = sub.identifier !== undefined ? [sub.identifier] : undefined;
      // MQTT 5 §3.3.2.3.3: a retained message goes out with the expiry interval it has left.
      const expirySeconds = r.expiresAt === undefined ? undefined : Math.ceil((r.expiresAt - now) / 1000);
      // [MQTT-3.3.1-8] retained messages sent on subscribe carry RETAIN=1.
      sendPublish(c, r.topic, r.message, qos, true, false, ids, undefined, undefined, expirySeconds);
    }
  }
}

export function onUnsubscribe(c: MqttConnection, packetId: number, filters: string[]): void {
  const codes: number[] = [];
  const session = c.session as SessionState;
  for (const filter of filters) {
    const s = c.subs.get(filter);
    if (s === undefined) {
      codes.push(ReasonCode.NoSubscriptionExisted);
      continue;
    }
    // Another filter may bind the same key on the same queue; unbind only the last one.
    const sameKey = (c.bindingRefs.get(s.queue + '\u0000' + s.bindingKey) ?? 0) > 1;
    deleteSub(c, filter);
    if (!sameKey) unbind(c, s);
    codes.push(ReasonCode.Success);
  }
  session.subscriptions = session.subscriptions.filter((s) => c.subs.has(s.filter));
  recountNoLocal(c);
  c.rt.sessions.changed(session);
  // [MQTT-3.10.4-4] UNSUBACK with the same packet id.
  if (c.version === 5) c.send({ cmd: 'unsuback', messageId: packetId, granted: codes });
  else c.send({ cmd: 'unsuback', messageId: packetId } as Packet);
  spendTurn(c, filters.length);
}

export function recountNoLocal(c: MqttConnection): void {
  c.hasSys = c.sysSubs > 0;
  const has = c.noLocalSubs > 0;
  if (has !== c.hasNoLocal) {
    c.rt.noLocalCount += has ? 1 : -1;
    c.hasNoLocal = has;
  }
}
