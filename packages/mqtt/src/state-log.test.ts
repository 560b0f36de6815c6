import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { observeDataDir, silentLogger, type DataDirChange } from '@warren/core';
import { afterEach, describe, expect, it } from 'vitest';
import { RetainedStore } from './retained-store.js';
import { SessionStore } from './session/session-store.js';
import { openMqttStateLog } from './state-log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('openMqttStateLog', () => {
  it('imports retained.json and sessions.json of an earlier version once, then removes them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-mqtt-legacy-'));
    dirs.push(dir);
    writeFileSync(
      join(dir, 'retained.json'),
      JSON.stringify([{ vhost: '/', topic: 'a/b', qos: 1, exchange: 'amq.topic', routingKey: 'a.b', properties: { contentType: 'text/plain' }, body: Buffer.from('hi').toString('base64') }]),
    );
    const session = { vhost: '/', clientId: 'dev', user: { name: 'guest', tags: [] }, expiry: 60, subscriptions: [{ filter: 'x/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }], qos2Inbound: [], qos2Pubrel: [] };
    writeFileSync(join(dir, 'sessions.json'), JSON.stringify([session]));

    const log = openMqttStateLog(dir, silentLogger);
    expect(existsSync(join(dir, 'retained.json'))).toBe(false);
    expect(existsSync(join(dir, 'sessions.json'))).toBe(false);
    const retained = new RetainedStore(log);
    const sessions = new SessionStore(log);
    expect(retained.get('/', 'a/b')?.message.body.toString()).toBe('hi');
    expect(retained.get('/', 'a/b')?.message.properties.contentType).toBe('text/plain');
    expect(sessions.get('/', 'dev')).toEqual(session);
    log.close();

    // A second start reads the log only.
    const again = openMqttStateLog(dir, silentLogger);
    expect(new SessionStore(again).get('/', 'dev')?.subscriptions[0]?.filter).toBe('x/#');
    again.close();
    expect(readdirSync(dir).filter((n) => n.endsWith('.json'))).toEqual([]);
  });

  it('reports the removal of the imported files to a replicating observer of the data directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-mqtt-legacy-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'retained.json'), '[]');
    writeFileSync(join(dir, 'sessions.json'), '[]');
    const changes: DataDirChange[] = [];
    const stop = observeDataDir(dir, { change: (c) => void changes.push(c), barrier: (cb) => cb() });
    try {
      openMqttStateLog(dir, silentLogger).close();
    } finally {
      stop();
    }
    // Otherwise a replica keeps them, and a failover to it would import them over the state log again.
    const removed = changes.filter((c) => c.kind === 'remove').map((c) => (c.kind === 'remove' ? c.path : ''));
    expect(removed).toEqual(expect.arrayContaining(['retained.json', 'sessions.json']));
  });

  it('keeps sessions that outlive their connection only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-mqtt-sessions-'));
    dirs.push(dir);
    const log = openMqttStateLog(dir, silentLogger);
    const sessions = new SessionStore(log);
    const base = { vhost: '/', user: { name: 'guest', tags: [] }, subscriptions: [], qos2Inbound: [], qos2Pubrel: [] };
    sessions.put({ ...base, clientId: 'keep', expiry: 30 });
    sessions.put({ ...base, clientId: 'clean', expiry: 0 });
    sessions.put({ ...base, clientId: 'gone', expiry: 30 });
    sessions.flush();
    sessions.delete('/', 'gone');
    sessions.close();
    log.close();
    const reopened = openMqttStateLog(dir, silentLogger);
    const back = new SessionStore(reopened);
    expect([...back.sessions.values()].map((s) => s.clientId)).toEqual(['keep']);
    reopened.close();
  });
});
