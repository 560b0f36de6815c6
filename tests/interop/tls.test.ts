/**
 * amqplib over amqps against Warren's TLS listener with its generated self-signed certificate.
 * Skipped against an external broker (WARREN_INTEROP_URL), whose TLS setup the harness does not know.
 */
import { describe, expect, it } from 'vitest';
import { connect, interopSuite, isExternal, take } from './harness.js';

const env = interopSuite({ tls: true });

function amqpsUrl(): string {
  const port = env.broker.tlsPort;
  if (port === undefined) throw new Error('the broker reported no amqps port');
  return `amqps://guest:guest@${env.broker.host}:${port}`;
}

describe.skipIf(isExternal)('TLS (amqps)', () => {
  it('accepts an amqplib client over TLS and carries messages both ways', async () => {
    const c = await connect(amqpsUrl(), { rejectUnauthorized: false });
    try {
      const { ch } = await c.channel();
      const q = (await ch.assertQueue('', { exclusive: true })).queue;
      ch.sendToQueue(q, Buffer.from('over tls'));
      const [m] = await take(ch, q, 1);
      expect(m?.content.toString()).toBe('over tls');
      // The socket under the connection really is TLS.
      const stream = (c.conn as unknown as { connection: { stream: { encrypted?: boolean } } }).connection.stream;
      expect(stream.encrypted).toBe(true);
    } finally {
      await c.conn.close().catch(() => {});
    }
  });

  it('presents a certificate that a verifying client rejects as self-signed', async () => {
    await expect(connect(amqpsUrl())).rejects.toThrow(/self[- ]signed/i);
  });

  it('keeps the plain listener working alongside TLS', async () => {
    const { ch } = await env.scope.channel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    expect(q).toMatch(/^amq\.gen-/);
  });
});
