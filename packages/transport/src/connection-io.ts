/**
 * The connection object every protocol state machine writes to and pauses: {@link ProtocolIo}, implemented over a
 * byte stream and its {@link OutboundWriter} by {@link ConnectionIo}. State machines never touch the socket (STYLE.md
 * habit 1); in tests they run over a recording object with the same interface.
 */
import type { Duplex } from 'node:stream';
import type { OutboundWriter } from './outbound-writer.js';
import { connectionAuthenticated } from './pending-connections.js';
import type { TrafficCounts } from './peer-info.js';

/**
 * Why a connection stopped reading: bit flags, so that several can hold at once. Reading resumes only when no
 * reason is left (a durable reply released while a resource alarm is on must not resume a blocked publisher).
 */
export const PauseReason = {
  /** The output is far over the writer's high-water mark: the client does not read its replies. */
  Backpressure: 1,
  /** A resource alarm blocks this publisher (AMQP connection.blocked; MQTT and STOMP just stop reading). */
  Alarm: 2,
  /** Replies (and the frames read after them) wait for the durable definitions to reach the disk. */
  Definitions: 4,
  /** A frame waits for an external authentication or authorisation backend. */
  Auth: 8,
  /** The connection used its share of this event-loop turn (a slice of a huge SUBSCRIBE); it reads on next turn. */
  Turn: 16,
} as const;

/** Reading stops at this many times the writer's high-water mark of pending output (see {@link ProtocolIo.overloaded}). */
export const DEFAULT_READ_PAUSE_FACTOR = 4;

/** What a protocol state machine needs of its connection. */
export interface ProtocolIo {
  /** Queue bytes for writing (batched by the writer). Never throws; dropped once the connection ended. */
  write(buf: Buffer): void;
  /** False while the output is at or over the writer's high-water mark: stop producing deliveries. */
  readonly writable: boolean;
  /**
   * True when so much output is pending (by default 4 × the high-water mark) that reading should stop too: the
   * replies to what a client sends are small, so one that reads keeps flowing, and one that does not is stopped
   * before its replies pile up.
   */
  readonly overloaded: boolean;
  /** Write `last` (if any) and everything batched, half-close, and destroy after a grace period. */
  end(last?: Buffer): void;
  /** Drop pending output and close the transport now. */
  destroy(): void;
  /** The client has logged in: the listener lifts its pre-login limits. */
  authenticated(): void;
  /** Hand the writer's batch to the socket now instead of at the end of the event-loop turn. */
  flush(): void;
  /** The connection's traffic counters (live values). */
  traffic(): TrafficCounts;
  /** Stop reading for `reason` (a {@link PauseReason} flag). Idempotent per reason. */
  pause(reason: number): void;
  /** Drop `reason`; reading resumes once no reason is left. */
  resume(reason: number): void;
  /** The reasons reading is paused for (0: reading). */
  readonly pauseReasons: number;
}

/** Tuning of a {@link ConnectionIo}. */
export interface ConnectionIoOptions {
  /** Pending output bytes at which {@link ConnectionIo.overloaded} becomes true. Default 4 × the writer's mark. */
  readPauseBytes?: number;
}

/**
 * {@link ProtocolIo} over a byte stream and its {@link OutboundWriter}: batched writes, backpressure, the read
 * switch with its set of pause reasons, and the traffic counters. Adapters may extend it (MQTT counts its packets).
 */
export class ConnectionIo implements ProtocolIo, TrafficCounts {
  protected readonly stream: Duplex;
  protected readonly writer: OutboundWriter;
  readonly #readPauseBytes: number;
  #pause = 0;
  #recvOct = 0;
  #recvCnt = 0;

  constructor(stream: Duplex, writer: OutboundWriter, options: ConnectionIoOptions = {}) {
    this.stream = stream;
    this.writer = writer;
    this.#readPauseBytes = options.readPauseBytes ?? DEFAULT_READ_PAUSE_FACTOR * writer.highWaterMark;
  }

  write(buf: Buffer): void {
    this.writer.write(buf);
  }

  /**
   * The client has logged in: its listener stops counting it as unauthenticated and lifts its pre-login limits
   * ({@link connectionAuthenticated}).
   */
  authenticated(): void {
    connectionAuthenticated(this.stream);
  }

  /** Count one chunk read from the stream (per chunk, not per frame). {@link serveStream} calls it. */
  received(bytes: number): void {
    this.#recvOct += bytes;
    this.#recvCnt++;
  }

  /** These counters (the object itself: its getters read live values). */
  traffic(): TrafficCounts {
    return this;
  }

  get recvOct(): number {
    return this.#recvOct;
  }
  get recvCnt(): number {
    return this.#recvCnt;
  }
  get sendOct(): number {
    return this.writer.sentBytes;
  }
  get sendCnt(): number {
    return this.writer.sentBatches;
  }
  get sendPend(): number {
    return this.writer.pendingBytes;
  }

  get writable(): boolean {
    return this.writer.writable;
  }

  get overloaded(): boolean {
    return this.writer.pendingBytes >= this.#readPauseBytes;
  }

  flush(): void {
    this.writer.flush();
  }

  end(last?: Buffer): void {
    this.writer.end(last);
  }

  destroy(): void {
    this.writer.destroy();
    if (!this.stream.destroyed) this.stream.destroy();
  }

  get pauseReasons(): number {
    return this.#pause;
  }

  pause(reason: number): void {
    const before = this.#pause;
    this.#pause = before | reason;
    if (before === 0 && this.#pause !== 0) this.stream.pause();
  }

  resume(reason: number): void {
    const before = this.#pause;
    this.#pause = before & ~reason;
    if (before !== 0 && this.#pause === 0) this.stream.resume();
  }
}
