#!/usr/bin/env node
/**
 * Writes tests/fixtures/erlang-phash2/cases.json: ground truth from a real Erlang VM for Warren's erlangPhash2 and
 * for binding properties_keys.
 *
 * - `terms`: Erlang terms (built here, sent to `erl` in the external term format so no Erlang source is printed)
 *   with `erlang:phash2(T, 1 bsl 32)` as erl computes it.
 * - `http`: binding bodies as a client POSTs them to /api/bindings/..., run through RabbitMQ 3.10.8's own management
 *   code from the installed .beam files (rabbit_mgmt_util:decode → props_to_method('queue.bind') →
 *   rabbit_misc:sort_field_table, as rabbit_binding stores them → rabbit_mgmt_format:pack_binding_props), with the
 *   stored argument term and the properties_key RabbitMQ lists.
 *
 * Needs `erl` and RabbitMQ 3.10.8 under /usr/lib/rabbitmq. Deterministic (seeded); run: node scripts/gen-phash2-fixture.mjs
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'tests/fixtures/erlang-phash2/cases.json');
const plugins = '/usr/lib/rabbitmq/lib/rabbitmq_server-3.10.8/plugins';
const codePaths = ['rabbit_common-3.10.8', 'rabbitmq_management-3.10.8', 'rabbitmq_management_agent-3.10.8', 'jsx-3.1.0', 'rabbitmq_web_dispatch-3.10.8'].flatMap((d) => ['-pa', `${plugins}/${d}/ebin`]);

// mulberry32: a small seeded PRNG, so the fixture is the same on every run.
let seed = 0x5eed1234;
function rand() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

// ---- terms, as JSON: {int: "decimal"} {float: number | "-0"} {atom} {bin: base64} {list: []} {tuple: []} ----
const I = (n) => ({ int: BigInt(n).toString() });
const F = (x) => ({ float: Object.is(x, -0) ? '-0' : x });
const A = (name) => ({ atom: name });
const B = (bytes) => ({ bin: Buffer.from(bytes).toString('base64') });
const S = (text) => B(Buffer.from(text, 'utf8'));
const L = (...xs) => ({ list: xs });
const T = (...xs) => ({ tuple: xs });

/** The external term format of a term (the bytes after the 131 version tag). */
function etf(t) {
  if ('int' in t) {
    const n = BigInt(t.int);
    if (n >= 0n && n <= 255n) return Buffer.from([97, Number(n)]);
    if (n >= -(2n ** 31n) && n < 2n ** 31n) {
      const b = Buffer.alloc(5);
      b[0] = 98;
      b.writeInt32BE(Number(n), 1);
      return b;
    }
    const digits = [];
    for (let m = n < 0n ? -n : n; m > 0n; m >>= 8n) digits.push(Number(m & 0xffn));
    return Buffer.from([110, digits.length, n < 0n ? 1 : 0, ...digits]);
  }
  if ('float' in t) {
    const b = Buffer.alloc(9);
    b[0] = 70;
    b.writeDoubleBE(Number(t.float), 1);
    return b;
  }
  if ('atom' in t) {
    const name = Buffer.from(t.atom, 'utf8');
    return Buffer.concat([Buffer.from([119, name.length]), name]);
  }
  if ('bin' in t) {
    const bytes = Buffer.from(t.bin, 'base64');
    const h = Buffer.alloc(5);
    h[0] = 109;
    h.writeUInt32BE(bytes.length, 1);
    return Buffer.concat([h, bytes]);
  }
  if ('list' in t) {
    if (t.list.length === 0) return Buffer.from([106]);
    const h = Buffer.alloc(5);
    h[0] = 108;
    h.writeUInt32BE(t.list.length, 1);
    return Buffer.concat([h, ...t.list.map(etf), Buffer.from([106])]);
  }
  return Buffer.concat([Buffer.from([104, t.tuple.length]), ...t.tuple.map(etf)]);
}

const bigs = [2n ** 27n - 1n, 2n ** 27n, -(2n ** 27n), -(2n ** 27n) - 1n, 2n ** 31n, -(2n ** 31n), 2n ** 32n - 1n, 2n ** 32n,
  2n ** 53n + 1n, 2n ** 59n - 1n, 2n ** 59n, -(2n ** 59n), -(2n ** 59n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n,
  2n ** 64n, 2n ** 64n + 7n, -(2n ** 100n), 2n ** 128n + 5n, 10n ** 40n + 3n];
const atoms = ['long', 'signedint', 'longstr', 'double', 'float', 'bool', 'table', 'array', 'void', 'binary', 'timestamp',
  'decimal', 'byte', 'short', 'unsignedint', 'true', 'false', 'undefined', '', 'a', 'é', 'ÿ', 'ü-x', 'ß', 'ключ', '日本',
  'a_very_long_atom_name_that_overflows_the_hash_nibbles'];
const texts = ['', 'x', 'y', 'x-match', 'all', 'any', '1', 'ключ', 'é', '日本語', '🎉', 'ｱ', 'a b', 'abc', 'abcdefghijk',
  'abcdefghijkl', 'abcdefghijklm', 'x-dead-letter-exchange'];

function randomTerm(depth) {
  const k = depth >= 3 ? int(0, 4) : int(0, 6);
  switch (k) {
    case 0: return I(pick([int(-300, 300), int(-(2 ** 27), 2 ** 27), pick(bigs)]));
    case 1: return F(pick([rand() * 1000 - 500, (rand() - 0.5) * 1e-300, int(-5, 5), 0.1, 1e300]));
    case 2: return A(pick(atoms));
    case 3: return rand() < 0.5 ? S(pick(texts)) : B(Array.from({ length: int(0, 40) }, () => int(0, 255)));
    case 4: return L(...Array.from({ length: int(0, 6) }, () => I(int(0, 255)))); // strings: the packed path
    case 5: return L(...Array.from({ length: int(0, 5) }, () => randomTerm(depth + 1)));
    default: return T(...Array.from({ length: int(0, 4) }, () => randomTerm(depth + 1)));
  }
}

const terms = [
  ['zero', I(0)], ['one', I(1)], ['minus one', I(-1)], ['255', I(255)], ['256', I(256)], ['-256', I(-256)],
  ...bigs.map((n) => [`integer ${n}`, I(n)]),
  ...[0, -0, 1, -1, 0.1, -2.5, 1e300, 5e-324, 1.7976931348623157e308, 123456.789].map((x) => [`float ${Object.is(x, -0) ? '-0' : x}`, F(x)]),
  ...atoms.map((a) => [`atom '${a}'`, A(a)]),
  ...Array.from({ length: 30 }, (_, n) => [`binary of ${n} bytes`, B(Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff))]),
  ...texts.map((s) => [`binary "${s}"`, S(s)]),
  ['[]', L()], ['[[]]', L(L())], ['[a]', L(A('a'))], ['"abc"', L(I(97), I(98), I(99))], ['"abcd"', L(I(97), I(98), I(99), I(100))],
  ['[1,2,3,4,5]', L(I(1), I(2), I(3), I(4), I(5))], ['[1,{x},2]', L(I(1), T(A('x')), I(2))], ['[256,1]', L(I(256), I(1))],
  ['[1,256]', L(I(1), I(256))], ['[[],[]]', L(L(), L())], ['{}', T()], ['{a}', T(A('a'))], ['{[],[]}', T(L(), L())],
  ['{1.5,a,<<>>}', T(F(1.5), A('a'), B([]))],
  ['args {x:1}', L(T(S('x'), A('long'), I(1)))],
  ['args {x:"1"}', L(T(S('x'), A('longstr'), S('1')))],
  ['args amqp signedint', L(T(S('x'), A('signedint'), I(1)))],
  ['args nested table', L(T(S('t'), A('table'), L(T(S('a'), A('bool'), A('true')), T(S('b'), A('double'), F(0.5)))))],
  ['args array', L(T(S('a'), A('array'), L(T(A('long'), I(1)), T(A('longstr'), S('b')), T(A('array'), L()))))],
  ['args amqp void', L(T(S('v'), A('void'), A('undefined')))],
  ['args amqp binary', L(T(S('b'), A('binary'), B([0, 1, 2, 255])))],
  ['args amqp timestamp', L(T(S('ts'), A('timestamp'), I(1700000000)))],
  ['args amqp decimal', L(T(S('d'), A('decimal'), T(I(2), I(12345))))],
  ...Array.from({ length: 150 }, (_, i) => [`random ${i}`, randomTerm(0)]),
];

// ---- HTTP binding bodies ----
const keyPool = ['x', 'y', 'z', 'x-match', 'a', 'b', 'B', 'ключ', '日本', 'é', 'e', '🎉', 'ｱ', 'a b', '', 'x-dead-letter-exchange'];
function randomJsonValue(depth) {
  const k = depth >= 2 ? int(0, 3) : int(0, 5);
  switch (k) {
    case 0: return pick(texts);
    case 1: return pick([int(-1000, 1000), int(-(2 ** 31), 2 ** 31), 2 ** 53, -(2 ** 60), 2 ** 64, 2 ** 27, -(2 ** 27) - 1]);
    case 2: return pick([0.5, -0.25, 3.14159, 1e-7, 123.456, -98765.4321, rand() * 100 + 0.001]);
    case 3: return rand() < 0.5;
    case 4: return randomJsonObject(depth + 1, 4);
    default: return Array.from({ length: int(0, 4) }, () => randomJsonValue(depth + 1));
  }
}
function randomJsonObject(depth, max) {
  const o = {};
  for (let n = int(1, max); n > 0; n--) o[pick(keyPool)] = randomJsonValue(depth);
  return o;
}
const http = [
  ['', {}], ['', { x: 1 }], ['a', { x: 1 }], ['a', { x: '1' }], ['a', { x: 2 }], ['a', { x: 1, y: 1 }], ['a', { y: 1, x: 1 }],
  ['', { 'x-match': 'all', a: '1' }], ['a b/c%d', { x: 1 }], ['k', { x: 0.5 }], ['k', { x: -1 }], ['k', { x: 2 ** 31 }],
  ['k', { x: -(2 ** 63) }], ['k', { x: 2 ** 64 }], ['k', { x: true, y: false }], ['k', { t: { b: 1, a: 2, c: { z: 'z', y: [] } } }],
  ['k', { l: [1, 'a', true, 0.5, [2], { q: 1 }] }], ['k', { '🎉': 1, 'ｱ': 2, é: 3, e: 4, '': 5 }], ['k', { x: '' }],
  ['k', { x: 'ключ', 日本: '語' }], ['k', { x: {} }], ['k', { x: [] }],
  ...Array.from({ length: 60 }, () => [pick(['', 'a', 'rk.*', 'a b']), randomJsonObject(0, 6)]),
];

// ---- ask erl ----
const dir = mkdtempSync(join(tmpdir(), 'phash2-'));
writeFileSync(join(dir, 'terms'), terms.map(([, t]) => Buffer.concat([Buffer.from([131]), etf(t)]).toString('base64')).join('\n') + '\n');
writeFileSync(join(dir, 'http'), http.map(([rk, args]) => Buffer.from(JSON.stringify({ routing_key: rk, arguments: args })).toString('base64')).join('\n') + '\n');
const program = `
  Lines = fun (F) -> [L || L <- binary:split(element(2, file:read_file(F)), <<"\\n">>, [global]), L =/= <<>>] end,
  [io:format("T ~b ~w~n", [erlang:phash2(T, 1 bsl 32), T]) || L <- Lines("${dir}/terms"), T <- [binary_to_term(base64:decode(L))]],
  [begin
     {ok, Props} = rabbit_mgmt_util:decode(base64:decode(L)),
     {'queue.bind', _, _, _, Key, _, Args} = rabbit_mgmt_util:props_to_method('queue.bind', Props, [], []),
     Stored = rabbit_misc:sort_field_table(Args),
     io:format("H ~s ~w~n", [rabbit_mgmt_format:pack_binding_props(Key, Stored), Stored])
   end || L <- Lines("${dir}/http")],
  halt().`;
const lines = execFileSync('erl', ['-noshell', ...codePaths, '-eval', program], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n').filter((l) => l !== '');
const tl = lines.filter((l) => l.startsWith('T ')).map((l) => l.slice(2));
const hl = lines.filter((l) => l.startsWith('H ')).map((l) => l.slice(2));
if (tl.length !== terms.length || hl.length !== http.length) throw new Error(`erl answered ${tl.length}/${terms.length} terms, ${hl.length}/${http.length} bodies`);
const split = (l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)];

const fixture = {
  note: 'Generated by scripts/gen-phash2-fixture.mjs from erl (OTP) and RabbitMQ 3.10.8\'s management .beam files; do not edit.',
  terms: terms.map(([name, term], i) => {
    const [hash, erlang] = split(tl[i]);
    return { name, erlang, term, phash2: Number(hash) };
  }),
  http: http.map(([routing_key, args], i) => {
    const [key, stored] = split(hl[i]);
    return { routing_key, arguments: args, stored, properties_key: key };
  }),
};
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(fixture, null, 1) + '\n');
console.log(`wrote ${out}: ${terms.length} terms, ${http.length} binding bodies`);
