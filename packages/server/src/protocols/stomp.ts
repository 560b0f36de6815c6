/** STOMP on 61613 and 61614, and over WebSocket (web-stomp) on 15674 and 15673: one service for all four. */
import { createStompService, type StompService } from '@warren/stomp';
import { listenWebStomp } from '@warren/web-stomp';
import type { ProtocolModule } from './protocol-module.js';

export const stompProtocol: ProtocolModule<StompService> = {
  protocol: 'stomp',
  tcp: { name: 'stomp', portKey: 'stomp', port: (config) => config.stomp.port },
  tls: {
    name: 'stomps',
    portKey: 'stomps',
    label: 'STOMPS',
    port: (config) => config.stomp.tlsPort,
    handshakeTimeoutMs: (config) => config.stomp.connectTimeoutMs,
  },
  web: {
    name: 'web-stomp',
    tlsName: 'web-stomp-tls',
    portKey: 'webStomp',
    tlsPortKey: 'webStompTls',
    section: (config) => config.webStomp,
    listen: (service, base, config) =>
      listenWebStomp(service, {
        ...base,
        path: config.webStomp.path,
        maxPayload: config.stomp.maxFrameSize,
        // Not binary: text frames, and binary ones for bodies that are not UTF-8.
        messageType: config.webStomp.binaryFrames ? 'binary' : 'auto',
        allowedOrigins: config.webStomp.allowedOrigins,
        trustProxy: config.webStomp.trustProxy,
        // The deadline for the TLS handshake and the HTTP upgrade request.
        tlsHandshakeTimeoutMs: config.stomp.connectTimeoutMs,
      }),
  },
  createService: ({ broker, logger, config }) =>
    createStompService({
      broker,
      logger: logger.child({ component: 'stomp' }),
      options: {
        maxFrameSize: config.stomp.maxFrameSize,
        defaultVhost: config.stomp.defaultVhost,
        connectTimeoutMs: config.stomp.connectTimeoutMs,
        maxSubscriptions: config.stomp.maxSubscriptions,
        // One setting for every protocol's slow consumers (--slow-consumer-timeout).
        slowConsumerTimeoutMs: config.slowConsumerTimeoutMs,
        sslCertLogin: config.stomp.sslCertLogin,
        certLoginFrom: config.tls.certLoginFrom,
      },
      dataDir: config.dataDir,
    }),
};
