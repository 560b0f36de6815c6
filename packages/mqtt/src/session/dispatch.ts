/**
 * The packet dispatcher of one MQTT connection: each packet the reader decoded goes to its family's handler
 * (connect.ts, inbound-publish.ts, delivery.ts, subscriptions.ts), and every packet a client must not send is a
 * protocol error.
 */
import mqttPacket, { type Packet } from 'mqtt-packet';
import { ReasonCode, Connack311 } from '../codec/reason-codes.js';
import { unreadableField } from '../codec/unreadable-field.js';
import { Phase } from './state.js';
import type { MqttConnection } from './mqtt-connection.js';
import { onConnect, onDisconnect, teardown } from './connect.js';
import { onPublish, onPubrel } from './inbound-publish.js';
import { onPuback, onPubrec, onPubcomp } from './delivery.js';
import { onSubscribe, onUnsubscribe } from './subscriptions.js';

/** {@link PacketSink}: mqtt-packet refused a packet. */
export function onParseError(c: MqttConnection, err: Error): void {
  if (c.phase === Phase.Closed) return;
  const text = err.message;
  if (c.phase === Phase.AwaitConnect && /protocol version/i.test(text)) {
    // [MQTT-3.1.2-2] unsupported level: CONNACK 0x01 (3.1.1) / 0x84 (5), then close.
    c.io.end(mqttPacket.generate({ cmd: 'connack', returnCode: Connack311.UnacceptableProtocolVersion, sessionPresent: false }, { protocolVersion: 4 }));
    c.log('unsupported MQTT protocol version');
    teardown(c);
    return;
  }
  if (/protocolId/i.test(text) && c.phase === Phase.AwaitConnect) {
    c.abort(`invalid protocol name: ${text}`, undefined);
    return;
  }
  c.protocolError(ReasonCode.MalformedPacket, `malformed packet: ${text}`);
}

export function dispatch(c: MqttConnection, packet: Packet): void {
  // mqtt-packet leaves a property it could not read as null, and a packet identifier cut short as -1, instead of
  // failing the packet: that is a malformed packet (MQTT 5 §4.13), refused here before any handler trusts it.
  const unreadable = unreadableField(packet);
  if (unreadable !== undefined) {
    c.protocolError(ReasonCode.MalformedPacket, `malformed ${packet.cmd.toUpperCase()}: unreadable ${unreadable}`);
    return;
  }
  if (c.phase === Phase.AwaitConnect) {
    // [MQTT-3.1.0-1] the first packet must be CONNECT.
    if (packet.cmd !== 'connect') {
      c.abort(`first packet was ${packet.cmd}, not CONNECT`, undefined);
      return;
    }
    onConnect(c, packet);
    return;
  }
  switch (packet.cmd) {
    case 'publish':
      onPublish(c, packet);
      return;
    case 'puback':
      onPuback(c, packet.messageId ?? 0);
      return;
    case 'pubrec':
      onPubrec(c, packet.messageId ?? 0, packet.reasonCode ?? 0);
      return;
    case 'pubrel':
      onPubrel(c, packet.messageId ?? 0);
      return;
    case 'pubcomp':
      onPubcomp(c, packet.messageId ?? 0);
      return;
    case 'subscribe':
      // [MQTT-3.8.3-3] at least one filter (mqtt-packet parses an empty list, and then cannot encode its SUBACK).
      if (packet.subscriptions.length === 0) {
        c.protocolError(ReasonCode.ProtocolError, 'SUBSCRIBE without a topic filter');
        return;
      }
      onSubscribe(c, packet);
      return;
    case 'unsubscribe':
      // [MQTT-3.10.3-2] at least one filter.
      if (packet.unsubscriptions.length === 0) {
        c.protocolError(ReasonCode.ProtocolError, 'UNSUBSCRIBE without a topic filter');
        return;
      }
      onUnsubscribe(c, packet.messageId ?? 0, packet.unsubscriptions);
      return;
    case 'pingreq':
      // [MQTT-3.12.4-1]
      c.send({ cmd: 'pingresp' });
      return;
    case 'disconnect':
      onDisconnect(c, packet.reasonCode ?? 0, packet.properties?.sessionExpiryInterval);
      return;
    case 'connect':
      // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
      c.protocolError(ReasonCode.ProtocolError, 'second CONNECT');
      return;
    case 'auth':
      // Enhanced authentication is not offered, so an AUTH packet is a protocol error (MQTT 5 §4.12).
      c.protocolError(ReasonCode.ProtocolError, 'AUTH without an authentication method');
      return;
    case 'connack':
    case 'suback':
    case 'unsuback':
    case 'pingresp':
      c.protocolError(ReasonCode.ProtocolError, `${packet.cmd} sent by a client`);
      return;
    default: {
      const never: never = packet;
      c.protocolError(ReasonCode.MalformedPacket, `unknown packet ${String((never as Packet).cmd)}`);
    }
  }
}
