/**
 * SASL responses of connection.start-ok (AMQP 0-9-1 §1.4.2.2): PLAIN (RFC 4616) and RabbitMQ's AMQPLAIN.
 */
import { decodeTable } from '../codec/index.js';

/** Credentials taken from a SASL response. */
export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** The mechanisms advertised in connection.start, in preference order. */
export const SASL_MECHANISMS = 'PLAIN AMQPLAIN';

/**
 * The mechanisms advertised to a client that presented a verified TLS certificate: EXTERNAL as well (RabbitMQ's
 * rabbitmq_auth_mechanism_ssl offers it only then). Last, so that clients taking the first mechanism they know keep
 * using their password.
 */
export const SASL_MECHANISMS_WITH_CERTIFICATE = 'PLAIN AMQPLAIN EXTERNAL';

/** Where a certificate login's user name comes from (RabbitMQ's ssl_cert_login_from). */
export type CertLoginFrom = 'distinguished_name' | 'common_name';

/** The user name a verified certificate logs in as, or undefined when it has none of that kind (no CN). */
export function certificateUserName(
  cert: { commonName?: string; distinguishedName: string },
  from: CertLoginFrom = 'distinguished_name',
): string | undefined {
  return from === 'common_name' ? cert.commonName : cert.distinguishedName;
}

/**
 * Parse a SASL response. Returns undefined when the mechanism is unknown or the response is malformed (both refuse
 * the login).
 */
export function parseSaslResponse(mechanism: string, response: Buffer): Credentials | undefined {
  if (mechanism === 'PLAIN') return parsePlain(response);
  if (mechanism === 'AMQPLAIN') return parseAmqplain(response);
  return undefined;
}

/** RFC 4616: `[authzid] NUL authcid NUL passwd`; the authorization identity is ignored, as RabbitMQ does. */
function parsePlain(response: Buffer): Credentials | undefined {
  const first = response.indexOf(0);
  if (first < 0) return undefined;
  const second = response.indexOf(0, first + 1);
  if (second < 0) return undefined;
  return {
    username: response.toString('utf8', first + 1, second),
    password: response.toString('utf8', second + 1),
  };
}

/**
 * AMQPLAIN: a field table with LOGIN and PASSWORD entries, sent WITHOUT the table's 4-byte length prefix (this is how
 * RabbitMQ, amqplib and pika encode it), so a prefix is added before decoding.
 */
function parseAmqplain(response: Buffer): Credentials | undefined {
  const prefixed = Buffer.allocUnsafe(response.length + 4);
  prefixed.writeUInt32BE(response.length, 0);
  response.copy(prefixed, 4);
  let table;
  try {
    table = decodeTable(prefixed, 0).table;
  } catch {
    return undefined;
  }
  const login = table['LOGIN'];
  const password = table['PASSWORD'];
  const username = typeof login === 'string' ? login : Buffer.isBuffer(login) ? login.toString('utf8') : undefined;
  const pass =
    typeof password === 'string' ? password : Buffer.isBuffer(password) ? password.toString('utf8') : undefined;
  if (username === undefined || pass === undefined) return undefined;
  return { username, password: pass };
}
