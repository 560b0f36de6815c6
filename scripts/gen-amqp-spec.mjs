#!/usr/bin/env node
/**
 * Generates packages/amqp/src/codec/methods.gen.ts from RabbitMQ's AMQP 0-9-1 spec JSON
 * (packages/amqp/spec/amqp-rabbitmq-0.9.1.json, the file RabbitMQ's rabbitmq-codegen publishes).
 *
 *   node scripts/gen-amqp-spec.mjs [--spec <json>] [--out <file>]      (npm run gen)
 *
 * The output is deterministic (no dates, no absolute paths): it depends only on the spec, so a test can regenerate it
 * and compare with the committed file. Each method gets an interface plus straight-line size/write/decode functions
 * that call the primitives of wire.ts and field-table.ts field by field; nothing interprets a field list at run time.
 *
 * Spec rules applied here: consecutive bit arguments pack into one octet, first bit in the least significant
 * position (§4.2.5.2); content properties are preceded by 16-bit property flags with bit 15 for the first property
 * (§4.2.6.1). Ids come from the JSON, which carries RabbitMQ's quirks (exchange.unbind-ok is 51).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
function option(name, fallback) {
  const i = args.indexOf(name);
  if (i === -1) return fallback;
  const v = args[i + 1];
  if (v === undefined) throw new Error(`${name} needs a value`);
  return resolve(v);
}
const specPath = option('--spec', resolve(repoRoot, 'packages/amqp/spec/amqp-rabbitmq-0.9.1.json'));
const outPath = option('--out', resolve(repoRoot, 'packages/amqp/src/codec/methods.gen.ts'));

const spec = JSON.parse(readFileSync(specPath, 'utf8'));
const domains = new Map(spec.domains.map(([name, type]) => [name, type]));

/** The primitive type of an argument (its `type`, or the type of its `domain`). */
function primitive(arg) {
  let t = arg.type ?? arg.domain;
  while (domains.has(t) && domains.get(t) !== t) t = domains.get(t);
  if (!['bit', 'octet', 'short', 'long', 'longlong', 'timestamp', 'shortstr', 'longstr', 'table'].includes(t)) {
    throw new Error(`unknown AMQP type ${t} for ${arg.name}`);
  }
  return t;
}
const camel = (s) => s.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
const pascal = (s) => s.split(/[-.]/).map((w) => w[0].toUpperCase() + w.slice(1)).join('');
const hex = (n, w) => `0x${n.toString(16).padStart(w, '0')}`;
const TS_TYPE = {
  bit: 'boolean', octet: 'number', short: 'number', long: 'number', longlong: 'number', timestamp: 'number',
  shortstr: 'string', longstr: 'Buffer', table: 'FieldTable',
};
const FIXED = { octet: 1, short: 2, long: 4, longlong: 8, timestamp: 8 };

const methods = [];
for (const cls of spec.classes) {
  for (const m of cls.methods) {
    const name = `${cls.name}.${m.name}`;
    const fields = m.arguments.map((a) => ({ wire: a.name, key: camel(a.name), type: primitive(a) }));
    methods.push({
      name, iface: pascal(name), classId: cls.id, methodId: m.id, hasContent: m.content === true,
      synchronous: m.synchronous === true, fields,
    });
  }
}
methods.sort((a, b) => a.classId - b.classId || a.methodId - b.methodId);
const basic = spec.classes.find((c) => c.name === 'basic');
const props = basic.properties.map((p) => ({ wire: p.name, key: camel(p.name), type: primitive(p) }));
if (props.length > 15) throw new Error('more than 15 properties would need a continuation flag word');

/** Group arguments into wire items: a run of consecutive bits becomes one octet (at most 8 bits each). */
function items(fields) {
  const out = [];
  for (const f of fields) {
    const last = out[out.length - 1];
    if (f.type === 'bit' && last?.kind === 'bits' && last.bits.length < 8) last.bits.push(f);
    else if (f.type === 'bit') out.push({ kind: 'bits', bits: [f] });
    else out.push({ kind: 'field', field: f });
  }
  return out;
}

const L = [];
const emit = (s = '') => L.push(s);

emit('// GENERATED FILE — do not edit. Run `npm run gen` (scripts/gen-amqp-spec.mjs) to regenerate from');
emit('// packages/amqp/spec/amqp-rabbitmq-0.9.1.json. A test checks that this file matches the generator output.');
emit('/* eslint-disable */');
emit("import type { FieldTable, MessageProperties } from '@warren/core';");
emit("import { rdTable, tableSize, writeTable } from './field-table.js';");
emit("import { AmqpProtocolError, SYNTAX_ERROR } from './errors.js';");
emit('import {');
emit('  cur, rdLong, rdLonglong, rdLongstr, rdOctet, rdShort, rdShortstr, rdShortstrLossy, shortstrSize, wrLonglong, wrLongstr,');
emit('  wrShortstr,');
emit("} from './wire.js';");
emit();

// ---- interfaces
for (const m of methods) {
  emit(`/** ${m.name} (class ${m.classId}, method ${m.methodId}${m.hasContent ? ', carries content' : ''}). */`);
  emit(`export interface ${m.iface} {`);
  emit(`  name: '${m.name}';`);
  for (const f of m.fields) emit(`  /** ${f.wire} (${f.type}) */\n  ${f.key}: ${TS_TYPE[f.type]};`);
  emit('}');
  emit();
}
emit('/** Every AMQP 0-9-1 method (with RabbitMQ extensions), discriminated on `name`. */');
emit('export type AmqpMethod =');
methods.forEach((m, i) => emit(`  | ${m.iface}${i === methods.length - 1 ? ';' : ''}`));
emit();

// ---- ids
emit('/** Class id, method id and whether content (header + body frames) follows, per method name. */');
emit("export const METHOD_IDS: Record<AmqpMethod['name'], { classId: number; methodId: number; hasContent: boolean }> = {");
for (const m of methods) {
  emit(`  '${m.name}': { classId: ${m.classId}, methodId: ${m.methodId}, hasContent: ${m.hasContent} },`);
}
emit('};');
emit();
emit('/** The method name for a class/method id pair, or undefined when the pair is unknown. */');
emit("export function methodName(classId: number, methodId: number): AmqpMethod['name'] | undefined {");
emit('  switch (classId * 65536 + methodId) {');
for (const m of methods) emit(`    case ${hex(m.classId * 65536 + m.methodId, 8)}: return '${m.name}';`);
emit('    default: return undefined;');
emit('  }');
emit('}');
emit();

// ---- per-method codecs
for (const m of methods) {
  const its = items(m.fields);
  // size
  let fixed = 4;
  const varying = [];
  for (const it of its) {
    if (it.kind === 'bits') fixed += 1;
    else if (FIXED[it.field.type] !== undefined) fixed += FIXED[it.field.type];
    else if (it.field.type === 'shortstr') varying.push(`shortstrSize(m.${it.field.key})`);
    else if (it.field.type === 'longstr') varying.push(`4 + m.${it.field.key}.length`);
    else varying.push(`tableSize(m.${it.field.key})`);
  }
  const unused = m.fields.length === 0 ? '_' : '';
  emit(`/** Encoded size of ${m.name} arguments, including the 4 bytes of class and method ids. */`);
  emit(`export function size${m.iface}(${unused}m: ${m.iface}): number {`);
  emit(`  return ${[String(fixed), ...varying].join(' + ')};`);
  emit('}');
  emit();
  // write
  emit(`/** Write ${m.name} (ids and arguments) at \`o\`; returns the next offset. */`);
  emit(`export function write${m.iface}(b: Buffer, o: number, ${unused}m: ${m.iface}): number {`);
  emit(`  b.writeUInt32BE(${hex(m.classId * 65536 + m.methodId, 8)}, o);`);
  emit('  o += 4;');
  for (const it of its) {
    if (it.kind === 'bits') {
      const expr = it.bits.map((f, i) => `(m.${f.key} ? ${1 << i} : 0)`).join(' | ');
      emit(`  b[o++] = ${expr};`);
      continue;
    }
    const f = it.field;
    switch (f.type) {
      case 'octet': emit(`  b.writeUInt8(m.${f.key}, o);\n  o += 1;`); break;
      case 'short': emit(`  b.writeUInt16BE(m.${f.key}, o);\n  o += 2;`); break;
      case 'long': emit(`  b.writeUInt32BE(m.${f.key}, o);\n  o += 4;`); break;
      case 'longlong': case 'timestamp': emit(`  o = wrLonglong(b, o, m.${f.key});`); break;
      case 'shortstr': emit(`  o = wrShortstr(b, o, m.${f.key});`); break;
      case 'longstr': emit(`  o = wrLongstr(b, o, m.${f.key});`); break;
      case 'table': emit(`  o = writeTable(b, o, m.${f.key});`); break;
    }
  }
  emit('  return o;');
  emit('}');
  emit();
  // decode
  const c = m.classId, mm = m.methodId;
  emit(`/** Decode ${m.name} arguments from the shared cursor up to \`e\` (ids already read). */`);
  emit(`export function decode${m.iface}(${m.fields.length === 0 ? '_b: Buffer, _e: number' : 'b: Buffer, e: number'}): ${m.iface} {`);
  const values = [];
  let n = 0;
  for (const it of its) {
    if (it.kind === 'bits') {
      const v = `bits${n++}`;
      emit(`  const ${v} = rdOctet(b, e, ${c}, ${mm});`);
      it.bits.forEach((f, i) => values.push(`${f.key}: (${v} & ${1 << i}) !== 0`));
      continue;
    }
    const f = it.field;
    const v = `f${n++}`;
    const reader = {
      octet: 'rdOctet', short: 'rdShort', long: 'rdLong', longlong: 'rdLonglong', timestamp: 'rdLonglong',
      // RabbitMQ 3.10 checks the UTF-8 of every shortstr argument except basic.publish's (see wire.ts).
      shortstr: m.name === 'basic.publish' ? 'rdShortstrLossy' : 'rdShortstr', longstr: 'rdLongstr', table: 'rdTable',
    }[f.type];
    emit(`  const ${v} = ${reader}(b, e, ${c}, ${mm});`);
    values.push(`${f.key}: ${v}`);
  }
  if (values.length <= 2) emit(`  return { name: '${m.name}'${values.map((x) => `, ${x}`).join('')} };`);
  else {
    emit(`  return {\n    name: '${m.name}',`);
    for (const x of values) emit(`    ${x},`);
    emit('  };');
  }
  emit('}');
  emit();
}

// ---- dispatch
emit('/** Encoded size of a method payload (class id, method id, arguments). */');
emit('export function methodPayloadSize(m: AmqpMethod): number {');
emit('  switch (m.name) {');
for (const m of methods) emit(`    case '${m.name}': return size${m.iface}(m);`);
emit('    default: return unknownMethod(m);');
emit('  }');
emit('}');
emit();
emit('/** Write a method payload (class id, method id, arguments) at `o`; returns the next offset. */');
emit('export function writeMethodPayload(b: Buffer, o: number, m: AmqpMethod): number {');
emit('  switch (m.name) {');
for (const m of methods) emit(`    case '${m.name}': return write${m.iface}(b, o, m);`);
emit('    default: return unknownMethod(m);');
emit('  }');
emit('}');
emit();
emit('function unknownMethod(m: never): never {');
emit("  throw new TypeError(`unknown AMQP method ${String((m as { name?: unknown }).name)}`);");
emit('}');
emit();
emit('/**');
emit(' * Decode the arguments of method classId/methodId from b[o, e). Returns undefined for an unknown method (the');
emit(' * caller answers 540); throws AmqpProtocolError 502 when the arguments are truncated or followed by extra bytes.');
emit(' */');
emit('export function decodeMethodArgs(classId: number, methodId: number, b: Buffer, o: number, e: number): AmqpMethod | undefined {');
emit('  cur.pos = o;');
emit('  let m: AmqpMethod;');
emit('  switch (classId * 65536 + methodId) {');
for (const m of methods) emit(`    case ${hex(m.classId * 65536 + m.methodId, 8)}: m = decode${m.iface}(b, e); break;`);
emit('    default: return undefined;');
emit('  }');
emit('  if (cur.pos !== e) {');
emit('    throw new AmqpProtocolError(SYNTAX_ERROR, `${e - cur.pos} unexpected bytes after the arguments of ${m.name}`, classId, methodId);');
emit('  }');
emit('  return m;');
emit('}');
emit();

// ---- basic properties
emit(`/** Encoded size of basic-class content properties: 2 bytes of property flags + the present properties. */`);
emit('export function basicPropertiesSize(p: MessageProperties): number {');
emit('  let n = 2;');
for (const p of props) {
  const add = FIXED[p.type] !== undefined ? String(FIXED[p.type])
    : p.type === 'shortstr' ? `shortstrSize(p.${p.key})` : p.type === 'longstr' ? `4 + p.${p.key}.length` : `tableSize(p.${p.key})`;
  if (p.type === 'bit') throw new Error('bit properties are not supported');
  emit(`  if (p.${p.key} !== undefined) n += ${add};`);
}
emit('  return n;');
emit('}');
emit();
emit('/** Write basic-class property flags and list at `o` (bit 15 of the flags = first property); returns the next offset. */');
emit('export function writeBasicProperties(b: Buffer, o: number, p: MessageProperties): number {');
emit('  const start = o;');
emit('  let flags = 0;');
emit('  o += 2;');
props.forEach((p, i) => {
  const bit = hex(1 << (15 - i), 4);
  const w = {
    octet: `b.writeUInt8(p.${p.key}, o);\n    o += 1;`, short: `b.writeUInt16BE(p.${p.key}, o);\n    o += 2;`,
    long: `b.writeUInt32BE(p.${p.key}, o);\n    o += 4;`, longlong: `o = wrLonglong(b, o, p.${p.key});`,
    timestamp: `o = wrLonglong(b, o, p.${p.key});`, shortstr: `o = wrShortstr(b, o, p.${p.key});`,
    longstr: `o = wrLongstr(b, o, p.${p.key});`, table: `o = writeTable(b, o, p.${p.key});`,
  }[p.type];
  emit(`  if (p.${p.key} !== undefined) {`);
  emit(`    flags |= ${bit}; // ${p.wire}`);
  emit(`    ${w}`);
  emit('  }');
});
emit('  b.writeUInt16BE(flags, start);');
emit('  return o;');
emit('}');
emit();
emit('/**');
emit(' * Decode basic-class property flags and list from b[o, e). Throws AmqpProtocolError 502 when truncated, followed');
emit(' * by extra bytes, or when the flags use the two low bits (continuation / unassigned: 14 properties need neither).');
emit(' */');
emit('export function decodeBasicProperties(b: Buffer, o: number, e: number): MessageProperties {');
emit('  cur.pos = o;');
emit(`  const flags = rdShort(b, e, ${basic.id}, 0);`);
const unusedMask = (1 << (16 - props.length)) - 1;
emit(`  if ((flags & ${hex(unusedMask, 4)}) !== 0) {`);
emit(`    throw new AmqpProtocolError(SYNTAX_ERROR, \`unsupported property flags 0x\${flags.toString(16)}\`, ${basic.id}, 0);`);
emit('  }');
emit('  const p: MessageProperties = {};');
props.forEach((p, i) => {
  const reader = {
    octet: 'rdOctet', short: 'rdShort', long: 'rdLong', longlong: 'rdLonglong', timestamp: 'rdLonglong',
    // Content properties pass through unchecked, as in RabbitMQ (the publish path).
    shortstr: 'rdShortstrLossy', longstr: 'rdLongstr', table: 'rdTable',
  }[p.type];
  emit(`  if ((flags & ${hex(1 << (15 - i), 4)}) !== 0) p.${p.key} = ${reader}(b, e, ${basic.id}, 0);`);
});
emit('  if (cur.pos !== e) {');
emit(`    throw new AmqpProtocolError(SYNTAX_ERROR, \`\${e - cur.pos} unexpected bytes after the content properties\`, ${basic.id}, 0);`);
emit('  }');
emit('  return p;');
emit('}');

writeFileSync(outPath, L.join('\n') + '\n');
