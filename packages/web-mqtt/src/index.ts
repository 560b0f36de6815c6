/**
 * @warren/web-mqtt: MQTT over WebSocket (RabbitMQ's web_mqtt: port 15675, path /ws, subprotocols mqtt and
 * mqttv3.1). No MQTT logic here: each WebSocket becomes a byte stream handed to the MQTT adapter, whose codec reads
 * packets split across or packed into WebSocket messages exactly as it does on TCP.
 */
import type { MqttService } from '@warren/mqtt';
import {
  listenWebSocket,
  serveStaticFiles,
  type Listener,
  type TlsOptions,
  type WebSocketListenerOptions,
} from '@warren/transport';
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

/** Where and how to listen. */
export interface WebMqttOptions {
  /** Listener name in logs and connection ids. Default 'web-mqtt' ('web-mqtt-tls' with `tls`). */
  name?: string;
  host?: string;
  port: number;
  /** Default '/ws'. */
  path?: string;
  tls?: TlsOptions;
  tlsHandshakeTimeoutMs?: number;
  /**
   * Largest inbound WebSocket message before the client's CONNECT is accepted. Default
   * {@link WEB_MQTT_MAX_PAYLOAD_BEFORE_CONNECT}: ws buffers a whole message before the adapter sees a byte, so
   * without it a client that never logs in could make the server hold `maxPayload` bytes.
   */
  maxPayloadBeforeConnect?: number;
  /** Connections held before their client logged in; more are closed as they arrive. Default 1000. */
  maxUnauthenticated?: number;
  /** Largest inbound WebSocket message: the MQTT adapter's packet limit. */
  maxPayload: number;
  allowedOrigins?: readonly string[];
  trustProxy?: boolean;
  pingIntervalMs?: number;
  /** Serve the example page at '/'. Default true. */
  examples?: boolean;
  onError?: NonNullable<WebSocketListenerOptions['onError']>;
}

/** Bind a web-mqtt listener whose connections are served by `service` (the MQTT adapter). */
export function listenWebMqtt(
  service: Pick<MqttService, 'handleConnection'>,
  options: WebMqttOptions,
): Promise<Listener> {
  const { name, examples, maxPayloadBeforeConnect, ...rest } = options;
  const wsOptions: WebSocketListenerOptions = {
    ...rest,
    maxPayloadBeforeAuth: maxPayloadBeforeConnect ?? WEB_MQTT_MAX_PAYLOAD_BEFORE_CONNECT,
    name: name ?? (options.tls !== undefined ? 'web-mqtt-tls' : 'web-mqtt'),
    protocol: 'mqtt',
    subprotocols: WEB_MQTT_SUBPROTOCOLS,
    // MQTT 3.1.1 §6 [MQTT-6.0.0-1]: MQTT control packets MUST be sent in WebSocket binary data frames.
    messageType: 'binary',
    acceptText: false,
  };
  if (examples !== false) {
    wsOptions.onRequest = serveStaticFiles(EXAMPLES_DIR, 'The web-mqtt example page is not built: run npm run build.');
  }
  return listenWebSocket(wsOptions, (stream, info) => service.handleConnection(stream, info));
}
