/**
 * Command-line parsing and result formatting of `npm run bench` (kept apart from main.ts, which is also the entry
 * of every forked child and runs on import).
 */
import { SCENARIO_IDS, type ScenarioGroup, type ScenarioResult } from './runner.js';

/** Parsed command line. */
export interface CliOptions {
  host: string;
  port: number | null;
  /** STOMP port of the broker given by --port (the STOMP scenarios are skipped without it). */
  stompPort: number | null;
  /** MQTT port of the broker given by --port (the MQTT scenarios are skipped without it). */
  mqttPort: number | null;
  /** Start Warren and a private Mosquitto; run the MQTT scenarios on both. */
  compareMosquitto: boolean;
  /** Device connections of the MQTT fan-in scenario. */
  devices: number;
  /** Queues declared for the management scenario (g). */
  mgmtQueues: number;
  groups: ScenarioGroup[];
  durationS: number;
  warmupS: number;
  json: boolean;
  /** 'only' = just the ceiling; 'also' = target then ceiling (default); 'no' = skip it. */
  ceiling: 'only' | 'also' | 'no';
  compareRabbitmq: boolean;
  confirmWindow: number;
  bodySize: number;
}

/** The --help text. */
export const USAGE = `usage: npm run bench -- [options]
  --host H              broker host (default 127.0.0.1)
  --port P              use the broker already listening on P (default: start Warren in a child process)
  --stomp-port P        with --port: that broker's STOMP port (for the s scenarios)
  --mqtt-port P         with --port: that broker's MQTT port (for the m scenarios)
  --devices N           device connections in the MQTT fan-in scenario (default 500)
  --compare-mosquitto   start Warren and a private Mosquitto; run the MQTT (m) scenarios on both
                        (with --compare-rabbitmq: on all three, in the same run)
  --scenarios a,b,c,d,p,s which scenarios to run (default all; p = persistent, s = STOMP,
                        g = a-noack with and without a management/Prometheus poller,
                        f = persistent fanout to 10 durable queues with confirms, bytes written per message)
  --mgmt-queues N       queues declared for the g scenario (default 10000)
  --duration S          measured seconds per scenario (default 10)
  --warmup S            unmeasured seconds before each window (default 1)
  --confirm-window N    unconfirmed publishes in flight per publisher (default 1000)
  --body-size N         message body bytes of the AMQP scenarios (default 100)
  --json                print machine-readable results only
  --ceiling             only measure the load tool against its do-nothing server
  --no-ceiling          skip the ceiling run (printed by default)
  --compare-rabbitmq    start Warren and a private RabbitMQ; run each scenario on both, alternately`;

/** Parse argv (without node and script). Throws on bad input. */
export function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = {
    host: '127.0.0.1',
    port: null,
    stompPort: null,
    mqttPort: null,
    compareMosquitto: false,
    devices: 500,
    mgmtQueues: 10_000,
    groups: [...SCENARIO_IDS],
    durationS: 10,
    warmupS: 1,
    json: false,
    ceiling: 'also',
    compareRabbitmq: false,
    confirmWindow: 1000,
    bodySize: 100,
  };
  const num = (v: string | undefined, name: string): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) throw new Error(`${name} needs a non-negative number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--host':
        o.host = argv[++i] ?? o.host;
        break;
      case '--port':
        o.port = num(argv[++i], a);
        break;
      case '--stomp-port':
        o.stompPort = num(argv[++i], a);
        break;
      case '--mqtt-port':
        o.mqttPort = num(argv[++i], a);
        break;
      case '--mgmt-queues':
        o.mgmtQueues = Math.max(1, num(argv[++i], a));
        break;
      case '--devices':
        o.devices = Math.max(1, num(argv[++i], a));
        break;
      case '--compare-mosquitto':
        o.compareMosquitto = true;
        break;
      case '--scenarios': {
        const list = (argv[++i] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        for (const s of list) if (!(SCENARIO_IDS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}`);
        o.groups = list as ScenarioGroup[];
        break;
      }
      case '--duration':
        o.durationS = num(argv[++i], a);
        break;
      case '--warmup':
        o.warmupS = num(argv[++i], a);
        break;
      case '--confirm-window':
        o.confirmWindow = Math.max(1, num(argv[++i], a));
        break;
      case '--body-size':
        o.bodySize = num(argv[++i], a);
        break;
      case '--json':
        o.json = true;
        break;
      case '--ceiling':
        o.ceiling = 'only';
        break;
      case '--no-ceiling':
        o.ceiling = 'no';
        break;
      case '--compare-rabbitmq':
        o.compareRabbitmq = true;
        break;
      case '--help':
      case '-h':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown option ${String(a)}\n${USAGE}`);
    }
  }
  if (o.durationS <= 0) throw new Error('--duration must be > 0');
  return o;
}

const fmtRate = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const fmtMs = (n: number): string => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 1) : '-');

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows
    .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  '))
    .join('\n');
}

/** Human-readable table of one target's results. */
export function formatResults(label: string, results: readonly ScenarioResult[]): string {
  const bytes = results.some((r) => r.writeBytesPerMsg !== undefined && r.id.startsWith('f-'));
  const rows = [['scenario', 'published/s', 'delivered/s', 'p50 ms', 'p99 ms', 'p999 ms', ...(bytes ? ['disk bytes/msg'] : [])]];
  const errors: string[] = [];
  for (const r of results) {
    const b = bytes ? [r.writeBytesPerMsg === undefined || !r.id.startsWith('f-') ? '-' : Math.round(r.writeBytesPerMsg).toLocaleString('en-US')] : [];
    if (r.error !== undefined) {
      errors.push(`  ${r.id} FAILED: ${r.error}`);
      rows.push([r.id, 'FAILED', '-', '-', '-', '-', ...b.map(() => '-')]);
    } else {
      rows.push([r.id, fmtRate(r.confirmedPerS), fmtRate(r.deliveredPerS), fmtMs(r.p50Ms), fmtMs(r.p99Ms), fmtMs(r.p999Ms), ...b]);
    }
  }
  return [label, table(rows), ...errors].join('\n');
}

/** The headline figure of a result (higher is better for rates; for latency the p99 in ms, lower is better). */
function headline(r: ScenarioResult): { value: number; unit: string } {
  // The fan-in publishes at a fixed rate: its latency is the figure.
  if (r.id.startsWith('d-') || r.id.endsWith('-latency') || r.id === 'm-fanin') return { value: r.p99Ms, unit: 'p99 ms' };
  if (r.id.startsWith('c-')) return { value: r.confirmedPerS, unit: 'routed/s' };
  return { value: r.deliveredPerS, unit: 'delivered/s' };
}

/** Side-by-side table of Warren and another broker (RabbitMQ by default). */
export function formatComparison(warren: readonly ScenarioResult[], rabbit: readonly ScenarioResult[], other = 'RabbitMQ'): string {
  const rows = [['scenario', 'metric', 'Warren', other, `Warren/${other}`]];
  warren.forEach((w, i) => {
    const r = rabbit[i];
    if (!r) return;
    const hw = headline(w);
    const hr = headline(r);
    const fmt = hw.unit.endsWith('ms') ? fmtMs : fmtRate;
    const ratio = hw.value / hr.value;
    const cell = (x: ScenarioResult, v: number): string => (x.error !== undefined ? 'FAILED' : fmt(v));
    rows.push([w.id, hw.unit, cell(w, hw.value), cell(r, hr.value), formatRatio(ratio)]);
  });
  return table(rows);
}

/** A ratio with two significant digits at least (a latency ratio can be 0.0018). */
export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return '-';
  if (ratio === 0 || ratio >= 0.1) return ratio.toFixed(2);
  return ratio.toPrecision(2);
}
