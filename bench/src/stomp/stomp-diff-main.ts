/**
 * `npm run stomp-diff -- --compare-rabbitmq`: the STOMP differential run standalone. Starts an embedded
 * Warren (STOMP on a free port) and, with --compare-rabbitmq, a private RabbitMQ with its STOMP plugin; runs every
 * scenario of stomp-differential.ts on both and prints the scenarios whose frames differ (exit code 1 when any do).
 * Without --compare-rabbitmq it prints Warren's frames. `--rabbitmq-stomp-port P` uses an already running RabbitMQ.
 */
import { startEmbeddedBroker } from '@warren/server';
import { rabbitmqInstalled, startRabbitMQ, type StartedBroker } from '../brokers.js';
import { KEPT_DIFFERENCES, runAll } from './stomp-differential.js';

async function main(argv: readonly string[]): Promise<number> {
  const compare = argv.includes('--compare-rabbitmq');
  const portArg = argv.indexOf('--rabbitmq-stomp-port');
  const givenPort = portArg >= 0 ? Number(argv[portArg + 1]) : undefined;
  const only = argv.indexOf('--only');
  const filter = only >= 0 ? (argv[only + 1] ?? '') : '';
  const token = 'diff' + Math.random().toString(36).slice(2, 8);
  const warren = await startEmbeddedBroker({ amqp: { port: null }, mqtt: { port: null }, webStomp: { port: null }, webMqtt: { port: null } });
  let rabbit: StartedBroker | undefined;
  try {
    const { DIFF_SCENARIOS } = await import('./stomp-differential.js');
    const scenarios = DIFF_SCENARIOS.filter((s) => s.name.includes(filter));
    const ours = await runAll(warren.ports.stomp ?? 0, token, scenarios);
    let rabbitPort = givenPort;
    if (rabbitPort === undefined && compare) {
      if (!rabbitmqInstalled()) throw new Error('--compare-rabbitmq: rabbitmq-server is not installed');
      rabbit = await startRabbitMQ();
      rabbitPort = rabbit.stompPort;
    }
    if (rabbitPort === undefined) {
      for (const [name, text] of ours) console.log(`## ${name}\n${text}\n`);
      return 0;
    }
    const theirs = await runAll(rabbitPort, token, scenarios);
    let differ = 0;
    for (const [name, text] of ours) {
      const ref = theirs.get(name) ?? '';
      if (ref === text) {
        console.log(`same    ${name}`);
        continue;
      }
      if (!KEPT_DIFFERENCES.has(name)) differ++;
      console.log(`${KEPT_DIFFERENCES.has(name) ? 'KEPT   ' : 'DIFFERS'} ${name}\n--- RabbitMQ\n${ref}\n--- Warren\n${text}\n`);
    }
    console.log(`${ours.size - differ} of ${ours.size} scenarios answer as RabbitMQ (differences kept: ${KEPT_DIFFERENCES.size})`);
    return differ === 0 ? 0 : 1;
  } finally {
    await warren.stop();
    await rabbit?.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
