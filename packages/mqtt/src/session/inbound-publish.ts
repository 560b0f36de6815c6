/**
 * PUBLISH from the client into the core, with its QoS 1 (PUBACK on the core's confirm) and QoS 2 (PUBREC, PUBREL,
 * PUBCOMP) flows, topic aliases and retained messages.
 */
import { isUtf8 } from 'node:buffer';
import { isBrokerError, type CoreChannel } from '@warren/core';
import type { IPublishPacket, Packet, QoS } from 'mqtt-packet';
import { encodePuback } from '../codec/fast-path.js';
import { ReasonCode } from '../codec/reason-codes.js';
import { reasonCodeFor } from '../errors.js';
import { publishToMessage } from '../mapping.js';
import { checkTopicName } from '../topic.js';
import type { MqttConnection } from './mqtt-connection.js';

export function onPublish(c: MqttConnection, p: IPublishPacket): void {
  const ch = c.ch as CoreChannel;
  c.rt.stats.publishIn++;
  const v5 = c.version === 5;
  let topic = p.topic;
  const alias = p.properties?.topicAlias;
  if (alias !== undefined) {
    // MQTT 5 §3.3.2.3.4: 0 or above our Topic Alias Maximum is invalid.
    if (alias === 0 || alias > c.rt.limits.topicAliasMaximum) {
      c.protocolError(ReasonCode.TopicAliasInvalid, `topic alias ${alias} out of range`);
      return;
    }
    if (topic === '') {
      const known = c.inAliases.get(alias);
      if (known === undefined) {
        c.protocolError(ReasonCode.ProtocolError, `unknown topic alias ${alias}`);
        return;
      }
      topic = known;
    } else {
      c.inAliasesW().set(alias, topic);
    }
  }
  const bad = checkTopicName(topic);
  if (bad !== undefined) {
    // [MQTT-3.3.2-2] no wildcards in a topic name; [MQTT-4.7.3-1] not empty.
    c.protocolError(bad === 'empty' && v5 ? ReasonCode.ProtocolError : ReasonCode.TopicNameInvalid, `invalid topic name (${bad})`);
    return;
  }
  const qos = p.qos;
  const packetId = p.messageId ?? 0;
  if (qos === 2 && c.qos2In.has(packetId)) {
    // [MQTT-4.3.3-10] a resent QoS 2 PUBLISH is not delivered again; answer PUBREC again.
    c.send({ cmd: 'pubrec', messageId: packetId });
    return;
  }
  if (qos > 0 && (c.pendingIds.has(packetId) || c.qos2In.has(packetId))) {
    // [MQTT-2.2.1-3] a packet id stays in use until its acknowledgement flow ends; reusing it earlier is a
    // protocol error (a QoS 2 resend of the same id is handled above).
    c.protocolError(ReasonCode.ProtocolError, `packet identifier ${packetId} reused while in flight`);
    return;
  }
  if (qos > 0) {
    // [MQTT-3.3.4-7] the client must not exceed our Receive Maximum: QoS 1 PUBLISHes not yet PUBACKed plus QoS 2
    // ones not yet PUBCOMPed (PUBREC sent, PUBREL awaited) ([MQTT-4.9.0-2]).
    if (v5 && c.inflightIn + c.qos2In.size >= c.rt.limits.receiveMaximum) {
      c.protocolError(ReasonCode.ReceiveMaximumExceeded, 'receive maximum exceeded');
      return;
    }
  }
  const props = v5 ? p.properties : undefined;
  if (props?.subscriptionIdentifier !== undefined) {
    // [MQTT-3.3.4-6] a client must not send a Subscription Identifier.
    c.protocolError(ReasonCode.ProtocolError, 'PUBLISH with a subscription identifier');
    return;
  }
  const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
  c.rt.stats.publishBytesIn += payload.length;
  if (props?.payloadFormatIndicator === true && !isUtf8(payload)) {
    c.protocolError(ReasonCode.PayloadFormatInvalid, 'payload is not UTF-8 as its format indicator says');
    return;
  }
  const message = publishToMessage(c.rt.options.exchange, topic, payload, qos, p.dup, props, c.reader.isScratch(p));
  if (c.rt.noLocalCount > 0) c.rt.origin.set(message, c);
  if (p.retain) {
    // Refused before it is routed when it cannot be retained within the byte cap (it is stored after the core
    // accepted it, below).
    if (c.rt.retained.wouldExceed(c.vhost, topic, message)) {
      retainedQuotaExceeded(c, topic, qos, packetId, v5);
      return;
    }
    // Marked before the publish, whose deliveries may happen at once (Retain As Published reads the mark).
    c.rt.retainedMessages.add(message);
  }
  let sequence: number | undefined;
  if (qos === 1) {
    sequence = c.nextSequence++;
    c.publishingSeq = sequence;
    c.publishingId = packetId;
    c.inflightIn++;
  }
  try {
    if (sequence !== undefined) {
      ch.publish(message, { sequence });
      if (c.publishingSeq === sequence) {
        // Not confirmed yet (a durable queue's write): PUBACK when the core confirms.
        c.publishingSeq = -1;
        c.pendingAcksW().set(sequence, packetId);
        c.pendingIdsW().add(packetId);
      }
    } else ch.publish(message, {});
  } catch (err) {
    if (!isBrokerError(err)) throw err;
    if (sequence !== undefined) {
      if (c.publishingSeq === sequence) c.publishingSeq = -1;
      else {
        c.pendingAcks.delete(sequence);
        c.pendingIds.delete(packetId);
      }
      c.inflightIn--;
    }
    if (v5 && qos > 0) {
      const reason = reasonCodeFor(err, 'publish');
      c.log(`PUBLISH refused: ${err.message}`);
      const ack = c.encodeWithReason({ cmd: qos === 1 ? 'puback' : 'pubrec', messageId: packetId, reasonCode: reason } as Packet, err.message);
      if (c.capture !== undefined) c.capture.push(ack);
      else c.io.write(ack);
      return;
    }
    // RabbitMQ closes a 3.1.1 connection whose publish is refused.
    c.disconnect(reasonCodeFor(err, 'publish'), `PUBLISH refused: ${err.message}`);
    return;
  }
  if (p.retain) {
    // [MQTT-3.3.1-5] store (or, for an empty payload, clear [MQTT-3.3.1-10]) the retained message: only once the
    // core accepted the publish, so a refused one (permissions, topic permissions) neither sets nor clears it.
    if (!c.rt.retained.set(c.vhost, topic, qos, message)) c.log(`retained message for ${topic} not kept: the retained byte cap was reached meanwhile`);
  }
  if (qos === 2) {
    c.qos2InW().add(packetId);
    persistQos2(c);
    c.send({ cmd: 'pubrec', messageId: packetId });
  }
}

/**
 * A retained PUBLISH past the retained-bytes cap is refused whole (neither retained nor routed): MQTT 5 answers QoS
 * 1/2 with 0x97 Quota exceeded and closes a QoS 0 sender with DISCONNECT 0x97 (it has no ack to carry a reason);
 * MQTT 3.1.1 has no way to refuse a PUBLISH, so the connection is closed, as RabbitMQ does for a refused publish.
 * (Mosquitto has no such cap: its retained messages grow until memory runs out.)
 */
export function retainedQuotaExceeded(c: MqttConnection, topic: string, qos: number, packetId: number, v5: boolean): void {
  const text = `retained messages are at their cap of ${c.rt.retained.maxBytes} bytes`;
  if (v5 && qos > 0) {
    c.log(`retained PUBLISH to '${topic}' refused: ${text}`);
    const ack = c.encodeWithReason({ cmd: qos === 1 ? 'puback' : 'pubrec', messageId: packetId, reasonCode: ReasonCode.QuotaExceeded } as Packet, text);
    if (c.capture !== undefined) c.capture.push(ack);
    else c.io.write(ack);
    return;
  }
  c.disconnect(ReasonCode.QuotaExceeded, `retained PUBLISH to '${topic}' refused: ${text}`);
}

export function onPubrel(c: MqttConnection, packetId: number): void {
  const known = c.qos2In.delete(packetId);
  if (known) persistQos2(c);
  // [MQTT-4.3.3-11] PUBCOMP; MQTT 5 says 0x92 when the id is unknown.
  if (c.version === 5 && !known) c.send({ cmd: 'pubcomp', messageId: packetId, reasonCode: ReasonCode.PacketIdentifierNotFound });
  else c.send({ cmd: 'pubcomp', messageId: packetId });
}

export function persistQos2(c: MqttConnection): void {
  const s = c.session;
  if (s === undefined || s.expiry === 0) return;
  s.qos2Inbound = [...c.qos2In];
  s.qos2Pubrel = [...c.pubrel];
  c.rt.sessions.changed(s);
}

/** The core confirmed (or refused, by a queue limit) the QoS 1 PUBLISH of `sequence`: PUBACK it. */
export function confirmPublish(c: MqttConnection, sequence: number, ack: boolean): void {
  let packetId: number | undefined;
  if (sequence === c.publishingSeq) {
    packetId = c.publishingId;
    c.publishingSeq = -1;
  } else {
    packetId = c.pendingAcks.get(sequence);
    if (packetId === undefined) return;
    c.pendingAcks.delete(sequence);
    c.pendingIds.delete(packetId);
  }
  c.inflightIn--;
  // The core refused it (a queue limit): MQTT 5 can say so; 3.1.1 has no negative PUBACK.
  if (ack) {
    const buf = encodePuback(packetId);
    if (c.capture !== undefined) c.capture.push(buf);
    // A PUBACK confirmed while an earlier reply waits for the disk goes after it ([MQTT-4.6.0-2] order).
    else if (c.barrier !== undefined) c.barrier.hold(buf);
    else c.io.write(buf);
    return;
  }
  c.send({ cmd: 'puback', messageId: packetId, reasonCode: ReasonCode.QuotaExceeded } as Packet);
}
