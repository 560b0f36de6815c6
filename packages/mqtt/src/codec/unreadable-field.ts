/**
 * The check mqtt-packet leaves to its caller: a property it could not read is left as null and a packet identifier
 * cut short as -1, instead of failing the packet. Pure.
 */
import type { Packet } from 'mqtt-packet';

/** A field of `packet` (its packet identifier, a property or a will property) that mqtt-packet could not read. */
export function unreadableField(packet: Packet): string | undefined {
  const id = (packet as { messageId?: number }).messageId;
  if (id !== undefined && !(id >= 0 && id <= 0xffff)) return 'packet identifier';
  if (!('properties' in packet) && packet.cmd !== 'connect') return undefined;
  const sets: unknown[] = [(packet as { properties?: unknown }).properties];
  if (packet.cmd === 'connect') sets.push(packet.will?.properties);
  for (const props of sets) {
    if (props === undefined || props === null || typeof props !== 'object') continue;
    for (const [name, value] of Object.entries(props)) {
      if (value === null) return `property ${name}`;
      // mqtt-packet turns a property given twice into an array; only these two may repeat (MQTT 5 §2.2.2.2).
      if (Array.isArray(value) && name !== 'subscriptionIdentifier' && name !== 'userProperties') return `property ${name} (given twice)`;
      if (name === 'userProperties') {
        for (const [k, v] of Object.entries(value as object)) {
          const values: unknown[] = Array.isArray(v) ? v : [v];
          if (values.some((x) => typeof x !== 'string')) return `property userProperties.${k}`;
        }
      }
    }
  }
  return undefined;
}
