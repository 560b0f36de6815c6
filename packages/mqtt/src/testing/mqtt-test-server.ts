/**
 * Test helpers: a core broker plus the MQTT service, reachable over loopback TCP (for real clients) or over an
 * in-memory duplex pair (for raw-packet session tests). Not part of the public entry.
 */
import { Duplex } from 'node:stream';
import { Broker, silentLogger, type ConnectionInfo, type Logger } from '@warren/core';
import { fakeConnectionInfo } from '@warren/core/testing';
import { listen, streamPair, type Listener } from '@warren/transport';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { createMqttService, type MqttServerOptions, type MqttService } from '../index.js';

/** A running broker with an MQTT listener on a free port. */
export interface MqttTestServer {
  broker: Broker;
  service: MqttService;
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** Start a core broker, the MQTT service and a loopback listener. `dataDir` '' keeps state in memory. */
export async function startMqttTestServer(
  options: Partial<MqttServerOptions> = {},
  dataDir = '',
  logger: Logger = silentLogger,
  broker: Broker = new Broker({ logger: silentLogger }),
): Promise<MqttTestServer> {
  const service = createMqttService({ broker, logger, dataDir, options: { maxFrameSize: 268435455, ...options } });
  const listener: Listener = await listen({ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }, (socket, info) =>
    service.handleConnection(socket, info),
  );
  return {
    broker,
    service,
    port: listener.port,
    url: `mqtt://127.0.0.1:${listener.port}`,
    async stop() {
      await service.close();
      await listener.close();
    },
  };
}


/** A raw MQTT client over an in-memory stream: send packets or bytes, await parsed packets and the close. */
export class RawClient {
  readonly stream: Duplex;
  readonly packets: Packet[] = [];
  closed = false;
  readonly #parser: mqttPacket.Parser;
  #waiters: Array<() => void> = [];
  readonly #version: number;

  /** `info` overrides the connection's details, e.g. a remote address to test loopback-only users. */
  constructor(service: MqttService, version: 3 | 4 | 5 = 4, info: Partial<ConnectionInfo> = {}) {
    const [client, server] = streamPair();
    this.stream = client;
    this.#version = version;
    this.#parser = mqttPacket.parser({ protocolVersion: version });
    this.#parser.on('packet', (p: Packet) => {
      this.packets.push(p);
      this.#wake();
    });
    client.on('data', (c: Buffer) => this.#parser.parse(c));
    client.on('end', () => {
      this.closed = true;
      this.#wake();
    });
    client.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    service.handleConnection(server, fakeConnectionInfo({ protocol: 'mqtt', listener: 'mqtt', localPort: 1883, ...info }));
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  send(packet: Packet): void {
    this.stream.write(mqttPacket.generate(packet, { protocolVersion: this.#version }));
  }

  sendBytes(bytes: Buffer | number[]): void {
    this.stream.write(Buffer.from(bytes));
  }

  /** Wait for the next packet of `cmd` (consuming it). */
  async next(cmd: Packet['cmd']): Promise<Packet> {
    for (;;) {
      const i = this.packets.findIndex((p) => p.cmd === cmd);
      if (i >= 0) return this.packets.splice(i, 1)[0] as Packet;
      if (this.closed) throw new Error(`closed while waiting for ${cmd}`);
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  /** Wait until the server closes the stream. */
  async waitClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((r) => this.#waiters.push(r));
  }

  /** CONNECT and await CONNACK. */
  async connect(fields: Partial<mqttPacket.IConnectPacket> = {}): Promise<mqttPacket.IConnackPacket> {
    this.send({ cmd: 'connect', protocolVersion: this.#version as 4, protocolId: this.#version === 3 ? 'MQIsdp' : 'MQTT', clientId: 'raw', clean: true, keepalive: 0, ...fields } as mqttPacket.IConnectPacket);
    return (await this.next('connack')) as mqttPacket.IConnackPacket;
  }

  close(): void {
    this.stream.destroy();
  }
}
