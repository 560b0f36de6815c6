/**
 * Runs {@link SCRIPT} against one broker: `exec` runs one command line (rabbitmqctl or warrenctl) in `dir`, and the
 * AMQP steps open and close an amqplib client on `amqpPort` that makes queues, a binding, messages, a consumer.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import amqp from 'amqplib';
import { IMPORT_DEFINITIONS, IMPORT_FILE, SCRIPT, type Answer } from './script.js';

export type Exec = (args: readonly string[], cwd: string) => Promise<Answer>;

/** Run the script; returns every command step's answer by step name. */
export async function runScript(
  exec: Exec,
  amqpPort: number,
  dir: string,
  include: (name: string) => boolean = () => true,
): Promise<Record<string, Answer>> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, IMPORT_FILE), JSON.stringify(IMPORT_DEFINITIONS));
  const out: Record<string, Answer> = {};
  let conn: Awaited<ReturnType<typeof amqp.connect>> | undefined;
  for (const step of SCRIPT) {
    if ('amqp' in step) {
      if (step.amqp === 'open') {
        conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${amqpPort}`);
        const ch = await conn.createChannel();
        await ch.assertQueue('cq1', { durable: true });
        await ch.assertQueue('cq2', { durable: false });
        await ch.assertQueue('cq3', { durable: true });
        await ch.bindQueue('cq1', 'amq.direct', 'k1');
        for (let i = 0; i < 3; i++) ch.sendToQueue('cq1', Buffer.from(`m${i}`));
        ch.sendToQueue('cq3', Buffer.from('x'));
        await ch.prefetch(5);
        await ch.consume('cq2', () => undefined, { noAck: false, consumerTag: 'ctag-1' });
        // A round trip after the publishes, so the messages are enqueued before the next command lists them.
        await ch.checkQueue('cq1');
        await new Promise((r) => setTimeout(r, 300));
      } else {
        await conn?.close();
        conn = undefined;
      }
      continue;
    }
    if (include(step.name)) out[step.name] = await exec(step.args, dir);
  }
  return out;
}
