import type { TrafficCounters } from '@warren/core';

/** What a {@link StompSession} needs of its transport: the outbound writer plus read flow control. */
export interface StompIo {
  /** Optional: the transport's byte counters (management's recv_oct, send_oct). */
  traffic?(): TrafficCounters;
  /** Queue encoded bytes for writing (batched by the transport's writer). */
  write(buf: Buffer): void;
  /** False while the writer is above its high-water mark. */
  readonly writable: boolean;
  /** Flush, write `last`, and half-close. */
  end(last?: Buffer): void;
  /** Drop the connection now. */
  destroy(): void;
  /** Stop reading (resource alarm, backpressure). */
  pause(): void;
  /** Start reading again. */
  resume(): void;
  /** The client has logged in (CONNECTED sent): the transport lifts its pre-login limits. */
  authenticated?(): void;
}
