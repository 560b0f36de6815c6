/**
 * A throwaway PKI for TLS tests, made with the `openssl` command line into a temporary directory: a CA, a server
 * certificate for localhost/127.0.0.1 signed by it, client certificates signed by it, and a self-signed "rogue"
 * client certificate no trusted CA vouches for. EC P-256 keys: generating them takes milliseconds.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key, as PEM text and as file paths. */
export interface Pem {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

/** The generated material; `dispose` removes the directory. */
export interface TestPki {
  dir: string;
  ca: Pem;
  server: Pem;
  /** A client certificate signed by the CA, with subject `subject` (OpenSSL's "/O=x/CN=y" form, certificate order). */
  client(name: string, subject: string): Pem;
  /** A self-signed client certificate (no CA vouches for it). */
  rogue: Pem;
  /** A second CA, and a server certificate signed by it (for reloading tests). */
  newServer(name: string, subject: string): Pem;
  dispose(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function read(dir: string, name: string): Pem {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile, keyFile };
}

/** Make a CA, a server certificate and a rogue client certificate in a new temporary directory. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'warren-pki-'));
  const key = (name: string): void => openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
  const selfSigned = (name: string, subject: string, ext: string): void => {
    key(name);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, ['req', '-x509', '-new', '-key', `${name}.key`, '-subj', subject, '-days', '2', '-sha256', '-out', `${name}.crt`,
      '-extensions', 'v3', '-config', `${name}.ext`]);
  };
  const signed = (name: string, subject: string, ext: string): Pem => {
    key(name);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
      '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
    return read(dir, name);
  };
  const reqConfig = (extra: string): string =>
    `[req]\ndistinguished_name = dn\n[dn]\n[v3]\n${extra}\n`;
  selfSigned('ca', '/O=Warren Test/CN=Warren Test CA', reqConfig('basicConstraints = critical,CA:TRUE\nkeyUsage = keyCertSign,cRLSign'));
  const serverExt = 'basicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost,IP:127.0.0.1\n';
  const server = signed('server', '/CN=localhost', serverExt);
  selfSigned('rogue', '/O=Warren Test/CN=alice', reqConfig('basicConstraints = CA:FALSE\nextendedKeyUsage = clientAuth'));
  return {
    dir,
    ca: read(dir, 'ca'),
    server,
    rogue: read(dir, 'rogue'),
    client: (name, subject) => signed(name, subject, 'basicConstraints = CA:FALSE\nextendedKeyUsage = clientAuth\n'),
    newServer: (name, subject) => signed(name, subject, serverExt),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
