import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Salted password hashes in RabbitMQ's formats: base64(salt ‖ H(salt ‖ utf8(password))) with a 4-byte random salt,
 * where H is SHA-256 (`rabbit_password_hashing_sha256`, RabbitMQ's default since 3.6 and the one Warren makes),
 * SHA-512 (`rabbit_password_hashing_sha512`) or MD5 (`rabbit_password_hashing_md5`, pre-3.6 definitions). Hashes made
 * by RabbitMQ in any of them can be imported and checked, so its users keep their passwords.
 */

/** RabbitMQ's name of the default algorithm, the one {@link hashPassword} uses. */
export const DEFAULT_HASHING_ALGORITHM = 'rabbit_password_hashing_sha256';

/** RabbitMQ's algorithm names and their digests. */
const DIGESTS: Readonly<Record<string, { hash: string; bytes: number }>> = {
  rabbit_password_hashing_sha256: { hash: 'sha256', bytes: 32 },
  rabbit_password_hashing_sha512: { hash: 'sha512', bytes: 64 },
  rabbit_password_hashing_md5: { hash: 'md5', bytes: 16 },
};

const SALT_BYTES = 4;

/** True for an algorithm name Warren can check (the three RabbitMQ ships). */
export function isSupportedHashingAlgorithm(algorithm: string): boolean {
  return Object.hasOwn(DIGESTS, algorithm);
}

/**
 * Undefined when `passwordHash` is usable with `algorithm` ('' = a user without a password), else why not.
 */
export function passwordHashProblem(passwordHash: string, algorithm: string = DEFAULT_HASHING_ALGORITHM): string | undefined {
  const digest = DIGESTS[algorithm];
  if (digest === undefined) return `unsupported hashing algorithm '${algorithm}'`;
  if (passwordHash === '') return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(passwordHash) || Buffer.from(passwordHash, 'base64').length !== SALT_BYTES + digest.bytes) {
    return `password_hash is not a salted ${digest.hash} hash (base64 of ${SALT_BYTES} salt bytes and ${digest.bytes} digest bytes)`;
  }
  return undefined;
}

/** Hash a password with a fresh salt (or the one given) in `algorithm` (default SHA-256). */
export function hashPassword(password: string, salt: Buffer = randomBytes(SALT_BYTES), algorithm: string = DEFAULT_HASHING_ALGORITHM): string {
  const digest = DIGESTS[algorithm];
  if (digest === undefined) throw new Error(`unsupported hashing algorithm '${algorithm}'`);
  const h = createHash(digest.hash).update(salt).update(password, 'utf8').digest();
  return Buffer.concat([salt, h]).toString('base64');
}

/** Check a password against a hash made by {@link hashPassword} (or RabbitMQ) in `algorithm`, in constant time. */
export function checkPassword(password: string, passwordHash: string, algorithm: string = DEFAULT_HASHING_ALGORITHM): boolean {
  const digest = DIGESTS[algorithm];
  if (digest === undefined) return false;
  const raw = Buffer.from(passwordHash, 'base64');
  if (raw.length !== SALT_BYTES + digest.bytes) return false;
  const expected = Buffer.from(hashPassword(password, raw.subarray(0, SALT_BYTES), algorithm), 'base64');
  return timingSafeEqual(expected, raw);
}
