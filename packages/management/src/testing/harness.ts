/**
 * A management app over an in-memory core broker, for tests: `inject` requests as guest (or any user) without a
 * socket.
 */
import { Broker } from '@warren/core';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { createManagementApp, type ManagementAppOptions } from '../app.js';
import type { ManagementContext } from '../context.js';

/** A management app and the broker behind it. */
export interface Harness {
  broker: Broker;
  app: FastifyInstance;
  ctx: ManagementContext;
  /** Send a request; `as` picks the Basic credentials (default guest:guest), `null` sends none. */
  request(
    method: NonNullable<InjectOptions['method']>,
    url: string,
    body?: unknown,
    as?: { user: string; password: string } | null,
    headers?: Record<string, string>,
  ): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Start a harness; `broker` defaults to a fresh in-memory Broker with guest/guest. */
export async function managementHarness(options: { broker?: Broker; app?: ManagementAppOptions } = {}): Promise<Harness> {
  const broker = options.broker ?? new Broker();
  const ctx: ManagementContext = {
    broker,
    logger: broker.logger,
    nodeName: 'warren@test',
    startedAt: Date.now(),
    version: '0.0.0-test',
    listeners: () => [{ protocol: 'amqp', port: 5672, ipAddress: '::' }],
    // As in RabbitMQ, the cluster name is the durable global parameter cluster_name.
    get clusterName() {
      const v = broker.runtime.global.get('cluster_name');
      return typeof v === 'string' ? v : 'warren@test';
    },
    setClusterName: async (name: string) => {
      broker.setGlobalParameter('cluster_name', name);
      await broker.flushDefinitions();
    },
  };
  const app = await createManagementApp(ctx, options.app);
  return {
    broker,
    app,
    ctx,
    request(method, url, body, as = { user: 'guest', password: 'guest' }, headers = {}) {
      const h: Record<string, string> = { ...headers };
      if (as !== null) h['authorization'] = basicAuth(as.user, as.password);
      if (body !== undefined) h['content-type'] ??= 'application/json';
      return app.inject({
        method,
        url,
        headers: h,
        ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
    },
    async close() {
      await app.close();
      await broker.close();
    },
  };
}
