/**
 * The UI's MQTT view (beyond RabbitMQ's API): GET /api/ui/mqtt/sessions (sessions, their subscriptions and offline
 * queue depth) and GET /api/ui/mqtt/retained (retained messages by topic), paged, sorted and filtered like every list.
 * The state comes from the provider the server registers for the MQTT service; without one both lists are empty.
 */
import type { Routes } from '../app.js';
import type { MqttRetainedDescription, MqttSessionDescription } from '../context.js';
import { answerList } from '../list-query.js';

/** Bytes of a retained payload shown in the list. */
const PREVIEW_BYTES = 256;

export function registerMqttViewRoutes(r: Routes): void {
  const { ctx } = r;
  const broker = ctx.broker;

  const depth = (s: MqttSessionDescription): { messages: number; unacked: number } => {
    const v = broker.vhost(s.vhost);
    let messages = 0;
    let unacked = 0;
    for (const name of s.queues) {
      const q = v?.queues.get(name);
      if (q === undefined) continue;
      messages += q.messageCount;
      unacked += q.unacked;
    }
    return { messages, unacked };
  };

  r.resource('/api/ui/mqtt/sessions', {
    GET: (req) => {
      const rows = [...(ctx.mqtt?.sessions() ?? [])].filter((s) => req.principal.canSeeVhost(s.vhost));
      rows.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
      return answerList(
        req.query,
        rows,
        (s) => {
          const d = depth(s);
          return {
            vhost: s.vhost,
            client_id: s.clientId,
            user: s.user,
            connected: s.connected,
            clean_session: s.expiry === 0,
            expiry: s.expiry,
            ...(s.disconnectedAt !== undefined ? { disconnected_at: s.disconnectedAt } : {}),
            subscriptions: s.subscriptions.map((x) => ({ filter: x.filter, qos: x.qos })),
            queues: s.queues,
            messages: d.messages,
            messages_unacknowledged: d.unacked,
          };
        },
        (s) => s.clientId,
        (s, col) => (col === 'client_id' || col === 'name' ? s.clientId : col === 'vhost' ? s.vhost : undefined),
      );
    },
  });

  r.resource('/api/ui/mqtt/retained', {
    GET: (req) => {
      const rows = [...(ctx.mqtt?.retained() ?? [])].filter((m) => req.principal.canSeeVhost(m.vhost));
      rows.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
      return answerList(
        req.query,
        rows,
        (m: MqttRetainedDescription) => {
          const bytes = m.body.subarray(0, PREVIEW_BYTES);
          const text = bytes.toString('utf8');
          const isText = Buffer.from(text, 'utf8').equals(bytes);
          return {
            vhost: m.vhost,
            topic: m.topic,
            qos: m.qos,
            payload_bytes: m.body.length,
            payload: isText ? text : bytes.toString('base64'),
            payload_encoding: isText ? 'string' : 'base64',
            ...(m.contentType !== undefined ? { content_type: m.contentType } : {}),
          };
        },
        (m) => m.topic,
        (m, col) => (col === 'topic' || col === 'name' ? m.topic : col === 'vhost' ? m.vhost : undefined),
      );
    },
  });
}
