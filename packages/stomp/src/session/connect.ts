/**
 * CONNECT (and its synonym STOMP): version negotiation, login (a login header, a TLS certificate with RabbitMQ's
 * ssl_cert_login, or the default user), the vhost, the CONNECTED reply and heart-beats.
 */
import { BrokerError, isBrokerError, type CoreConnection, type User } from '@warren/core';
import type { DecoderLimits, StompDecoder } from '../codec/decoder.js';
import { encodeFrame } from '../codec/encoder.js';
import type { StompFrame, StompVersion } from '../codec/frame.js';
import { ERROR_VERSION_HEADER, StompError, stompErrorOf } from '../errors.js';
import { negotiateHeartBeat, type HeartBeats } from './heart-beat.js';
import type { SessionContext } from './session-context.js';
import { DEFAULT_STOMP_OPTIONS } from './options.js';

/** The `server` header of CONNECTED. */
export const SERVER_NAME = 'Warren/0.1.0';
/** Versions this server speaks, highest last. */
const VERSIONS: readonly StompVersion[] = ['1.0', '1.1', '1.2'];

/** Handle CONNECT: on success the context is connected, CONNECTED is written and heart-beats run. */
export function connect(ctx: SessionContext, frame: StompFrame, decoder: StompDecoder, heartBeats: HeartBeats): void {
  const h = frame.headers;
  const options = ctx.options;
  const info = ctx.info;
  // STOMP 1.2 §"Protocol Negotiation": no accept-version means 1.0.
  const accepted = (h.get('accept-version') ?? '1.0').split(',').map((v) => v.trim());
  let version: StompVersion | undefined;
  for (const v of VERSIONS) if (accepted.includes(v)) version = v;
  if (version === undefined) throw new StompError('Version mismatch', `Supported versions are ${ERROR_VERSION_HEADER}\n`);

  const def = options.defaultUser === undefined ? { login: 'guest', passcode: 'guest' } : options.defaultUser;
  // RabbitMQ's stomp.ssl_cert_login: a verified certificate stands for a missing login header, before the default
  // user (a given login wins).
  const cert = info.peerCertificate;
  const certLogin =
    options.sslCertLogin === true && cert !== undefined && !h.has('login')
      ? (options.certLoginFrom === 'common_name' ? cert.commonName : cert.distinguishedName)
      : undefined;
  if (options.sslCertLogin === true && cert !== undefined && !h.has('login') && certLogin === undefined) {
    throw new StompError('Bad CONNECT', 'The client certificate has no common name\n');
  }
  const login = certLogin ?? h.get('login') ?? def?.login;
  const passcode = h.get('passcode') ?? (h.has('login') ? '' : def?.passcode) ?? '';
  if (login === undefined) throw new StompError('Bad CONNECT', 'No login was given and no default user is configured\n');
  let user: User;
  try {
    if (certLogin !== undefined) {
      if (ctx.broker.authenticateExternal === undefined) throw new BrokerError('ACCESS_REFUSED', 'certificate login is not supported');
      user = ctx.broker.authenticateExternal(certLogin, info.remoteAddress, info.protocol);
    } else {
      user = ctx.broker.authenticate(login, passcode, info.remoteAddress, info.protocol);
    }
  } catch (err) {
    throw (isBrokerError(err) ? stompErrorOf(err, 'login', login) : undefined) ?? err;
  }
  const vhost = h.get('host') ?? options.defaultVhost ?? DEFAULT_STOMP_OPTIONS.defaultVhost;
  let connection: CoreConnection;
  try {
    connection = ctx.broker.openConnection(info, user, vhost, ctx.host);
  } catch (err) {
    throw (isBrokerError(err) ? stompErrorOf(err, 'vhost', vhost) : undefined) ?? err;
  }
  ctx.user = user;
  ctx.connection = connection;
  ctx.channel = connection.openChannel(ctx.host);
  ctx.version = version;
  decoder.version = version;
  const limits: DecoderLimits = {
    maxFrameSize: options.maxFrameSize,
    maxHeaders: options.maxHeaders ?? DEFAULT_STOMP_OPTIONS.maxHeaders,
    maxHeaderLength: options.maxHeaderLength ?? DEFAULT_STOMP_OPTIONS.maxHeaderLength,
  };
  decoder.limits = limits;
  ctx.state = 'connected';

  const intervals = negotiateHeartBeat(h.get('heart-beat'), version, options.minHeartbeatMs ?? DEFAULT_STOMP_OPTIONS.minHeartbeatMs);
  const headers: Array<[string, string]> = [
    ['server', SERVER_NAME],
    ['session', ctx.sessionId],
    ['heart-beat', `${intervals.sendEvery},${intervals.expectEvery}`],
    ['version', version],
  ];
  ctx.write(encodeFrame('CONNECTED', headers, undefined, '1.0'));
  ctx.io.authenticated?.();
  heartBeats.start(ctx, intervals);
  ctx.logger.info(
    {
      connection: info.id,
      protocol: 'stomp',
      version,
      peer: `${info.remoteAddress}:${info.remotePort}`,
      listener: info.listener,
      user: user.name,
      vhost,
    },
    'STOMP connection opened',
  );
}
