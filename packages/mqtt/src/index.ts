/**
 * @warren/mqtt public entry. (Stub signatures fixed by the lead; the implementation replaces the bodies and may add
 * fields to the options.)
 */
import type { Duplex } from 'node:stream';
import type { BrokerApi, ConnectionInfo, Logger } from '@warren/core';

/** Settings of the Mqtt adapter (shared by its TCP, TLS and WebSocket listeners). */
export interface MqttServerOptions {
  /** Largest frame/packet accepted after authentication, bytes. */
  maxFrameSize: number;
}

export interface MqttServiceContext {
  broker: BrokerApi;
  logger: Logger;
  options: MqttServerOptions;
  /** The broker's data directory (for state this adapter keeps on disk). */
  dataDir: string;
}

/** One per broker: shared state of every Mqtt connection (sessions, registries). */
export interface MqttService {
  /**
   * Serve one accepted connection until it closes: a TCP or TLS socket, or a WebSocket wrapped as a Duplex
   * (the web listeners pass `ws.createWebSocketStream(socket)`). Never throws; errors close only this connection.
   */
  handleConnection(stream: Duplex, info: ConnectionInfo): void;
  /** Close every connection and release resources. */
  close(): Promise<void>;
}

export function createMqttService(ctx: MqttServiceContext): MqttService {
  void ctx;
  throw new Error('not implemented yet');
}
