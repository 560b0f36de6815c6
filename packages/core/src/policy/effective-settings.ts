import type { FieldTable } from '../contract.js';
import { parseDuration, type QueueSettings } from '../queue/arguments.js';
import type { PolicyDefinition } from './policy.js';

/** Numeric settings where the lower of the queue argument and the policy wins (rabbit_amqqueue_process res_min). */
const MIN_KEYS = [
  ['messageTtl', 'message-ttl'],
  ['expires', 'expires'],
  ['maxLength', 'max-length'],
  ['maxLengthBytes', 'max-length-bytes'],
  ['deliveryLimit', 'delivery-limit'],
] as const;

/**
 * A queue's effective settings: its validated arguments (`declared`) combined with the effective policy definition
 * (policy ⊕ operator policy); `args` are the declared arguments, as RabbitMQ combines them (rabbit_amqqueue_process:process_args_policy): for the numeric
 * limits the lower value wins; for overflow and the dead-letter settings the queue's argument wins and the policy only
 * fills in what the arguments leave unset. `queue-mode` is accepted and has no effect (Warren has one storage mode).
 */
export function effectiveQueueSettings(declared: QueueSettings, args: FieldTable, policy: PolicyDefinition): QueueSettings {
  const out: QueueSettings = { ...declared };
  for (const [field, key] of MIN_KEYS) {
    const p = policy[key];
    if (typeof p !== 'number') continue;
    const a = declared[field];
    out[field] = a === undefined ? p : Math.min(a, p);
  }
  if (args['x-overflow'] === undefined) {
    const o = policy['overflow'];
    if (o === 'drop-head' || o === 'reject-publish' || o === 'reject-publish-dlx') out.overflow = o;
  }
  if (declared.deadLetterExchange === undefined) {
    const dlx = policy['dead-letter-exchange'];
    if (typeof dlx === 'string') out.deadLetterExchange = dlx;
  }
  if (declared.deadLetterRoutingKey === undefined) {
    const rk = policy['dead-letter-routing-key'];
    if (typeof rk === 'string') out.deadLetterRoutingKey = rk;
  }
  // Stream retention: the queue's argument wins, the policy fills in (rabbit_stream_queue's policy handling).
  if (declared.maxAge === undefined && typeof policy['max-age'] === 'string') out.maxAge = parseDuration(policy['max-age']);
  const seg = policy['stream-max-segment-size-bytes'];
  if (declared.streamMaxSegmentBytes === undefined && typeof seg === 'number') out.streamMaxSegmentBytes = seg;
  return out;
}
