/**
 * Heart-beating (STOMP 1.1+ §"Heart-beating"): the client's `heart-beat:cx,cy` means it can send every cx ms and
 * wants to receive every cy ms. The server answers "cy,cx" (as RabbitMQ does), sends an EOL when it has written
 * nothing for half its interval, and closes a client silent for twice its own.
 */
import type { StompVersion } from '../codec/frame.js';
import { StompError } from '../errors.js';
import type { SessionContext } from './session-context.js';

/** A heart-beat: one EOL. */
const HEARTBEAT = Buffer.from('\n');

/** The negotiated intervals, ms (0 = none). */
export interface HeartBeatIntervals {
  /** How often the server sends. */
  readonly sendEvery: number;
  /** How often the client promised to send. */
  readonly expectEvery: number;
}

/** The intervals for a CONNECT's `heart-beat` header (none for STOMP 1.0), no shorter than `minMs`. */
export function negotiateHeartBeat(header: string | undefined, version: StompVersion, minMs: number): HeartBeatIntervals {
  if (header === undefined || version === '1.0') return { sendEvery: 0, expectEvery: 0 };
  const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(header);
  if (m === null) throw new StompError('Bad CONNECT', `Invalid heart-beat header: "${header}"\n`);
  const cx = Number(m[1]);
  const cy = Number(m[2]);
  return { sendEvery: cy === 0 ? 0 : Math.max(cy, minMs), expectEvery: cx === 0 ? 0 : Math.max(cx, minMs) };
}

/** The two heart-beat timers of one connection. */
export class HeartBeats {
  #sendTimer: NodeJS.Timeout | undefined;
  #recvTimer: NodeJS.Timeout | undefined;

  start(ctx: SessionContext, { sendEvery, expectEvery }: HeartBeatIntervals): void {
    if (sendEvery > 0) {
      this.#sendTimer = setInterval(() => {
        if (Date.now() - ctx.lastWrite >= sendEvery / 2) ctx.write(HEARTBEAT);
      }, Math.max(1, Math.floor(sendEvery / 2)));
      this.#sendTimer.unref?.();
    }
    if (expectEvery > 0) {
      this.#recvTimer = setInterval(() => {
        if (Date.now() - ctx.lastRead > expectEvery * 2) {
          ctx.logger.info({ connection: ctx.info.id }, 'STOMP heart-beat missed: closing the connection');
          ctx.closeNow();
        }
      }, expectEvery);
      this.#recvTimer.unref?.();
    }
  }

  stop(): void {
    if (this.#sendTimer !== undefined) clearInterval(this.#sendTimer);
    if (this.#recvTimer !== undefined) clearInterval(this.#recvTimer);
  }
}
