/**
 * Replicated mode (DESIGN.md §8): etcd elects the leader, holds the in-sync replica set and fences stale leaders;
 * the leader ships its store's changes to the followers over the replication link. The server loads this package
 * only when clustering is configured, so a single node never loads the etcd client.
 */
export {
  ReplicationLeader,
  type ReplicationIsr,
  type ReplicationFollowerInfo,
  type ReplicationLeaderOptions,
} from './link/leader.js';
export {
  ReplicationFollower,
  type ReplicationFollowerEvents,
  type ReplicationFollowerOptions,
  type ReplicationFollowerStatus,
} from './link/follower.js';
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
export { ClusterMember, type ClusterMemberOptions, type ClusterStatus, type LeaderBroker } from './member.js';
