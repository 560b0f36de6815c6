/**
 * The tutorial patterns through pika 1.2 (Debian's python3-pika): each case runs pika/tutorials.py against the broker
 * under test and asserts on the JSON it prints.
 */
import { describe, expect, it } from 'vitest';
import { interopSuite, runPika } from './harness.js';

const env = interopSuite();
const tutorial = (pattern: string) => runPika('tutorials', [env.broker.url, pattern]);

describe('pika tutorials', () => {
  it('hello world', async () => {
    expect(await tutorial('hello')).toEqual({
      declare: [true, 0, 0],
      body: 'Hello World!',
      content_type: 'text/plain',
      exchange: '',
      routing_key_is_queue: true,
      redelivered: false,
    });
  });

  it('work queue: prefetch 1, manual acks, fair dispatch across two workers', async () => {
    expect(await tutorial('work')).toEqual({
      slow: 1,
      fast: 9,
      all: Array.from({ length: 10 }, (_, i) => `task ${i}`),
    });
  });

  it('publish/subscribe over a fanout exchange', async () => {
    expect(await tutorial('pubsub')).toEqual({ q1: ['log line'], q2: ['log line'], generated_name: true });
  });

  it('routing over a direct exchange', async () => {
    expect(await tutorial('routing')).toEqual({ errors: ['error'], all: ['info', 'warning', 'error'], left: 0 });
  });

  it('topics', async () => {
    expect(await tutorial('topics')).toEqual({
      star: ['quick.orange.rabbit', 'lazy.orange.elephant'],
      lazy: ['quick.orange.rabbit', 'lazy.orange.elephant', 'lazy.pink.rabbit', 'lazy'],
      kern: ['kern.critical'],
    });
  });

  it('RPC with reply_to and correlation_id', async () => {
    expect(await tutorial('rpc')).toEqual({ answers: { 'corr-4': '16', 'corr-9': '81' } });
  });

  it('RPC with direct reply-to', async () => {
    expect(await tutorial('direct_reply_to')).toEqual({ answers: { 'd-12': '144' }, server_saw_generated_name: true });
  });
});
