/**
 * MQTT topic names and filters, and their translation to AMQP topic-exchange routing keys and binding keys.
 *
 * RabbitMQ's MQTT plugin (rabbit_mqtt_util:mqtt_to_amqp/amqp_to_mqtt) swaps `/` and `.` and maps the single-level
 * wildcard `+` to `*`; `#` is the same in both. Warren does the same, so AMQP queues bound to amq.topic see MQTT
 * traffic and the reverse.
 */

/** Why a topic name or filter is refused; the adapter maps it to reason code 0x8F / 0x90 or a 3.1.1 close. */
export type TopicError = 'empty' | 'wildcard-in-name' | 'bad-wildcard' | 'nul' | 'invalid-utf8' | 'too-long';

/**
 * Check a topic name (PUBLISH, will). Returns undefined when valid.
 * [MQTT-4.7.3-1] at least one character; [MQTT-3.3.2-2] no wildcards; [MQTT-1.5.4-2] no U+0000;
 * [MQTT-1.5.4-1] well-formed UTF-8 (mqtt-packet decodes with replacement characters, so U+FFFD marks a bad sequence).
 */
export function checkTopicName(topic: string): TopicError | undefined {
  if (topic.length === 0) return 'empty';
  if (topic.length > 65535) return 'too-long';
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x2b /* + */ || c === 0x23 /* # */) return 'wildcard-in-name';
    if (c === 0) return 'nul';
    if (c === 0xfffd) return 'invalid-utf8';
  }
  return undefined;
}

/**
 * Check a topic filter (SUBSCRIBE, UNSUBSCRIBE). Returns undefined when valid.
 * [MQTT-4.7.1-2] `#` only as the last level, alone; [MQTT-4.7.1-3] `+` occupies a whole level.
 */
export function checkTopicFilter(filter: string): TopicError | undefined {
  if (filter.length === 0) return 'empty';
  if (filter.length > 65535) return 'too-long';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return 'bad-wildcard';
    if (level.includes('+') && level !== '+') return 'bad-wildcard';
  }
  for (let i = 0; i < filter.length; i++) {
    const c = filter.charCodeAt(i);
    if (c === 0) return 'nul';
    if (c === 0xfffd) return 'invalid-utf8';
  }
  return undefined;
}

/** MQTT topic name → AMQP routing key: `/` ⇄ `.` swapped (RabbitMQ's mapping). */
export function topicToRoutingKey(topic: string): string {
  // Devices publish to the same few topics over and over, and every delivery swaps back: remembered pairs save a
  // rope of slices per PUBLISH and per delivery (the reverse pair hands a delivery the publisher's own string).
  const known = SWAPPED.get(topic);
  if (known !== undefined) return known;
  const out = swapSeparators(topic);
  if (topic.length <= SWAP_MEMO_MAX_LENGTH) {
    // Bounded: a client cycling through unique topics only makes the memo start over.
    if (SWAPPED.size >= SWAP_MEMO_MAX_ENTRIES) SWAPPED.clear();
    SWAPPED.set(topic, out);
    SWAPPED.set(out, topic);
  }
  return out;
}

/** Topic ⇄ routing key pairs recently swapped (both directions). */
const SWAPPED = new Map<string, string>();
const SWAP_MEMO_MAX_ENTRIES = 8192;
const SWAP_MEMO_MAX_LENGTH = 128;

function swapSeparators(topic: string): string {
  let out = '';
  let start = 0;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x2f /* / */ || c === 0x2e /* . */) {
      out += topic.slice(start, i) + (c === 0x2f ? '.' : '/');
      start = i + 1;
    }
  }
  return start === 0 ? topic : out + topic.slice(start);
}

/** AMQP routing key → MQTT topic name (the inverse of {@link topicToRoutingKey}). */
export function routingKeyToTopic(key: string): string {
  // The swap is its own inverse.
  return topicToRoutingKey(key);
}

/** MQTT topic filter → AMQP binding key: `/` ⇄ `.`, `+` → `*`, `#` stays. */
export function filterToBindingKey(filter: string): string {
  return topicToRoutingKey(filter).replace(/\+/g, '*');
}

/** A parsed shared subscription `$share/<group>/<filter>` (MQTT 5 §4.8.2). */
export interface SharedFilter {
  group: string;
  filter: string;
}

/**
 * Parse `$share/<group>/<filter>`; undefined for an ordinary filter, null for a malformed share
 * ([MQTT-4.8.2-1] the share name is at least one character and has no `/`, `+` or `#`; [MQTT-4.8.2-2] a filter
 * follows).
 */
export function parseSharedFilter(filter: string): SharedFilter | undefined | null {
  if (!filter.startsWith('$share/')) return undefined;
  const rest = filter.slice(7);
  const slash = rest.indexOf('/');
  if (slash <= 0) return null;
  const group = rest.slice(0, slash);
  if (group.includes('+') || group.includes('#')) return null;
  const inner = rest.slice(slash + 1);
  if (inner === '') return null;
  return { group, filter: inner };
}

/**
 * Does `topic` match `filter`? [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with
 * `$`. Used per delivery to find the subscriptions (QoS, identifiers, options) a message matched.
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.charCodeAt(0) === 0x24 /* $ */) {
    const f0 = filter.charCodeAt(0);
    if (f0 === 0x2b || f0 === 0x23) return false;
  }
  // Level by level, comparing in place: this runs for every delivery, so it allocates no substrings.
  let fi = 0;
  let ti = 0;
  const fl = filter.length;
  const tl = topic.length;
  for (;;) {
    // Next level of each.
    let fe = filter.indexOf('/', fi);
    if (fe < 0) fe = fl;
    const fLen = fe - fi;
    if (fLen === 1 && filter.charCodeAt(fi) === 0x23 /* # */) return true;
    if (ti > tl) return false;
    let te = topic.indexOf('/', ti);
    if (te < 0) te = tl;
    if (!(fLen === 1 && filter.charCodeAt(fi) === 0x2b /* + */) && !sameLevel(filter, fi, topic, ti, fLen, te - ti)) return false;
    const fDone = fe >= fl;
    const tDone = te >= tl;
    if (fDone && tDone) return true;
    if (fDone) return false;
    if (tDone) {
      // "sport/#" matches "sport": the remaining filter must be exactly "#".
      return fl - fe === 2 && filter.charCodeAt(fe + 1) === 0x23;
    }
    fi = fe + 1;
    ti = te + 1;
  }
}

/** filter[fi, fi + fLen) equals topic[ti, ti + tLen). */
function sameLevel(filter: string, fi: number, topic: string, ti: number, fLen: number, tLen: number): boolean {
  if (fLen !== tLen) return false;
  for (let k = 0; k < fLen; k++) if (filter.charCodeAt(fi + k) !== topic.charCodeAt(ti + k)) return false;
  return true;
}
