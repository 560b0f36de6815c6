/** MQTT on 1883 and 8883, and over WebSocket (web-mqtt) on 15675 and 15676: one service for all four. */
import { createMqttService, type MqttService } from '@warren/mqtt';
import { listenWebMqtt } from '@warren/web-mqtt';
import type { ProtocolModule } from './protocol-module.js';

export const mqttProtocol: ProtocolModule<MqttService> = {
  protocol: 'mqtt',
  tcp: { name: 'mqtt', portKey: 'mqtt', port: (config) => config.mqtt.port },
  tls: { name: 'mqtts', portKey: 'mqtts', label: 'MQTTS', port: (config) => config.mqtt.tlsPort },
  web: {
    name: 'web-mqtt',
    tlsName: 'web-mqtt-tls',
    portKey: 'webMqtt',
    tlsPortKey: 'webMqttTls',
    section: (config) => config.webMqtt,
    listen: (service, base, config) =>
      listenWebMqtt(service, {
        ...base,
        path: config.webMqtt.path,
        maxPayload: config.mqtt.maxPacketSize,
        allowedOrigins: config.webMqtt.allowedOrigins,
        trustProxy: config.webMqtt.trustProxy,
      }),
  },
  createService: ({ broker, logger, config }) =>
    createMqttService({
      broker,
      logger: logger.child({ component: 'mqtt' }),
      options: {
        maxFrameSize: config.mqtt.maxPacketSize,
        defaultVhost: config.mqtt.defaultVhost,
        exchange: config.mqtt.exchange,
        allowAnonymous: config.mqtt.allowAnonymous,
        // Its own credentials, never the broker's default user (an administrator): RabbitMQ's mqtt.default_user.
        anonymousUser: { username: config.mqtt.defaultUser, password: config.mqtt.defaultPass },
        maxOfflineMessages: config.mqtt.maxOfflineMessages,
        maxRetainedBytes: config.mqtt.maxRetainedBytes,
        maxSessionExpiry: config.mqtt.maxSessionExpiry,
        maxKeepAlive: config.mqtt.maxKeepAlive,
        maxSubscriptions: config.mqtt.maxSubscriptions,
        // One setting for every protocol's slow consumers (--slow-consumer-timeout).
        slowConsumerTimeoutMs: config.slowConsumerTimeoutMs,
        sysInterval: config.mqtt.sysInterval,
        sslCertLogin: config.mqtt.sslCertLogin,
        certLoginFrom: config.tls.certLoginFrom,
      },
      dataDir: config.dataDir,
    }),
};
