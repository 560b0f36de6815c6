/**
 * Replicated mode (DESIGN.md §8): etcd elects the leader, holds the in-sync replica set and fences stale leaders;
 * the leader ships its store's changes to the followers over the replication link. The server loads this package
 * only when clustering is configured, so a single node never loads the etcd client.
 */
export {
  EtcdCoordinator,
  FencedError,
  LeaseLostError,
  type CoordinatorEvents,
  type CoordinatorLogger,
  type EtcdCoordinatorOptions,
  type LeaderInfo,
  type MemberInfo,
} from './coordinator.js';
export { TcpProxy, type ProxyTarget } from './proxy.js';
