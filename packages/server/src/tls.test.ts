import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, mergeConfig } from './config.js';
import { loadTls, selfSignedPaths } from './tls.js';

let dataDir = '';
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'warren-tls-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('loadTls', () => {
  it('generates a self-signed localhost certificate into <dataDir>/tls once, then reuses it', async () => {
    const config = mergeConfig({ dataDir });
    const first = await loadTls(config);
    expect(first?.source).toBe('self-signed');
    expect(first?.generated).toBe(true);
    const paths = selfSignedPaths(dataDir);
    expect(first?.certFile).toBe(paths.certFile);
    const certPem = await readFile(paths.certFile, 'utf8');
    const cert = new X509Certificate(certPem);
    expect(cert.subject).toContain('CN=localhost');
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.checkPrivateKey(createPrivateKey(await readFile(paths.keyFile)))).toBe(true);
    expect((await stat(paths.keyFile)).mode & 0o077).toBe(0); // the key is private to the owner

    const second = await loadTls(config);
    expect(second?.generated).toBe(false);
    expect(String(second?.options.cert)).toBe(certPem);
    expect(await readFile(paths.certFile, 'utf8')).toBe(certPem); // not regenerated
  });

  it('regenerates when only half of the pair is present', async () => {
    const config = mergeConfig({ dataDir });
    await loadTls(config);
    await rm(selfSignedPaths(dataDir).keyFile);
    expect((await loadTls(config))?.generated).toBe(true);
  });

  it('uses configured files and does not generate anything', async () => {
    const generated = await loadTls(mergeConfig({ dataDir }));
    const certFile = path.join(dataDir, 'my-cert.pem');
    const keyFile = path.join(dataDir, 'my-key.pem');
    const caFile = path.join(dataDir, 'ca.pem');
    await writeFile(certFile, String(generated?.options.cert));
    await writeFile(keyFile, String(generated?.options.key));
    await writeFile(caFile, String(generated?.options.cert));
    const other = await mkdtemp(path.join(os.tmpdir(), 'warren-tls-other-'));
    try {
      const loaded = await loadTls(mergeConfig({ dataDir: other, tls: { certFile, keyFile, caFile } }));
      expect(loaded?.source).toBe('files');
      // RabbitMQ's default: verify_none, even with a CA file.
      expect(loaded?.options).toMatchObject({ verify: 'none', failIfNoPeerCert: false });
      const peer = await loadTls(mergeConfig({ dataDir: other, tls: { certFile, keyFile, caFile, verify: 'peer', failIfNoPeerCert: true } }));
      expect(peer?.options).toMatchObject({ verify: 'peer', failIfNoPeerCert: true });
      expect(String(loaded?.options.ca)).toBe(String(generated?.options.cert));
      await expect(stat(selfSignedPaths(other).certFile)).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('returns undefined with no files and self-signed off', async () => {
    expect(await loadTls(mergeConfig({ dataDir, tls: { selfSigned: false }, amqp: { tlsPort: null } }))).toBeUndefined();
  });

  it('names a missing certificate file', async () => {
    const certFile = path.join(dataDir, 'nope.pem');
    await expect(loadTls(mergeConfig({ dataDir, tls: { certFile, keyFile: certFile } }))).rejects.toThrow(
      new ConfigError(`Cannot read TLS certificate ${certFile}: ENOENT: no such file or directory, open '${certFile}'`),
    );
  });
});
