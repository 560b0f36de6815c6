/**
 * What an {@link AmqpConnection} needs of its transport: a writer and a read switch. The state machine never sees a
 * socket (STYLE.md habit 1), so sessions run over an in-memory stream in tests exactly as over TCP or TLS.
 */

import type { TrafficCounters } from '@warren/core';

/** The output side and read control of one AMQP connection. */
export interface AmqpIo {
  /** Optional: the transport's byte counters (management's recv_oct, send_oct). */
  traffic?(): TrafficCounters;
  /** Queue bytes for writing (batched by the implementation). Never throws. */
  write(buf: Buffer): void;
  /** False while the outbound writer is above its high-water mark. */
  readonly writable: boolean;
  /**
   * True when the output is so far beyond the high-water mark that the connection should stop reading input too.
   * Absent: stop reading as soon as {@link writable} is false.
   */
  readonly overloaded?: boolean;
  /** Write `last` (if any) and everything pending, half-close, and destroy after a grace period. */
  end(last?: Buffer): void;
  /** Drop pending output and close the transport now. */
  destroy(): void;
  /** The client has logged in (connection.open-ok sent): the transport lifts its pre-login limits. */
  authenticated?(): void;
  /** Stop delivering input (backpressure, resource alarm). */
  pause(): void;
  /** Deliver input again. */
  resume(): void;
}
