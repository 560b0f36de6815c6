import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { PendingConnections } from './pending-connections.js';

describe('PendingConnections', () => {
  it('an authenticated socket keeps no listener of the count (a closed one frees its slot)', () => {
    const pending = new PendingConnections(2);
    const a = new net.Socket();
    const b = new net.Socket();
    const closeListeners = a.listenerCount('close');
    expect(pending.admit(a)).toBe(true);
    expect(pending.admit(b)).toBe(true);
    expect(pending.admit(new net.Socket())).toBe(false);
    expect(a.listenerCount('close')).toBe(closeListeners + 1);
    pending.release(a);
    pending.release(a);
    expect(pending.count).toBe(1);
    expect(a.listenerCount('close')).toBe(closeListeners);
    b.emit('close', false);
    expect(pending.count).toBe(0);
    expect(b.listenerCount('close')).toBe(closeListeners);
  });
});
