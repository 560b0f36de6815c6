/**
 * Debian's amqp-tools (rabbitmq-c): amqp-publish and amqp-consume against the broker under test, cross-checked with
 * amqplib on the other side.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { eventually, interopSuite, runTool, take, within } from './harness.js';

const env = interopSuite();

describe('amqp-publish', () => {
  it('publishes to a queue through the default exchange with content type, persistence and headers', async () => {
    const s = env.scope;
    const q = s.queue('tools-pub');
    const { ch } = await s.channel();
    await ch.assertQueue(q, { durable: false });
    const r = await runTool('amqp-publish', [
      `--url=${env.broker.url}`,
      '-r',
      q,
      '-b',
      'hello from amqp-publish',
      '-C',
      'text/plain',
      '-E',
      'identity',
      '-p',
      '-t',
      'reply-here',
      '-H',
      'x-tool: amqp-tools',
    ]);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    const [m] = await take(ch, q, 1);
    expect(m?.content.toString()).toBe('hello from amqp-publish');
    expect(m?.properties).toMatchObject({
      contentType: 'text/plain',
      contentEncoding: 'identity',
      deliveryMode: 2,
      replyTo: 'reply-here',
      headers: { 'x-tool': 'amqp-tools' },
    });
    expect(m?.fields).toMatchObject({ exchange: '', routingKey: q });
  });

  it('publishes to a named exchange with a routing key', async () => {
    const s = env.scope;
    const x = s.exchange('tools-x');
    const { ch } = await s.channel();
    await ch.assertExchange(x, 'direct', { durable: false });
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(q, x, 'key.a');
    const r = await runTool('amqp-publish', [`--url=${env.broker.url}`, '-e', x, '-r', 'key.a', '-b', 'via exchange']);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    const [m] = await take(ch, q, 1);
    expect(m?.content.toString()).toBe('via exchange');
    expect(m?.fields).toMatchObject({ exchange: x, routingKey: 'key.a' });
  });

  it('exits non-zero with a wrong password', async () => {
    const u = new URL(env.broker.url);
    u.password = 'wrong';
    const r = await runTool('amqp-publish', [`--url=${u.toString()}`, '-r', 'nowhere', '-b', 'x']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/login|ACCESS_REFUSED|403/i);
  });
});

describe('amqp-consume', () => {
  it('consumes one message from an existing queue, acks it and leaves the rest', async () => {
    const s = env.scope;
    const q = s.queue('tools-consume');
    const { ch } = await s.confirmChannel();
    await ch.assertQueue(q, { durable: false });
    ch.sendToQueue(q, Buffer.from('first body'));
    ch.sendToQueue(q, Buffer.from('second body'));
    await ch.waitForConfirms();
    const r = await runTool('amqp-consume', [`--url=${env.broker.url}`, '-q', q, '-c', '1', 'cat']);
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: 'first body' });
    // Unacked prefetched messages go back when the tool disconnects; the consumed one was acked.
    const left = await eventually(async () => {
      const { messageCount, consumerCount } = await ch.checkQueue(q);
      return consumerCount === 0 ? messageCount : undefined;
    }, 'amqp-consume to disconnect');
    expect(left).toBe(1);
    const [m] = await take(ch, q, 1);
    expect(m?.content.toString()).toBe('second body');
  });

  it('binds its own exclusive queue to an exchange and receives what amqplib publishes', async () => {
    const s = env.scope;
    const x = s.exchange('tools-fan');
    const { ch } = await s.channel();
    await ch.assertExchange(x, 'direct', { durable: false });
    const child = spawn('amqp-consume', [`--url=${env.broker.url}`, '-e', x, '-r', 'rk', '-x', '-c', '1', 'cat'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      // Poll until the tool's binding exists: a mandatory publish comes back (basic.return) until then.
      await eventually(async () => {
        const returned = new Promise<boolean>((resolve) => {
          ch.once('return', () => resolve(true));
          // A round trip after the publish: a return, if any, arrives before the reply.
          ch.publish(x, 'rk', Buffer.from('from amqplib'), { mandatory: true });
          void ch.checkExchange(x).then(() => resolve(false));
        });
        const wasReturned = await returned;
        ch.removeAllListeners('return');
        return wasReturned ? undefined : true;
      }, 'amqp-consume to bind its queue');
      expect(await within(exited, 5000, 'amqp-consume to exit')).toBe(0);
      expect(stdout, stderr).toBe('from amqplib');
    } finally {
      child.kill();
    }
  });
});
