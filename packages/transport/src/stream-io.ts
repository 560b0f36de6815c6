import type { Duplex } from 'node:stream';
import type { TrafficCounters } from '@warren/core';
import type { OutboundWriter } from './outbound-writer.js';
import { connectionAuthenticated } from './pending-connections.js';

/**
 * What a protocol state machine needs of its connection, over a byte stream and its {@link OutboundWriter}: write
 * (batched by the writer), backpressure, end, destroy, and read flow control. The protocol adapters' I/O objects
 * extend it with their own extras (MQTT's flush pacing, say), so a state machine never touches the socket itself.
 */
export class StreamIo implements TrafficCounters {
  protected readonly stream: Duplex;
  protected readonly writer: OutboundWriter;
  #recvOct = 0;
  #recvCnt = 0;

  constructor(stream: Duplex, writer: OutboundWriter) {
    this.stream = stream;
    this.writer = writer;
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

  /** Count one chunk read from the stream (the listener glue calls this per chunk, not per frame). */
  received(bytes: number): void {
    this.#recvOct += bytes;
    this.#recvCnt++;
  }

  /** These counters (the object itself: its getters read live values). */
  traffic(): TrafficCounters {
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

  /** False while the writer is over its high-water mark: stop producing deliveries. */
  get writable(): boolean {
    return this.writer.writable;
  }

  /** Flush what is batched (plus `last`) and half-close; the stream is destroyed after a grace period. */
  end(last?: Buffer): void {
    this.writer.end(last);
  }

  destroy(): void {
    this.writer.destroy();
    if (!this.stream.destroyed) this.stream.destroy();
  }

  /** Stop reading (backpressure on the peer, alarms). */
  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }
}
