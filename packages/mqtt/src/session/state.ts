/**
 * The types and constants the files of one MQTT connection share (the connection's state lives on
 * {@link MqttConnection}; its packet families are the modules beside it).
 */
import type { Packet, ISubscribePacket, QoS } from 'mqtt-packet';
import type { SubscriptionState } from './session-store.js';

/** Shared empty placeholders; never written to (see the fields of {@link MqttConnection}). */
export const EMPTY_MAP: ReadonlyMap<unknown, unknown> = new Map();
export const EMPTY_SET: ReadonlySet<unknown> = new Set();
/**
 * The shared (frozen) empty list a new session starts with for its subscriptions and QoS 2 packet ids: those are
 * replaced, never written in place, until the first SUBSCRIBE (see {@link sessionSubscriptionsW}).
 */
export const EMPTY_LIST: readonly never[] = Object.freeze([]);
/** `session.subscriptions`, made writable (its own array) if it is still {@link EMPTY_LIST}. */
export function sessionSubscriptionsW(session: { subscriptions: SubscriptionState[] }): SubscriptionState[] {
  return (session.subscriptions as readonly unknown[]) === EMPTY_LIST ? (session.subscriptions = []) : session.subscriptions;
}
/** Where a connection is in its life. */
export const Phase = { AwaitConnect: 0, Connected: 1, Closed: 2 } as const;
/** One of {@link Phase}. */
export type Phase = (typeof Phase)[keyof typeof Phase];

/** A subscription as held while connected: its state plus the precomputed queue and binding. */
export interface ActiveSubscription extends SubscriptionState {
  /** The core queue it is bound to / consumes from. */
  queue: string;
  bindingKey: string;
  shared: boolean;
  /** The consumer tag its deliveries come with (qos0, qos1, or this shared queue's). */
  consumerTag: string;
  /** The filter deliveries are matched against (a shared subscription's without `$share/<group>/`). */
  matchFilter: string;
}

/**
 * The subscriptions one consumer tag delivers for, so a delivery finds them without walking every subscription:
 * keyed by filter in subscription order, with an array of them built on the first delivery after a change.
 */
export interface ConsumerSubscriptions {
  readonly byFilter: Map<string, ActiveSubscription>;
  list: ActiveSubscription[] | undefined;
}

/** A SUBSCRIBE being handled (a huge one over several event-loop turns). */
export interface SubscribeJob {
  packet: ISubscribePacket;
  /** Index of the next filter to handle. */
  next: number;
  /** The SUBACK codes so far. */
  granted: number[];
  /** The subscriptions made, whose retained messages follow the SUBACK. */
  retained: Array<{ sub: ActiveSubscription; isNew: boolean }>;
  /** Invalid filters, and the first one (logged once per SUBSCRIBE). */
  invalid: number;
  firstInvalid?: string;
  /** Filters refused because the session has its maximum of subscriptions. */
  overCap: number;
  /** The definitions version and MQTT state changes when it began (its SUBACK waits for what changed since). */
  defsStart: number;
  stateStart: number;
}

/**
 * Filters of one SUBSCRIBE handled per event-loop turn. A SUBSCRIBE with more is handled over several turns, so one
 * client subscribing 100,000 filters at once delays the others by a slice (about 2 ms), not by the whole packet.
 * 64 rather than 256: with 256, bystanders' p99 during a 40,000-filter flood was 50–64 ms; with 64 it is 27–36 ms
 * and the flood takes no longer (bench/src/security/flood-bench.ts).
 */
export const SUBSCRIBE_SLICE = 64;

/** Outbound QoS ≥ 1 delivery awaiting PUBACK / PUBREC. */
export interface Outbound {
  deliveryTag: number;
  qos: QoS;
  /** Value of {@link MqttConnection#idStep} when its packet id was allocated. */
  step: number;
}

/** Server-side tuning of one connection (from the service options). */
export interface ConnectionLimits {
  maxPacketSize: number;
  maxPacketSizeUnauthenticated: number;
  receiveMaximum: number;
  topicAliasMaximum: number;
  /** Session expiry cap, seconds. */
  maxSessionExpiry: number;
  /** Close a client that sends nothing within this long before CONNECT, ms. */
  connectTimeoutMs: number;
  /** Largest keep-alive a client may use, seconds (MQTT 5 Server Keep Alive); 0 = whatever the client asks. */
  maxKeepAlive: number;
  /** Topic filters one session may have subscribed; 0 = no cap. */
  maxSubscriptions: number;
}
