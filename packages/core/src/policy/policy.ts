/**
 * Policies and operator policies (RabbitMQ's rabbit_policy and rabbit_policies): validation with RabbitMQ's reason
 * texts, matching an object name to the policy that applies, and merging a policy with an operator policy.
 *
 * A policy names a vhost, a pattern (a regular expression matched against the queue or exchange name), what it
 * applies to (`queues`, `exchanges` or `all`: RabbitMQ 3.10 knows no other value), a priority and a definition. The
 * matching policy with the highest priority applies; operator policies are matched separately, and where both define
 * one of the numeric limits the lower value wins.
 */

/** What a policy applies to (RabbitMQ 3.10's three values). */
export type PolicyApplyTo = 'queues' | 'exchanges' | 'all';

/** A policy definition: JSON keys such as `max-length` or `dead-letter-exchange`. */
export type PolicyDefinition = Record<string, unknown>;

/** A validated policy or operator policy. */
export interface Policy {
  readonly vhost: string;
  readonly name: string;
  readonly pattern: string;
  readonly applyTo: PolicyApplyTo;
  readonly priority: number;
  readonly definition: PolicyDefinition;
  /** `pattern`, compiled. */
  readonly regex: RegExp;
}

/** A policy refused by validation; `message` is RabbitMQ's reason (without the "Validation failed" preamble). */
export class PolicyValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyValidationError';
  }
}

/**
 * A JSON value as Erlang's `~p` prints it (RabbitMQ's validation texts quote the offending value that way):
 * strings as `<<"x">>`, arrays as lists, objects as maps.
 */
export function erlangTerm(v: unknown): string {
  if (typeof v === 'string') return `<<${JSON.stringify(v)}>>`;
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(erlangTerm).join(',')}]`;
  if (typeof v === 'object') {
    return `#{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${erlangTerm(k)} => ${erlangTerm(x)}`).join(',')}}`;
  }
  return String(v);
}

const isNonNegInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const oneOf = (...values: unknown[]) => (v: unknown): boolean => values.includes(v);
const isString = (v: unknown): boolean => typeof v === 'string';

/** RabbitMQ's max-age syntax (rabbit_amqqueue:check_max_age): a positive integer and a unit Y M D h m s. */
const isMaxAge = (v: unknown): boolean => typeof v === 'string' && /^\d+[YMDhms]$/.test(v) && !/^0+[YMDhms]$/.test(v);

/** Each policy key RabbitMQ 3.10 accepts (rabbit_policies, rabbit_mirror_queue_misc), its check and its complaint. */
const POLICY_KEYS: Record<string, readonly [(v: unknown) => boolean, string]> = {
  'alternate-exchange': [isString, 'is not a valid alternate exchange name'],
  'dead-letter-exchange': [isString, 'is not a valid dead letter exchange name'],
  'dead-letter-routing-key': [isString, 'is not a valid dead letter routing key'],
  'dead-letter-strategy': [oneOf('at-most-once', 'at-least-once'), 'is not a valid dead letter strategy'],
  'message-ttl': [isNonNegInt, 'is not a valid message TTL'],
  expires: [(v) => isNonNegInt(v) && (v as number) >= 1, 'is not a valid queue expiry'],
  'max-length': [isNonNegInt, 'is not a valid maximum length'],
  'max-length-bytes': [isNonNegInt, 'is not a valid maximum length in bytes'],
  'max-in-memory-length': [isNonNegInt, 'is not a valid maximum memory in bytes'],
  'max-in-memory-bytes': [isNonNegInt, 'is not a valid maximum memory in bytes'],
  'queue-mode': [oneOf('default', 'lazy'), 'is not a valid queue-mode value'],
  'queue-version': [oneOf(1, 2), 'is not a valid queue-version value'],
  overflow: [oneOf('drop-head', 'reject-publish', 'reject-publish-dlx'), 'is not a valid overflow value'],
  'delivery-limit': [isNonNegInt, 'is not a valid delivery limit'],
  'max-age': [isMaxAge, 'is not a valid max age'],
  'stream-max-segment-size-bytes': [(v) => isNonNegInt(v) && (v as number) <= 3_000_000_000, 'is not a valid segment size'],
  'queue-leader-locator': [oneOf('client-local', 'balanced', 'random', 'least-leaders'), 'is not a valid queue leader locator value'],
  'initial-cluster-size': [isNonNegInt, 'is not a valid cluster size'],
  // Classic mirrored queues: accepted (tools still set them), no effect on a single node.
  'ha-mode': [oneOf('all', 'exactly', 'nodes'), 'is not a valid ha-mode value'],
  'ha-params': [() => true, ''],
  'ha-sync-mode': [oneOf('manual', 'automatic'), 'is not a valid ha-sync-mode value'],
  'ha-sync-batch-size': [(v) => isNonNegInt(v) && (v as number) > 0, 'is not a valid ha-sync-batch-size value'],
  'ha-promote-on-shutdown': [oneOf('when-synced', 'always'), 'is not a valid ha-promote-on-shutdown value'],
  'ha-promote-on-failure': [oneOf('when-synced', 'always'), 'is not a valid ha-promote-on-failure value'],
  'queue-master-locator': [oneOf('min-masters', 'client-local', 'random'), 'is not a valid queue-master-locator value'],
};

/** The keys an operator policy may set (rabbit_policies registers these as operator_policy_validator). */
const OPERATOR_POLICY_KEYS = new Set([
  'expires',
  'message-ttl',
  'max-length',
  'max-length-bytes',
  'max-in-memory-length',
  'max-in-memory-bytes',
  'delivery-limit',
]);

/** Keys merged by taking the lower value when a policy and an operator policy both set them (merge_policy_value). */
const MIN_MERGED = new Set(OPERATOR_POLICY_KEYS);

/** A policy as given to the API or found in definitions (RabbitMQ's JSON field names). */
export interface PolicyInput {
  pattern?: unknown;
  definition?: unknown;
  priority?: unknown;
  'apply-to'?: unknown;
}

/**
 * Validate a policy (or, with `operator`, an operator policy) as rabbit_policy does, and return it compiled.
 * Throws {@link PolicyValidationError} with RabbitMQ's text. A missing priority is 0 and a missing apply-to is `all`
 * (the management API's defaults).
 */
export function validatePolicy(vhost: string, name: string, input: PolicyInput, operator: boolean): Policy {
  // rabbit_parameter_validation:proplist reports the last field's error first: definition, apply-to, pattern,
  // priority.
  const definition = input.definition;
  if (definition === undefined) throw new PolicyValidationError(`Key "definition" not found in ${name}`);
  if (typeof definition !== 'object' || definition === null || Array.isArray(definition)) {
    throw new PolicyValidationError(`definition must be a dictionary: ${erlangTerm(definition)}`);
  }
  const entries = Object.entries(definition as Record<string, unknown>);
  if (entries.length === 0) throw new PolicyValidationError('no policy provided');
  const unknown: [string, unknown][] = [];
  for (const [key, value] of entries) {
    const rule = POLICY_KEYS[key];
    if (rule === undefined || (operator && !OPERATOR_POLICY_KEYS.has(key))) {
      unknown.push([key, value]);
      continue;
    }
    if (!rule[0](value)) throw new PolicyValidationError(`${erlangTerm(value)} ${rule[1]}`);
  }
  if (unknown.length > 0) {
    const list = unknown.map(([k, v]) => `{${erlangTerm(k)},${erlangTerm(v)}}`).join(',');
    throw new PolicyValidationError(`[${list}] are not recognised policy settings`);
  }
  const applyTo = input['apply-to'] ?? 'all';
  if (applyTo !== 'queues' && applyTo !== 'exchanges' && applyTo !== 'all') {
    throw new PolicyValidationError(`apply-to '${String(applyTo)}' unrecognised; should be 'queues', 'exchanges' or 'all'`);
  }
  const pattern = input.pattern;
  if (pattern === undefined) throw new PolicyValidationError(`Key "pattern" not found in ${name}`);
  if (typeof pattern !== 'string') throw new PolicyValidationError(`pattern should be a binary but was ${erlangTerm(pattern)}`);
  let regex: RegExp;
  try {
    regex = new RegExp(pattern);
  } catch (err) {
    throw new PolicyValidationError(`pattern should be regular expression but is invalid: ${(err as Error).message}`);
  }
  const priority = input.priority ?? 0;
  if (typeof priority !== 'number') throw new PolicyValidationError(`priority should be a number, actually was ${erlangTerm(priority)}`);
  return { vhost, name, pattern, applyTo, priority, definition: { ...(definition as PolicyDefinition) }, regex };
}

/** The policy's JSON as RabbitMQ lists it (GET /api/policies). */
export function policyToJson(p: Policy): Record<string, unknown> {
  return { vhost: p.vhost, name: p.name, pattern: p.pattern, 'apply-to': p.applyTo, definition: p.definition, priority: p.priority };
}

/**
 * The policy that applies to a queue or exchange named `name`: the matching one with the highest priority. RabbitMQ
 * leaves the order of equal priorities to its table's order; Warren picks the first name in sort order, so the answer
 * does not depend on when the policies were created.
 */
export function matchPolicy(policies: Iterable<Policy>, kind: 'queue' | 'exchange', name: string): Policy | undefined {
  let best: Policy | undefined;
  for (const p of policies) {
    if (p.applyTo !== 'all' && p.applyTo !== (kind === 'queue' ? 'queues' : 'exchanges')) continue;
    if (!p.regex.test(name)) continue;
    if (best === undefined || p.priority > best.priority || (p.priority === best.priority && p.name < best.name)) best = p;
  }
  return best;
}

/**
 * The effective definition of an object with `policy` and `operator` (either may be absent): every key of both, the
 * lower value for the numeric limits both set (rabbit_policy:merge_operator_definitions).
 */
export function mergePolicyDefinitions(policy: Policy | undefined, operator: Policy | undefined): PolicyDefinition {
  const out: PolicyDefinition = { ...policy?.definition };
  if (operator === undefined) return out;
  for (const [key, opValue] of Object.entries(operator.definition)) {
    const value = out[key];
    if (value === undefined) out[key] = opValue;
    else if (MIN_MERGED.has(key) && typeof value === 'number' && typeof opValue === 'number') out[key] = Math.min(value, opValue);
    else if (typeof value === 'boolean' && typeof opValue === 'boolean') out[key] = opValue;
  }
  return out;
}
