/**
 * The state one AMQP connection shares between its parts (handshake, heartbeats, frame dispatch, errors and
 * closing). {@link AmqpConnection} owns it and keeps the fields the per-frame path reads as its own private fields;
 * this view reaches those through accessors, so only the cold paths (handshake, errors, closing) pay for them.
 */
import type { BrokerApi, ConnectionHost, ConnectionInfo, CoreConnection, DefinitionsBarrier, FieldTable, Logger, User } from '@warren/core';
import type { ProtocolIo } from '@warren/transport';
import type { Frame, FrameParser } from '../codec/index.js';
import type { AmqpChannel, ChannelOwner } from './channel.js';
import type { AmqpConnectionOptions } from './options.js';

/** Spec minimum for frame-max (§4.2.3 "frame-min-size"). */
export const FRAME_MIN_SIZE = 4096;
/** Before tune-ok, frames are limited to the spec minimum (small limits before authentication, DESIGN.md §6). */
export const PRE_TUNE_FRAME_MAX = FRAME_MIN_SIZE;

export const enum State {
  /** Waiting for the protocol header. */
  Header,
  /** connection.start sent, waiting for start-ok. */
  Starting,
  /** connection.tune sent, waiting for tune-ok. */
  Tuning,
  /** Tuned, waiting for connection.open. */
  Opening,
  Open,
  /** connection.close sent, waiting for close-ok; every other frame is discarded (§4.2.2). */
  Closing,
  Closed,
}

/** Channel states kept in the table. */
export const enum ChannelState {
  Open,
  /** channel.close sent after an error; everything but close/close-ok is ignored (spec §1.5.2.5). */
  Closing,
}

/** One row of the channel table. */
export interface ChannelEntry {
  channel: AmqpChannel;
  state: ChannelState;
}

/** One connection's shared state, as its handshake, heartbeat, dispatch and closing modules see it. */
export interface ConnectionShared {
  readonly io: ProtocolIo;
  readonly info: ConnectionInfo;
  readonly broker: BrokerApi;
  readonly options: AmqpConnectionOptions;
  readonly log: Logger;
  readonly parser: FrameParser;
  /** The channel table (the connection's own map). */
  readonly channels: Map<number, ChannelEntry>;
  /** Channels with confirms to flush (the connection's own array). */
  readonly dirty: AmqpChannel[];
  readonly barrier: DefinitionsBarrier;
  /** What the core calls back about this connection (alarms, details, operator close). */
  readonly host: ConnectionHost;
  /** The connection, as its channels see it. */
  readonly owner: ChannelOwner;

  // Kept by the connection (the per-frame path reads them); these are accessors.
  state: State;
  frameMax: number;
  readSinceTick: boolean;
  wroteSinceTick: boolean;
  /** Set while a resource alarm is on: the next publish blocks this connection (RabbitMQ's "blocking" state). */
  alarmReason: string | undefined;
  /** Frames that arrived (in the chunk being parsed, or before the pause took effect) while waiting. */
  backlog: Frame[];
  /** True while a frame waits for an external auth backend: it and every later frame wait in the backlog. */
  authWait: boolean;
  inReceive: boolean;
  /** True while a definitions method is handled during a wait: everything it writes is held by the barrier. */
  readonly holdWrites: boolean;

  user: User | undefined;
  vhost: string;
  /** open-ok was sent (for the one "closed" log line). */
  opened: boolean;
  core: CoreConnection | undefined;
  capabilities: FieldTable;
  channelMax: number;
  heartbeat: number;
  clientProperties: FieldTable;
  authMechanism: string;
  handshakeTimer: NodeJS.Timeout | undefined;
  heartbeatTimer: NodeJS.Timeout | undefined;
  closeTimer: NodeJS.Timeout | undefined;
  closedWaiters: (() => void)[];
  missedTicks: number;

  /** Write through the connection (held by the barrier while a definitions method is handled during a wait). */
  write(buf: Buffer): void;
  /** Handle one frame as if just parsed. */
  onFrame(frame: Frame): void;
  /** Write the pending confirms of every dirty channel. */
  flushConfirms(): void;
}

/** reply-text is a shortstr: at most 255 bytes (spec §4.2.5.3). */
export function clampText(text: string): string {
  if (Buffer.byteLength(text, 'utf8') <= 255) return text;
  let s = text.slice(0, 255);
  while (Buffer.byteLength(s, 'utf8') > 255) s = s.slice(0, -1);
  return s;
}
