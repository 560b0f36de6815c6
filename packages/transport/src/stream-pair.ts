import { Duplex } from 'node:stream';

/**
 * Two connected in-memory streams: what one end writes, the other reads; ending or destroying one ends or destroys
 * the other. A socket stand-in for protocol tests and for the in-process scale runs (bench/src/mqtt/idle-sessions.ts).
 */
export function streamPair(): [Duplex, Duplex] {
  let a!: Duplex;
  let b!: Duplex;
  const make = (peer: () => Duplex): Duplex =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        peer().push(chunk);
        cb();
      },
      final(cb) {
        peer().push(null);
        cb();
      },
      destroy(err, cb) {
        const p = peer();
        if (!p.destroyed) p.destroy();
        cb(err);
      },
    });
  a = make(() => b);
  b = make(() => a);
  return [a, b];
}
