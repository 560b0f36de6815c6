/**
 * RabbitMQ 3.10's health checks: /api/aliveness-test/{vhost} and /api/health/checks/* (rabbit_mgmt_wm_health_check_*).
 * A check answers 200 `{"status":"ok",...}` or 503 `{"status":"failed","reason":...,...}`; monitoring systems read
 * the status code.
 */
import { X509Certificate } from 'node:crypto';
import type { Routes } from '../app.js';
import { withChannel } from '../core-ops.js';
import { badRequest, notFound } from '../http-error.js';

/** The aliveness test's queue and message (rabbit_mgmt_wm_aliveness_test). */
const ALIVENESS_QUEUE = 'aliveness-test';
const ALIVENESS_BODY = 'test_message';

/**
 * Protocol spellings RabbitMQ's protocol-listener check accepts for the names its listeners carry
 * (rabbit_mgmt_wm_health_check_protocol_listener:normalize_protocol/1); anything else is compared as given.
 */
const PROTOCOL_ALIASES: Record<string, string> = {
  amqp091: 'amqp', 'amqp0.9.1': 'amqp', 'amqp0-9-1': 'amqp', amqp0_9_1: 'amqp',
  amqp10: 'amqp', 'amqp1.0': 'amqp', 'amqp1-0': 'amqp', amqp1_0: 'amqp',
  amqps: 'amqp/ssl',
  mqtt: 'mqtt', 'mqtt3.1': 'mqtt', 'mqtt3.1.1': 'mqtt', mqtt31: 'mqtt', mqtt311: 'mqtt', mqtt3_1: 'mqtt', mqtt3_1_1: 'mqtt',
  mqtts: 'mqtt/ssl', 'mqtt+tls': 'mqtt/ssl', 'mqtt+ssl': 'mqtt/ssl',
  stomp: 'stomp', 'stomp1.0': 'stomp', 'stomp1.1': 'stomp', 'stomp1.2': 'stomp', stomp10: 'stomp', stomp11: 'stomp',
  stomp12: 'stomp', stomp1_0: 'stomp', stomp1_1: 'stomp', stomp1_2: 'stomp',
  stomps: 'stomp/ssl', 'stomp+tls': 'stomp/ssl', 'stomp+ssl': 'stomp/ssl',
  https: 'https', 'http1': 'http', 'http1.1': 'http', http: 'http', management: 'http',
  'web-mqtt': 'http/web-mqtt', 'web_mqtt': 'http/web-mqtt', 'web-mqtt-tls': 'https/web-mqtt',
  'web-stomp': 'http/web-stomp', 'web_stomp': 'http/web-stomp', 'web-stomp-tls': 'https/web-stomp',
  prometheus: 'http/prometheus', 'http/prometheus': 'http/prometheus',
};

/** Seconds per unit of the certificate-expiration check. */
const UNIT_SECONDS: Record<string, number> = {
  days: 86_400,
  weeks: 7 * 86_400,
  months: 30 * 86_400,
  years: 365 * 86_400,
};

export function registerHealthRoutes(r: Routes): void {
  const { ctx } = r;
  const broker = ctx.broker;
  const ok = (extra: Record<string, unknown> = {}) => ({ status: 200, body: { status: 'ok', ...extra } });
  const failed = (reason: string, extra: Record<string, unknown>) => ({ status: 503, body: { status: 'failed', reason, ...extra } });

  r.resource('/api/aliveness-test/:vhost', {
    GET: async (req) => {
      const vhost = req.params['vhost']!;
      if (broker.vhost(vhost) === undefined) throw notFound();
      req.principal.requireVhostAccess(vhost);
      const got = await withChannel(ctx, req.principal, vhost, (ch) => {
        ch.declareQueue(ALIVENESS_QUEUE, { durable: false });
        ch.publish({ exchange: '', routingKey: ALIVENESS_QUEUE, properties: {}, rawProperties: undefined, body: Buffer.from(ALIVENESS_BODY) }, {});
        return ch.get(ALIVENESS_QUEUE, true);
      });
      if (got === undefined || got.delivery.message.body.toString() !== ALIVENESS_BODY) return failed('aliveness-test message was not delivered', {});
      return ok();
    },
  });

  const alarms = (reason: string) => () => {
    const on = broker.alarms;
    if (on.length === 0) return ok();
    return failed(reason, { alarms: on.map((resource) => ({ node: ctx.nodeName, resource })) });
  };
  // One node: the cluster's alarms are the node's.
  r.resource('/api/health/checks/alarms', { GET: alarms('There are alarms in effect in the cluster') });
  r.resource('/api/health/checks/local-alarms', { GET: alarms('There are alarms in effect on the node') });

  // Every vhost of a Warren node runs in the process itself: none can be down on its own.
  r.resource('/api/health/checks/virtual-hosts', { GET: () => ok() });

  r.resource('/api/health/checks/port-listener/:port', {
    GET: (req) => {
      const raw = req.params['port']!;
      if (!/^\d+$/.test(raw)) throw badRequest(`Invalid port: ${raw}`);
      const port = Number(raw);
      const ports = ctx.listeners().map((l) => l.port);
      return ports.includes(port) ? ok({ port }) : failed('No active listener', { missing: port, ports });
    },
  });

  r.resource('/api/health/checks/protocol-listener/:protocol', {
    GET: (req) => {
      const asked = req.params['protocol']!.toLowerCase();
      const protocol = PROTOCOL_ALIASES[asked] ?? asked;
      const protocols = ctx.listeners().map((l) => l.protocol);
      return protocols.includes(protocol) ? ok({ protocol }) : failed('No active listener', { missing: protocol, protocols });
    },
  });

  // Quorum queues and mirrors are never critical on a single node (RabbitMQ answers the same for one node).
  r.resource('/api/health/checks/node-is-quorum-critical', { GET: () => ok({ reason: 'single node cluster' }) });
  r.resource('/api/health/checks/node-is-mirror-sync-critical', { GET: () => ok({ reason: 'single node cluster' }) });

  r.resource('/api/health/checks/certificate-expiration/:within/:unit', {
    GET: (req) => {
      const { within, unit } = req.params as { within: string; unit: string };
      const seconds = UNIT_SECONDS[unit];
      if (seconds === undefined) throw badRequest('Time unit not recognised. Supported units: days, weeks, months, years.');
      if (!/^\d+$/.test(within)) throw badRequest(`Time to expiration not an integer: ${within}`);
      const deadline = Date.now() + Number(within) * seconds * 1000;
      const expired: Record<string, unknown>[] = [];
      for (const c of ctx.certificates?.() ?? []) {
        let validTo: number;
        try {
          validTo = Date.parse(new X509Certificate(c.cert).validTo);
        } catch {
          continue;
        }
        if (validTo < deadline) {
          expired.push({ interface: c.ipAddress, port: c.port, protocol: c.protocol, certfile: c.certFile, cacertfile: c.caFile ?? null, expires: new Date(validTo).toISOString() });
        }
      }
      return expired.length === 0 ? ok() : failed('Certificates expiring', { expired });
    },
  });
}
