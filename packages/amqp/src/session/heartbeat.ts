/**
 * Heartbeats (§4.2.7): one interval per connection at half the negotiated period; it sends a heartbeat when nothing
 * was written since the last tick and gives up after two full periods without input.
 */
import { HEARTBEAT_FRAME } from '../codec/index.js';
import { abort } from './closing.js';
import { State, type ConnectionState } from './connection-state.js';

/** Start the interval for the negotiated period (none when it is 0). */
export function startHeartbeat(s: ConnectionState): void {
  const seconds = s.heartbeat;
  if (seconds <= 0) return;
  const tickMs = (seconds * 1000) / 2;
  s.heartbeatTimer = setInterval(() => heartbeatTick(s), tickMs);
  s.heartbeatTimer.unref?.();
}

function heartbeatTick(s: ConnectionState): void {
  if (s.state === State.Closed) return;
  if (!s.wroteSinceTick) s.io.write(HEARTBEAT_FRAME);
  s.wroteSinceTick = false;
  if (s.readSinceTick || s.io.pauseReasons !== 0) {
    // While we do not read (blocked, backpressure) the client's heartbeats cannot be seen: do not count.
    s.missedTicks = 0;
  } else if (++s.missedTicks >= 4) {
    s.log.warn(
      { user: s.user?.name, vhost: s.vhost, timeoutS: s.heartbeat },
      'AMQP missed heartbeats from client, closing connection',
    );
    abort(s);
    return;
  }
  s.readSinceTick = false;
}
