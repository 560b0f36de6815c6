/**
 * AMQP 0-9-1 on 5672 and 5671 (no WebSocket listener). The service is the adapter's (or, for a test that passes
 * `StartOptions.amqpHandler`, that handler over a connection registry); its close tells every client why
 * (320 CONNECTION_FORCED) and waits briefly for their answer.
 */
import { AmqpConnectionRegistry, createAmqpService, type AmqpServiceContext } from '@warren/amqp';
import type { ProtocolModule, ServerService } from './protocol-module.js';

/** How long a stopping broker waits for clients to answer its connection.close (RabbitMQ-like, brief). */
export const SHUTDOWN_CLOSE_TIMEOUT_MS = 3000;

export const amqpProtocol: ProtocolModule<ServerService> = {
  protocol: 'amqp',
  alwaysOn: true,
  tcp: { name: 'amqp', portKey: 'amqp', port: (config) => config.amqp.port },
  tls: {
    name: 'amqps',
    portKey: 'amqps',
    label: 'AMQPS',
    port: (config) => config.amqp.tlsPort,
    handshakeTimeoutMs: (config) => config.amqp.handshakeTimeoutMs,
  },
  createService({ broker, logger, config, startOptions }) {
    const connections = new AmqpConnectionRegistry();
    const ctx: AmqpServiceContext = {
      broker,
      logger: logger.child({ component: 'amqp' }),
      options: {
        frameMax: config.amqp.frameMax,
        channelMax: config.amqp.channelMax,
        heartbeat: config.amqp.heartbeat,
        maxMessageSize: config.amqp.maxMessageSize,
        handshakeTimeoutMs: config.amqp.handshakeTimeoutMs,
        slowConsumerTimeoutMs: config.slowConsumerTimeoutMs,
        consumerMaxPerChannel: config.amqp.consumerMaxPerChannel,
        certLoginFrom: config.tls.certLoginFrom,
      },
      connections,
    };
    const handler = startOptions.amqpHandler;
    if (handler === undefined) return createAmqpService({ ...ctx, shutdownTimeoutMs: SHUTDOWN_CLOSE_TIMEOUT_MS });
    return {
      handleConnection: (stream, info) => handler(stream, info, ctx),
      close: () => connections.closeAll(SHUTDOWN_CLOSE_TIMEOUT_MS),
    };
  },
};
