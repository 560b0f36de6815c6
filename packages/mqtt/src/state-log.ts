/**
 * Opening the MQTT state log: retained messages and persistent sessions share one core {@link FileStateLog} in
 * `<dataDir>/mqtt/` (`mqtt-state.<generation>.log`). Data directories of earlier versions kept them in
 * `retained.json` and `sessions.json`: those are imported once, synced, and removed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataFs, encodeMessage, FileStateLog, type Logger, type Message } from '@warren/core';
import { retainedKey } from './retained-store.js';
import { sessionKey, type SessionState } from './session/session-store.js';

/** A row of the former `retained.json`. */
interface LegacyRetained {
  vhost: string;
  topic: string;
  qos: 0 | 1 | 2;
  exchange: string;
  routingKey: string;
  properties: Message['properties'];
  body: string;
}

/** Open (recover) the MQTT state log in `dir`, importing the JSON files of earlier versions first. */
export function openMqttStateLog(dir: string, logger: Logger): FileStateLog {
  const open = (): FileStateLog => new FileStateLog({ dir, name: 'mqtt-state', logger });
  const retainedFile = join(dir, 'retained.json');
  const sessionsFile = join(dir, 'sessions.json');
  const legacy = [retainedFile, sessionsFile].filter((f) => existsSync(f));
  if (legacy.length === 0) return open();
  const log = open();
  let retained = 0;
  let sessions = 0;
  try {
    if (existsSync(retainedFile)) {
      for (const row of JSON.parse(readFileSync(retainedFile, 'utf8')) as LegacyRetained[]) {
        const message: Message = {
          exchange: row.exchange,
          routingKey: row.routingKey,
          properties: row.properties,
          rawProperties: undefined,
          body: Buffer.from(row.body, 'base64'),
        };
        log.set(retainedKey(row.vhost, row.topic), encodeMessage(message, Buffer.of(row.qos)));
        retained++;
      }
    }
    if (existsSync(sessionsFile)) {
      for (const s of JSON.parse(readFileSync(sessionsFile, 'utf8')) as SessionState[]) {
        log.set(`s${sessionKey(s.vhost, s.clientId)}`, Buffer.from(JSON.stringify(s)));
        sessions++;
      }
    }
  } catch (err) {
    // Unreadable: keep the files for a person to look at, and start with what could be read.
    logger.error({ err, files: legacy }, 'could not import the MQTT state files of an earlier version');
    return log;
  }
  log.close(); // synced: the JSON files may go
  // Through the core's wrapper: a replica must drop them too, or a failover would import them again.
  for (const f of legacy) dataFs.rmSync(f, { force: true });
  logger.info({ retained, sessions }, 'imported retained.json and sessions.json into the MQTT state log');
  return open();
}
