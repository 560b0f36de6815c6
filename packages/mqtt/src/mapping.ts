/**
 * MQTT PUBLISH ⇄ core message (DESIGN.md §4). RabbitMQ's MQTT plugin is the reference for the AMQP side:
 * headers `x-mqtt-publish-qos` and `x-mqtt-dup`, delivery mode 2 for QoS ≥ 1, `/` ⇄ `.` in routing keys.
 * MQTT 5 properties: user properties ⇄ headers; Message Expiry Interval (s) ⇄ expiration (ms); Content Type ⇄
 * content_type; Correlation Data ⇄ correlation_id; Response Topic ⇄ header `x-reply-to-topic` (as an MQTT topic).
 */
import type { FieldTable, FieldValue, Message, MessageProperties } from '@warren/core';
import { headerText } from '@warren/core';
import type { IPublishPacket, QoS, UserProperties } from 'mqtt-packet';
import { routingKeyToTopic, topicToRoutingKey } from './topic.js';

/** Header carrying the publisher's QoS, as RabbitMQ sets it. */
export const QOS_HEADER = 'x-mqtt-publish-qos';
/** Header carrying the DUP flag of the PUBLISH, as RabbitMQ sets it. */
export const DUP_HEADER = 'x-mqtt-dup';
/** Header carrying an MQTT 5 Response Topic (DESIGN.md §4). */
export const REPLY_TO_TOPIC_HEADER = 'x-reply-to-topic';
/** Header carrying an MQTT 5 Payload Format Indicator (1 = UTF-8 text). */
export const PAYLOAD_FORMAT_HEADER = 'x-mqtt-payload-format-indicator';

/** The MQTT 5 properties of a PUBLISH that Warren maps (a subset of mqtt-packet's). */
export type PublishProperties = NonNullable<IPublishPacket['properties']>;

/**
 * Build the core message for an inbound PUBLISH (or a will). `topic` is already resolved from any alias.
 * `payloadOwned`: the payload is already a copy of its own (the fast path's), so it is kept as the body.
 */
export function publishToMessage(
  exchange: string,
  topic: string,
  payload: Buffer,
  qos: QoS,
  dup: boolean,
  props: PublishProperties | undefined,
  payloadOwned = false,
): Message {
  const headers: FieldTable = {};
  const properties: MessageProperties = { headers, deliveryMode: qos > 0 ? 2 : 1 };
  if (props !== undefined) {
    const user = props.userProperties;
    if (user !== undefined) {
      for (const name of Object.keys(user)) {
        const v = user[name] as string | string[];
        headers[name] = Array.isArray(v) ? [...v] : v;
      }
    }
    if (props.contentType !== undefined) properties.contentType = props.contentType;
    if (props.correlationData !== undefined) properties.correlationId = props.correlationData.toString('utf8');
    if (props.responseTopic !== undefined) headers[REPLY_TO_TOPIC_HEADER] = props.responseTopic;
    if (props.messageExpiryInterval !== undefined) {
      properties.expiration = String(props.messageExpiryInterval * 1000);
    }
    if (props.payloadFormatIndicator === true) headers[PAYLOAD_FORMAT_HEADER] = 1;
  }
  headers[QOS_HEADER] = qos;
  headers[DUP_HEADER] = dup;
  return {
    exchange,
    routingKey: topicToRoutingKey(topic),
    properties,
    rawProperties: undefined,
    // Copy: the payload is a view of the socket chunk and the message outlives it (STYLE.md "copy what you keep").
    body: payloadOwned ? payload : Buffer.from(payload),
  };
}

/** The QoS a message was published with: RabbitMQ's header, else persistent → 1, transient → 0. */
export function messageQos(message: Message): QoS {
  const h = message.properties.headers?.[QOS_HEADER];
  if (typeof h === 'number' && (h === 0 || h === 1 || h === 2)) return h;
  return message.properties.deliveryMode === 2 ? 1 : 0;
}

/** The MQTT topic of a core message: its routing key with `.` ⇄ `/`. */
export function messageTopic(message: Message): string {
  return routingKeyToTopic(message.routingKey);
}

/**
 * A header value as MQTT user-property text: the core's one rule for text headers, shared with STOMP (byte arrays
 * base64, timestamps in epoch seconds, tables and arrays as JSON).
 */
export { headerText };

/** The MQTT 5 PUBLISH properties for a core message (3.1.1 subscribers get none). */
export function messageToProperties(message: Message): PublishProperties | undefined {
  const p = message.properties;
  let out: PublishProperties | undefined;
  const headers = p.headers;
  if (headers !== undefined) {
    let user: UserProperties | undefined;
    // for…in, not Object.keys: this runs for every MQTT 5 delivery and every message has at least two headers.
    for (const name in headers) {
      if (name === QOS_HEADER || name === DUP_HEADER) continue;
      const v = headers[name] as FieldValue;
      if (name === REPLY_TO_TOPIC_HEADER) {
        (out ??= {}).responseTopic = headerText(v);
        continue;
      }
      if (name === PAYLOAD_FORMAT_HEADER) {
        (out ??= {}).payloadFormatIndicator = v === 1 || v === true;
        continue;
      }
      user ??= {};
      user[name] = Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : headerText(v);
    }
    if (user !== undefined) (out ??= {}).userProperties = user;
  }
  if (p.contentType !== undefined) (out ??= {}).contentType = p.contentType;
  if (p.correlationId !== undefined) (out ??= {}).correlationData = Buffer.from(p.correlationId, 'utf8');
  if (p.expiration !== undefined) {
    const ms = Number(p.expiration);
    if (Number.isFinite(ms)) (out ??= {}).messageExpiryInterval = Math.max(1, Math.ceil(ms / 1000));
  }
  return out;
}
