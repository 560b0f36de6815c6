/** A frame's destination and queue-argument headers, with RabbitMQ's ERROR texts when they are wrong. */
import type { FieldTable } from '@warren/core';
import type { StompFrame } from '../codec/frame.js';
import { invalidDestinationDetail, parseDestination, VALID_DESTINATION_TYPES, type Destination } from '../destination.js';
import { StompError } from '../errors.js';
import { HeaderValueError, queueArguments } from '../mapping.js';

/** The ERROR for a destination that is not one of RabbitMQ's. */
export function unknownDestination(dest: string): StompError {
  const invalid = invalidDestinationDetail(dest);
  if (invalid !== undefined) return new StompError('Invalid destination', invalid);
  return new StompError(
    'Unknown destination',
    `'${dest}' is not a valid destination.\nValid destination types are: ${VALID_DESTINATION_TYPES}.\n`,
  );
}

/** The frame's `destination`, parsed. */
export function frameDestination(frame: StompFrame): Destination {
  const d = frame.headers.get('destination');
  if (d === undefined) throw new StompError('Missing destination', `"${frame.command}" must include a 'destination' header\n`);
  const dest = parseDestination(d);
  if (dest === undefined) throw unknownDestination(d);
  return dest;
}

/** The queue arguments of a frame's `x-*` headers. */
export function frameQueueArguments(h: ReadonlyMap<string, string>): FieldTable | undefined {
  try {
    return queueArguments(h);
  } catch (err) {
    if (err instanceof HeaderValueError) throw new StompError('Invalid header', err.message + '\n');
    throw err;
  }
}
