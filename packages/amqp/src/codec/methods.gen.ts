// GENERATED FILE — do not edit. Run `npm run gen` (scripts/gen-amqp-spec.mjs) to regenerate from
// packages/amqp/spec/amqp-rabbitmq-0.9.1.json. A test checks that this file matches the generator output.
/* eslint-disable */
import type { FieldTable, MessageProperties } from '@warren/core';
import { rdTable, tableSize, writeTable } from './field-table.js';
import { AmqpProtocolError, SYNTAX_ERROR } from './errors.js';
import {
  cur, rdLong, rdLonglong, rdLongstr, rdOctet, rdShort, rdShortstr, rdShortstrLossy, shortstrSize, wrLonglong, wrLongstr,
  wrShortstr,
} from './wire.js';

/** connection.start (class 10, method 10). */
export interface ConnectionStart {
  name: 'connection.start';
  /** version-major (octet) */
  versionMajor: number;
  /** version-minor (octet) */
  versionMinor: number;
  /** server-properties (table) */
  serverProperties: FieldTable;
  /** mechanisms (longstr) */
  mechanisms: Buffer;
  /** locales (longstr) */
  locales: Buffer;
}

/** connection.start-ok (class 10, method 11). */
export interface ConnectionStartOk {
  name: 'connection.start-ok';
  /** client-properties (table) */
  clientProperties: FieldTable;
  /** mechanism (shortstr) */
  mechanism: string;
  /** response (longstr) */
  response: Buffer;
  /** locale (shortstr) */
  locale: string;
}

/** connection.secure (class 10, method 20). */
export interface ConnectionSecure {
  name: 'connection.secure';
  /** challenge (longstr) */
  challenge: Buffer;
}

/** connection.secure-ok (class 10, method 21). */
export interface ConnectionSecureOk {
  name: 'connection.secure-ok';
  /** response (longstr) */
  response: Buffer;
}

/** connection.tune (class 10, method 30). */
export interface ConnectionTune {
  name: 'connection.tune';
  /** channel-max (short) */
  channelMax: number;
  /** frame-max (long) */
  frameMax: number;
  /** heartbeat (short) */
  heartbeat: number;
}

/** connection.tune-ok (class 10, method 31). */
export interface ConnectionTuneOk {
  name: 'connection.tune-ok';
  /** channel-max (short) */
  channelMax: number;
  /** frame-max (long) */
  frameMax: number;
  /** heartbeat (short) */
  heartbeat: number;
}

/** connection.open (class 10, method 40). */
export interface ConnectionOpen {
  name: 'connection.open';
  /** virtual-host (shortstr) */
  virtualHost: string;
  /** capabilities (shortstr) */
  capabilities: string;
  /** insist (bit) */
  insist: boolean;
}

/** connection.open-ok (class 10, method 41). */
export interface ConnectionOpenOk {
  name: 'connection.open-ok';
  /** known-hosts (shortstr) */
  knownHosts: string;
}

/** connection.close (class 10, method 50). */
export interface ConnectionClose {
  name: 'connection.close';
  /** reply-code (short) */
  replyCode: number;
  /** reply-text (shortstr) */
  replyText: string;
  /** class-id (short) */
  classId: number;
  /** method-id (short) */
  methodId: number;
}

/** connection.close-ok (class 10, method 51). */
export interface ConnectionCloseOk {
  name: 'connection.close-ok';
}

/** connection.blocked (class 10, method 60). */
export interface ConnectionBlocked {
  name: 'connection.blocked';
  /** reason (shortstr) */
  reason: string;
}

/** connection.unblocked (class 10, method 61). */
export interface ConnectionUnblocked {
  name: 'connection.unblocked';
}

/** connection.update-secret (class 10, method 70). */
export interface ConnectionUpdateSecret {
  name: 'connection.update-secret';
  /** new-secret (longstr) */
  newSecret: Buffer;
  /** reason (shortstr) */
  reason: string;
}

/** connection.update-secret-ok (class 10, method 71). */
export interface ConnectionUpdateSecretOk {
  name: 'connection.update-secret-ok';
}

/** channel.open (class 20, method 10). */
export interface ChannelOpen {
  name: 'channel.open';
  /** out-of-band (shortstr) */
  outOfBand: string;
}

/** channel.open-ok (class 20, method 11). */
export interface ChannelOpenOk {
  name: 'channel.open-ok';
  /** channel-id (longstr) */
  channelId: Buffer;
}

/** channel.flow (class 20, method 20). */
export interface ChannelFlow {
  name: 'channel.flow';
  /** active (bit) */
  active: boolean;
}

/** channel.flow-ok (class 20, method 21). */
export interface ChannelFlowOk {
  name: 'channel.flow-ok';
  /** active (bit) */
  active: boolean;
}

/** channel.close (class 20, method 40). */
export interface ChannelClose {
  name: 'channel.close';
  /** reply-code (short) */
  replyCode: number;
  /** reply-text (shortstr) */
  replyText: string;
  /** class-id (short) */
  classId: number;
  /** method-id (short) */
  methodId: number;
}

/** channel.close-ok (class 20, method 41). */
export interface ChannelCloseOk {
  name: 'channel.close-ok';
}

/** access.request (class 30, method 10). */
export interface AccessRequest {
  name: 'access.request';
  /** realm (shortstr) */
  realm: string;
  /** exclusive (bit) */
  exclusive: boolean;
  /** passive (bit) */
  passive: boolean;
  /** active (bit) */
  active: boolean;
  /** write (bit) */
  write: boolean;
  /** read (bit) */
  read: boolean;
}

/** access.request-ok (class 30, method 11). */
export interface AccessRequestOk {
  name: 'access.request-ok';
  /** ticket (short) */
  ticket: number;
}

/** exchange.declare (class 40, method 10). */
export interface ExchangeDeclare {
  name: 'exchange.declare';
  /** ticket (short) */
  ticket: number;
  /** exchange (shortstr) */
  exchange: string;
  /** type (shortstr) */
  type: string;
  /** passive (bit) */
  passive: boolean;
  /** durable (bit) */
  durable: boolean;
  /** auto-delete (bit) */
  autoDelete: boolean;
  /** internal (bit) */
  internal: boolean;
  /** nowait (bit) */
  nowait: boolean;
  /** arguments (table) */
  arguments: FieldTable;
}

/** exchange.declare-ok (class 40, method 11). */
export interface ExchangeDeclareOk {
  name: 'exchange.declare-ok';
}

/** exchange.delete (class 40, method 20). */
export interface ExchangeDelete {
  name: 'exchange.delete';
  /** ticket (short) */
  ticket: number;
  /** exchange (shortstr) */
  exchange: string;
  /** if-unused (bit) */
  ifUnused: boolean;
  /** nowait (bit) */
  nowait: boolean;
}

/** exchange.delete-ok (class 40, method 21). */
export interface ExchangeDeleteOk {
  name: 'exchange.delete-ok';
}

/** exchange.bind (class 40, method 30). */
export interface ExchangeBind {
  name: 'exchange.bind';
  /** ticket (short) */
  ticket: number;
  /** destination (shortstr) */
  destination: string;
  /** source (shortstr) */
  source: string;
  /** routing-key (shortstr) */
  routingKey: string;
  /** nowait (bit) */
  nowait: boolean;
  /** arguments (table) */
  arguments: FieldTable;
}

/** exchange.bind-ok (class 40, method 31). */
export interface ExchangeBindOk {
  name: 'exchange.bind-ok';
}

/** exchange.unbind (class 40, method 40). */
export interface ExchangeUnbind {
  name: 'exchange.unbind';
  /** ticket (short) */
  ticket: number;
  /** destination (shortstr) */
  destination: string;
  /** source (shortstr) */
  source: string;
  /** routing-key (shortstr) */
  routingKey: string;
  /** nowait (bit) */
  nowait: boolean;
  /** arguments (table) */
  arguments: FieldTable;
}

/** exchange.unbind-ok (class 40, method 51). */
export interface ExchangeUnbindOk {
  name: 'exchange.unbind-ok';
}

/** queue.declare (class 50, method 10). */
export interface QueueDeclare {
  name: 'queue.declare';
  /** ticket (short) */
  ticket: number;
  /** queue (shortstr) */
  queue: string;
  /** passive (bit) */
  passive: boolean;
  /** durable (bit) */
  durable: boolean;
  /** exclusive (bit) */
  exclusive: boolean;
  /** auto-delete (bit) */
  autoDelete: boolean;
  /** nowait (bit) */
  nowait: boolean;
  /** arguments (table) */
  arguments: FieldTable;
}

/** queue.declare-ok (class 50, method 11). */
export interface QueueDeclareOk {
  name: 'queue.declare-ok';
  /** queue (shortstr) */
  queue: string;
  /** message-count (long) */
  messageCount: number;
  /** consumer-count (long) */
  consumerCount: number;
}

/** queue.bind (class 50, method 20). */
export interface QueueBind {
  name: 'queue.bind';
  /** ticket (short) */
  ticket: number;
  /** queue (shortstr) */
  queue: string;
  /** exchange (shortstr) */
  exchange: string;
  /** routing-key (shortstr) */
  routingKey: string;
  /** nowait (bit) */
  nowait: boolean;
  /** arguments (table) */
  arguments: FieldTable;
}

/** queue.bind-ok (class 50, method 21). */
export interface QueueBindOk {
  name: 'queue.bind-ok';
}

/** queue.purge (class 50, method 30). */
export interface QueuePurge {
  name: 'queue.purge';
  /** ticket (short) */
  ticket: number;
  /** queue (shortstr) */
  queue: string;
  /** nowait (bit) */
  nowait: boolean;
}

/** queue.purge-ok (class 50, method 31). */
export interface QueuePurgeOk {
  name: 'queue.purge-ok';
  /** message-count (long) */
  messageCount: number;
}

/** queue.delete (class 50, method 40). */
export interface QueueDelete {
  name: 'queue.delete';
  /** ticket (short) */
  ticket: number;
  /** queue (shortstr) */
  queue: string;
  /** if-unused (bit) */
  ifUnused: boolean;
  /** if-empty (bit) */
  ifEmpty: boolean;
  /** nowait (bit) */
  nowait: boolean;
}

/** queue.delete-ok (class 50, method 41). */
export interface QueueDeleteOk {
  name: 'queue.delete-ok';
  /** message-count (long) */
  messageCount: number;
}

/** queue.unbind (class 50, method 50). */
export interface QueueUnbind {
  name: 'queue.unbind';
  /** ticket (short) */
  ticket: number;
  /** queue (shortstr) */
  queue: string;
  /** exchange (shortstr) */
  exchange: string;
  /** routing-key (shortstr) */
  routingKey: string;
  /** arguments (table) */
  arguments: FieldTable;
}

/** queue.unbind-ok (class 50, method 51). */
export interface QueueUnbindOk {
  name: 'queue.unbind-ok';
}

/** basic.qos (class 60, method 10). */
export interface BasicQos {
  name: 'basic.qos';
  /** prefetch-size (long) */
  prefetchSize: number;
  /** prefetch-count (short) */
  prefetchCount: number;
  /** global (bit) */
  global: boolean;
}

/** basic.qos-ok (class 60, method 11). */
export interface BasicQosOk {
  name: 'basic.qos-ok';
}

/** basic.consume (class 60, method 20). */
export interface BasicConsume {
  name: 'basic.consume';
  /** ticket (short) */
  ticket: number;
  /** queue (shortstr) */
  queue: string;
  /** consumer-tag (shortstr) */
  consumerTag: string;
  /** no-local (bit) */
  noLocal: boolean;
  /** no-ack (bit) */
  noAck: boolean;
  /** exclusive (bit) */
  exclusive: boolean;
  /** nowait (bit) */
  nowait: boolean;
  /** arguments (table) */
  arguments: FieldTable;
}

/** basic.consume-ok (class 60, method 21). */
export interface BasicConsumeOk {
  name: 'basic.consume-ok';
  /** consumer-tag (shortstr) */
  consumerTag: string;
}

/** basic.cancel (class 60, method 30). */
export interface BasicCancel {
  name: 'basic.cancel';
  /** consumer-tag (shortstr) */
  consumerTag: string;
  /** nowait (bit) */
  nowait: boolean;
}

/** basic.cancel-ok (class 60, method 31). */
export interface BasicCancelOk {
  name: 'basic.cancel-ok';
  /** consumer-tag (shortstr) */
  consumerTag: string;
}

/** basic.publish (class 60, method 40, carries content). */
export interface BasicPublish {
  name: 'basic.publish';
  /** ticket (short) */
  ticket: number;
  /** exchange (shortstr) */
  exchange: string;
  /** routing-key (shortstr) */
  routingKey: string;
  /** mandatory (bit) */
  mandatory: boolean;
  /** immediate (bit) */
  immediate: boolean;
}

/** basic.return (class 60, method 50, carries content). */
export interface BasicReturn {
  name: 'basic.return';
  /** reply-code (short) */
  replyCode: number;
  /** reply-text (shortstr) */
  replyText: string;
  /** exchange (shortstr) */
  exchange: string;
  /** routing-key (shortstr) */
  routingKey: string;
}

/** basic.deliver (class 60, method 60, carries content). */
export interface BasicDeliver {
  name: 'basic.deliver';
  /** consumer-tag (shortstr) */
  consumerTag: string;
  /** delivery-tag (longlong) */
  deliveryTag: number;
  /** redelivered (bit) */
  redelivered: boolean;
  /** exchange (shortstr) */
  exchange: string;
  /** routing-key (shortstr) */
  routingKey: string;
}

/** basic.get (class 60, method 70). */
export interface BasicGet {
  name: 'basic.get';
  /** ticket (short) */
  ticket: number;
  /** queue (shortstr) */
  queue: string;
  /** no-ack (bit) */
  noAck: boolean;
}

/** basic.get-ok (class 60, method 71, carries content). */
export interface BasicGetOk {
  name: 'basic.get-ok';
  /** delivery-tag (longlong) */
  deliveryTag: number;
  /** redelivered (bit) */
  redelivered: boolean;
  /** exchange (shortstr) */
  exchange: string;
  /** routing-key (shortstr) */
  routingKey: string;
  /** message-count (long) */
  messageCount: number;
}

/** basic.get-empty (class 60, method 72). */
export interface BasicGetEmpty {
  name: 'basic.get-empty';
  /** cluster-id (shortstr) */
  clusterId: string;
}

/** basic.ack (class 60, method 80). */
export interface BasicAck {
  name: 'basic.ack';
  /** delivery-tag (longlong) */
  deliveryTag: number;
  /** multiple (bit) */
  multiple: boolean;
}

/** basic.reject (class 60, method 90). */
export interface BasicReject {
  name: 'basic.reject';
  /** delivery-tag (longlong) */
  deliveryTag: number;
  /** requeue (bit) */
  requeue: boolean;
}

/** basic.recover-async (class 60, method 100). */
export interface BasicRecoverAsync {
  name: 'basic.recover-async';
  /** requeue (bit) */
  requeue: boolean;
}

/** basic.recover (class 60, method 110). */
export interface BasicRecover {
  name: 'basic.recover';
  /** requeue (bit) */
  requeue: boolean;
}

/** basic.recover-ok (class 60, method 111). */
export interface BasicRecoverOk {
  name: 'basic.recover-ok';
}

/** basic.nack (class 60, method 120). */
export interface BasicNack {
  name: 'basic.nack';
  /** delivery-tag (longlong) */
  deliveryTag: number;
  /** multiple (bit) */
  multiple: boolean;
  /** requeue (bit) */
  requeue: boolean;
}

/** confirm.select (class 85, method 10). */
export interface ConfirmSelect {
  name: 'confirm.select';
  /** nowait (bit) */
  nowait: boolean;
}

/** confirm.select-ok (class 85, method 11). */
export interface ConfirmSelectOk {
  name: 'confirm.select-ok';
}

/** tx.select (class 90, method 10). */
export interface TxSelect {
  name: 'tx.select';
}

/** tx.select-ok (class 90, method 11). */
export interface TxSelectOk {
  name: 'tx.select-ok';
}

/** tx.commit (class 90, method 20). */
export interface TxCommit {
  name: 'tx.commit';
}

/** tx.commit-ok (class 90, method 21). */
export interface TxCommitOk {
  name: 'tx.commit-ok';
}

/** tx.rollback (class 90, method 30). */
export interface TxRollback {
  name: 'tx.rollback';
}

/** tx.rollback-ok (class 90, method 31). */
export interface TxRollbackOk {
  name: 'tx.rollback-ok';
}

/** Every AMQP 0-9-1 method (with RabbitMQ extensions), discriminated on `name`. */
export type AmqpMethod =
  | ConnectionStart
  | ConnectionStartOk
  | ConnectionSecure
  | ConnectionSecureOk
  | ConnectionTune
  | ConnectionTuneOk
  | ConnectionOpen
  | ConnectionOpenOk
  | ConnectionClose
  | ConnectionCloseOk
  | ConnectionBlocked
  | ConnectionUnblocked
  | ConnectionUpdateSecret
  | ConnectionUpdateSecretOk
  | ChannelOpen
  | ChannelOpenOk
  | ChannelFlow
  | ChannelFlowOk
  | ChannelClose
  | ChannelCloseOk
  | AccessRequest
  | AccessRequestOk
  | ExchangeDeclare
  | ExchangeDeclareOk
  | ExchangeDelete
  | ExchangeDeleteOk
  | ExchangeBind
  | ExchangeBindOk
  | ExchangeUnbind
  | ExchangeUnbindOk
  | QueueDeclare
  | QueueDeclareOk
  | QueueBind
  | QueueBindOk
  | QueuePurge
  | QueuePurgeOk
  | QueueDelete
  | QueueDeleteOk
  | QueueUnbind
  | QueueUnbindOk
  | BasicQos
  | BasicQosOk
  | BasicConsume
  | BasicConsumeOk
  | BasicCancel
  | BasicCancelOk
  | BasicPublish
  | BasicReturn
  | BasicDeliver
  | BasicGet
  | BasicGetOk
  | BasicGetEmpty
  | BasicAck
  | BasicReject
  | BasicRecoverAsync
  | BasicRecover
  | BasicRecoverOk
  | BasicNack
  | ConfirmSelect
  | ConfirmSelectOk
  | TxSelect
  | TxSelectOk
  | TxCommit
  | TxCommitOk
  | TxRollback
  | TxRollbackOk;

/** Class id, method id and whether content (header + body frames) follows, per method name. */
export const METHOD_IDS: Record<AmqpMethod['name'], { classId: number; methodId: number; hasContent: boolean }> = {
  'connection.start': { classId: 10, methodId: 10, hasContent: false },
  'connection.start-ok': { classId: 10, methodId: 11, hasContent: false },
  'connection.secure': { classId: 10, methodId: 20, hasContent: false },
  'connection.secure-ok': { classId: 10, methodId: 21, hasContent: false },
  'connection.tune': { classId: 10, methodId: 30, hasContent: false },
  'connection.tune-ok': { classId: 10, methodId: 31, hasContent: false },
  'connection.open': { classId: 10, methodId: 40, hasContent: false },
  'connection.open-ok': { classId: 10, methodId: 41, hasContent: false },
  'connection.close': { classId: 10, methodId: 50, hasContent: false },
  'connection.close-ok': { classId: 10, methodId: 51, hasContent: false },
  'connection.blocked': { classId: 10, methodId: 60, hasContent: false },
  'connection.unblocked': { classId: 10, methodId: 61, hasContent: false },
  'connection.update-secret': { classId: 10, methodId: 70, hasContent: false },
  'connection.update-secret-ok': { classId: 10, methodId: 71, hasContent: false },
  'channel.open': { classId: 20, methodId: 10, hasContent: false },
  'channel.open-ok': { classId: 20, methodId: 11, hasContent: false },
  'channel.flow': { classId: 20, methodId: 20, hasContent: false },
  'channel.flow-ok': { classId: 20, methodId: 21, hasContent: false },
  'channel.close': { classId: 20, methodId: 40, hasContent: false },
  'channel.close-ok': { classId: 20, methodId: 41, hasContent: false },
  'access.request': { classId: 30, methodId: 10, hasContent: false },
  'access.request-ok': { classId: 30, methodId: 11, hasContent: false },
  'exchange.declare': { classId: 40, methodId: 10, hasContent: false },
  'exchange.declare-ok': { classId: 40, methodId: 11, hasContent: false },
  'exchange.delete': { classId: 40, methodId: 20, hasContent: false },
  'exchange.delete-ok': { classId: 40, methodId: 21, hasContent: false },
  'exchange.bind': { classId: 40, methodId: 30, hasContent: false },
  'exchange.bind-ok': { classId: 40, methodId: 31, hasContent: false },
  'exchange.unbind': { classId: 40, methodId: 40, hasContent: false },
  'exchange.unbind-ok': { classId: 40, methodId: 51, hasContent: false },
  'queue.declare': { classId: 50, methodId: 10, hasContent: false },
  'queue.declare-ok': { classId: 50, methodId: 11, hasContent: false },
  'queue.bind': { classId: 50, methodId: 20, hasContent: false },
  'queue.bind-ok': { classId: 50, methodId: 21, hasContent: false },
  'queue.purge': { classId: 50, methodId: 30, hasContent: false },
  'queue.purge-ok': { classId: 50, methodId: 31, hasContent: false },
  'queue.delete': { classId: 50, methodId: 40, hasContent: false },
  'queue.delete-ok': { classId: 50, methodId: 41, hasContent: false },
  'queue.unbind': { classId: 50, methodId: 50, hasContent: false },
  'queue.unbind-ok': { classId: 50, methodId: 51, hasContent: false },
  'basic.qos': { classId: 60, methodId: 10, hasContent: false },
  'basic.qos-ok': { classId: 60, methodId: 11, hasContent: false },
  'basic.consume': { classId: 60, methodId: 20, hasContent: false },
  'basic.consume-ok': { classId: 60, methodId: 21, hasContent: false },
  'basic.cancel': { classId: 60, methodId: 30, hasContent: false },
  'basic.cancel-ok': { classId: 60, methodId: 31, hasContent: false },
  'basic.publish': { classId: 60, methodId: 40, hasContent: true },
  'basic.return': { classId: 60, methodId: 50, hasContent: true },
  'basic.deliver': { classId: 60, methodId: 60, hasContent: true },
  'basic.get': { classId: 60, methodId: 70, hasContent: false },
  'basic.get-ok': { classId: 60, methodId: 71, hasContent: true },
  'basic.get-empty': { classId: 60, methodId: 72, hasContent: false },
  'basic.ack': { classId: 60, methodId: 80, hasContent: false },
  'basic.reject': { classId: 60, methodId: 90, hasContent: false },
  'basic.recover-async': { classId: 60, methodId: 100, hasContent: false },
  'basic.recover': { classId: 60, methodId: 110, hasContent: false },
  'basic.recover-ok': { classId: 60, methodId: 111, hasContent: false },
  'basic.nack': { classId: 60, methodId: 120, hasContent: false },
  'confirm.select': { classId: 85, methodId: 10, hasContent: false },
  'confirm.select-ok': { classId: 85, methodId: 11, hasContent: false },
  'tx.select': { classId: 90, methodId: 10, hasContent: false },
  'tx.select-ok': { classId: 90, methodId: 11, hasContent: false },
  'tx.commit': { classId: 90, methodId: 20, hasContent: false },
  'tx.commit-ok': { classId: 90, methodId: 21, hasContent: false },
  'tx.rollback': { classId: 90, methodId: 30, hasContent: false },
  'tx.rollback-ok': { classId: 90, methodId: 31, hasContent: false },
};

/** The method name for a class/method id pair, or undefined when the pair is unknown. */
export function methodName(classId: number, methodId: number): AmqpMethod['name'] | undefined {
  switch (classId * 65536 + methodId) {
    case 0x000a000a: return 'connection.start';
    case 0x000a000b: return 'connection.start-ok';
    case 0x000a0014: return 'connection.secure';
    case 0x000a0015: return 'connection.secure-ok';
    case 0x000a001e: return 'connection.tune';
    case 0x000a001f: return 'connection.tune-ok';
    case 0x000a0028: return 'connection.open';
    case 0x000a0029: return 'connection.open-ok';
    case 0x000a0032: return 'connection.close';
    case 0x000a0033: return 'connection.close-ok';
    case 0x000a003c: return 'connection.blocked';
    case 0x000a003d: return 'connection.unblocked';
    case 0x000a0046: return 'connection.update-secret';
    case 0x000a0047: return 'connection.update-secret-ok';
    case 0x0014000a: return 'channel.open';
    case 0x0014000b: return 'channel.open-ok';
    case 0x00140014: return 'channel.flow';
    case 0x00140015: return 'channel.flow-ok';
    case 0x00140028: return 'channel.close';
    case 0x00140029: return 'channel.close-ok';
    case 0x001e000a: return 'access.request';
    case 0x001e000b: return 'access.request-ok';
    case 0x0028000a: return 'exchange.declare';
    case 0x0028000b: return 'exchange.declare-ok';
    case 0x00280014: return 'exchange.delete';
    case 0x00280015: return 'exchange.delete-ok';
    case 0x0028001e: return 'exchange.bind';
    case 0x0028001f: return 'exchange.bind-ok';
    case 0x00280028: return 'exchange.unbind';
    case 0x00280033: return 'exchange.unbind-ok';
    case 0x0032000a: return 'queue.declare';
    case 0x0032000b: return 'queue.declare-ok';
    case 0x00320014: return 'queue.bind';
    case 0x00320015: return 'queue.bind-ok';
    case 0x0032001e: return 'queue.purge';
    case 0x0032001f: return 'queue.purge-ok';
    case 0x00320028: return 'queue.delete';
    case 0x00320029: return 'queue.delete-ok';
    case 0x00320032: return 'queue.unbind';
    case 0x00320033: return 'queue.unbind-ok';
    case 0x003c000a: return 'basic.qos';
    case 0x003c000b: return 'basic.qos-ok';
    case 0x003c0014: return 'basic.consume';
    case 0x003c0015: return 'basic.consume-ok';
    case 0x003c001e: return 'basic.cancel';
    case 0x003c001f: return 'basic.cancel-ok';
    case 0x003c0028: return 'basic.publish';
    case 0x003c0032: return 'basic.return';
    case 0x003c003c: return 'basic.deliver';
    case 0x003c0046: return 'basic.get';
    case 0x003c0047: return 'basic.get-ok';
    case 0x003c0048: return 'basic.get-empty';
    case 0x003c0050: return 'basic.ack';
    case 0x003c005a: return 'basic.reject';
    case 0x003c0064: return 'basic.recover-async';
    case 0x003c006e: return 'basic.recover';
    case 0x003c006f: return 'basic.recover-ok';
    case 0x003c0078: return 'basic.nack';
    case 0x0055000a: return 'confirm.select';
    case 0x0055000b: return 'confirm.select-ok';
    case 0x005a000a: return 'tx.select';
    case 0x005a000b: return 'tx.select-ok';
    case 0x005a0014: return 'tx.commit';
    case 0x005a0015: return 'tx.commit-ok';
    case 0x005a001e: return 'tx.rollback';
    case 0x005a001f: return 'tx.rollback-ok';
    default: return undefined;
  }
}

/** Encoded size of connection.start arguments, including the 4 bytes of class and method ids. */
export function sizeConnectionStart(m: ConnectionStart): number {
  return 6 + tableSize(m.serverProperties) + 4 + m.mechanisms.length + 4 + m.locales.length;
}

/** Write connection.start (ids and arguments) at `o`; returns the next offset. */
export function writeConnectionStart(b: Buffer, o: number, m: ConnectionStart): number {
  b.writeUInt32BE(0x000a000a, o);
  o += 4;
  b.writeUInt8(m.versionMajor, o);
  o += 1;
  b.writeUInt8(m.versionMinor, o);
  o += 1;
  o = writeTable(b, o, m.serverProperties);
  o = wrLongstr(b, o, m.mechanisms);
  o = wrLongstr(b, o, m.locales);
  return o;
}

/** Decode connection.start arguments from the shared cursor up to `e` (ids already read). */
export function decodeConnectionStart(b: Buffer, e: number): ConnectionStart {
  const f0 = rdOctet(b, e, 10, 10);
  const f1 = rdOctet(b, e, 10, 10);
  const f2 = rdTable(b, e, 10, 10);
  const f3 = rdLongstr(b, e, 10, 10);
  const f4 = rdLongstr(b, e, 10, 10);
  return {
    name: 'connection.start',
    versionMajor: f0,
    versionMinor: f1,
    serverProperties: f2,
    mechanisms: f3,
    locales: f4,
  };
}

/** Encoded size of connection.start-ok arguments, including the 4 bytes of class and method ids. */
export function sizeConnectionStartOk(m: ConnectionStartOk): number {
  return 4 + tableSize(m.clientProperties) + shortstrSize(m.mechanism) + 4 + m.response.length + shortstrSize(m.locale);
}

/** Write connection.start-ok (ids and arguments) at `o`; returns the next offset. */
export function writeConnectionStartOk(b: Buffer, o: number, m: ConnectionStartOk): number {
  b.writeUInt32BE(0x000a000b, o);
  o += 4;
  o = writeTable(b, o, m.clientProperties);
  o = wrShortstr(b, o, m.mechanism);
  o = wrLongstr(b, o, m.response);
  o = wrShortstr(b, o, m.locale);
  return o;
}

/** Decode connection.start-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeConnectionStartOk(b: Buffer, e: number): ConnectionStartOk {
  const f0 = rdTable(b, e, 10, 11);
  const f1 = rdShortstr(b, e, 10, 11);
  const f2 = rdLongstr(b, e, 10, 11);
  const f3 = rdShortstr(b, e, 10, 11);
  return {
    name: 'connection.start-ok',
    clientProperties: f0,
    mechanism: f1,
    response: f2,
    locale: f3,
  };
}

/** Encoded size of connection.secure arguments, including the 4 bytes of class and method ids. */
export function sizeConnectionSecure(m: ConnectionSecure): number {
  return 4 + 4 + m.challenge.length;
}

/** Write connection.secure (ids and arguments) at `o`; returns the next offset. */
export function writeConnectionSecure(b: Buffer, o: number, m: ConnectionSecure): number {
  b.writeUInt32BE(0x000a0014, o);
  o += 4;
  o = wrLongstr(b, o, m.challenge);
  return o;
}

/** Decode connection.secure arguments from the shared cursor up to `e` (ids already read). */
export function decodeConnectionSecure(b: Buffer, e: number): ConnectionSecure {
  const f0 = rdLongstr(b, e, 10, 20);
  return { name: 'connection.secure', challenge: f0 };
}

/** Encoded size of connection.secure-ok arguments, including the 4 bytes of class and method ids. */
export function sizeConnectionSecureOk(m: ConnectionSecureOk): number {
  return 4 + 4 + m.response.length;
}

/** Write connection.secure-ok (ids and arguments) at `o`; returns the next offset. */
export function writeConnectionSecureOk(b: Buffer, o: number, m: ConnectionSecureOk): number {
  b.writeUInt32BE(0x000a0015, o);
  o += 4;
  o = wrLongstr(b, o, m.response);
  return o;
}

/** Decode connection.secure-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeConnectionSecureOk(b: Buffer, e: number): ConnectionSecureOk {
  const f0 = rdLongstr(b, e, 10, 21);
  return { name: 'connection.secure-ok', response: f0 };
}

/** Encoded size of connection.tune arguments, including the 4 bytes of class and method ids. */
export function sizeConnectionTune(m: ConnectionTune): number {
  return 12;
}

/** Write connection.tune (ids and arguments) at `o`; returns the next offset. */
export function writeConnectionTune(b: Buffer, o: number, m: ConnectionTune): number {
  b.writeUInt32BE(0x000a001e, o);
  o += 4;
  b.writeUInt16BE(m.channelMax, o);
  o += 2;
  b.writeUInt32BE(m.frameMax, o);
  o += 4;
  b.writeUInt16BE(m.heartbeat, o);
  o += 2;
  return o;
}

/** Decode connection.tune arguments from the shared cursor up to `e` (ids already read). */
export function decodeConnectionTune(b: Buffer, e: number): ConnectionTune {
  const f0 = rdShort(b, e, 10, 30);
  const f1 = rdLong(b, e, 10, 30);
  const f2 = rdShort(b, e, 10, 30);
  return {
    name: 'connection.tune',
    channelMax: f0,
    frameMax: f1,
    heartbeat: f2,
  };
}

/** Encoded size of connection.tune-ok arguments, including the 4 bytes of class and method ids. */
export function sizeConnectionTuneOk(m: ConnectionTuneOk): number {
  return 12;
}

/** Write connection.tune-ok (ids and arguments) at `o`; returns the next offset. */
export function writeConnectionTuneOk(b: Buffer, o: number, m: ConnectionTuneOk): number {
  b.writeUInt32BE(0x000a001f, o);
  o += 4;
  b.writeUInt16BE(m.channelMax, o);
  o += 2;
  b.writeUInt32BE(m.frameMax, o);
  o += 4;
  b.writeUInt16BE(m.heartbeat, o);
  o += 2;
  return o;
}

/** Decode connection.tune-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeConnectionTuneOk(b: Buffer, e: number): ConnectionTuneOk {
  const f0 = rdShort(b, e, 10, 31);
  const f1 = rdLong(b, e, 10, 31);
  const f2 = rdShort(b, e, 10, 31);
  return {
    name: 'connection.tune-ok',
    channelMax: f0,
    frameMax: f1,
    heartbeat: f2,
  };
}

/** Encoded size of connection.open arguments, including the 4 bytes of class and method ids. */
export function sizeConnectionOpen(m: ConnectionOpen): number {
  return 5 + shortstrSize(m.virtualHost) + shortstrSize(m.capabilities);
}

/** Write connection.open (ids and arguments) at `o`; returns the next offset. */
export function writeConnectionOpen(b: Buffer, o: number, m: ConnectionOpen): number {
  b.writeUInt32BE(0x000a0028, o);
  o += 4;
  o = wrShortstr(b, o, m.virtualHost);
  o = wrShortstr(b, o, m.capabilities);
  b[o++] = (m.insist ? 1 : 0);
  return o;
}

/** Decode connection.open arguments from the shared cursor up to `e` (ids already read). */
export function decodeConnectionOpen(b: Buffer, e: number): ConnectionOpen {
  const f0 = rdShortstr(b, e, 10, 40);
  const f1 = rdShortstr(b, e, 10, 40);
  const bits2 = rdOctet(b, e, 10, 40);
  return {
    name: 'connection.open',
    virtualHost: f0,
    capabilities: f1,
    insist: (bits2 & 1) !== 0,
  };
}

/** Encoded size of connection.open-ok arguments, including the 4 bytes of class and method ids. */
export function sizeConnectionOpenOk(m: ConnectionOpenOk): number {
  return 4 + shortstrSize(m.knownHosts);
}

/** Write connection.open-ok (ids and arguments) at `o`; returns the next offset. */
export function writeConnectionOpenOk(b: Buffer, o: number, m: ConnectionOpenOk): number {
  b.writeUInt32BE(0x000a0029, o);
  o += 4;
  o = wrShortstr(b, o, m.knownHosts);
  return o;
}

/** Decode connection.open-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeConnectionOpenOk(b: Buffer, e: number): ConnectionOpenOk {
  const f0 = rdShortstr(b, e, 10, 41);
  return { name: 'connection.open-ok', knownHosts: f0 };
}

/** Encoded size of connection.close arguments, including the 4 bytes of class and method ids. */
export function sizeConnectionClose(m: ConnectionClose): number {
  return 10 + shortstrSize(m.replyText);
}

/** Write connection.close (ids and arguments) at `o`; returns the next offset. */
export function writeConnectionClose(b: Buffer, o: number, m: ConnectionClose): number {
  b.writeUInt32BE(0x000a0032, o);
  o += 4;
  b.writeUInt16BE(m.replyCode, o);
  o += 2;
  o = wrShortstr(b, o, m.replyText);
  b.writeUInt16BE(m.classId, o);
  o += 2;
  b.writeUInt16BE(m.methodId, o);
  o += 2;
  return o;
}

/** Decode connection.close arguments from the shared cursor up to `e` (ids already read). */
export function decodeConnectionClose(b: Buffer, e: number): ConnectionClose {
  const f0 = rdShort(b, e, 10, 50);
  const f1 = rdShortstr(b, e, 10, 50);
  const f2 = rdShort(b, e, 10, 50);
  const f3 = rdShort(b, e, 10, 50);
  return {
    name: 'connection.close',
    replyCode: f0,
    replyText: f1,
    classId: f2,
    methodId: f3,
  };
}

/** Encoded size of connection.close-ok arguments, including the 4 bytes of class and method ids. */
export function sizeConnectionCloseOk(_m: ConnectionCloseOk): number {
  return 4;
}

/** Write connection.close-ok (ids and arguments) at `o`; returns the next offset. */
export function writeConnectionCloseOk(b: Buffer, o: number, _m: ConnectionCloseOk): number {
  b.writeUInt32BE(0x000a0033, o);
  o += 4;
  return o;
}

/** Decode connection.close-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeConnectionCloseOk(_b: Buffer, _e: number): ConnectionCloseOk {
  return { name: 'connection.close-ok' };
}

/** Encoded size of connection.blocked arguments, including the 4 bytes of class and method ids. */
export function sizeConnectionBlocked(m: ConnectionBlocked): number {
  return 4 + shortstrSize(m.reason);
}

/** Write connection.blocked (ids and arguments) at `o`; returns the next offset. */
export function writeConnectionBlocked(b: Buffer, o: number, m: ConnectionBlocked): number {
  b.writeUInt32BE(0x000a003c, o);
  o += 4;
  o = wrShortstr(b, o, m.reason);
  return o;
}

/** Decode connection.blocked arguments from the shared cursor up to `e` (ids already read). */
export function decodeConnectionBlocked(b: Buffer, e: number): ConnectionBlocked {
  const f0 = rdShortstr(b, e, 10, 60);
  return { name: 'connection.blocked', reason: f0 };
}

/** Encoded size of connection.unblocked arguments, including the 4 bytes of class and method ids. */
export function sizeConnectionUnblocked(_m: ConnectionUnblocked): number {
  return 4;
}

/** Write connection.unblocked (ids and arguments) at `o`; returns the next offset. */
export function writeConnectionUnblocked(b: Buffer, o: number, _m: ConnectionUnblocked): number {
  b.writeUInt32BE(0x000a003d, o);
  o += 4;
  return o;
}

/** Decode connection.unblocked arguments from the shared cursor up to `e` (ids already read). */
export function decodeConnectionUnblocked(_b: Buffer, _e: number): ConnectionUnblocked {
  return { name: 'connection.unblocked' };
}

/** Encoded size of connection.update-secret arguments, including the 4 bytes of class and method ids. */
export function sizeConnectionUpdateSecret(m: ConnectionUpdateSecret): number {
  return 4 + 4 + m.newSecret.length + shortstrSize(m.reason);
}

/** Write connection.update-secret (ids and arguments) at `o`; returns the next offset. */
export function writeConnectionUpdateSecret(b: Buffer, o: number, m: ConnectionUpdateSecret): number {
  b.writeUInt32BE(0x000a0046, o);
  o += 4;
  o = wrLongstr(b, o, m.newSecret);
  o = wrShortstr(b, o, m.reason);
  return o;
}

/** Decode connection.update-secret arguments from the shared cursor up to `e` (ids already read). */
export function decodeConnectionUpdateSecret(b: Buffer, e: number): ConnectionUpdateSecret {
  const f0 = rdLongstr(b, e, 10, 70);
  const f1 = rdShortstr(b, e, 10, 70);
  return { name: 'connection.update-secret', newSecret: f0, reason: f1 };
}

/** Encoded size of connection.update-secret-ok arguments, including the 4 bytes of class and method ids. */
export function sizeConnectionUpdateSecretOk(_m: ConnectionUpdateSecretOk): number {
  return 4;
}

/** Write connection.update-secret-ok (ids and arguments) at `o`; returns the next offset. */
export function writeConnectionUpdateSecretOk(b: Buffer, o: number, _m: ConnectionUpdateSecretOk): number {
  b.writeUInt32BE(0x000a0047, o);
  o += 4;
  return o;
}

/** Decode connection.update-secret-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeConnectionUpdateSecretOk(_b: Buffer, _e: number): ConnectionUpdateSecretOk {
  return { name: 'connection.update-secret-ok' };
}

/** Encoded size of channel.open arguments, including the 4 bytes of class and method ids. */
export function sizeChannelOpen(m: ChannelOpen): number {
  return 4 + shortstrSize(m.outOfBand);
}

/** Write channel.open (ids and arguments) at `o`; returns the next offset. */
export function writeChannelOpen(b: Buffer, o: number, m: ChannelOpen): number {
  b.writeUInt32BE(0x0014000a, o);
  o += 4;
  o = wrShortstr(b, o, m.outOfBand);
  return o;
}

/** Decode channel.open arguments from the shared cursor up to `e` (ids already read). */
export function decodeChannelOpen(b: Buffer, e: number): ChannelOpen {
  const f0 = rdShortstr(b, e, 20, 10);
  return { name: 'channel.open', outOfBand: f0 };
}

/** Encoded size of channel.open-ok arguments, including the 4 bytes of class and method ids. */
export function sizeChannelOpenOk(m: ChannelOpenOk): number {
  return 4 + 4 + m.channelId.length;
}

/** Write channel.open-ok (ids and arguments) at `o`; returns the next offset. */
export function writeChannelOpenOk(b: Buffer, o: number, m: ChannelOpenOk): number {
  b.writeUInt32BE(0x0014000b, o);
  o += 4;
  o = wrLongstr(b, o, m.channelId);
  return o;
}

/** Decode channel.open-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeChannelOpenOk(b: Buffer, e: number): ChannelOpenOk {
  const f0 = rdLongstr(b, e, 20, 11);
  return { name: 'channel.open-ok', channelId: f0 };
}

/** Encoded size of channel.flow arguments, including the 4 bytes of class and method ids. */
export function sizeChannelFlow(m: ChannelFlow): number {
  return 5;
}

/** Write channel.flow (ids and arguments) at `o`; returns the next offset. */
export function writeChannelFlow(b: Buffer, o: number, m: ChannelFlow): number {
  b.writeUInt32BE(0x00140014, o);
  o += 4;
  b[o++] = (m.active ? 1 : 0);
  return o;
}

/** Decode channel.flow arguments from the shared cursor up to `e` (ids already read). */
export function decodeChannelFlow(b: Buffer, e: number): ChannelFlow {
  const bits0 = rdOctet(b, e, 20, 20);
  return { name: 'channel.flow', active: (bits0 & 1) !== 0 };
}

/** Encoded size of channel.flow-ok arguments, including the 4 bytes of class and method ids. */
export function sizeChannelFlowOk(m: ChannelFlowOk): number {
  return 5;
}

/** Write channel.flow-ok (ids and arguments) at `o`; returns the next offset. */
export function writeChannelFlowOk(b: Buffer, o: number, m: ChannelFlowOk): number {
  b.writeUInt32BE(0x00140015, o);
  o += 4;
  b[o++] = (m.active ? 1 : 0);
  return o;
}

/** Decode channel.flow-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeChannelFlowOk(b: Buffer, e: number): ChannelFlowOk {
  const bits0 = rdOctet(b, e, 20, 21);
  return { name: 'channel.flow-ok', active: (bits0 & 1) !== 0 };
}

/** Encoded size of channel.close arguments, including the 4 bytes of class and method ids. */
export function sizeChannelClose(m: ChannelClose): number {
  return 10 + shortstrSize(m.replyText);
}

/** Write channel.close (ids and arguments) at `o`; returns the next offset. */
export function writeChannelClose(b: Buffer, o: number, m: ChannelClose): number {
  b.writeUInt32BE(0x00140028, o);
  o += 4;
  b.writeUInt16BE(m.replyCode, o);
  o += 2;
  o = wrShortstr(b, o, m.replyText);
  b.writeUInt16BE(m.classId, o);
  o += 2;
  b.writeUInt16BE(m.methodId, o);
  o += 2;
  return o;
}

/** Decode channel.close arguments from the shared cursor up to `e` (ids already read). */
export function decodeChannelClose(b: Buffer, e: number): ChannelClose {
  const f0 = rdShort(b, e, 20, 40);
  const f1 = rdShortstr(b, e, 20, 40);
  const f2 = rdShort(b, e, 20, 40);
  const f3 = rdShort(b, e, 20, 40);
  return {
    name: 'channel.close',
    replyCode: f0,
    replyText: f1,
    classId: f2,
    methodId: f3,
  };
}

/** Encoded size of channel.close-ok arguments, including the 4 bytes of class and method ids. */
export function sizeChannelCloseOk(_m: ChannelCloseOk): number {
  return 4;
}

/** Write channel.close-ok (ids and arguments) at `o`; returns the next offset. */
export function writeChannelCloseOk(b: Buffer, o: number, _m: ChannelCloseOk): number {
  b.writeUInt32BE(0x00140029, o);
  o += 4;
  return o;
}

/** Decode channel.close-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeChannelCloseOk(_b: Buffer, _e: number): ChannelCloseOk {
  return { name: 'channel.close-ok' };
}

/** Encoded size of access.request arguments, including the 4 bytes of class and method ids. */
export function sizeAccessRequest(m: AccessRequest): number {
  return 5 + shortstrSize(m.realm);
}

/** Write access.request (ids and arguments) at `o`; returns the next offset. */
export function writeAccessRequest(b: Buffer, o: number, m: AccessRequest): number {
  b.writeUInt32BE(0x001e000a, o);
  o += 4;
  o = wrShortstr(b, o, m.realm);
  b[o++] = (m.exclusive ? 1 : 0) | (m.passive ? 2 : 0) | (m.active ? 4 : 0) | (m.write ? 8 : 0) | (m.read ? 16 : 0);
  return o;
}

/** Decode access.request arguments from the shared cursor up to `e` (ids already read). */
export function decodeAccessRequest(b: Buffer, e: number): AccessRequest {
  const f0 = rdShortstr(b, e, 30, 10);
  const bits1 = rdOctet(b, e, 30, 10);
  return {
    name: 'access.request',
    realm: f0,
    exclusive: (bits1 & 1) !== 0,
    passive: (bits1 & 2) !== 0,
    active: (bits1 & 4) !== 0,
    write: (bits1 & 8) !== 0,
    read: (bits1 & 16) !== 0,
  };
}

/** Encoded size of access.request-ok arguments, including the 4 bytes of class and method ids. */
export function sizeAccessRequestOk(m: AccessRequestOk): number {
  return 6;
}

/** Write access.request-ok (ids and arguments) at `o`; returns the next offset. */
export function writeAccessRequestOk(b: Buffer, o: number, m: AccessRequestOk): number {
  b.writeUInt32BE(0x001e000b, o);
  o += 4;
  b.writeUInt16BE(m.ticket, o);
  o += 2;
  return o;
}

/** Decode access.request-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeAccessRequestOk(b: Buffer, e: number): AccessRequestOk {
  const f0 = rdShort(b, e, 30, 11);
  return { name: 'access.request-ok', ticket: f0 };
}

/** Encoded size of exchange.declare arguments, including the 4 bytes of class and method ids. */
export function sizeExchangeDeclare(m: ExchangeDeclare): number {
  return 7 + shortstrSize(m.exchange) + shortstrSize(m.type) + tableSize(m.arguments);
}

/** Write exchange.declare (ids and arguments) at `o`; returns the next offset. */
export function writeExchangeDeclare(b: Buffer, o: number, m: ExchangeDeclare): number {
  b.writeUInt32BE(0x0028000a, o);
  o += 4;
  b.writeUInt16BE(m.ticket, o);
  o += 2;
  o = wrShortstr(b, o, m.exchange);
  o = wrShortstr(b, o, m.type);
  b[o++] = (m.passive ? 1 : 0) | (m.durable ? 2 : 0) | (m.autoDelete ? 4 : 0) | (m.internal ? 8 : 0) | (m.nowait ? 16 : 0);
  o = writeTable(b, o, m.arguments);
  return o;
}

/** Decode exchange.declare arguments from the shared cursor up to `e` (ids already read). */
export function decodeExchangeDeclare(b: Buffer, e: number): ExchangeDeclare {
  const f0 = rdShort(b, e, 40, 10);
  const f1 = rdShortstr(b, e, 40, 10);
  const f2 = rdShortstr(b, e, 40, 10);
  const bits3 = rdOctet(b, e, 40, 10);
  const f4 = rdTable(b, e, 40, 10);
  return {
    name: 'exchange.declare',
    ticket: f0,
    exchange: f1,
    type: f2,
    passive: (bits3 & 1) !== 0,
    durable: (bits3 & 2) !== 0,
    autoDelete: (bits3 & 4) !== 0,
    internal: (bits3 & 8) !== 0,
    nowait: (bits3 & 16) !== 0,
    arguments: f4,
  };
}

/** Encoded size of exchange.declare-ok arguments, including the 4 bytes of class and method ids. */
export function sizeExchangeDeclareOk(_m: ExchangeDeclareOk): number {
  return 4;
}

/** Write exchange.declare-ok (ids and arguments) at `o`; returns the next offset. */
export function writeExchangeDeclareOk(b: Buffer, o: number, _m: ExchangeDeclareOk): number {
  b.writeUInt32BE(0x0028000b, o);
  o += 4;
  return o;
}

/** Decode exchange.declare-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeExchangeDeclareOk(_b: Buffer, _e: number): ExchangeDeclareOk {
  return { name: 'exchange.declare-ok' };
}

/** Encoded size of exchange.delete arguments, including the 4 bytes of class and method ids. */
export function sizeExchangeDelete(m: ExchangeDelete): number {
  return 7 + shortstrSize(m.exchange);
}

/** Write exchange.delete (ids and arguments) at `o`; returns the next offset. */
export function writeExchangeDelete(b: Buffer, o: number, m: ExchangeDelete): number {
  b.writeUInt32BE(0x00280014, o);
  o += 4;
  b.writeUInt16BE(m.ticket, o);
  o += 2;
  o = wrShortstr(b, o, m.exchange);
  b[o++] = (m.ifUnused ? 1 : 0) | (m.nowait ? 2 : 0);
  return o;
}

/** Decode exchange.delete arguments from the shared cursor up to `e` (ids already read). */
export function decodeExchangeDelete(b: Buffer, e: number): ExchangeDelete {
  const f0 = rdShort(b, e, 40, 20);
  const f1 = rdShortstr(b, e, 40, 20);
  const bits2 = rdOctet(b, e, 40, 20);
  return {
    name: 'exchange.delete',
    ticket: f0,
    exchange: f1,
    ifUnused: (bits2 & 1) !== 0,
    nowait: (bits2 & 2) !== 0,
  };
}

/** Encoded size of exchange.delete-ok arguments, including the 4 bytes of class and method ids. */
export function sizeExchangeDeleteOk(_m: ExchangeDeleteOk): number {
  return 4;
}

/** Write exchange.delete-ok (ids and arguments) at `o`; returns the next offset. */
export function writeExchangeDeleteOk(b: Buffer, o: number, _m: ExchangeDeleteOk): number {
  b.writeUInt32BE(0x00280015, o);
  o += 4;
  return o;
}

/** Decode exchange.delete-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeExchangeDeleteOk(_b: Buffer, _e: number): ExchangeDeleteOk {
  return { name: 'exchange.delete-ok' };
}

/** Encoded size of exchange.bind arguments, including the 4 bytes of class and method ids. */
export function sizeExchangeBind(m: ExchangeBind): number {
  return 7 + shortstrSize(m.destination) + shortstrSize(m.source) + shortstrSize(m.routingKey) + tableSize(m.arguments);
}

/** Write exchange.bind (ids and arguments) at `o`; returns the next offset. */
export function writeExchangeBind(b: Buffer, o: number, m: ExchangeBind): number {
  b.writeUInt32BE(0x0028001e, o);
  o += 4;
  b.writeUInt16BE(m.ticket, o);
  o += 2;
  o = wrShortstr(b, o, m.destination);
  o = wrShortstr(b, o, m.source);
  o = wrShortstr(b, o, m.routingKey);
  b[o++] = (m.nowait ? 1 : 0);
  o = writeTable(b, o, m.arguments);
  return o;
}

/** Decode exchange.bind arguments from the shared cursor up to `e` (ids already read). */
export function decodeExchangeBind(b: Buffer, e: number): ExchangeBind {
  const f0 = rdShort(b, e, 40, 30);
  const f1 = rdShortstr(b, e, 40, 30);
  const f2 = rdShortstr(b, e, 40, 30);
  const f3 = rdShortstr(b, e, 40, 30);
  const bits4 = rdOctet(b, e, 40, 30);
  const f5 = rdTable(b, e, 40, 30);
  return {
    name: 'exchange.bind',
    ticket: f0,
    destination: f1,
    source: f2,
    routingKey: f3,
    nowait: (bits4 & 1) !== 0,
    arguments: f5,
  };
}

/** Encoded size of exchange.bind-ok arguments, including the 4 bytes of class and method ids. */
export function sizeExchangeBindOk(_m: ExchangeBindOk): number {
  return 4;
}

/** Write exchange.bind-ok (ids and arguments) at `o`; returns the next offset. */
export function writeExchangeBindOk(b: Buffer, o: number, _m: ExchangeBindOk): number {
  b.writeUInt32BE(0x0028001f, o);
  o += 4;
  return o;
}

/** Decode exchange.bind-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeExchangeBindOk(_b: Buffer, _e: number): ExchangeBindOk {
  return { name: 'exchange.bind-ok' };
}

/** Encoded size of exchange.unbind arguments, including the 4 bytes of class and method ids. */
export function sizeExchangeUnbind(m: ExchangeUnbind): number {
  return 7 + shortstrSize(m.destination) + shortstrSize(m.source) + shortstrSize(m.routingKey) + tableSize(m.arguments);
}

/** Write exchange.unbind (ids and arguments) at `o`; returns the next offset. */
export function writeExchangeUnbind(b: Buffer, o: number, m: ExchangeUnbind): number {
  b.writeUInt32BE(0x00280028, o);
  o += 4;
  b.writeUInt16BE(m.ticket, o);
  o += 2;
  o = wrShortstr(b, o, m.destination);
  o = wrShortstr(b, o, m.source);
  o = wrShortstr(b, o, m.routingKey);
  b[o++] = (m.nowait ? 1 : 0);
  o = writeTable(b, o, m.arguments);
  return o;
}

/** Decode exchange.unbind arguments from the shared cursor up to `e` (ids already read). */
export function decodeExchangeUnbind(b: Buffer, e: number): ExchangeUnbind {
  const f0 = rdShort(b, e, 40, 40);
  const f1 = rdShortstr(b, e, 40, 40);
  const f2 = rdShortstr(b, e, 40, 40);
  const f3 = rdShortstr(b, e, 40, 40);
  const bits4 = rdOctet(b, e, 40, 40);
  const f5 = rdTable(b, e, 40, 40);
  return {
    name: 'exchange.unbind',
    ticket: f0,
    destination: f1,
    source: f2,
    routingKey: f3,
    nowait: (bits4 & 1) !== 0,
    arguments: f5,
  };
}

/** Encoded size of exchange.unbind-ok arguments, including the 4 bytes of class and method ids. */
export function sizeExchangeUnbindOk(_m: ExchangeUnbindOk): number {
  return 4;
}

/** Write exchange.unbind-ok (ids and arguments) at `o`; returns the next offset. */
export function writeExchangeUnbindOk(b: Buffer, o: number, _m: ExchangeUnbindOk): number {
  b.writeUInt32BE(0x00280033, o);
  o += 4;
  return o;
}

/** Decode exchange.unbind-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeExchangeUnbindOk(_b: Buffer, _e: number): ExchangeUnbindOk {
  return { name: 'exchange.unbind-ok' };
}

/** Encoded size of queue.declare arguments, including the 4 bytes of class and method ids. */
export function sizeQueueDeclare(m: QueueDeclare): number {
  return 7 + shortstrSize(m.queue) + tableSize(m.arguments);
}

/** Write queue.declare (ids and arguments) at `o`; returns the next offset. */
export function writeQueueDeclare(b: Buffer, o: number, m: QueueDeclare): number {
  b.writeUInt32BE(0x0032000a, o);
  o += 4;
  b.writeUInt16BE(m.ticket, o);
  o += 2;
  o = wrShortstr(b, o, m.queue);
  b[o++] = (m.passive ? 1 : 0) | (m.durable ? 2 : 0) | (m.exclusive ? 4 : 0) | (m.autoDelete ? 8 : 0) | (m.nowait ? 16 : 0);
  o = writeTable(b, o, m.arguments);
  return o;
}

/** Decode queue.declare arguments from the shared cursor up to `e` (ids already read). */
export function decodeQueueDeclare(b: Buffer, e: number): QueueDeclare {
  const f0 = rdShort(b, e, 50, 10);
  const f1 = rdShortstr(b, e, 50, 10);
  const bits2 = rdOctet(b, e, 50, 10);
  const f3 = rdTable(b, e, 50, 10);
  return {
    name: 'queue.declare',
    ticket: f0,
    queue: f1,
    passive: (bits2 & 1) !== 0,
    durable: (bits2 & 2) !== 0,
    exclusive: (bits2 & 4) !== 0,
    autoDelete: (bits2 & 8) !== 0,
    nowait: (bits2 & 16) !== 0,
    arguments: f3,
  };
}

/** Encoded size of queue.declare-ok arguments, including the 4 bytes of class and method ids. */
export function sizeQueueDeclareOk(m: QueueDeclareOk): number {
  return 12 + shortstrSize(m.queue);
}

/** Write queue.declare-ok (ids and arguments) at `o`; returns the next offset. */
export function writeQueueDeclareOk(b: Buffer, o: number, m: QueueDeclareOk): number {
  b.writeUInt32BE(0x0032000b, o);
  o += 4;
  o = wrShortstr(b, o, m.queue);
  b.writeUInt32BE(m.messageCount, o);
  o += 4;
  b.writeUInt32BE(m.consumerCount, o);
  o += 4;
  return o;
}

/** Decode queue.declare-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeQueueDeclareOk(b: Buffer, e: number): QueueDeclareOk {
  const f0 = rdShortstr(b, e, 50, 11);
  const f1 = rdLong(b, e, 50, 11);
  const f2 = rdLong(b, e, 50, 11);
  return {
    name: 'queue.declare-ok',
    queue: f0,
    messageCount: f1,
    consumerCount: f2,
  };
}

/** Encoded size of queue.bind arguments, including the 4 bytes of class and method ids. */
export function sizeQueueBind(m: QueueBind): number {
  return 7 + shortstrSize(m.queue) + shortstrSize(m.exchange) + shortstrSize(m.routingKey) + tableSize(m.arguments);
}

/** Write queue.bind (ids and arguments) at `o`; returns the next offset. */
export function writeQueueBind(b: Buffer, o: number, m: QueueBind): number {
  b.writeUInt32BE(0x00320014, o);
  o += 4;
  b.writeUInt16BE(m.ticket, o);
  o += 2;
  o = wrShortstr(b, o, m.queue);
  o = wrShortstr(b, o, m.exchange);
  o = wrShortstr(b, o, m.routingKey);
  b[o++] = (m.nowait ? 1 : 0);
  o = writeTable(b, o, m.arguments);
  return o;
}

/** Decode queue.bind arguments from the shared cursor up to `e` (ids already read). */
export function decodeQueueBind(b: Buffer, e: number): QueueBind {
  const f0 = rdShort(b, e, 50, 20);
  const f1 = rdShortstr(b, e, 50, 20);
  const f2 = rdShortstr(b, e, 50, 20);
  const f3 = rdShortstr(b, e, 50, 20);
  const bits4 = rdOctet(b, e, 50, 20);
  const f5 = rdTable(b, e, 50, 20);
  return {
    name: 'queue.bind',
    ticket: f0,
    queue: f1,
    exchange: f2,
    routingKey: f3,
    nowait: (bits4 & 1) !== 0,
    arguments: f5,
  };
}

/** Encoded size of queue.bind-ok arguments, including the 4 bytes of class and method ids. */
export function sizeQueueBindOk(_m: QueueBindOk): number {
  return 4;
}

/** Write queue.bind-ok (ids and arguments) at `o`; returns the next offset. */
export function writeQueueBindOk(b: Buffer, o: number, _m: QueueBindOk): number {
  b.writeUInt32BE(0x00320015, o);
  o += 4;
  return o;
}

/** Decode queue.bind-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeQueueBindOk(_b: Buffer, _e: number): QueueBindOk {
  return { name: 'queue.bind-ok' };
}

/** Encoded size of queue.purge arguments, including the 4 bytes of class and method ids. */
export function sizeQueuePurge(m: QueuePurge): number {
  return 7 + shortstrSize(m.queue);
}

/** Write queue.purge (ids and arguments) at `o`; returns the next offset. */
export function writeQueuePurge(b: Buffer, o: number, m: QueuePurge): number {
  b.writeUInt32BE(0x0032001e, o);
  o += 4;
  b.writeUInt16BE(m.ticket, o);
  o += 2;
  o = wrShortstr(b, o, m.queue);
  b[o++] = (m.nowait ? 1 : 0);
  return o;
}

/** Decode queue.purge arguments from the shared cursor up to `e` (ids already read). */
export function decodeQueuePurge(b: Buffer, e: number): QueuePurge {
  const f0 = rdShort(b, e, 50, 30);
  const f1 = rdShortstr(b, e, 50, 30);
  const bits2 = rdOctet(b, e, 50, 30);
  return {
    name: 'queue.purge',
    ticket: f0,
    queue: f1,
    nowait: (bits2 & 1) !== 0,
  };
}

/** Encoded size of queue.purge-ok arguments, including the 4 bytes of class and method ids. */
export function sizeQueuePurgeOk(m: QueuePurgeOk): number {
  return 8;
}

/** Write queue.purge-ok (ids and arguments) at `o`; returns the next offset. */
export function writeQueuePurgeOk(b: Buffer, o: number, m: QueuePurgeOk): number {
  b.writeUInt32BE(0x0032001f, o);
  o += 4;
  b.writeUInt32BE(m.messageCount, o);
  o += 4;
  return o;
}

/** Decode queue.purge-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeQueuePurgeOk(b: Buffer, e: number): QueuePurgeOk {
  const f0 = rdLong(b, e, 50, 31);
  return { name: 'queue.purge-ok', messageCount: f0 };
}

/** Encoded size of queue.delete arguments, including the 4 bytes of class and method ids. */
export function sizeQueueDelete(m: QueueDelete): number {
  return 7 + shortstrSize(m.queue);
}

/** Write queue.delete (ids and arguments) at `o`; returns the next offset. */
export function writeQueueDelete(b: Buffer, o: number, m: QueueDelete): number {
  b.writeUInt32BE(0x00320028, o);
  o += 4;
  b.writeUInt16BE(m.ticket, o);
  o += 2;
  o = wrShortstr(b, o, m.queue);
  b[o++] = (m.ifUnused ? 1 : 0) | (m.ifEmpty ? 2 : 0) | (m.nowait ? 4 : 0);
  return o;
}

/** Decode queue.delete arguments from the shared cursor up to `e` (ids already read). */
export function decodeQueueDelete(b: Buffer, e: number): QueueDelete {
  const f0 = rdShort(b, e, 50, 40);
  const f1 = rdShortstr(b, e, 50, 40);
  const bits2 = rdOctet(b, e, 50, 40);
  return {
    name: 'queue.delete',
    ticket: f0,
    queue: f1,
    ifUnused: (bits2 & 1) !== 0,
    ifEmpty: (bits2 & 2) !== 0,
    nowait: (bits2 & 4) !== 0,
  };
}

/** Encoded size of queue.delete-ok arguments, including the 4 bytes of class and method ids. */
export function sizeQueueDeleteOk(m: QueueDeleteOk): number {
  return 8;
}

/** Write queue.delete-ok (ids and arguments) at `o`; returns the next offset. */
export function writeQueueDeleteOk(b: Buffer, o: number, m: QueueDeleteOk): number {
  b.writeUInt32BE(0x00320029, o);
  o += 4;
  b.writeUInt32BE(m.messageCount, o);
  o += 4;
  return o;
}

/** Decode queue.delete-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeQueueDeleteOk(b: Buffer, e: number): QueueDeleteOk {
  const f0 = rdLong(b, e, 50, 41);
  return { name: 'queue.delete-ok', messageCount: f0 };
}

/** Encoded size of queue.unbind arguments, including the 4 bytes of class and method ids. */
export function sizeQueueUnbind(m: QueueUnbind): number {
  return 6 + shortstrSize(m.queue) + shortstrSize(m.exchange) + shortstrSize(m.routingKey) + tableSize(m.arguments);
}

/** Write queue.unbind (ids and arguments) at `o`; returns the next offset. */
export function writeQueueUnbind(b: Buffer, o: number, m: QueueUnbind): number {
  b.writeUInt32BE(0x00320032, o);
  o += 4;
  b.writeUInt16BE(m.ticket, o);
  o += 2;
  o = wrShortstr(b, o, m.queue);
  o = wrShortstr(b, o, m.exchange);
  o = wrShortstr(b, o, m.routingKey);
  o = writeTable(b, o, m.arguments);
  return o;
}

/** Decode queue.unbind arguments from the shared cursor up to `e` (ids already read). */
export function decodeQueueUnbind(b: Buffer, e: number): QueueUnbind {
  const f0 = rdShort(b, e, 50, 50);
  const f1 = rdShortstr(b, e, 50, 50);
  const f2 = rdShortstr(b, e, 50, 50);
  const f3 = rdShortstr(b, e, 50, 50);
  const f4 = rdTable(b, e, 50, 50);
  return {
    name: 'queue.unbind',
    ticket: f0,
    queue: f1,
    exchange: f2,
    routingKey: f3,
    arguments: f4,
  };
}

/** Encoded size of queue.unbind-ok arguments, including the 4 bytes of class and method ids. */
export function sizeQueueUnbindOk(_m: QueueUnbindOk): number {
  return 4;
}

/** Write queue.unbind-ok (ids and arguments) at `o`; returns the next offset. */
export function writeQueueUnbindOk(b: Buffer, o: number, _m: QueueUnbindOk): number {
  b.writeUInt32BE(0x00320033, o);
  o += 4;
  return o;
}

/** Decode queue.unbind-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeQueueUnbindOk(_b: Buffer, _e: number): QueueUnbindOk {
  return { name: 'queue.unbind-ok' };
}

/** Encoded size of basic.qos arguments, including the 4 bytes of class and method ids. */
export function sizeBasicQos(m: BasicQos): number {
  return 11;
}

/** Write basic.qos (ids and arguments) at `o`; returns the next offset. */
export function writeBasicQos(b: Buffer, o: number, m: BasicQos): number {
  b.writeUInt32BE(0x003c000a, o);
  o += 4;
  b.writeUInt32BE(m.prefetchSize, o);
  o += 4;
  b.writeUInt16BE(m.prefetchCount, o);
  o += 2;
  b[o++] = (m.global ? 1 : 0);
  return o;
}

/** Decode basic.qos arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicQos(b: Buffer, e: number): BasicQos {
  const f0 = rdLong(b, e, 60, 10);
  const f1 = rdShort(b, e, 60, 10);
  const bits2 = rdOctet(b, e, 60, 10);
  return {
    name: 'basic.qos',
    prefetchSize: f0,
    prefetchCount: f1,
    global: (bits2 & 1) !== 0,
  };
}

/** Encoded size of basic.qos-ok arguments, including the 4 bytes of class and method ids. */
export function sizeBasicQosOk(_m: BasicQosOk): number {
  return 4;
}

/** Write basic.qos-ok (ids and arguments) at `o`; returns the next offset. */
export function writeBasicQosOk(b: Buffer, o: number, _m: BasicQosOk): number {
  b.writeUInt32BE(0x003c000b, o);
  o += 4;
  return o;
}

/** Decode basic.qos-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicQosOk(_b: Buffer, _e: number): BasicQosOk {
  return { name: 'basic.qos-ok' };
}

/** Encoded size of basic.consume arguments, including the 4 bytes of class and method ids. */
export function sizeBasicConsume(m: BasicConsume): number {
  return 7 + shortstrSize(m.queue) + shortstrSize(m.consumerTag) + tableSize(m.arguments);
}

/** Write basic.consume (ids and arguments) at `o`; returns the next offset. */
export function writeBasicConsume(b: Buffer, o: number, m: BasicConsume): number {
  b.writeUInt32BE(0x003c0014, o);
  o += 4;
  b.writeUInt16BE(m.ticket, o);
  o += 2;
  o = wrShortstr(b, o, m.queue);
  o = wrShortstr(b, o, m.consumerTag);
  b[o++] = (m.noLocal ? 1 : 0) | (m.noAck ? 2 : 0) | (m.exclusive ? 4 : 0) | (m.nowait ? 8 : 0);
  o = writeTable(b, o, m.arguments);
  return o;
}

/** Decode basic.consume arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicConsume(b: Buffer, e: number): BasicConsume {
  const f0 = rdShort(b, e, 60, 20);
  const f1 = rdShortstr(b, e, 60, 20);
  const f2 = rdShortstr(b, e, 60, 20);
  const bits3 = rdOctet(b, e, 60, 20);
  const f4 = rdTable(b, e, 60, 20);
  return {
    name: 'basic.consume',
    ticket: f0,
    queue: f1,
    consumerTag: f2,
    noLocal: (bits3 & 1) !== 0,
    noAck: (bits3 & 2) !== 0,
    exclusive: (bits3 & 4) !== 0,
    nowait: (bits3 & 8) !== 0,
    arguments: f4,
  };
}

/** Encoded size of basic.consume-ok arguments, including the 4 bytes of class and method ids. */
export function sizeBasicConsumeOk(m: BasicConsumeOk): number {
  return 4 + shortstrSize(m.consumerTag);
}

/** Write basic.consume-ok (ids and arguments) at `o`; returns the next offset. */
export function writeBasicConsumeOk(b: Buffer, o: number, m: BasicConsumeOk): number {
  b.writeUInt32BE(0x003c0015, o);
  o += 4;
  o = wrShortstr(b, o, m.consumerTag);
  return o;
}

/** Decode basic.consume-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicConsumeOk(b: Buffer, e: number): BasicConsumeOk {
  const f0 = rdShortstr(b, e, 60, 21);
  return { name: 'basic.consume-ok', consumerTag: f0 };
}

/** Encoded size of basic.cancel arguments, including the 4 bytes of class and method ids. */
export function sizeBasicCancel(m: BasicCancel): number {
  return 5 + shortstrSize(m.consumerTag);
}

/** Write basic.cancel (ids and arguments) at `o`; returns the next offset. */
export function writeBasicCancel(b: Buffer, o: number, m: BasicCancel): number {
  b.writeUInt32BE(0x003c001e, o);
  o += 4;
  o = wrShortstr(b, o, m.consumerTag);
  b[o++] = (m.nowait ? 1 : 0);
  return o;
}

/** Decode basic.cancel arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicCancel(b: Buffer, e: number): BasicCancel {
  const f0 = rdShortstr(b, e, 60, 30);
  const bits1 = rdOctet(b, e, 60, 30);
  return { name: 'basic.cancel', consumerTag: f0, nowait: (bits1 & 1) !== 0 };
}

/** Encoded size of basic.cancel-ok arguments, including the 4 bytes of class and method ids. */
export function sizeBasicCancelOk(m: BasicCancelOk): number {
  return 4 + shortstrSize(m.consumerTag);
}

/** Write basic.cancel-ok (ids and arguments) at `o`; returns the next offset. */
export function writeBasicCancelOk(b: Buffer, o: number, m: BasicCancelOk): number {
  b.writeUInt32BE(0x003c001f, o);
  o += 4;
  o = wrShortstr(b, o, m.consumerTag);
  return o;
}

/** Decode basic.cancel-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicCancelOk(b: Buffer, e: number): BasicCancelOk {
  const f0 = rdShortstr(b, e, 60, 31);
  return { name: 'basic.cancel-ok', consumerTag: f0 };
}

/** Encoded size of basic.publish arguments, including the 4 bytes of class and method ids. */
export function sizeBasicPublish(m: BasicPublish): number {
  return 7 + shortstrSize(m.exchange) + shortstrSize(m.routingKey);
}

/** Write basic.publish (ids and arguments) at `o`; returns the next offset. */
export function writeBasicPublish(b: Buffer, o: number, m: BasicPublish): number {
  b.writeUInt32BE(0x003c0028, o);
  o += 4;
  b.writeUInt16BE(m.ticket, o);
  o += 2;
  o = wrShortstr(b, o, m.exchange);
  o = wrShortstr(b, o, m.routingKey);
  b[o++] = (m.mandatory ? 1 : 0) | (m.immediate ? 2 : 0);
  return o;
}

/** Decode basic.publish arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicPublish(b: Buffer, e: number): BasicPublish {
  const f0 = rdShort(b, e, 60, 40);
  const f1 = rdShortstrLossy(b, e, 60, 40);
  const f2 = rdShortstrLossy(b, e, 60, 40);
  const bits3 = rdOctet(b, e, 60, 40);
  return {
    name: 'basic.publish',
    ticket: f0,
    exchange: f1,
    routingKey: f2,
    mandatory: (bits3 & 1) !== 0,
    immediate: (bits3 & 2) !== 0,
  };
}

/** Encoded size of basic.return arguments, including the 4 bytes of class and method ids. */
export function sizeBasicReturn(m: BasicReturn): number {
  return 6 + shortstrSize(m.replyText) + shortstrSize(m.exchange) + shortstrSize(m.routingKey);
}

/** Write basic.return (ids and arguments) at `o`; returns the next offset. */
export function writeBasicReturn(b: Buffer, o: number, m: BasicReturn): number {
  b.writeUInt32BE(0x003c0032, o);
  o += 4;
  b.writeUInt16BE(m.replyCode, o);
  o += 2;
  o = wrShortstr(b, o, m.replyText);
  o = wrShortstr(b, o, m.exchange);
  o = wrShortstr(b, o, m.routingKey);
  return o;
}

/** Decode basic.return arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicReturn(b: Buffer, e: number): BasicReturn {
  const f0 = rdShort(b, e, 60, 50);
  const f1 = rdShortstr(b, e, 60, 50);
  const f2 = rdShortstr(b, e, 60, 50);
  const f3 = rdShortstr(b, e, 60, 50);
  return {
    name: 'basic.return',
    replyCode: f0,
    replyText: f1,
    exchange: f2,
    routingKey: f3,
  };
}

/** Encoded size of basic.deliver arguments, including the 4 bytes of class and method ids. */
export function sizeBasicDeliver(m: BasicDeliver): number {
  return 13 + shortstrSize(m.consumerTag) + shortstrSize(m.exchange) + shortstrSize(m.routingKey);
}

/** Write basic.deliver (ids and arguments) at `o`; returns the next offset. */
export function writeBasicDeliver(b: Buffer, o: number, m: BasicDeliver): number {
  b.writeUInt32BE(0x003c003c, o);
  o += 4;
  o = wrShortstr(b, o, m.consumerTag);
  o = wrLonglong(b, o, m.deliveryTag);
  b[o++] = (m.redelivered ? 1 : 0);
  o = wrShortstr(b, o, m.exchange);
  o = wrShortstr(b, o, m.routingKey);
  return o;
}

/** Decode basic.deliver arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicDeliver(b: Buffer, e: number): BasicDeliver {
  const f0 = rdShortstr(b, e, 60, 60);
  const f1 = rdLonglong(b, e, 60, 60);
  const bits2 = rdOctet(b, e, 60, 60);
  const f3 = rdShortstr(b, e, 60, 60);
  const f4 = rdShortstr(b, e, 60, 60);
  return {
    name: 'basic.deliver',
    consumerTag: f0,
    deliveryTag: f1,
    redelivered: (bits2 & 1) !== 0,
    exchange: f3,
    routingKey: f4,
  };
}

/** Encoded size of basic.get arguments, including the 4 bytes of class and method ids. */
export function sizeBasicGet(m: BasicGet): number {
  return 7 + shortstrSize(m.queue);
}

/** Write basic.get (ids and arguments) at `o`; returns the next offset. */
export function writeBasicGet(b: Buffer, o: number, m: BasicGet): number {
  b.writeUInt32BE(0x003c0046, o);
  o += 4;
  b.writeUInt16BE(m.ticket, o);
  o += 2;
  o = wrShortstr(b, o, m.queue);
  b[o++] = (m.noAck ? 1 : 0);
  return o;
}

/** Decode basic.get arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicGet(b: Buffer, e: number): BasicGet {
  const f0 = rdShort(b, e, 60, 70);
  const f1 = rdShortstr(b, e, 60, 70);
  const bits2 = rdOctet(b, e, 60, 70);
  return {
    name: 'basic.get',
    ticket: f0,
    queue: f1,
    noAck: (bits2 & 1) !== 0,
  };
}

/** Encoded size of basic.get-ok arguments, including the 4 bytes of class and method ids. */
export function sizeBasicGetOk(m: BasicGetOk): number {
  return 17 + shortstrSize(m.exchange) + shortstrSize(m.routingKey);
}

/** Write basic.get-ok (ids and arguments) at `o`; returns the next offset. */
export function writeBasicGetOk(b: Buffer, o: number, m: BasicGetOk): number {
  b.writeUInt32BE(0x003c0047, o);
  o += 4;
  o = wrLonglong(b, o, m.deliveryTag);
  b[o++] = (m.redelivered ? 1 : 0);
  o = wrShortstr(b, o, m.exchange);
  o = wrShortstr(b, o, m.routingKey);
  b.writeUInt32BE(m.messageCount, o);
  o += 4;
  return o;
}

/** Decode basic.get-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicGetOk(b: Buffer, e: number): BasicGetOk {
  const f0 = rdLonglong(b, e, 60, 71);
  const bits1 = rdOctet(b, e, 60, 71);
  const f2 = rdShortstr(b, e, 60, 71);
  const f3 = rdShortstr(b, e, 60, 71);
  const f4 = rdLong(b, e, 60, 71);
  return {
    name: 'basic.get-ok',
    deliveryTag: f0,
    redelivered: (bits1 & 1) !== 0,
    exchange: f2,
    routingKey: f3,
    messageCount: f4,
  };
}

/** Encoded size of basic.get-empty arguments, including the 4 bytes of class and method ids. */
export function sizeBasicGetEmpty(m: BasicGetEmpty): number {
  return 4 + shortstrSize(m.clusterId);
}

/** Write basic.get-empty (ids and arguments) at `o`; returns the next offset. */
export function writeBasicGetEmpty(b: Buffer, o: number, m: BasicGetEmpty): number {
  b.writeUInt32BE(0x003c0048, o);
  o += 4;
  o = wrShortstr(b, o, m.clusterId);
  return o;
}

/** Decode basic.get-empty arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicGetEmpty(b: Buffer, e: number): BasicGetEmpty {
  const f0 = rdShortstr(b, e, 60, 72);
  return { name: 'basic.get-empty', clusterId: f0 };
}

/** Encoded size of basic.ack arguments, including the 4 bytes of class and method ids. */
export function sizeBasicAck(m: BasicAck): number {
  return 13;
}

/** Write basic.ack (ids and arguments) at `o`; returns the next offset. */
export function writeBasicAck(b: Buffer, o: number, m: BasicAck): number {
  b.writeUInt32BE(0x003c0050, o);
  o += 4;
  o = wrLonglong(b, o, m.deliveryTag);
  b[o++] = (m.multiple ? 1 : 0);
  return o;
}

/** Decode basic.ack arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicAck(b: Buffer, e: number): BasicAck {
  const f0 = rdLonglong(b, e, 60, 80);
  const bits1 = rdOctet(b, e, 60, 80);
  return { name: 'basic.ack', deliveryTag: f0, multiple: (bits1 & 1) !== 0 };
}

/** Encoded size of basic.reject arguments, including the 4 bytes of class and method ids. */
export function sizeBasicReject(m: BasicReject): number {
  return 13;
}

/** Write basic.reject (ids and arguments) at `o`; returns the next offset. */
export function writeBasicReject(b: Buffer, o: number, m: BasicReject): number {
  b.writeUInt32BE(0x003c005a, o);
  o += 4;
  o = wrLonglong(b, o, m.deliveryTag);
  b[o++] = (m.requeue ? 1 : 0);
  return o;
}

/** Decode basic.reject arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicReject(b: Buffer, e: number): BasicReject {
  const f0 = rdLonglong(b, e, 60, 90);
  const bits1 = rdOctet(b, e, 60, 90);
  return { name: 'basic.reject', deliveryTag: f0, requeue: (bits1 & 1) !== 0 };
}

/** Encoded size of basic.recover-async arguments, including the 4 bytes of class and method ids. */
export function sizeBasicRecoverAsync(m: BasicRecoverAsync): number {
  return 5;
}

/** Write basic.recover-async (ids and arguments) at `o`; returns the next offset. */
export function writeBasicRecoverAsync(b: Buffer, o: number, m: BasicRecoverAsync): number {
  b.writeUInt32BE(0x003c0064, o);
  o += 4;
  b[o++] = (m.requeue ? 1 : 0);
  return o;
}

/** Decode basic.recover-async arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicRecoverAsync(b: Buffer, e: number): BasicRecoverAsync {
  const bits0 = rdOctet(b, e, 60, 100);
  return { name: 'basic.recover-async', requeue: (bits0 & 1) !== 0 };
}

/** Encoded size of basic.recover arguments, including the 4 bytes of class and method ids. */
export function sizeBasicRecover(m: BasicRecover): number {
  return 5;
}

/** Write basic.recover (ids and arguments) at `o`; returns the next offset. */
export function writeBasicRecover(b: Buffer, o: number, m: BasicRecover): number {
  b.writeUInt32BE(0x003c006e, o);
  o += 4;
  b[o++] = (m.requeue ? 1 : 0);
  return o;
}

/** Decode basic.recover arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicRecover(b: Buffer, e: number): BasicRecover {
  const bits0 = rdOctet(b, e, 60, 110);
  return { name: 'basic.recover', requeue: (bits0 & 1) !== 0 };
}

/** Encoded size of basic.recover-ok arguments, including the 4 bytes of class and method ids. */
export function sizeBasicRecoverOk(_m: BasicRecoverOk): number {
  return 4;
}

/** Write basic.recover-ok (ids and arguments) at `o`; returns the next offset. */
export function writeBasicRecoverOk(b: Buffer, o: number, _m: BasicRecoverOk): number {
  b.writeUInt32BE(0x003c006f, o);
  o += 4;
  return o;
}

/** Decode basic.recover-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicRecoverOk(_b: Buffer, _e: number): BasicRecoverOk {
  return { name: 'basic.recover-ok' };
}

/** Encoded size of basic.nack arguments, including the 4 bytes of class and method ids. */
export function sizeBasicNack(m: BasicNack): number {
  return 13;
}

/** Write basic.nack (ids and arguments) at `o`; returns the next offset. */
export function writeBasicNack(b: Buffer, o: number, m: BasicNack): number {
  b.writeUInt32BE(0x003c0078, o);
  o += 4;
  o = wrLonglong(b, o, m.deliveryTag);
  b[o++] = (m.multiple ? 1 : 0) | (m.requeue ? 2 : 0);
  return o;
}

/** Decode basic.nack arguments from the shared cursor up to `e` (ids already read). */
export function decodeBasicNack(b: Buffer, e: number): BasicNack {
  const f0 = rdLonglong(b, e, 60, 120);
  const bits1 = rdOctet(b, e, 60, 120);
  return {
    name: 'basic.nack',
    deliveryTag: f0,
    multiple: (bits1 & 1) !== 0,
    requeue: (bits1 & 2) !== 0,
  };
}

/** Encoded size of confirm.select arguments, including the 4 bytes of class and method ids. */
export function sizeConfirmSelect(m: ConfirmSelect): number {
  return 5;
}

/** Write confirm.select (ids and arguments) at `o`; returns the next offset. */
export function writeConfirmSelect(b: Buffer, o: number, m: ConfirmSelect): number {
  b.writeUInt32BE(0x0055000a, o);
  o += 4;
  b[o++] = (m.nowait ? 1 : 0);
  return o;
}

/** Decode confirm.select arguments from the shared cursor up to `e` (ids already read). */
export function decodeConfirmSelect(b: Buffer, e: number): ConfirmSelect {
  const bits0 = rdOctet(b, e, 85, 10);
  return { name: 'confirm.select', nowait: (bits0 & 1) !== 0 };
}

/** Encoded size of confirm.select-ok arguments, including the 4 bytes of class and method ids. */
export function sizeConfirmSelectOk(_m: ConfirmSelectOk): number {
  return 4;
}

/** Write confirm.select-ok (ids and arguments) at `o`; returns the next offset. */
export function writeConfirmSelectOk(b: Buffer, o: number, _m: ConfirmSelectOk): number {
  b.writeUInt32BE(0x0055000b, o);
  o += 4;
  return o;
}

/** Decode confirm.select-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeConfirmSelectOk(_b: Buffer, _e: number): ConfirmSelectOk {
  return { name: 'confirm.select-ok' };
}

/** Encoded size of tx.select arguments, including the 4 bytes of class and method ids. */
export function sizeTxSelect(_m: TxSelect): number {
  return 4;
}

/** Write tx.select (ids and arguments) at `o`; returns the next offset. */
export function writeTxSelect(b: Buffer, o: number, _m: TxSelect): number {
  b.writeUInt32BE(0x005a000a, o);
  o += 4;
  return o;
}

/** Decode tx.select arguments from the shared cursor up to `e` (ids already read). */
export function decodeTxSelect(_b: Buffer, _e: number): TxSelect {
  return { name: 'tx.select' };
}

/** Encoded size of tx.select-ok arguments, including the 4 bytes of class and method ids. */
export function sizeTxSelectOk(_m: TxSelectOk): number {
  return 4;
}

/** Write tx.select-ok (ids and arguments) at `o`; returns the next offset. */
export function writeTxSelectOk(b: Buffer, o: number, _m: TxSelectOk): number {
  b.writeUInt32BE(0x005a000b, o);
  o += 4;
  return o;
}

/** Decode tx.select-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeTxSelectOk(_b: Buffer, _e: number): TxSelectOk {
  return { name: 'tx.select-ok' };
}

/** Encoded size of tx.commit arguments, including the 4 bytes of class and method ids. */
export function sizeTxCommit(_m: TxCommit): number {
  return 4;
}

/** Write tx.commit (ids and arguments) at `o`; returns the next offset. */
export function writeTxCommit(b: Buffer, o: number, _m: TxCommit): number {
  b.writeUInt32BE(0x005a0014, o);
  o += 4;
  return o;
}

/** Decode tx.commit arguments from the shared cursor up to `e` (ids already read). */
export function decodeTxCommit(_b: Buffer, _e: number): TxCommit {
  return { name: 'tx.commit' };
}

/** Encoded size of tx.commit-ok arguments, including the 4 bytes of class and method ids. */
export function sizeTxCommitOk(_m: TxCommitOk): number {
  return 4;
}

/** Write tx.commit-ok (ids and arguments) at `o`; returns the next offset. */
export function writeTxCommitOk(b: Buffer, o: number, _m: TxCommitOk): number {
  b.writeUInt32BE(0x005a0015, o);
  o += 4;
  return o;
}

/** Decode tx.commit-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeTxCommitOk(_b: Buffer, _e: number): TxCommitOk {
  return { name: 'tx.commit-ok' };
}

/** Encoded size of tx.rollback arguments, including the 4 bytes of class and method ids. */
export function sizeTxRollback(_m: TxRollback): number {
  return 4;
}

/** Write tx.rollback (ids and arguments) at `o`; returns the next offset. */
export function writeTxRollback(b: Buffer, o: number, _m: TxRollback): number {
  b.writeUInt32BE(0x005a001e, o);
  o += 4;
  return o;
}

/** Decode tx.rollback arguments from the shared cursor up to `e` (ids already read). */
export function decodeTxRollback(_b: Buffer, _e: number): TxRollback {
  return { name: 'tx.rollback' };
}

/** Encoded size of tx.rollback-ok arguments, including the 4 bytes of class and method ids. */
export function sizeTxRollbackOk(_m: TxRollbackOk): number {
  return 4;
}

/** Write tx.rollback-ok (ids and arguments) at `o`; returns the next offset. */
export function writeTxRollbackOk(b: Buffer, o: number, _m: TxRollbackOk): number {
  b.writeUInt32BE(0x005a001f, o);
  o += 4;
  return o;
}

/** Decode tx.rollback-ok arguments from the shared cursor up to `e` (ids already read). */
export function decodeTxRollbackOk(_b: Buffer, _e: number): TxRollbackOk {
  return { name: 'tx.rollback-ok' };
}

/** Encoded size of a method payload (class id, method id, arguments). */
export function methodPayloadSize(m: AmqpMethod): number {
  switch (m.name) {
    case 'connection.start': return sizeConnectionStart(m);
    case 'connection.start-ok': return sizeConnectionStartOk(m);
    case 'connection.secure': return sizeConnectionSecure(m);
    case 'connection.secure-ok': return sizeConnectionSecureOk(m);
    case 'connection.tune': return sizeConnectionTune(m);
    case 'connection.tune-ok': return sizeConnectionTuneOk(m);
    case 'connection.open': return sizeConnectionOpen(m);
    case 'connection.open-ok': return sizeConnectionOpenOk(m);
    case 'connection.close': return sizeConnectionClose(m);
    case 'connection.close-ok': return sizeConnectionCloseOk(m);
    case 'connection.blocked': return sizeConnectionBlocked(m);
    case 'connection.unblocked': return sizeConnectionUnblocked(m);
    case 'connection.update-secret': return sizeConnectionUpdateSecret(m);
    case 'connection.update-secret-ok': return sizeConnectionUpdateSecretOk(m);
    case 'channel.open': return sizeChannelOpen(m);
    case 'channel.open-ok': return sizeChannelOpenOk(m);
    case 'channel.flow': return sizeChannelFlow(m);
    case 'channel.flow-ok': return sizeChannelFlowOk(m);
    case 'channel.close': return sizeChannelClose(m);
    case 'channel.close-ok': return sizeChannelCloseOk(m);
    case 'access.request': return sizeAccessRequest(m);
    case 'access.request-ok': return sizeAccessRequestOk(m);
    case 'exchange.declare': return sizeExchangeDeclare(m);
    case 'exchange.declare-ok': return sizeExchangeDeclareOk(m);
    case 'exchange.delete': return sizeExchangeDelete(m);
    case 'exchange.delete-ok': return sizeExchangeDeleteOk(m);
    case 'exchange.bind': return sizeExchangeBind(m);
    case 'exchange.bind-ok': return sizeExchangeBindOk(m);
    case 'exchange.unbind': return sizeExchangeUnbind(m);
    case 'exchange.unbind-ok': return sizeExchangeUnbindOk(m);
    case 'queue.declare': return sizeQueueDeclare(m);
    case 'queue.declare-ok': return sizeQueueDeclareOk(m);
    case 'queue.bind': return sizeQueueBind(m);
    case 'queue.bind-ok': return sizeQueueBindOk(m);
    case 'queue.purge': return sizeQueuePurge(m);
    case 'queue.purge-ok': return sizeQueuePurgeOk(m);
    case 'queue.delete': return sizeQueueDelete(m);
    case 'queue.delete-ok': return sizeQueueDeleteOk(m);
    case 'queue.unbind': return sizeQueueUnbind(m);
    case 'queue.unbind-ok': return sizeQueueUnbindOk(m);
    case 'basic.qos': return sizeBasicQos(m);
    case 'basic.qos-ok': return sizeBasicQosOk(m);
    case 'basic.consume': return sizeBasicConsume(m);
    case 'basic.consume-ok': return sizeBasicConsumeOk(m);
    case 'basic.cancel': return sizeBasicCancel(m);
    case 'basic.cancel-ok': return sizeBasicCancelOk(m);
    case 'basic.publish': return sizeBasicPublish(m);
    case 'basic.return': return sizeBasicReturn(m);
    case 'basic.deliver': return sizeBasicDeliver(m);
    case 'basic.get': return sizeBasicGet(m);
    case 'basic.get-ok': return sizeBasicGetOk(m);
    case 'basic.get-empty': return sizeBasicGetEmpty(m);
    case 'basic.ack': return sizeBasicAck(m);
    case 'basic.reject': return sizeBasicReject(m);
    case 'basic.recover-async': return sizeBasicRecoverAsync(m);
    case 'basic.recover': return sizeBasicRecover(m);
    case 'basic.recover-ok': return sizeBasicRecoverOk(m);
    case 'basic.nack': return sizeBasicNack(m);
    case 'confirm.select': return sizeConfirmSelect(m);
    case 'confirm.select-ok': return sizeConfirmSelectOk(m);
    case 'tx.select': return sizeTxSelect(m);
    case 'tx.select-ok': return sizeTxSelectOk(m);
    case 'tx.commit': return sizeTxCommit(m);
    case 'tx.commit-ok': return sizeTxCommitOk(m);
    case 'tx.rollback': return sizeTxRollback(m);
    case 'tx.rollback-ok': return sizeTxRollbackOk(m);
    default: return unknownMethod(m);
  }
}

/** Write a method payload (class id, method id, arguments) at `o`; returns the next offset. */
export function writeMethodPayload(b: Buffer, o: number, m: AmqpMethod): number {
  switch (m.name) {
    case 'connection.start': return writeConnectionStart(b, o, m);
    case 'connection.start-ok': return writeConnectionStartOk(b, o, m);
    case 'connection.secure': return writeConnectionSecure(b, o, m);
    case 'connection.secure-ok': return writeConnectionSecureOk(b, o, m);
    case 'connection.tune': return writeConnectionTune(b, o, m);
    case 'connection.tune-ok': return writeConnectionTuneOk(b, o, m);
    case 'connection.open': return writeConnectionOpen(b, o, m);
    case 'connection.open-ok': return writeConnectionOpenOk(b, o, m);
    case 'connection.close': return writeConnectionClose(b, o, m);
    case 'connection.close-ok': return writeConnectionCloseOk(b, o, m);
    case 'connection.blocked': return writeConnectionBlocked(b, o, m);
    case 'connection.unblocked': return writeConnectionUnblocked(b, o, m);
    case 'connection.update-secret': return writeConnectionUpdateSecret(b, o, m);
    case 'connection.update-secret-ok': return writeConnectionUpdateSecretOk(b, o, m);
    case 'channel.open': return writeChannelOpen(b, o, m);
    case 'channel.open-ok': return writeChannelOpenOk(b, o, m);
    case 'channel.flow': return writeChannelFlow(b, o, m);
    case 'channel.flow-ok': return writeChannelFlowOk(b, o, m);
    case 'channel.close': return writeChannelClose(b, o, m);
    case 'channel.close-ok': return writeChannelCloseOk(b, o, m);
    case 'access.request': return writeAccessRequest(b, o, m);
    case 'access.request-ok': return writeAccessRequestOk(b, o, m);
    case 'exchange.declare': return writeExchangeDeclare(b, o, m);
    case 'exchange.declare-ok': return writeExchangeDeclareOk(b, o, m);
    case 'exchange.delete': return writeExchangeDelete(b, o, m);
    case 'exchange.delete-ok': return writeExchangeDeleteOk(b, o, m);
    case 'exchange.bind': return writeExchangeBind(b, o, m);
    case 'exchange.bind-ok': return writeExchangeBindOk(b, o, m);
    case 'exchange.unbind': return writeExchangeUnbind(b, o, m);
    case 'exchange.unbind-ok': return writeExchangeUnbindOk(b, o, m);
    case 'queue.declare': return writeQueueDeclare(b, o, m);
    case 'queue.declare-ok': return writeQueueDeclareOk(b, o, m);
    case 'queue.bind': return writeQueueBind(b, o, m);
    case 'queue.bind-ok': return writeQueueBindOk(b, o, m);
    case 'queue.purge': return writeQueuePurge(b, o, m);
    case 'queue.purge-ok': return writeQueuePurgeOk(b, o, m);
    case 'queue.delete': return writeQueueDelete(b, o, m);
    case 'queue.delete-ok': return writeQueueDeleteOk(b, o, m);
    case 'queue.unbind': return writeQueueUnbind(b, o, m);
    case 'queue.unbind-ok': return writeQueueUnbindOk(b, o, m);
    case 'basic.qos': return writeBasicQos(b, o, m);
    case 'basic.qos-ok': return writeBasicQosOk(b, o, m);
    case 'basic.consume': return writeBasicConsume(b, o, m);
    case 'basic.consume-ok': return writeBasicConsumeOk(b, o, m);
    case 'basic.cancel': return writeBasicCancel(b, o, m);
    case 'basic.cancel-ok': return writeBasicCancelOk(b, o, m);
    case 'basic.publish': return writeBasicPublish(b, o, m);
    case 'basic.return': return writeBasicReturn(b, o, m);
    case 'basic.deliver': return writeBasicDeliver(b, o, m);
    case 'basic.get': return writeBasicGet(b, o, m);
    case 'basic.get-ok': return writeBasicGetOk(b, o, m);
    case 'basic.get-empty': return writeBasicGetEmpty(b, o, m);
    case 'basic.ack': return writeBasicAck(b, o, m);
    case 'basic.reject': return writeBasicReject(b, o, m);
    case 'basic.recover-async': return writeBasicRecoverAsync(b, o, m);
    case 'basic.recover': return writeBasicRecover(b, o, m);
    case 'basic.recover-ok': return writeBasicRecoverOk(b, o, m);
    case 'basic.nack': return writeBasicNack(b, o, m);
    case 'confirm.select': return writeConfirmSelect(b, o, m);
    case 'confirm.select-ok': return writeConfirmSelectOk(b, o, m);
    case 'tx.select': return writeTxSelect(b, o, m);
    case 'tx.select-ok': return writeTxSelectOk(b, o, m);
    case 'tx.commit': return writeTxCommit(b, o, m);
    case 'tx.commit-ok': return writeTxCommitOk(b, o, m);
    case 'tx.rollback': return writeTxRollback(b, o, m);
    case 'tx.rollback-ok': return writeTxRollbackOk(b, o, m);
    default: return unknownMethod(m);
  }
}

function unknownMethod(m: never): never {
  throw new TypeError(`unknown AMQP method ${String((m as { name?: unknown }).name)}`);
}

/**
 * Decode the arguments of method classId/methodId from b[o, e). Returns undefined for an unknown method (the
 * caller answers 540); throws AmqpProtocolError 502 when the arguments are truncated or followed by extra bytes.
 */
export function decodeMethodArgs(classId: number, methodId: number, b: Buffer, o: number, e: number): AmqpMethod | undefined {
  cur.pos = o;
  let m: AmqpMethod;
  switch (classId * 65536 + methodId) {
    case 0x000a000a: m = decodeConnectionStart(b, e); break;
    case 0x000a000b: m = decodeConnectionStartOk(b, e); break;
    case 0x000a0014: m = decodeConnectionSecure(b, e); break;
    case 0x000a0015: m = decodeConnectionSecureOk(b, e); break;
    case 0x000a001e: m = decodeConnectionTune(b, e); break;
    case 0x000a001f: m = decodeConnectionTuneOk(b, e); break;
    case 0x000a0028: m = decodeConnectionOpen(b, e); break;
    case 0x000a0029: m = decodeConnectionOpenOk(b, e); break;
    case 0x000a0032: m = decodeConnectionClose(b, e); break;
    case 0x000a0033: m = decodeConnectionCloseOk(b, e); break;
    case 0x000a003c: m = decodeConnectionBlocked(b, e); break;
    case 0x000a003d: m = decodeConnectionUnblocked(b, e); break;
    case 0x000a0046: m = decodeConnectionUpdateSecret(b, e); break;
    case 0x000a0047: m = decodeConnectionUpdateSecretOk(b, e); break;
    case 0x0014000a: m = decodeChannelOpen(b, e); break;
    case 0x0014000b: m = decodeChannelOpenOk(b, e); break;
    case 0x00140014: m = decodeChannelFlow(b, e); break;
    case 0x00140015: m = decodeChannelFlowOk(b, e); break;
    case 0x00140028: m = decodeChannelClose(b, e); break;
    case 0x00140029: m = decodeChannelCloseOk(b, e); break;
    case 0x001e000a: m = decodeAccessRequest(b, e); break;
    case 0x001e000b: m = decodeAccessRequestOk(b, e); break;
    case 0x0028000a: m = decodeExchangeDeclare(b, e); break;
    case 0x0028000b: m = decodeExchangeDeclareOk(b, e); break;
    case 0x00280014: m = decodeExchangeDelete(b, e); break;
    case 0x00280015: m = decodeExchangeDeleteOk(b, e); break;
    case 0x0028001e: m = decodeExchangeBind(b, e); break;
    case 0x0028001f: m = decodeExchangeBindOk(b, e); break;
    case 0x00280028: m = decodeExchangeUnbind(b, e); break;
    case 0x00280033: m = decodeExchangeUnbindOk(b, e); break;
    case 0x0032000a: m = decodeQueueDeclare(b, e); break;
    case 0x0032000b: m = decodeQueueDeclareOk(b, e); break;
    case 0x00320014: m = decodeQueueBind(b, e); break;
    case 0x00320015: m = decodeQueueBindOk(b, e); break;
    case 0x0032001e: m = decodeQueuePurge(b, e); break;
    case 0x0032001f: m = decodeQueuePurgeOk(b, e); break;
    case 0x00320028: m = decodeQueueDelete(b, e); break;
    case 0x00320029: m = decodeQueueDeleteOk(b, e); break;
    case 0x00320032: m = decodeQueueUnbind(b, e); break;
    case 0x00320033: m = decodeQueueUnbindOk(b, e); break;
    case 0x003c000a: m = decodeBasicQos(b, e); break;
    case 0x003c000b: m = decodeBasicQosOk(b, e); break;
    case 0x003c0014: m = decodeBasicConsume(b, e); break;
    case 0x003c0015: m = decodeBasicConsumeOk(b, e); break;
    case 0x003c001e: m = decodeBasicCancel(b, e); break;
    case 0x003c001f: m = decodeBasicCancelOk(b, e); break;
    case 0x003c0028: m = decodeBasicPublish(b, e); break;
    case 0x003c0032: m = decodeBasicReturn(b, e); break;
    case 0x003c003c: m = decodeBasicDeliver(b, e); break;
    case 0x003c0046: m = decodeBasicGet(b, e); break;
    case 0x003c0047: m = decodeBasicGetOk(b, e); break;
    case 0x003c0048: m = decodeBasicGetEmpty(b, e); break;
    case 0x003c0050: m = decodeBasicAck(b, e); break;
    case 0x003c005a: m = decodeBasicReject(b, e); break;
    case 0x003c0064: m = decodeBasicRecoverAsync(b, e); break;
    case 0x003c006e: m = decodeBasicRecover(b, e); break;
    case 0x003c006f: m = decodeBasicRecoverOk(b, e); break;
    case 0x003c0078: m = decodeBasicNack(b, e); break;
    case 0x0055000a: m = decodeConfirmSelect(b, e); break;
    case 0x0055000b: m = decodeConfirmSelectOk(b, e); break;
    case 0x005a000a: m = decodeTxSelect(b, e); break;
    case 0x005a000b: m = decodeTxSelectOk(b, e); break;
    case 0x005a0014: m = decodeTxCommit(b, e); break;
    case 0x005a0015: m = decodeTxCommitOk(b, e); break;
    case 0x005a001e: m = decodeTxRollback(b, e); break;
    case 0x005a001f: m = decodeTxRollbackOk(b, e); break;
    default: return undefined;
  }
  if (cur.pos !== e) {
    throw new AmqpProtocolError(SYNTAX_ERROR, `${e - cur.pos} unexpected bytes after the arguments of ${m.name}`, classId, methodId);
  }
  return m;
}

/** Encoded size of basic-class content properties: 2 bytes of property flags + the present properties. */
export function basicPropertiesSize(p: MessageProperties): number {
  let n = 2;
  if (p.contentType !== undefined) n += shortstrSize(p.contentType);
  if (p.contentEncoding !== undefined) n += shortstrSize(p.contentEncoding);
  if (p.headers !== undefined) n += tableSize(p.headers);
  if (p.deliveryMode !== undefined) n += 1;
  if (p.priority !== undefined) n += 1;
  if (p.correlationId !== undefined) n += shortstrSize(p.correlationId);
  if (p.replyTo !== undefined) n += shortstrSize(p.replyTo);
  if (p.expiration !== undefined) n += shortstrSize(p.expiration);
  if (p.messageId !== undefined) n += shortstrSize(p.messageId);
  if (p.timestamp !== undefined) n += 8;
  if (p.type !== undefined) n += shortstrSize(p.type);
  if (p.userId !== undefined) n += shortstrSize(p.userId);
  if (p.appId !== undefined) n += shortstrSize(p.appId);
  if (p.clusterId !== undefined) n += shortstrSize(p.clusterId);
  return n;
}

/** Write basic-class property flags and list at `o` (bit 15 of the flags = first property); returns the next offset. */
export function writeBasicProperties(b: Buffer, o: number, p: MessageProperties): number {
  const start = o;
  let flags = 0;
  o += 2;
  if (p.contentType !== undefined) {
    flags |= 0x8000; // content-type
    o = wrShortstr(b, o, p.contentType);
  }
  if (p.contentEncoding !== undefined) {
    flags |= 0x4000; // content-encoding
    o = wrShortstr(b, o, p.contentEncoding);
  }
  if (p.headers !== undefined) {
    flags |= 0x2000; // headers
    o = writeTable(b, o, p.headers);
  }
  if (p.deliveryMode !== undefined) {
    flags |= 0x1000; // delivery-mode
    b.writeUInt8(p.deliveryMode, o);
    o += 1;
  }
  if (p.priority !== undefined) {
    flags |= 0x0800; // priority
    b.writeUInt8(p.priority, o);
    o += 1;
  }
  if (p.correlationId !== undefined) {
    flags |= 0x0400; // correlation-id
    o = wrShortstr(b, o, p.correlationId);
  }
  if (p.replyTo !== undefined) {
    flags |= 0x0200; // reply-to
    o = wrShortstr(b, o, p.replyTo);
  }
  if (p.expiration !== undefined) {
    flags |= 0x0100; // expiration
    o = wrShortstr(b, o, p.expiration);
  }
  if (p.messageId !== undefined) {
    flags |= 0x0080; // message-id
    o = wrShortstr(b, o, p.messageId);
  }
  if (p.timestamp !== undefined) {
    flags |= 0x0040; // timestamp
    o = wrLonglong(b, o, p.timestamp);
  }
  if (p.type !== undefined) {
    flags |= 0x0020; // type
    o = wrShortstr(b, o, p.type);
  }
  if (p.userId !== undefined) {
    flags |= 0x0010; // user-id
    o = wrShortstr(b, o, p.userId);
  }
  if (p.appId !== undefined) {
    flags |= 0x0008; // app-id
    o = wrShortstr(b, o, p.appId);
  }
  if (p.clusterId !== undefined) {
    flags |= 0x0004; // cluster-id
    o = wrShortstr(b, o, p.clusterId);
  }
  b.writeUInt16BE(flags, start);
  return o;
}

/**
 * Decode basic-class property flags and list from b[o, e). Throws AmqpProtocolError 502 when truncated, followed
 * by extra bytes, or when the flags use the two low bits (continuation / unassigned: 14 properties need neither).
 */
export function decodeBasicProperties(b: Buffer, o: number, e: number): MessageProperties {
  cur.pos = o;
  const flags = rdShort(b, e, 60, 0);
  if ((flags & 0x0003) !== 0) {
    throw new AmqpProtocolError(SYNTAX_ERROR, `unsupported property flags 0x${flags.toString(16)}`, 60, 0);
  }
  const p: MessageProperties = {};
  if ((flags & 0x8000) !== 0) p.contentType = rdShortstrLossy(b, e, 60, 0);
  if ((flags & 0x4000) !== 0) p.contentEncoding = rdShortstrLossy(b, e, 60, 0);
  if ((flags & 0x2000) !== 0) p.headers = rdTable(b, e, 60, 0);
  if ((flags & 0x1000) !== 0) p.deliveryMode = rdOctet(b, e, 60, 0);
  if ((flags & 0x0800) !== 0) p.priority = rdOctet(b, e, 60, 0);
  if ((flags & 0x0400) !== 0) p.correlationId = rdShortstrLossy(b, e, 60, 0);
  if ((flags & 0x0200) !== 0) p.replyTo = rdShortstrLossy(b, e, 60, 0);
  if ((flags & 0x0100) !== 0) p.expiration = rdShortstrLossy(b, e, 60, 0);
  if ((flags & 0x0080) !== 0) p.messageId = rdShortstrLossy(b, e, 60, 0);
  if ((flags & 0x0040) !== 0) p.timestamp = rdLonglong(b, e, 60, 0);
  if ((flags & 0x0020) !== 0) p.type = rdShortstrLossy(b, e, 60, 0);
  if ((flags & 0x0010) !== 0) p.userId = rdShortstrLossy(b, e, 60, 0);
  if ((flags & 0x0008) !== 0) p.appId = rdShortstrLossy(b, e, 60, 0);
  if ((flags & 0x0004) !== 0) p.clusterId = rdShortstrLossy(b, e, 60, 0);
  if (cur.pos !== e) {
    throw new AmqpProtocolError(SYNTAX_ERROR, `${e - cur.pos} unexpected bytes after the content properties`, 60, 0);
  }
  return p;
}
