import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Salted SHA-256 password hashes in RabbitMQ's `rabbit_password_hashing_sha256` format: base64(salt ‖
 * sha256(salt ‖ utf8(password))) with a 4-byte random salt, so definitions exported from RabbitMQ can be imported.
 */
export function hashPassword(password: string, salt: Buffer = randomBytes(4)): string {
  const digest = createHash('sha256').update(salt).update(password, 'utf8').digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

/** Check a password against a hash made by {@link hashPassword}, in constant time. */
export function checkPassword(password: string, passwordHash: string): boolean {
  const raw = Buffer.from(passwordHash, 'base64');
  if (raw.length !== 36) return false;
  const expected = hashPassword(password, raw.subarray(0, 4));
  return timingSafeEqual(Buffer.from(expected, 'base64'), raw);
}
