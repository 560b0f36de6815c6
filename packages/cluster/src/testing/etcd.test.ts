import { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import { startEtcd, type TestEtcd } from './etcd.js';

describe('startEtcd', () => {
  let etcd: TestEtcd | undefined;
  afterEach(async () => {
    await etcd?.stop();
    etcd = undefined;
  });

  it('starts a private etcd that answers, and removes it on stop', async () => {
    etcd = await startEtcd();
    const client = new Etcd3({ hosts: etcd.endpoint });
    try {
      await client.put('k').value('v');
      expect(await client.get('k').string()).toBe('v');
    } finally {
      client.close();
    }
    await etcd.stop();
    const after = await fetch(`${etcd.endpoint}/health`).then(() => 'answered', () => 'refused');
    expect(after).toBe('refused');
  });
});
