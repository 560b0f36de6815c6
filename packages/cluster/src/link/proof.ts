import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Challenge/response on the cluster's shared secret. Each side proves it knows the secret by an HMAC-SHA256 of a
 * fresh nonce chosen by the other side, so the secret never crosses the (plain TCP) link and a recorded handshake
 * cannot be replayed. The follower authenticates the leader too: a rogue "leader" could otherwise make it delete its
 * data directory during the bulk sync.
 */
export function linkProof(secret: string, role: 'leader' | 'follower', cluster: string, node: string, nonce: Buffer): Buffer {
  return createHmac('sha256', secret)
    .update(`warren-replication ${role}\0${cluster}\0${node}\0`)
    .update(nonce)
    .digest();
}

/** Constant-time comparison of a received proof with the expected one. */
export function proofMatches(expected: Buffer, received: Buffer): boolean {
  return expected.length === received.length && timingSafeEqual(expected, received);
}

/** A fresh challenge nonce. */
export function newNonce(): Buffer {
  return randomBytes(32);
}
