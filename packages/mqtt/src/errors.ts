/**
 * The one table from core refusals ({@link BrokerError}: a stable code, and whether a configured limit refused it)
 * to MQTT's wire codes: the MQTT 5 reason code, by what the client asked for, and MQTT 3.1.1's return code where it
 * has one. Malformed input and protocol violations are the session's own (codec/reason-codes.ts).
 */
import type { BrokerError, ErrorCode } from '@warren/core';
import { Connack311, ReasonCode, SUBACK_FAILURE_311 } from './codec/reason-codes.js';

/** What the client asked for when the core refused it. */
export type MqttOperation = 'authenticate' | 'connect' | 'publish' | 'subscribe';

interface Row {
  /** MQTT 5 reason by core error code. */
  byCode: Partial<Record<ErrorCode, number>>;
  /** MQTT 5 reason for a configured limit (vhost or user max-connections, max-channels, max-queues). */
  limit: number;
  /** MQTT 5 reason for any other refusal. */
  otherwise: number;
  /** MQTT 3.1.1 return code (CONNACK, SUBACK entry); undefined where 3.1.1 has none (a refused PUBLISH closes). */
  v311: number | undefined;
}

/**
 * MQTT 5 as RabbitMQ 3.13 answers: a permission or topic permission is 0x87 Not authorized, a limit 0x97 Quota
 * exceeded (a CONNECT refused for a connection or channel limit too; 3.1.1 has no such code, so 5, as RabbitMQ).
 */
const TABLE: Record<MqttOperation, Row> = {
  authenticate: { byCode: {}, limit: ReasonCode.BadUserNameOrPassword, otherwise: ReasonCode.BadUserNameOrPassword, v311: Connack311.BadUserNameOrPassword },
  connect: { byCode: {}, limit: ReasonCode.QuotaExceeded, otherwise: ReasonCode.NotAuthorized, v311: Connack311.NotAuthorized },
  publish: { byCode: { ACCESS_REFUSED: ReasonCode.NotAuthorized }, limit: ReasonCode.UnspecifiedError, otherwise: ReasonCode.UnspecifiedError, v311: undefined },
  subscribe: { byCode: { ACCESS_REFUSED: ReasonCode.NotAuthorized }, limit: ReasonCode.QuotaExceeded, otherwise: ReasonCode.UnspecifiedError, v311: SUBACK_FAILURE_311 },
};

/** The MQTT 5 reason code for a core refusal of `op`. */
export function reasonCodeFor(err: BrokerError, op: MqttOperation): number {
  const row = TABLE[op];
  if (err.limit) return row.limit;
  return row.byCode[err.code] ?? row.otherwise;
}

/** The MQTT 3.1.1 code for a refusal of `op` (CONNACK return code, SUBACK failure); undefined for PUBLISH. */
export function returnCode311For(op: MqttOperation): number | undefined {
  return TABLE[op].v311;
}

/** The code for the client's protocol level: MQTT 5's reason, else 3.1.1's return code (or the 5 one if none). */
export function wireCodeFor(err: BrokerError, op: MqttOperation, v5: boolean): number {
  return v5 ? reasonCodeFor(err, op) : (returnCode311For(op) ?? reasonCodeFor(err, op));
}
