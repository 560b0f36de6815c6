/**
 * Erlang's `erlang:phash2/1,2` for the terms RabbitMQ builds from binding arguments, so that Warren's properties_key
 * of a binding with arguments is the one RabbitMQ's management plugin prints.
 *
 * How phash2 works (erts `make_hash2`, stable across OTP releases by contract):
 *
 * - The state is one 32-bit word, `hash`, starting at 0. Terms are visited depth first, left to right; every leaf is
 *   folded into `hash` with Bob Jenkins' 96-bit mix (lookup2's `mix`): two words `a` and `b`, each a per-kind
 *   constant plus a value, are mixed with `hash` as the third word, and the third word becomes the new `hash`.
 *   The constants are multiples of the golden-ratio word 0x9e3779b9 (HCONST × n), one multiple per kind of term, so
 *   that equal numbers of different kinds do not collide.
 * - Integers in the signed 28-bit range are mixed as one 32-bit word (negative ones twice: first their magnitude,
 *   then their two's complement). Larger ones are split into 64-bit words of their magnitude, least significant
 *   first, each mixed as (low half, high half) with a constant that tells the sign.
 * - Floats are mixed as the high and low halves of their IEEE-754 bits (−0.0 counts as 0.0).
 * - Atoms contribute the hash of their name (hashpjw over the UTF-8 bytes, two-byte Latin-1 sequences folded back
 *   into one byte) — directly when nothing has been hashed yet, mixed otherwise. The empty list does the same with
 *   a fixed value.
 * - A binary replaces `hash` with Jenkins' lookup2 block hash of its bytes, seeded with a constant plus `hash`.
 * - A tuple mixes its arity, then its elements in order.
 * - A list visits its elements in order and then its tail (`[]` for a proper list). Runs of small integers 0..255
 *   (strings) are packed four to a word before mixing.
 * - `phash2(Term, Range)` is `hash mod Range`; with RabbitMQ's range 2^32 that is `hash` itself.
 *
 * Maps, pids, ports, references and funs are not needed here (RabbitMQ stores arguments as lists of tuples) and
 * are not supported.
 */

/** An Erlang term: bigint = integer, Uint8Array = binary, array = proper list, and the tagged kinds below. */
export type ErlangTerm = bigint | Uint8Array | ErlangTerm[] | ErlangAtom | ErlangFloat | ErlangTuple;

/** An atom, by name. */
export interface ErlangAtom {
  readonly atom: string;
}
/** A float (kept apart from integers, which JavaScript numbers cannot tell). */
export interface ErlangFloat {
  readonly float: number;
}
/** A tuple of its elements. */
export interface ErlangTuple {
  readonly tuple: readonly ErlangTerm[];
}

/** The atom named `name`. */
export function atom(name: string): ErlangAtom {
  return { atom: name };
}
/** The float `value`. */
export function float(value: number): ErlangFloat {
  return { float: value };
}
/** The tuple `{e1, e2, ...}`. */
export function tuple(...elements: ErlangTerm[]): ErlangTuple {
  return { tuple: elements };
}
/** The binary of `text`'s UTF-8 bytes (Erlang's `<<"text"/utf8>>`). */
export function binary(text: string): Uint8Array {
  return Buffer.from(text, 'utf8');
}

const GOLDEN = 0x9e3779b9;
/** GOLDEN × n mod 2^32: the constant each kind of term is mixed with. */
const K = (n: number): number => Math.imul(GOLDEN, n) >>> 0;
const K_INT = GOLDEN;
const K_NIL = K(2);
const K_ATOM = K(3);
const K_STRING = K(4);
const K_TUPLE = K(9);
const K_BIG_NEG = K(10);
const K_BIG_POS = K(11);
const K_FLOAT = K(12);
const K_BINARY = K(13);
/** The tag number erts gives `[]` (NIL_DEF), mixed when `[]` is not the first thing hashed. */
const NIL_TAG = 2;
/** What `[]` contributes when it comes first. */
const NIL_FIRST = 3468870702;
const INT28_MIN = -(2n ** 27n);
const INT28_END = 2n ** 27n;
const MASK32 = 0xffffffffn;
const MASK64 = 0xffffffffffffffffn;

/** Jenkins' lookup2 mix of three 32-bit words. */
function mix(a: number, b: number, c: number): [number, number, number] {
  a = (a - b - c) >>> 0; a = (a ^ (c >>> 13)) >>> 0;
  b = (b - c - a) >>> 0; b = (b ^ (a << 8)) >>> 0;
  c = (c - a - b) >>> 0; c = (c ^ (b >>> 13)) >>> 0;
  a = (a - b - c) >>> 0; a = (a ^ (c >>> 12)) >>> 0;
  b = (b - c - a) >>> 0; b = (b ^ (a << 16)) >>> 0;
  c = (c - a - b) >>> 0; c = (c ^ (b >>> 5)) >>> 0;
  a = (a - b - c) >>> 0; a = (a ^ (c >>> 3)) >>> 0;
  b = (b - c - a) >>> 0; b = (b ^ (a << 10)) >>> 0;
  c = (c - a - b) >>> 0; c = (c ^ (b >>> 15)) >>> 0;
  return [a, b, c];
}

/** Mix two words, each offset by `k`, into `hash`. */
function mix2(hash: number, x: number, y: number, k: number): number {
  return mix((k + x) >>> 0, (k + y) >>> 0, hash)[2];
}

/** Jenkins' lookup2 over bytes (little-endian words, 12 bytes a round), seeded with `seed`. */
function blockHash(bytes: Uint8Array, seed: number): number {
  let a = GOLDEN;
  let b = GOLDEN;
  let c = seed;
  const word = (i: number): number => (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0;
  let i = 0;
  for (; bytes.length - i >= 12; i += 12) {
    a = (a + word(i)) >>> 0;
    b = (b + word(i + 4)) >>> 0;
    c = (c + word(i + 8)) >>> 0;
    [a, b, c] = mix(a, b, c);
  }
  c = (c + bytes.length) >>> 0;
  // The last 0..11 bytes go into a (bytes 0-3), b (4-7) and c's upper three bytes (8-10; its low byte took the length).
  const rest = bytes.length - i;
  for (let j = 0; j < rest; j++) {
    const v = bytes[i + j]!;
    if (j < 4) a = (a + v * 2 ** (8 * j)) >>> 0;
    else if (j < 8) b = (b + v * 2 ** (8 * (j - 4))) >>> 0;
    else c = (c + v * 2 ** (8 * (j - 7))) >>> 0;
  }
  return mix(a, b, c)[2];
}

/** hashpjw of an atom's name, as the atom table computes it. */
export function atomHash(name: string): number {
  const p = Buffer.from(name, 'utf8');
  let h = 0;
  for (let i = 0; i < p.length; i++) {
    let v = p[i]!;
    // A two-byte UTF-8 sequence for U+0080..U+00FF counts as its Latin-1 byte (atoms were Latin-1 before OTP 20).
    if (i + 1 < p.length && (v & 0xfe) === 0xc2 && (p[i + 1]! & 0xc0) === 0x80) {
      v = ((v << 6) | (p[i + 1]! & 0x3f)) & 0xff;
      i++;
    }
    h = ((h << 4) + v) >>> 0;
    const g = h & 0xf0000000;
    if (g !== 0) h = (h ^ (g >>> 24) ^ g) >>> 0;
  }
  return h;
}

function isAtom(t: ErlangTerm): t is ErlangAtom {
  return typeof t === 'object' && 'atom' in t;
}
function isFloat(t: ErlangTerm): t is ErlangFloat {
  return typeof t === 'object' && 'float' in t;
}
function isByte(t: ErlangTerm | undefined): t is bigint {
  return typeof t === 'bigint' && t >= 0n && t <= 255n;
}

/** Work still to do: a term, or the rest of a list from an index on. */
type Pending = { term: ErlangTerm } | { list: readonly ErlangTerm[]; from: number };

/** `erlang:phash2(Term)` over the full 32 bits, i.e. `erlang:phash2(Term, 1 bsl 32)`. */
export function erlangPhash2(term: ErlangTerm): number {
  let hash = 0;
  const stack: Pending[] = [{ term }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if ('list' in next) {
      hash = listFrom(hash, next.list, next.from, stack);
      continue;
    }
    const t = next.term;
    if (typeof t === 'bigint') hash = integer(hash, t);
    else if (t instanceof Uint8Array) hash = t.length === 0 ? (K_BINARY + hash) >>> 0 : blockHash(t, (K_BINARY + hash) >>> 0);
    else if (Array.isArray(t)) hash = listFrom(hash, t, 0, stack);
    else if (isAtom(t)) hash = hash === 0 ? atomHash(t.atom) : mix2(hash, atomHash(t.atom), 0, K_ATOM);
    else if (isFloat(t)) hash = floatHash(hash, t.float);
    else {
      hash = mix2(hash, t.tuple.length, 0, K_TUPLE);
      for (let i = t.tuple.length - 1; i >= 0; i--) stack.push({ term: t.tuple[i]! });
    }
  }
  return hash;
}

/** A list from index `from`: string runs packed, the first other element queued before the rest, then `[]`. */
function listFrom(hash: number, list: readonly ErlangTerm[], from: number, stack: Pending[]): number {
  let i = from;
  let packed = 0;
  let count = 0;
  for (; isByte(list[i]); i++) {
    packed = ((packed << 8) + Number(list[i] as bigint)) >>> 0;
    if (++count === 4) {
      hash = mix2(hash, packed, 0, K_STRING);
      packed = count = 0;
    }
  }
  if (count > 0) hash = mix2(hash, packed, 0, K_STRING);
  if (i >= list.length) return hash === 0 ? NIL_FIRST : mix2(hash, NIL_TAG, 0, K_NIL);
  stack.push({ list, from: i + 1 });
  stack.push({ term: list[i]! });
  return hash;
}

function integer(hash: number, n: bigint): number {
  if (n >= INT28_MIN && n < INT28_END) {
    const v = Number(n);
    if (v < 0) hash = mix2(hash, -v, 0, K_INT);
    return mix2(hash, v >>> 0, 0, K_INT);
  }
  const k = n < 0n ? K_BIG_NEG : K_BIG_POS;
  let m = n < 0n ? -n : n;
  do {
    const digit = m & MASK64;
    hash = mix2(hash, Number(digit & MASK32), Number(digit >> 32n), k);
    m >>= 64n;
  } while (m > 0n);
  return hash;
}

function floatHash(hash: number, f: number): number {
  const bits = Buffer.alloc(8);
  bits.writeDoubleBE(f === 0 ? 0 : f);
  return mix2(hash, bits.readUInt32BE(0), bits.readUInt32BE(4), K_FLOAT);
}
