/**
 * The runtime settings of a definitions import (RabbitMQ's rabbit_definitions for user limits, topic permissions,
 * parameters, global parameters and policies), checked in full before any is applied: {@link planRuntimeImport}
 * validates every item against the broker as it is now and returns the changes to make, so that a document with one
 * bad item changes nothing.
 */
import type { Broker, RuntimeDefinitions } from './broker.js';
import { BrokerError } from './errors.js';
import { PolicyValidationError, validatePolicy, type PolicyInput } from './policy/policy.js';
import type { UserLimits } from './runtime-parameters.js';
import type { VhostLimits } from './vhost.js';

type Item = Record<string, unknown>;

const VHOST_LIMIT_KEYS = new Set(['max-connections', 'max-queues']);
const USER_LIMIT_KEYS = new Set(['max-connections', 'max-channels']);
const POLICY_FIELDS = ['vhost', 'name', 'pattern', 'apply-to', 'definition', 'priority'];

const invalid = (what: string, reason: string): BrokerError => new BrokerError('PRECONDITION_FAILED', `cannot import ${what}: ${reason}`);

/** Refuse fields RabbitMQ's export never writes: a typo must not be dropped silently. */
function onlyFields(item: Item, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(item)) if (!allowed.includes(k)) throw invalid(what, `unknown field '${k}'`);
}

function str(item: Item, key: string, what: string): string {
  const v = item[key];
  if (typeof v !== 'string') throw invalid(what, `'${key}' must be a string`);
  return v;
}

function regex(item: Item, key: string, what: string): string {
  const v = str(item, key, what);
  try {
    new RegExp(v);
  } catch {
    throw invalid(what, `invalid regular expression in '${key}': '${v}'`);
  }
  return v;
}

/** A limits object: only `allowed` keys, integer values (rabbit_parameter_validation's words where it has them). */
function limits(value: unknown, allowed: ReadonlySet<string>, what: string): Record<string, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(what, 'limits must be an object');
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(value as Item)) {
    if (!allowed.has(k)) throw invalid(what, `unrecognised limit '${k}'`);
    if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(what, `${k} should be a number, actually was ${JSON.stringify(v)}`);
    out[k] = v;
  }
  return out;
}

/**
 * Check every runtime setting of `defs` against `broker` (its vhosts and users must exist already) and return the
 * changes to apply, in RabbitMQ's import order: user limits (part of the users), topic permissions, parameters,
 * global parameters, policies. Throws a BrokerError naming the first item it cannot apply; nothing is changed then.
 */
export function planRuntimeImport(broker: Broker, defs: RuntimeDefinitions): (() => void)[] {
  const steps: (() => void)[] = [];
  const vhostOf = (item: Item, what: string): string => {
    const vhost = str(item, 'vhost', what);
    if (broker.vhost(vhost) === undefined) throw new BrokerError('NOT_FOUND', `cannot import ${what}: no vhost '${vhost}'`);
    return vhost;
  };
  const userOf = (item: Item, what: string): string => {
    const user = str(item, 'user', what);
    if (broker.users.get(user) === undefined) throw new BrokerError('NOT_FOUND', `cannot import ${what}: no user '${user}'`);
    return user;
  };
  const policy = (vhost: string, name: string, input: PolicyInput, operator: boolean, what: string): void => {
    try {
      validatePolicy(vhost, name, input, operator);
    } catch (err) {
      if (err instanceof PolicyValidationError) throw invalid(what, `validation failed: ${err.message}`);
      throw err;
    }
    steps.push(() => broker.setPolicy(vhost, name, input, operator));
  };

  (defs.user_limits ?? []).forEach((item, i) => {
    const what = `user_limits[${i}]`;
    onlyFields(item, ['user', 'limits'], what);
    const user = userOf(item, what);
    const value = limits(item['limits'], USER_LIMIT_KEYS, `limits of user '${user}'`) as UserLimits;
    steps.push(() => broker.setUserLimits(user, value));
  });

  (defs.topic_permissions ?? []).forEach((item, i) => {
    const what = `topic_permissions[${i}]`;
    onlyFields(item, ['user', 'vhost', 'exchange', 'write', 'read'], what);
    const user = userOf(item, what);
    const vhost = vhostOf(item, what);
    const exchange = str(item, 'exchange', what);
    const permission = { write: regex(item, 'write', what), read: regex(item, 'read', what) };
    steps.push(() => broker.setTopicPermission(user, vhost, exchange, permission));
  });

  (defs.parameters ?? []).forEach((item, i) => {
    onlyFields(item, ['value', 'vhost', 'component', 'name'], `parameters[${i}]`);
    const component = str(item, 'component', `parameters[${i}]`);
    const name = str(item, 'name', `parameters[${i}]`);
    const what = `parameter '${name}' of component '${component}'`;
    const vhost = vhostOf(item, what);
    const value = item['value'];
    if (component === 'policy' || component === 'operator_policy') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(what, 'the value must be an object');
      onlyFields(value as Item, POLICY_FIELDS.filter((f) => f !== 'vhost' && f !== 'name'), what);
      policy(vhost, name, value as PolicyInput, component === 'operator_policy', `${component === 'policy' ? 'policy' : 'operator policy'} '${name}' in vhost '${vhost}'`);
    } else if (component === 'vhost-limits') {
      // RabbitMQ keeps a vhost's limits in the one parameter named 'limits'.
      if (name !== 'limits') throw invalid(what, "vhost limits are the parameter named 'limits'");
      const vhostLimits = limits(value, VHOST_LIMIT_KEYS, `limits of vhost '${vhost}'`) as VhostLimits;
      steps.push(() => broker.setVhostLimits(vhost, vhostLimits));
    } else {
      if (!('value' in item)) throw invalid(what, "'value' is required");
      steps.push(() => {
        broker.logger.info(
          { component, vhost, name },
          'runtime parameter stored: Warren does not implement this component (it is kept, listed and exported, and does nothing)',
        );
        broker.setParameter(component, vhost, name, value);
      });
    }
  });

  (defs.global_parameters ?? []).forEach((item, i) => {
    onlyFields(item, ['name', 'value'], `global_parameters[${i}]`);
    const name = str(item, 'name', `global_parameters[${i}]`);
    const what = `global parameter '${name}'`;
    if (!('value' in item)) throw invalid(what, "'value' is required");
    const value = item['value'];
    // The management API and Prometheus read the cluster name from here; it must stay a string.
    if (name === 'cluster_name' && typeof value !== 'string') throw invalid(what, 'the cluster name must be a string');
    steps.push(() => {
      if (name !== 'cluster_name') broker.logger.info({ name }, 'global parameter stored: Warren does not act on it (it is kept, listed and exported)');
      broker.setGlobalParameter(name, value);
    });
  });

  (defs.policies ?? []).forEach((item, i) => {
    onlyFields(item, POLICY_FIELDS, `policies[${i}]`);
    const name = str(item, 'name', `policies[${i}]`);
    const what = `policy '${name}'`;
    const vhost = vhostOf(item, what);
    policy(vhost, name, item as PolicyInput, false, `policy '${name}' in vhost '${vhost}'`);
  });
  return steps;
}
