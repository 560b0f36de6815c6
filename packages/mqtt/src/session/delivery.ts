/**
 * Delivery to the client: a core delivery becomes a PUBLISH with the options of the subscriptions it came through;
 * outbound packet ids, in-flight QoS 1/2 deliveries (bounded by the client's Receive Maximum through the core's
 * prefetch) and their acknowledgements.
 */
import type { Delivery, Message } from '@warren/core';
import type { IPublishPacket, Packet, QoS } from 'mqtt-packet';
import { encodePublish } from '../codec/fast-path.js';
import { ReasonCode } from '../codec/reason-codes.js';
import { messageQos, messageToProperties, messageTopic, type PublishProperties } from '../mapping.js';
import { topicMatches } from '../topic.js';
import { Phase, type ActiveSubscription } from './state.js';
import type { MqttConnection } from './mqtt-connection.js';
import { persistQos2 } from './inbound-publish.js';
import { consumerSubscriptions, CONSUMER_QOS0 } from './subscription-queues.js';

export function sendDelivery(c: MqttConnection, d: Delivery): void {
  const ch = c.ch;
  if (ch === undefined || c.phase !== Phase.Connected) return;
  const message = d.message;
  const topic = messageTopic(message);
  const tag = d.consumerTag;
  // Which of its consumer's subscriptions does it match? (RabbitMQ: the queue's bindings; we also need their
  // options.) The core's trie routed it to the queue; the filters are matched again only among that consumer's
  // subscriptions, because overlapping filters on one queue each add their options, `$` topics match no leading
  // wildcard [MQTT-4.7.2-1] although AMQP's `#` does, and a queue may keep stale bindings.
  let qosCap: QoS = 0;
  let matched = false;
  let ids: number[] | undefined;
  let retainAsPublished = false;
  let allNoLocal = true;
  // A QoS 0 consumer has no acks; a shared queue's consumer follows its subscription's QoS.
  let noAck = tag === CONSUMER_QOS0;
  const subs = consumerSubscriptions(c, tag);
  const n = subs === undefined ? 0 : subs.length;
  for (let i = 0; i < n; i++) {
    const s = (subs as readonly ActiveSubscription[])[i] as ActiveSubscription;
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
  if (!matched || (allNoLocal && c.rt.origin.get(message) === c)) {
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
  const retain = retainAsPublished && c.rt.retainedMessages.has(message);
  sendPublish(c, topic, message, qos, retain, d.redelivered, ids, qos > 0 ? ackTag : undefined, ackTag, expirySeconds);
}

/**
 * Encode and write one PUBLISH. For QoS ≥ 1, `deliveryTag` is the core delivery to settle on PUBACK/PUBREC;
 * `ackTag` is the one to ack at once when it goes out at QoS 0 or is discarded (undefined: nothing to ack);
 * `expirySeconds`, the Message Expiry Interval left after waiting in a queue (MQTT 5).
 */
export function sendPublish(
  c: MqttConnection,
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
  const v5 = c.version === 5;
  let properties: PublishProperties | undefined;
  let wireTopic = topic;
  if (v5) {
    properties = messageToProperties(message);
    if (expirySeconds !== undefined && properties !== undefined) properties.messageExpiryInterval = expirySeconds;
    if (ids !== undefined) (properties ??= {}).subscriptionIdentifier = ids.length === 1 ? (ids[0] as number) : ids;
    if (c.clientTopicAliasMax > 0) {
      const alias = c.outAliases.get(topic);
      if (alias !== undefined) {
        (properties ??= {}).topicAlias = alias;
        wireTopic = '';
      } else if (c.outAliases.size < c.clientTopicAliasMax) {
        const next = c.outAliases.size + 1;
        c.outAliasesW().set(topic, next);
        (properties ??= {}).topicAlias = next;
      }
    }
  }
  let messageId: number | undefined;
  if (qos > 0) messageId = allocatePacketId(c);
  let buf: Buffer;
  if (properties === undefined) {
    // The common case (every 3.1.1 PUBLISH): the fast encoder, byte-identical to mqtt-packet's.
    buf = encodePublish(c.version, wireTopic, message.body, qos, retain, qos > 0 && dup, messageId);
  } else {
    const packet: IPublishPacket = { cmd: 'publish', topic: wireTopic, payload: message.body, qos, retain, dup: qos > 0 && dup, properties };
    if (messageId !== undefined) packet.messageId = messageId;
    buf = c.encode(packet);
  }
  if (c.clientMaxPacketSize > 0 && buf.length > c.clientMaxPacketSize) {
    // [MQTT-3.1.2-25] a packet over the client's Maximum Packet Size is discarded as if delivered.
    if (messageId !== undefined) releasePacketId(c, messageId);
    if (ackTag !== undefined) c.ch?.ack(ackTag, false);
    return;
  }
  c.rt.stats.publishOut++;
  c.rt.stats.publishBytesOut += message.body.length;
  if (messageId !== undefined) c.outboundW().push(messageId, { deliveryTag: deliveryTag ?? -1, qos, step: c.idStep - 1 });
  else if (ackTag !== undefined) c.ch?.ack(ackTag, false);
  if (c.capture !== undefined) c.capture.push(buf);
  else c.io.write(buf);
}

export function allocatePacketId(c: MqttConnection): number {
  // Packet ids in use: awaiting PUBACK/PUBREC, or PUBCOMP ([MQTT-2.2.1-3]).
  for (let i = 0; i < 65535; i++) {
    const id = c.nextPacketId;
    c.nextPacketId = id === 65535 ? 1 : id + 1;
    const step = c.idStep++;
    // Every step advances the id by one (mod 65,535), so an id in flight can come round again only once its
    // allocation is 65,535 steps old: below that (the usual case) no search of the in-flight list is needed.
    const oldest = c.outbound?.first;
    const mayBeInFlight = oldest !== undefined && step - oldest.step >= 65535;
    if (mayBeInFlight && c.outbound?.has(id) === true) continue;
    if (!c.pubrel.has(id)) return id;
  }
  throw new Error('no free packet identifier');
}

export function releasePacketId(c: MqttConnection, id: number): void {
  c.outbound?.delete(id);
}

export function onPuback(c: MqttConnection, packetId: number): void {
  const o = c.outbound?.get(packetId);
  if (o === undefined || o.qos !== 1) return; // Unknown ids are ignored, as Mosquitto does.
  c.outbound?.delete(packetId);
  if (o.deliveryTag >= 0) c.ch?.ack(o.deliveryTag, false);
}

export function onPubrec(c: MqttConnection, packetId: number, reason: number): void {
  const o = c.outbound?.get(packetId);
  if (o === undefined || o.qos !== 2) {
    if (c.version === 5) c.send({ cmd: 'pubrel', messageId: packetId, reasonCode: ReasonCode.PacketIdentifierNotFound });
    return;
  }
  c.outbound?.delete(packetId);
  // The receiver owns the message now: settle it in the core.
  if (o.deliveryTag >= 0) c.ch?.ack(o.deliveryTag, false);
  if (reason >= 0x80) return; // MQTT 5: a failed PUBREC ends the flow.
  c.pubrelW().add(packetId);
  persistQos2(c);
  c.send({ cmd: 'pubrel', messageId: packetId });
}

export function onPubcomp(c: MqttConnection, packetId: number): void {
  if (c.pubrel.delete(packetId)) persistQos2(c);
}

/**
 * The `$SYS` interval came: send the broker statistics to this connection's `$SYS` subscriptions, at QoS 0 as
 * Mosquitto does. Never to `#` or `+/...` subscriptions [MQTT-4.7.2-1]; these messages do not go through the core.
 */
export function publishSys(c: MqttConnection): void {
  if (!c.hasSys || c.phase !== Phase.Connected) return;
  for (const e of c.rt.sysEntries(c.vhost)) {
    let matched = false;
    let ids: number[] | undefined;
    for (const s of c.subs.values()) {
      if (s.shared || !s.matchFilter.startsWith('$SYS') || !topicMatches(s.matchFilter, e.topic)) continue;
      matched = true;
      if (s.identifier !== undefined) (ids ??= []).push(s.identifier);
    }
    if (matched) sendPublish(c, e.topic, e.message, 0, false, false, ids, undefined, undefined);
  }
}
