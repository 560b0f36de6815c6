/**
 * `npm run bench`: the end-to-end AMQP load benchmark. Also the entry of every forked child: `main.js worker`,
 * `main.js warren <dataDir>` and `main.js null-server`.
 *
 * Usage: node bench/dist/main.js [--host H] [--port P] [--scenarios a,b,c,d] [--duration S] [--warmup S] [--json]
 *        [--ceiling | --no-ceiling] [--compare-rabbitmq] [--confirm-window N]
 */
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  rabbitmqInstalled,
  runNullServerChild,
  runWarrenChild,
  startNullServerProcess,
  startRabbitMQ,
  startWarren,
  type StartedBroker,
} from './brokers.js';
import { formatComparison, formatResults, parseArgs, type CliOptions } from './cli.js';
import { runScenario, selectScenarios, type RunOptions, type ScenarioGroup, type ScenarioResult } from './runner.js';
import { runWorkerProcess } from './worker.js';
import { formatManagementResult, runManagementBench } from './management/management-load.js';
import { runStompScenario, STOMP_SCENARIOS } from './stomp/stomp-load.js';
import { startMosquitto } from './mqtt/mosquitto.js';
import { MQTT_SCENARIOS, runMqttScenario } from './mqtt/mqtt-load.js';
import { formatWebResults, REFERENCE_RABBITMQ, runWebBench, startWarrenWebChild, type WebTarget } from './web/web-load.js';

/** True when something accepts TCP connections on 127.0.0.1:`port` (the reference RabbitMQ's web_stomp). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * The WebSocket scenarios (group 'w'): a Warren child with every listener on, against `rabbit` (the private node of
 * --compare-rabbitmq, whose web_stomp and web_mqtt are on) or else the hand-started reference RabbitMQ (15684/15685)
 * when it answers on this machine. Returns true when a scenario failed.
 */
async function runWeb(o: CliOptions, log: (s: string) => void, json: Record<string, unknown>, rabbit?: StartedBroker): Promise<boolean> {
  if (!o.groups.includes('w')) return false;
  log('starting Warren for the WebSocket scenarios …');
  const warren = await startWarrenWebChild();
  const stopAfter: StartedBroker[] = [];
  try {
    const targets: WebTarget[] = [warren];
    if (rabbit?.webStompUrl !== undefined && rabbit.webMqttUrl !== undefined) {
      targets.push({
        name: 'RabbitMQ 3 (Debian package)',
        host: rabbit.host,
        ...(rabbit.stompPort !== undefined ? { stompPort: rabbit.stompPort } : {}),
        ...(rabbit.mqttPort !== undefined ? { mqttPort: rabbit.mqttPort } : {}),
        webStompUrl: rabbit.webStompUrl,
        webMqttUrl: rabbit.webMqttUrl,
      });
    } else if (!o.compareMosquitto) {
      if (await answers(15684)) targets.push(REFERENCE_RABBITMQ);
      else log('  no RabbitMQ web_stomp on 15684: WebSocket scenarios on Warren only');
    }
    if (o.compareMosquitto) {
      // MQTT over WebSocket (and TCP, for its ratio) against Mosquitto's websockets listener; STOMP rows show '—'.
      const mosq = await startMosquitto();
      stopAfter.push(mosq);
      targets.push({
        name: 'Mosquitto (Debian package)',
        host: mosq.host,
        ...(mosq.mqttPort !== undefined ? { mqttPort: mosq.mqttPort } : {}),
        ...(mosq.webMqttUrl !== undefined ? { webMqttUrl: mosq.webMqttUrl } : {}),
        ...(mosq.pid !== undefined ? { pid: mosq.pid } : {}),
      });
    }
    const results = await runWebBench(targets, { durationS: o.durationS, warmupS: o.warmupS, bodySize: o.bodySize }, log);
    json.web = Object.fromEntries(results);
    if (!o.json) log(`\n${formatWebResults(results)}\n`);
    // A target without a listener for a scenario (Mosquitto has no STOMP) is not a failure.
    return [...results.values()].flat().some((r) => r.error !== undefined && r.error !== 'no such listener on this target');
  } finally {
    for (const b of stopAfter) await b.stop();
    await warren.stop();
  }
}

/** The MQTT scenarios (group 'm') against `broker`'s MQTT port; [] when it has none or 'm' is not selected. */
async function runMqtt(broker: StartedBroker, o: CliOptions, log: (s: string) => void): Promise<ScenarioResult[]> {
  if (!o.groups.includes('m')) return [];
  const port = broker.mqttPort;
  if (port === undefined) {
    log(`  ${broker.name}: no MQTT port, skipping the m scenarios`);
    return [];
  }
  const out: ScenarioResult[] = [];
  for (const spec of MQTT_SCENARIOS) {
    log(`  ${broker.name}: ${spec.id} — ${spec.title} …`);
    out.push(
      await runMqttScenario(spec, {
        host: broker.host,
        port,
        durationS: o.durationS,
        warmupS: o.warmupS,
        bodySize: o.bodySize,
        devices: o.devices,
        // RabbitMQ's MQTT plugin refuses anonymous connections unless configured; guest works everywhere.
        username: 'guest',
        password: 'guest',
      }),
    );
  }
  return out;
}

/** The STOMP scenarios (group 's') against `broker`'s STOMP port; [] when it has none or 's' is not selected. */
async function runStomp(broker: StartedBroker, o: CliOptions, log: (s: string) => void): Promise<ScenarioResult[]> {
  if (!o.groups.includes('s')) return [];
  const port = broker.stompPort;
  if (port === undefined) {
    log(`  ${broker.name}: no STOMP port, skipping the s scenarios`);
    return [];
  }
  const out: ScenarioResult[] = [];
  for (const spec of STOMP_SCENARIOS) {
    log(`  ${broker.name}: ${spec.id} — ${spec.title} …`);
    out.push(
      await runStompScenario(spec, { host: broker.host, port, durationS: o.durationS, warmupS: o.warmupS, bodySize: o.bodySize }),
    );
  }
  return out;
}

async function runAll(groups: readonly ScenarioGroup[], broker: StartedBroker, o: CliOptions, script: string, log: (s: string) => void): Promise<ScenarioResult[]> {
  const out: ScenarioResult[] = [];
  for (const spec of selectScenarios(groups)) {
    log(`  ${broker.name}: ${spec.id} — ${spec.title} …`);
    out.push(await runScenario(spec, runOptions(broker, o, script)));
  }
  return out;
}

function runOptions(broker: StartedBroker, o: CliOptions, script: string): RunOptions {
  return {
    target: { host: broker.host, port: broker.port },
    durationS: o.durationS,
    warmupS: o.warmupS,
    bodySize: o.bodySize,
    confirmWindow: o.confirmWindow,
    spawn: 'fork',
    script,
    ...(broker.pid !== undefined ? { brokerPid: broker.pid } : {}),
  };
}

async function main(argv: readonly string[]): Promise<number> {
  let o: CliOptions;
  try {
    o = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const script = fileURLToPath(import.meta.url);
  const log = (s: string): void => void (o.json ? process.stderr.write(`${s}\n`) : process.stdout.write(`${s}\n`));
  const started: StartedBroker[] = [];
  /** The private RabbitMQ of --compare-rabbitmq, kept for the WebSocket scenarios. */
  let privateRabbit: StartedBroker | undefined;
  const json: Record<string, unknown> = { durationS: o.durationS, bodySize: o.bodySize, confirmWindow: o.confirmWindow };
  let failed = false;
  const onSignal = (): void => {
    void Promise.all(started.map((b) => b.stop())).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (o.compareRabbitmq) {
      if (!rabbitmqInstalled()) {
        process.stderr.write(
          'rabbitmq-server is not installed. Install it with:\n  sudo apt-get install -y rabbitmq-server\n' +
            '(the bench starts its own private node; the system service may stay stopped:\n' +
            '  sudo systemctl disable --now rabbitmq-server)\n',
        );
        return 1;
      }
      log('starting Warren and a private RabbitMQ node …');
      const warren = await startWarren(script);
      started.push(warren);
      const rabbit = await startRabbitMQ();
      started.push(rabbit);
      privateRabbit = rabbit;
      const w: ScenarioResult[] = [];
      const r: ScenarioResult[] = [];
      // Alternate per scenario so slow drift of the host (thermal, other load) hits both brokers alike.
      for (const spec of selectScenarios(o.groups)) {
        log(`  ${spec.id} — ${spec.title}: Warren …`);
        w.push(await runScenario(spec, runOptions(warren, o, script)));
        log(`  ${spec.id} — ${spec.title}: RabbitMQ …`);
        r.push(await runScenario(spec, runOptions(rabbit, o, script)));
      }
      w.push(...(await runStomp(warren, o, log)));
      r.push(...(await runStomp(rabbit, o, log)));
      const wm = await runMqtt(warren, o, log);
      w.push(...wm);
      r.push(...(await runMqtt(rabbit, o, log)));
      // With --compare-mosquitto too, the MQTT scenarios also run on a private Mosquitto: three brokers, one run.
      let m: ScenarioResult[] = [];
      if (o.compareMosquitto && o.groups.includes('m')) {
        const mosq = await startMosquitto();
        started.push(mosq);
        m = await runMqtt(mosq, o, log);
        json.mosquitto = m;
      }
      json.warren = w;
      json.rabbitmq = r;
      failed ||= [...w, ...r, ...m].some((x) => x.error !== undefined);
      if (!o.json) {
        log(`\n${formatResults('Warren', w)}\n\n${formatResults('RabbitMQ 3 (Debian package)', r)}\n`);
        if (m.length > 0) log(`${formatResults('Mosquitto (Debian package)', m)}\n`);
        log(`${formatComparison(w, r)}\n`);
        if (m.length > 0) log(`${formatComparison(wm, m, 'Mosquitto')}\n`);
      }
    } else if (o.compareMosquitto) {
      // Without the m group (--groups w --compare-mosquitto) only the WebSocket comparison below runs.
      if (o.groups.includes('m')) {
        log('starting Warren and a private Mosquitto …');
        const warren = await startWarren(script);
        started.push(warren);
        const mosq = await startMosquitto();
        started.push(mosq);
        const w = await runMqtt(warren, { ...o, groups: ['m'] }, log);
        const m = await runMqtt(mosq, { ...o, groups: ['m'] }, log);
        json.warren = w;
        json.mosquitto = m;
        failed ||= [...w, ...m].some((x) => x.error !== undefined);
        if (!o.json) {
          log(`\n${formatResults('Warren', w)}\n\n${formatResults('Mosquitto (Debian package)', m)}\n`);
          log(`${formatComparison(w, m, 'Mosquitto')}\n`);
        }
      }
    } else if (o.ceiling !== 'only') {
      let target: StartedBroker;
      if (o.port !== null) {
        target = {
          name: `${o.host}:${o.port}`,
          host: o.host,
          port: o.port,
          ...(o.stompPort !== null ? { stompPort: o.stompPort } : {}),
          ...(o.mqttPort !== null ? { mqttPort: o.mqttPort } : {}),
          stop: async () => undefined,
        };
      } else {
        log('starting Warren …');
        target = await startWarren(script);
        started.push(target);
      }
      const res = await runAll(o.groups, target, o, script, log);
      res.push(...(await runStomp(target, o, log)));
      res.push(...(await runMqtt(target, o, log)));
      json.target = { name: target.name, results: res };
      if (o.groups.includes('g') && target.managementPort !== undefined) {
        const g = await runManagementBench(target, runOptions(target, o, script), o.mgmtQueues, log);
        json.management = g;
        failed ||= g.pollers.some((x) => x.alone.error !== undefined || x.polled.error !== undefined);
        if (!o.json) log(`\n${formatManagementResult(g)}\n`);
      }
      failed ||= res.some((x) => x.error !== undefined);
      if (!o.json) log(`\n${formatResults(target.name, res)}\n`);
    }
    if (o.ceiling !== 'only' && o.port === null && (!o.compareMosquitto || o.groups.includes('w'))) failed ||= await runWeb(o, log, json, privateRabbit);
    if (o.ceiling !== 'no' && !o.compareMosquitto) {
      const nul = await startNullServerProcess(script);
      started.push(nul);
      const res = await runAll(o.groups, nul, o, script, log);
      json.ceiling = res;
      failed ||= res.some((x) => x.error !== undefined);
      if (!o.json) log(`\n${formatResults('load-tool ceiling (do-nothing server; latency meaningless here)', res)}\n`);
    }
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    failed = true;
  } finally {
    for (const b of started.reverse()) await b.stop().catch(() => undefined);
  }
  if (o.json) process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  return failed ? 1 : 0;
}

const mode = process.argv[2];
if (mode === 'worker') {
  runWorkerProcess();
} else if (mode === 'warren') {
  void runWarrenChild(process.argv[3] ?? 'data');
} else if (mode === 'null-server') {
  void runNullServerChild();
} else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
