/**
 * The state one AMQP connection shares between its parts (the per-frame path, handshake, heartbeats, frame
 * dispatch, errors and closing): one {@link ConnectionState} per connection, which the connection and each family
 * module read and write directly.
 */
import type { BrokerApi, ConnectionHost, ConnectionInfo, CoreConnection, FieldTable, Logger, User } from '@warren/core';
import { DefinitionsBarrier } from '@warren/core';
import { PauseReason, type ProtocolIo } from '@warren/transport';
import { FrameParser, type Frame } from '../codec/index.js';
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

/** What a {@link ConnectionState} is made from (read once, at construction). */
export interface ConnectionStateInit {
  io: ProtocolIo;
  info: ConnectionInfo;
  broker: BrokerApi;
  options: AmqpConnectionOptions;
  log: Logger;
  /** What the core calls back about this connection (alarms, details, operator close). */
  host: ConnectionHost;
  /** The connection, as its channels see it. */
  owner: ChannelOwner;
  /** Handle one frame as if just parsed (the connection's frame sink). */
  onFrame: (frame: Frame) => void;
  /** Replay the frames that waited in the backlog (the barrier's end). */
  replay: (s: ConnectionState) => void;
  /** A held reply or the wait for the disk failed. */
  failed: (s: ConnectionState, err: unknown) => void;
}

/**
 * One connection's state, as its per-frame path and its handshake, heartbeat, dispatch and closing modules share it.
 * Plain fields on one object allocated once per connection, so sharing costs neither accessors nor closures; only
 * the files of this folder use it (the connection keeps it in a private field).
 */
export class ConnectionState {
  readonly io: ProtocolIo;
  readonly info: ConnectionInfo;
  readonly broker: BrokerApi;
  readonly options: AmqpConnectionOptions;
  readonly log: Logger;
  readonly parser = new FrameParser({ frameMax: PRE_TUNE_FRAME_MAX });
  /** The channel table. */
  readonly channels = new Map<number, ChannelEntry>();
  /** Channels with confirms to flush. */
  readonly dirty: AmqpChannel[] = [];
  /**
   * Replies held until the durable definitions are on disk; while it waits, frames wait in {@link backlog} and
   * reading is paused for PauseReason.Definitions.
   */
  readonly barrier: DefinitionsBarrier;
  readonly host: ConnectionHost;
  readonly owner: ChannelOwner;
  /** Handle one frame as if just parsed. */
  readonly onFrame: (frame: Frame) => void;

  state: State = State.Header;
  /** Protocol header bytes seen so far (8 once complete). */
  headerBytes = 0;
  frameMax = PRE_TUNE_FRAME_MAX;
  readSinceTick = false;
  wroteSinceTick = false;
  /** Set while a resource alarm is on: the next publish blocks this connection (RabbitMQ's "blocking" state). */
  alarmReason: string | undefined;
  /** Frames that arrived (in the chunk being parsed, or before the pause took effect) while waiting. */
  backlog: Frame[] = [];
  /** True while a frame waits for an external auth backend: it and every later frame wait in the backlog. */
  authWait = false;
  inReceive = false;
  /** A confirms flush is queued as a microtask. */
  flushScheduled = false;
  /** True while a definitions method is handled during a wait: everything it writes is held by the barrier. */
  holdWrites = false;

  user: User | undefined;
  vhost = '';
  /** open-ok was sent (for the one "closed" log line). */
  opened = false;
  core: CoreConnection | undefined;
  capabilities: FieldTable = {};
  channelMax = 0;
  heartbeat = 0;
  clientProperties: FieldTable = {};
  authMechanism = '';
  handshakeTimer: NodeJS.Timeout | undefined;
  heartbeatTimer: NodeJS.Timeout | undefined;
  closeTimer: NodeJS.Timeout | undefined;
  closedWaiters: (() => void)[] = [];
  missedTicks = 0;

  constructor(init: ConnectionStateInit) {
    const io = init.io;
    this.io = io;
    this.info = init.info;
    this.broker = init.broker;
    this.options = init.options;
    this.log = init.log;
    this.host = init.host;
    this.owner = init.owner;
    this.onFrame = init.onFrame;
    const { replay, failed } = init;
    this.barrier = new DefinitionsBarrier({
      pause: () => io.pause(PauseReason.Definitions),
      resume: () => {
        if (this.state !== State.Closed) io.resume(PauseReason.Definitions);
      },
      write: (buf) => this.write(buf),
      replay: () => replay(this),
      failed: (err) => failed(this, err),
    });
  }

  /** Write through the connection (held by the barrier while a definitions method is handled during a wait). */
  write(buf: Buffer): void {
    if (this.holdWrites) {
      this.barrier.hold(buf);
      return;
    }
    this.wroteSinceTick = true;
    this.io.write(buf);
  }

  /** Write the pending confirms of every dirty channel. */
  flushConfirms(): void {
    this.flushScheduled = false;
    const dirty = this.dirty;
    if (dirty.length === 0) return;
    for (let i = 0; i < dirty.length; i++) dirty[i]!.flushConfirms();
    dirty.length = 0;
  }
}

/** reply-text is a shortstr: at most 255 bytes (spec §4.2.5.3). */
export function clampText(text: string): string {
  if (Buffer.byteLength(text, 'utf8') <= 255) return text;
  let s = text.slice(0, 255);
  while (Buffer.byteLength(s, 'utf8') > 255) s = s.slice(0, -1);
  return s;
}
