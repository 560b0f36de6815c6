/**
 * Test support of the cluster package, published as `@warren/cluster/testing` so that the main entry carries none of
 * it: a private etcd process per test.
 */
export { startEtcd, type TestEtcd } from './etcd.js';
