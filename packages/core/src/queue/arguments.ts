import type { FieldTable, FieldValue } from '../contract.js';
import { BrokerError } from '../errors.js';
import { fieldEquals, fieldTypeName, fieldValueText } from '../message/message.js';

/** What to do when x-max-length / x-max-length-bytes is reached. */
export type Overflow = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';

/** Queue arguments after validation. */
export interface QueueSettings {
  type: 'classic' | 'quorum' | 'stream';
  messageTtl: number | undefined;
  expires: number | undefined;
  maxLength: number | undefined;
  maxLengthBytes: number | undefined;
  overflow: Overflow;
  deadLetterExchange: string | undefined;
  deadLetterRoutingKey: string | undefined;
  /** 0 = not a priority queue. */
  maxPriority: number;
  singleActiveConsumer: boolean;
  /** x-delivery-limit (quorum queues). */
  deliveryLimit: number | undefined;
  /** x-max-age of a stream in milliseconds. */
  maxAge: number | undefined;
  /** x-stream-max-segment-size-bytes of a stream (undefined = RabbitMQ's default, 500 MB). */
  streamMaxSegmentBytes: number | undefined;
}

const AGE_UNITS: Record<string, number> = { Y: 365 * 86_400_000, M: 30 * 86_400_000, D: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

/** Parse a RabbitMQ duration such as '7D', '12h', '30m', '10s' (x-max-age, x-stream-offset intervals); ms or undefined. */
export function parseDuration(v: string): number | undefined {
  const m = /^(\d+)([YMDhms])$/.exec(v);
  return m === null ? undefined : Number(m[1]) * AGE_UNITS[m[2]!]!;
}

/** Arguments compared on redeclaration, in RabbitMQ's order (rabbit_amqqueue:declare_args). */
const EQUIVALENCE_ARGS = [
  'x-expires',
  'x-message-ttl',
  'x-dead-letter-exchange',
  'x-dead-letter-routing-key',
  'x-max-length',
  'x-max-length-bytes',
  'x-max-priority',
  'x-overflow',
  'x-queue-mode',
  'x-single-active-consumer',
  'x-delivery-limit',
  'x-max-age',
  // Stream arguments RabbitMQ 3.10 compares too (checked against a 3.10.8 node; it ignores x-stream-filter-size-bytes).
  'x-stream-max-segment-size-bytes',
  'x-initial-cluster-size',
  'x-queue-type',
] as const;

function where(queue: string, vhost: string): string {
  return `for queue '${queue}' in vhost '${vhost}'`;
}

function invalid(arg: string, queue: string, vhost: string, detail: string): BrokerError {
  return new BrokerError('PRECONDITION_FAILED', `invalid arg '${arg}' ${where(queue, vhost)}: ${detail}`);
}

function integerArg(
  args: FieldTable,
  arg: string,
  queue: string,
  vhost: string,
  opts: { zeroOk: boolean; max?: number },
): number | undefined {
  const v = args[arg];
  if (v === undefined) return undefined;
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'number' && Number.isInteger(v) ? v : undefined;
  if (n === undefined) throw invalid(arg, queue, vhost, `"expected integer, got ${fieldTypeName(v)}"`);
  if (n < 0) throw invalid(arg, queue, vhost, `{value_negative,${n}}`);
  if (n === 0 && !opts.zeroOk) throw invalid(arg, queue, vhost, `{value_zero,0}`);
  if (opts.max !== undefined && n > opts.max) throw invalid(arg, queue, vhost, `{max_value_exceeded,${n}}`);
  return n;
}

function stringArg(args: FieldTable, arg: string, queue: string, vhost: string): string | undefined {
  const v = args[arg];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    throw new BrokerError(
      'PRECONDITION_FAILED',
      `invalid type '${fieldTypeName(v)}' for arg '${arg}' in queue '${queue}' in vhost '${vhost}'`,
    );
  }
  return v;
}

/** Validate the arguments of a new queue (RabbitMQ's rabbit_amqqueue:check_arguments texts). */
export function parseQueueArguments(args: FieldTable, queue: string, vhost: string): QueueSettings {
  const typeArg = args['x-queue-type'];
  let type: QueueSettings['type'] = 'classic';
  if (typeArg !== undefined) {
    const t = typeof typeArg === 'string' ? typeArg : fieldValueText(typeArg);
    if (t === 'quorum') type = 'quorum';
    else if (t === 'stream') type = 'stream';
    else if (t !== 'classic') throw invalid('x-queue-type', queue, vhost, `"unsupported queue type '${t}'"`);
  }
  const overflowArg = args['x-overflow'];
  let overflow: Overflow = 'drop-head';
  if (overflowArg !== undefined) {
    if (overflowArg === 'drop-head' || overflowArg === 'reject-publish' || overflowArg === 'reject-publish-dlx') {
      overflow = overflowArg;
    } else throw invalid('x-overflow', queue, vhost, 'invalid_overflow');
  }
  const sac = args['x-single-active-consumer'];
  if (sac !== undefined && typeof sac !== 'boolean') {
    throw invalid('x-single-active-consumer', queue, vhost, `{unacceptable_type,${fieldTypeName(sac)}}`);
  }
  const deadLetterExchange = stringArg(args, 'x-dead-letter-exchange', queue, vhost);
  const deadLetterRoutingKey = stringArg(args, 'x-dead-letter-routing-key', queue, vhost);
  if (deadLetterRoutingKey !== undefined && deadLetterExchange === undefined) {
    throw invalid('x-dead-letter-routing-key', queue, vhost, 'routing_key_but_no_dlx_defined');
  }
  return {
    type,
    messageTtl: integerArg(args, 'x-message-ttl', queue, vhost, { zeroOk: true }),
    expires: integerArg(args, 'x-expires', queue, vhost, { zeroOk: false }),
    maxLength: integerArg(args, 'x-max-length', queue, vhost, { zeroOk: true }),
    maxLengthBytes: integerArg(args, 'x-max-length-bytes', queue, vhost, { zeroOk: true }),
    overflow,
    deadLetterExchange,
    deadLetterRoutingKey,
    maxPriority: integerArg(args, 'x-max-priority', queue, vhost, { zeroOk: true, max: 255 }) ?? 0,
    singleActiveConsumer: sac === true,
    deliveryLimit: integerArg(args, 'x-delivery-limit', queue, vhost, { zeroOk: true }),
    maxAge: maxAge(args, queue, vhost),
    streamMaxSegmentBytes: integerArg(args, 'x-stream-max-segment-size-bytes', queue, vhost, { zeroOk: true }),
  };
}

function maxAge(args: FieldTable, queue: string, vhost: string): number | undefined {
  const v = args['x-max-age'];
  if (v === undefined) return undefined;
  const ms = typeof v === 'string' ? parseDuration(v) : undefined;
  if (ms === undefined) throw invalid('x-max-age', queue, vhost, `{invalid_max_age,${fieldValueText(v)}}`);
  return ms;
}

function describe(v: FieldValue): string {
  return `the value '${fieldValueText(v)}' of type '${fieldTypeName(v)}'`;
}

/**
 * Throw PRECONDITION_FAILED "inequivalent arg ..." when a redeclaration's arguments differ from the queue's
 * (RabbitMQ's rabbit_misc:assert_args_equivalence wording).
 */
export function assertQueueArgsEquivalent(current: FieldTable, received: FieldTable, queue: string, vhost: string): void {
  for (const arg of EQUIVALENCE_ARGS) {
    let a = received[arg];
    let b = current[arg];
    if (arg === 'x-queue-type') {
      // Absent means classic.
      if (a === 'classic') a = undefined;
      if (b === 'classic') b = undefined;
    }
    if (a === undefined && b === undefined) continue;
    if (a !== undefined && b !== undefined && fieldEquals(a, b)) continue;
    const recv = a === undefined ? 'none' : b === undefined ? describe(a) : `'${fieldValueText(a)}'`;
    const curr = b === undefined ? 'none' : a === undefined ? describe(b) : `'${fieldValueText(b)}'`;
    throw new BrokerError(
      'PRECONDITION_FAILED',
      `inequivalent arg '${arg}' ${where(queue, vhost)}: received ${recv} but current is ${curr}`,
    );
  }
}
