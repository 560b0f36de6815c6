/**
 * Client certificates through the real composition root: `--tls-verify peer` refuses a certificate no trusted CA
 * signed; a verified one logs in with SASL EXTERNAL (amqplib), and, with `mqtt.sslCertLogin` / `stomp.sslCertLogin`,
 * as the MQTT (mqtt.js) and STOMP user when the client gives no username, never as the anonymous/default user. The
 * user name is the subject DN (RFC 4514, RabbitMQ's default ssl_cert_login_from) or the CN.
 */
import tls from 'node:tls';
import type { Broker } from '@warren/core';
import { startEmbeddedBroker, type RunningBroker } from '@warren/server';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type Pem, type TestPki } from '../support/pki.js';

let pki: TestPki;
let alice: Pem;
beforeAll(() => {
  pki = createTestPki();
  alice = pki.client('alice', '/O=Warren Test/CN=alice');
});
afterAll(() => pki.dispose());

const ALICE_DN = 'CN=alice,O=Warren Test';

async function startTlsBroker(extra: { certLoginFrom?: 'common_name' | 'distinguished_name'; certLogin?: boolean }): Promise<RunningBroker> {
  const running = await startEmbeddedBroker({
    host: '127.0.0.1',
    amqp: { port: null, tlsPort: 0 },
    mqtt: { port: null, tlsPort: 0, allowAnonymous: true, sslCertLogin: extra.certLogin ?? true },
    stomp: { port: null, tlsPort: 0, sslCertLogin: extra.certLogin ?? true },
    webStomp: { port: null },
    webMqtt: { port: null },
    management: { port: null },
    prometheus: { port: null },
    tls: {
      certFile: pki.server.certFile,
      keyFile: pki.server.keyFile,
      caFile: pki.ca.certFile,
      verify: 'peer',
      ...(extra.certLoginFrom !== undefined ? { certLoginFrom: extra.certLoginFrom } : {}),
    },
  });
  const broker = running.broker as Broker;
  for (const name of ['alice', ALICE_DN]) {
    broker.addUser(name, 'unused-password');
    broker.setPermissions(name, '/', { configure: '.*', write: '.*', read: '.*' });
  }
  return running;
}

/** The users of the broker's open client connections of `protocol`. */
function usersOf(running: RunningBroker, protocol: string): string[] {
  return (running.broker as Broker)
    .connections()
    .filter((c) => c.info.protocol === protocol)
    .map((c) => c.user.name);
}

function tlsOptions(client?: Pem): { ca: string; cert?: string; key?: string } {
  return { ca: pki.ca.cert, ...(client !== undefined ? { cert: client.cert, key: client.key } : {}) };
}

/** A STOMP-over-TLS exchange: send CONNECT, resolve with the first frame's command line. */
async function stompConnect(port: number, connect: string, client?: Pem): Promise<{ command: string; socket: tls.TLSSocket }> {
  const socket = tls.connect({ host: '127.0.0.1', port, ...tlsOptions(client) });
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('secureConnect', resolve));
  socket.write(connect);
  let text = '';
  const command = await new Promise<string>((resolve) => {
    const onData = (d: Buffer): void => {
      text += d.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) resolve(text.slice(0, nl));
      else socket.once('data', onData);
    };
    socket.once('data', onData);
    socket.once('close', () => resolve('closed'));
  });
  return { command, socket };
}

describe('certificate login, user from the subject DN (RabbitMQ default)', () => {
  let running: RunningBroker;
  beforeAll(async () => {
    running = await startTlsBroker({});
  });
  afterAll(() => running.stop());

  it('AMQP: SASL EXTERNAL logs in as the certificate subject DN', async () => {
    const conn = await amqp.connect(`amqps://127.0.0.1:${running.ports.amqps}`, {
      ...tlsOptions(alice),
      credentials: amqp.credentials.external(),
    });
    try {
      const ch = await conn.createChannel();
      await ch.assertQueue('', { exclusive: true });
      expect(usersOf(running, 'amqp')).toEqual([ALICE_DN]);
    } finally {
      await conn.close();
    }
  });

  it('MQTT: no username, a verified certificate: connects as the DN user, not the anonymous user', async () => {
    const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${running.ports.mqtts}`, { ...tlsOptions(alice), reconnectPeriod: 0 });
    try {
      expect(usersOf(running, 'mqtt')).toEqual([ALICE_DN]);
    } finally {
      await c.endAsync();
    }
  });
});

describe('certificate login, user from the CN (ssl_cert_login_from = common_name)', () => {
  let running: RunningBroker;
  beforeAll(async () => {
    running = await startTlsBroker({ certLoginFrom: 'common_name' });
  });
  afterAll(() => running.stop());

  it('AMQP: EXTERNAL is offered with a verified certificate and logs in as the CN', async () => {
    const conn = await amqp.connect(`amqps://127.0.0.1:${running.ports.amqps}`, {
      ...tlsOptions(alice),
      credentials: amqp.credentials.external(),
    });
    try {
      expect(usersOf(running, 'amqp')).toEqual(['alice']);
    } finally {
      await conn.close();
    }
  });

  it('AMQP: without a client certificate EXTERNAL is refused', async () => {
    await expect(
      amqp.connect(`amqps://127.0.0.1:${running.ports.amqps}`, { ...tlsOptions(), credentials: amqp.credentials.external() }),
    ).rejects.toThrow(/EXTERNAL|ACCESS_REFUSED|403|mechanism/i);
  });

  it('AMQP: a self-signed client certificate is refused at the TLS handshake', async () => {
    await expect(
      amqp.connect(`amqps://127.0.0.1:${running.ports.amqps}`, {
        ...tlsOptions(pki.rogue),
        credentials: amqp.credentials.external(),
      }),
    ).rejects.toThrow();
    expect(usersOf(running, 'amqp')).toEqual([]);
  });

  it('MQTT: connects as the CN; a given username still wins', async () => {
    const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${running.ports.mqtts}`, { ...tlsOptions(alice), reconnectPeriod: 0 });
    try {
      expect(usersOf(running, 'mqtt')).toEqual(['alice']);
    } finally {
      await c.endAsync();
    }
    const g = await mqtt.connectAsync(`mqtts://127.0.0.1:${running.ports.mqtts}`, {
      ...tlsOptions(alice),
      reconnectPeriod: 0,
      username: 'guest',
      password: 'guest',
    });
    try {
      expect(usersOf(running, 'mqtt')).toEqual(['guest']);
    } finally {
      await g.endAsync();
    }
  });

  it('STOMP: CONNECT without login connects as the CN, not the default user', async () => {
    const { command, socket } = await stompConnect(running.ports.stomps!, 'CONNECT\naccept-version:1.2\n\n\0', alice);
    try {
      expect(command).toBe('CONNECTED');
      expect(usersOf(running, 'stomp')).toEqual(['alice']);
    } finally {
      socket.destroy();
    }
  });
});

describe('certificate login off (the default for MQTT and STOMP)', () => {
  let running: RunningBroker;
  beforeAll(async () => {
    running = await startTlsBroker({ certLoginFrom: 'common_name', certLogin: false });
  });
  afterAll(() => running.stop());

  it('MQTT and STOMP clients without a username are the anonymous/default user, as in RabbitMQ', async () => {
    const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${running.ports.mqtts}`, { ...tlsOptions(alice), reconnectPeriod: 0 });
    const { socket } = await stompConnect(running.ports.stomps!, 'CONNECT\naccept-version:1.2\n\n\0', alice);
    try {
      expect(usersOf(running, 'mqtt')).toEqual(['guest']);
      expect(usersOf(running, 'stomp')).toEqual(['guest']);
    } finally {
      await c.endAsync();
      socket.destroy();
    }
  });
});
