/**
 * Warren embedded in a test (or any Node process): every plain listener on a free port, the TLS listeners off, a
 * fresh temporary data directory that is removed at stop, and no log output — unless the caller says otherwise.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG, type WarrenConfigInput } from './config.js';
import { startBroker, type RunningBroker, type StartOptions } from './start.js';

/** The defaults {@link startEmbeddedBroker} puts under the caller's settings. */
export const EMBEDDED_DEFAULTS: Readonly<WarrenConfigInput> = Object.freeze({
  log: { level: 'silent' },
  amqp: { port: 0, tlsPort: null },
  mqtt: { port: 0, tlsPort: null },
  stomp: { port: 0, tlsPort: null },
  webStomp: { port: 0, tlsPort: null },
  webMqtt: { port: 0, tlsPort: null },
  management: { port: 0, tlsPort: null },
  prometheus: { port: 0 },
});

/**
 * Every listener switched off: merge it under a config to start only the listeners named there (e.g.
 * `{ ...listenersOff(), amqp: { port: 0 } }`). Derived from the defaults, so a listener added later is covered.
 */
export function listenersOff(): WarrenConfigInput {
  const off: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(DEFAULT_CONFIG)) {
    if (typeof value !== 'object' || value === null || !('port' in value)) continue;
    // The replication link of cluster mode is not a client listener (and cannot be switched off).
    if (key === 'cluster') continue;
    off[key] = 'tlsPort' in value ? { port: null, tlsPort: null } : { port: null };
  }
  return off as WarrenConfigInput;
}

/** Per-section merge: the caller's fields win, section by section. */
function underlay(base: Readonly<WarrenConfigInput>, input: WarrenConfigInput): WarrenConfigInput {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(input)) {
    const below = out[key];
    out[key] =
      value !== null && typeof value === 'object' && !Array.isArray(value) && below !== null && typeof below === 'object'
        ? { ...below, ...value }
        : value;
  }
  return out as WarrenConfigInput;
}

/**
 * Start a broker for a test. Settings given in `input` override the embedded defaults (e.g. `{ amqp: { tlsPort: 0 } }`
 * adds an AMQPS listener on a free port; `{ mqtt: { port: null } }` switches MQTT off). When `input.dataDir` is not
 * given, a temporary directory is created and removed again by `stop()`. Read the bound ports from `ports`.
 */
export async function startEmbeddedBroker(
  input: WarrenConfigInput = {},
  startOptions: StartOptions = {},
): Promise<RunningBroker> {
  const ownDir = input.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'warren-')) : undefined;
  const config = underlay(EMBEDDED_DEFAULTS, ownDir === undefined ? input : { ...input, dataDir: ownDir });
  let running: RunningBroker;
  try {
    running = await startBroker(config, startOptions);
  } catch (err) {
    if (ownDir !== undefined) await rm(ownDir, { recursive: true, force: true });
    throw err;
  }
  if (ownDir === undefined) return running;
  const stop = running.stop.bind(running);
  return {
    ...running,
    async stop() {
      await stop();
      await rm(ownDir, { recursive: true, force: true });
    },
  };
}
