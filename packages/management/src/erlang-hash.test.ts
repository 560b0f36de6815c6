/**
 * erlangPhash2 and binding properties_keys against ground truth from a real Erlang VM and RabbitMQ 3.10.8's own
 * management code (tests/fixtures/erlang-phash2/cases.json, made by scripts/gen-phash2-fixture.mjs), plus the keys
 * recorded from a running RabbitMQ 3.10 (tests/fixtures/rabbitmq-3.10/binding-properties-keys.json).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { FieldTable } from '@warren/core';
import { argumentsHash, tableTerm } from './binding-args.js';
import { atom, atomHash, binary, erlangPhash2, float, tuple, type ErlangTerm } from './erlang-hash.js';
import { jsonToTable, propertiesKey } from './format.js';

const FIXTURES = new URL('../../../tests/fixtures/', import.meta.url);

type JsonTerm = { int: string } | { float: number | string } | { atom: string } | { bin: string } | { list: JsonTerm[] } | { tuple: JsonTerm[] };

interface Cases {
  terms: { name: string; erlang: string; term: JsonTerm; phash2: number }[];
  http: { routing_key: string; arguments: Record<string, unknown>; stored: string; properties_key: string }[];
}

const cases = JSON.parse(readFileSync(new URL('erlang-phash2/cases.json', FIXTURES), 'utf8')) as Cases;
const recorded = JSON.parse(readFileSync(new URL('rabbitmq-3.10/binding-properties-keys.json', FIXTURES), 'utf8')) as {
  bindings: { routing_key: string; arguments: Record<string, unknown>; properties_key: string }[];
};

function toTerm(t: JsonTerm): ErlangTerm {
  if ('int' in t) return BigInt(t.int);
  if ('float' in t) return float(Number(t.float));
  if ('atom' in t) return atom(t.atom);
  if ('bin' in t) return new Uint8Array(Buffer.from(t.bin, 'base64'));
  if ('list' in t) return t.list.map(toTerm);
  return tuple(...t.tuple.map(toTerm));
}

describe('erlangPhash2 = erlang:phash2(T, 1 bsl 32), as erl computes it', () => {
  it('has a fixture covering every kind of term', () => {
    expect(cases.terms.length).toBeGreaterThan(250);
    const kinds = new Set(cases.terms.map((c) => Object.keys(c.term)[0]));
    expect([...kinds].sort()).toEqual(['atom', 'bin', 'float', 'int', 'list', 'tuple']);
  });

  it.each(cases.terms.map((c) => [c.name, c.erlang, c] as const))('%s: %s', (_name, _erlang, c) => {
    expect(erlangPhash2(toTerm(c.term))).toBe(c.phash2);
  });

  it('hashes atoms with hashpjw, folding two-byte Latin-1 UTF-8 back into one byte', () => {
    expect(atomHash('a')).toBe(97);
    expect(atomHash('é')).toBe(233);
    expect(atomHash('')).toBe(0);
  });
});

describe('properties_key of a binding with arguments, as RabbitMQ 3.10 makes it', () => {
  it.each(recorded.bindings.map((b) => [b.routing_key, JSON.stringify(b.arguments), b] as const))(
    'recorded from RabbitMQ: %j %s',
    (_rk, _args, b) => {
      const args = Object.keys(b.arguments).length === 0 ? undefined : jsonToTable(b.arguments);
      expect(propertiesKey(b.routing_key, args)).toBe(b.properties_key);
    },
  );

  it.each(cases.http.map((h) => [h.routing_key, JSON.stringify(h.arguments), h] as const))(
    'HTTP body through RabbitMQ 3.10.8 management code: %j %s',
    (_rk, _args, h) => {
      const args = jsonToTable(h.arguments);
      expect(propertiesKey(h.routing_key, Object.keys(args).length === 0 ? undefined : args)).toBe(h.properties_key);
    },
  );

  it('maps AMQP-only values to the types RabbitMQ\'s AMQP parser stores (hashes from erl)', () => {
    const byName = new Map(cases.terms.map((c) => [c.name, c.phash2]));
    const hashOf = (name: string): string => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(byName.get(name)!);
      return b.toString('base64url');
    };
    const tables: [string, FieldTable][] = [
      ['args amqp void', { v: null }],
      ['args amqp binary', { b: Buffer.from([0, 1, 2, 255]) }],
      ['args amqp timestamp', { ts: new Date(1_700_000_000_000) }],
      ['args amqp decimal', { d: { $decimal: true, scale: 2, value: 12345 } }],
      ['args nested table', { t: { b: 0.5, a: true } }],
      ['args array', { a: [1, 'b', []] }],
      ['args {x:1}', { x: 1n }],
    ];
    for (const [name, table] of tables) expect(argumentsHash(table), name).toBe(hashOf(name));
  });

  it('sorts names by their UTF-8 bytes, not by UTF-16 units, and writes numbers as JavaScript clients send them', () => {
    // U+FF71 sorts before U+1F389 in UTF-8 (EF.. < F0..), after it in UTF-16 (FF71 > D83C).
    expect(tableTerm({ '🎉': 1, 'ｱ': 2 })).toEqual([tuple(binary('ｱ'), atom('long'), 2n), tuple(binary('🎉'), atom('long'), 1n)]);
    expect(tableTerm({ x: 1e21 })).toEqual([tuple(binary('x'), atom('double'), float(1e21))]);
    expect(tableTerm({ x: 2 ** 64 })).toEqual([tuple(binary('x'), atom('long'), 18446744073709552000n)]);
    expect(tableTerm({ x: -0 })).toEqual([tuple(binary('x'), atom('long'), 0n)]);
  });
});
