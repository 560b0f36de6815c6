/**
 * @warren/web-mqtt: MQTT over WebSocket (RabbitMQ's web_mqtt: port 15675, path /ws, subprotocols mqtt and
 * mqttv3.1). No MQTT logic here: each WebSocket becomes a byte stream handed to the MQTT adapter, whose codec reads
 * packets split across or packed into WebSocket messages exactly as it does on TCP.
 */
import type { MqttService } from '@warren/mqtt';
import { listenWebProtocol, type Listener, type WebProtocol, type WebProtocolListenerOptions } from '@warren/transport';
import { EXAMPLES_DIR } from './examples.js';

export { bundleExamples, EXAMPLES_DIR } from './examples.js';

/**
 * 'mqtt' (MQTT 3.1.1 §6 and MQTT 5.0 §6: "MUST be mqtt") and 'mqttv3.1' (what MQTT 3.1 clients such as older
 * Paho JavaScript offer).
 */
export const WEB_MQTT_SUBPROTOCOLS: readonly string[] = ['mqtt', 'mqttv3.1'];

/** RabbitMQ's ports: 15675 (ws://), 15676 (wss://). */
export const WEB_MQTT_PORT = 15675;
export const WEB_MQTT_TLS_PORT = 15676;

/** RabbitMQ's mqtt.max_packet_size_unauthenticated (64 KiB): the largest WebSocket message before CONNECT. */
export const WEB_MQTT_MAX_PAYLOAD_BEFORE_CONNECT = 65536;

/** Where and how to listen: transport's shared web listener options. */
export type WebMqttOptions = WebProtocolListenerOptions;

const WEB_MQTT: WebProtocol = {
  name: 'web-mqtt',
  protocol: 'mqtt',
  subprotocols: WEB_MQTT_SUBPROTOCOLS,
  maxPayloadBeforeConnect: WEB_MQTT_MAX_PAYLOAD_BEFORE_CONNECT,
  // MQTT 3.1.1 §6 [MQTT-6.0.0-1]: MQTT control packets MUST be sent in WebSocket binary data frames.
  messageType: 'binary',
  acceptText: false,
  examplesDir: EXAMPLES_DIR,
};

/** Bind a web-mqtt listener whose connections are served by `service` (the MQTT adapter). */
export function listenWebMqtt(service: Pick<MqttService, 'handleConnection'>, options: WebMqttOptions): Promise<Listener> {
  return listenWebProtocol(service, WEB_MQTT, options);
}
