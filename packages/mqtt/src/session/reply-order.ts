/**
 * Reply order: replies that must not reach the client before a change is on disk (the definitions of a persistent
 * session's queues and bindings, the MQTT state of retained messages and sessions) are held, and the packets read
 * meanwhile wait, so every reply keeps its order ([MQTT-4.6.0-2]). Also where packets wait for an external auth
 * backend's answer.
 */
import { PauseReason } from '@warren/transport';
import { DefinitionsBarrier, isAuthorizationPending } from '@warren/core';
import type { Packet } from 'mqtt-packet';
import { checkTopicName, topicToRoutingKey } from '../topic.js';
import { Phase } from './state.js';
import type { MqttConnection } from './mqtt-connection.js';

export function handlePacket(c: MqttConnection, packet: Packet): void {
  if (c.phase === Phase.Closed) return;
  if (c.barrier?.waiting === true) {
    (c.backlog ??= []).push(c.reader.retainable(packet));
    return;
  }
  const authReady = prepareAuth(c, packet);
  if (authReady !== undefined) {
    waitForAuth(c, [c.reader.retainable(packet)], authReady);
    return;
  }
  // Counted when handled (a backlogged packet comes through here again).
  c.rt.stats.packetsIn++;
  const broker = c.rt.broker;
  // Replies that must not go out before a change is on disk: the CONNACK of a session that outlives its
  // connection (a client told Session Present 1 after a crash must find it), SUBACK/UNSUBACK (durable queues and
  // bindings, the persistent session's subscriptions) and the PUBACK/PUBREC of a retained PUBLISH (so PUBCOMP
  // follows too). A clean session changes nothing on disk, so its CONNACK waits for nothing.
  const watch =
    packet.cmd === 'connect' || packet.cmd === 'subscribe' || packet.cmd === 'unsubscribe' || (packet.cmd === 'publish' && packet.retain && packet.qos > 0);
  const before = watch ? broker.definitionsVersion : undefined;
  const stateBefore = watch ? c.rt.stateChanges() : 0;
  if (before !== undefined) c.capture = [];
  try {
    c.dispatch(packet);
  } catch (err) {
    releaseCapture(c, false, false);
    if (isAuthorizationPending(err) && packet.cmd !== 'publish') waitForAuth(c, [c.reader.retainable(packet)], err.ready);
    else c.internalError(err);
    return;
  }
  if (before !== undefined) releaseCapture(c, broker.definitionsVersion !== before, c.rt.stateChanges() !== stateBefore);
}

/**
 * For a user an external auth backend authenticated: have the answers a PUBLISH will need cached before it is
 * handled (handling it has effects, a retained message among them, that must not happen twice). The promise when
 * the packet must wait for them; undefined to handle it now.
 */
export function prepareAuth(c: MqttConnection, packet: Packet): Promise<void> | undefined {
  if (packet.cmd !== 'publish' || c.ch === undefined || c.ch.externalAuth !== true) return undefined;
  let topic = packet.topic;
  const alias = packet.properties?.topicAlias;
  if (topic === '' && alias !== undefined) topic = c.inAliases.get(alias) ?? '';
  if (checkTopicName(topic) !== undefined) return undefined;
  try {
    c.ch.authorizePublish?.(c.rt.options.exchange, topicToRoutingKey(topic));
  } catch (err) {
    if (isAuthorizationPending(err)) return err.ready;
    // A refusal: the PUBLISH's own handling meets it (the answer is cached) and answers as for internal users.
  }
  return undefined;
}

/** Handle `packets` (in order, after any already waiting) once an external auth backend answered. */
export function waitForAuth(c: MqttConnection, packets: Packet[], ready: Promise<void>): void {
  const backlog = (c.backlog ??= []);
  backlog.unshift(...packets);
  barrierOf(c).holdUntil(ready);
}

/**
 * Write the captured packets, or hold them (and every later packet) until the definitions (`defs`) and the MQTT
 * state (`state`) changed by the packet are on disk.
 */
export function releaseCapture(c: MqttConnection, defs: boolean, state: boolean): void {
  const captured = c.capture;
  c.capture = undefined;
  if (captured === undefined || c.phase === Phase.Closed) return;
  const durable = durableChanges(c, defs, state);
  if (durable === undefined) {
    for (const b of captured) c.io.write(b);
    return;
  }
  barrierOf(c).holdUntil(durable, captured);
}

/** Settles once the definitions (`defs`) and the MQTT state (`state`) changed so far are on disk; undefined if neither. */
export function durableChanges(c: MqttConnection, defs: boolean, state: boolean): Promise<unknown> | undefined {
  const defsFlushed = defs ? (c.rt.broker.flushDefinitions?.() ?? Promise.resolve()) : undefined;
  const stateSynced = state ? c.rt.stateSync() : undefined;
  return defsFlushed !== undefined && stateSynced !== undefined ? Promise.all([defsFlushed, stateSynced]) : (defsFlushed ?? stateSynced);
}

/**
 * The connection's barrier, made when a wait begins: reading pauses (for this reason only, so a resource alarm's
 * pause stays in force by itself) until the last wait ends; then the held replies go out, the packets read
 * meanwhile are handled, and reading resumes. The barrier is dropped once nothing waits.
 */
export function barrierOf(c: MqttConnection): DefinitionsBarrier {
  const current = c.barrier;
  if (current !== undefined) return current;
  const barrier: DefinitionsBarrier = new DefinitionsBarrier({
    pause: () => c.io.pause(PauseReason.Definitions),
    resume: () => {
      if (c.barrier === barrier && !barrier.waiting) c.barrier = undefined;
      c.io.resume(PauseReason.Definitions);
    },
    write: (buf) => c.io.write(buf),
    replay: () => {
      const backlog = c.backlog;
      c.backlog = undefined;
      if (backlog !== undefined && backlog.length > 0 && c.phase !== Phase.Closed) handleBatch(c, backlog);
    },
    failed: (err) => c.internalError(err),
  });
  c.barrier = barrier;
  return barrier;
}

/**
 * Handle the packets that waited as one batch: their replies are captured together and wait for one flush and
 * one sync, so a client with many retained PUBLISHes (or SUBSCRIBEs) in flight pays one fsync per batch, not one
 * per packet. Replies keep their order.
 */
export function handleBatch(c: MqttConnection, packets: Packet[]): void {
  const broker = c.rt.broker;
  const before = broker.definitionsVersion;
  const stateBefore = c.rt.stateChanges();
  c.capture = [];
  for (let i = 0; i < packets.length; i++) {
    const packet = packets[i]!;
    if (c.phase === Phase.Closed) break;
    let authReady = prepareAuth(c, packet);
    if (authReady === undefined) {
      try {
        c.dispatch(packet);
      } catch (err) {
        if (!isAuthorizationPending(err) || packet.cmd === 'publish') {
          releaseCapture(c, false, false);
          c.internalError(err);
          return;
        }
        authReady = err.ready;
      }
    }
    if (authReady !== undefined) {
      // This packet and the rest wait for the auth backend (after the replies so far reach the disk if need be).
      releaseCapture(c, broker.definitionsVersion !== before, c.rt.stateChanges() !== stateBefore);
      waitForAuth(c, packets.slice(i), authReady);
      return;
    }
    // A huge SUBSCRIBE goes on over later turns: the packets after it wait for it.
    if (c.barrier?.waiting === true) {
      const backlog = (c.backlog ??= []);
      for (let j = i + 1; j < packets.length; j++) backlog.push(packets[j] as Packet);
      break;
    }
  }
  releaseCapture(c, broker.definitionsVersion !== before, c.rt.stateChanges() !== stateBefore);
}
