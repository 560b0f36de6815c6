import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClusterView, ManagementContext } from '../context.js';
import { managementHarness, type Harness } from '../testing/harness.js';

let h: Harness;
beforeEach(async () => {
  h = await managementHarness();
  h.broker.addUser('plain', 'p', ['management']);
});
afterEach(async () => {
  await h.close();
});

describe('/api/cluster', () => {
  it('shows a single node as the only member, leader and in-sync replica', async () => {
    const res = await h.request('GET', '/api/cluster');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      role: 'single',
      node: 'warren@test',
      leader: { node: 'warren@test', epoch: 0 },
      isr: ['warren@test'],
      members: [{ node: 'warren@test', leader: true, inSync: true }],
    });
  });

  it("shows the cluster member's view: members, leader, ISR and replication lag", async () => {
    const view: ClusterView = {
      cluster: 'c1',
      node: 'a',
      role: 'leader',
      leader: { node: 'a', host: 'h1', epoch: 42 },
      epoch: 42,
      isr: ['a', 'b'],
      members: [
        { node: 'a', host: 'h1', leader: true, inSync: true },
        { node: 'b', host: 'h2', leader: false, inSync: true, lagChanges: 0, lagBytes: 0, state: 'in-sync' },
        { node: 'c', host: 'h3', leader: false, inSync: false, lagChanges: 17, lagBytes: 4096, state: 'syncing' },
      ],
    };
    (h.ctx as { cluster?: ManagementContext['cluster'] }).cluster = async () => view;
    const res = await h.request('GET', '/api/cluster');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(view);
  });

  it('needs the monitoring tag, as /api/nodes does', async () => {
    const nodes = await h.request('GET', '/api/nodes', undefined, { user: 'plain', password: 'p' });
    const res = await h.request('GET', '/api/cluster', undefined, { user: 'plain', password: 'p' });
    expect(nodes.statusCode).toBe(401);
    expect(res.statusCode).toBe(nodes.statusCode);
    expect(res.json()).toEqual(nodes.json());
  });
});
