export * from './contract.js';
export * from './errors.js';
export { headerText } from './message/header-text.js';
export {
  Broker,
  RUNTIME_DEFINITION_KEYS,
  silentLogger,
  type AlarmResource,
  type BrokerOptions,
  type RuntimeDefinitions,
  type UserDefinition,
} from './broker.js';
export {
  hashPassword,
  checkPassword,
  isSupportedHashingAlgorithm,
  passwordHashProblem,
  DEFAULT_HASHING_ALGORITHM,
} from './auth/password.js';
export { isLoopbackAddress, Permissions, UserStore, type PermissionCheck, type PermissionSpec } from './auth/users.js';
export {
  AuthCache, AuthorizationPending, ExternalPermissions, isAuthorizationPending,
  type AccessLevel, type AuthBackend, type LoginRequest, type ResourceKind,
} from './auth/backend.js';
export { TopicTrie, topicWords } from './routing/topic-trie.js';
export { MemoryMessageStore, MemoryQueueStore } from './store/memory-store.js';
export { FileMessageStore, FileQueueStore, type FileMessageStoreOptions } from './store/file-message-store.js';
export type { ConfirmSink, MessageStore, QueueEntry, QueueStore, QueueStoreOptions, StateLog } from './store/store.js';
export { FileStateLog, MemoryStateLog, type FileStateLogOptions } from './store/state-log.js';
export { decodeMessage, encodeMessage } from './store/record-codec.js';
export { isRunLocalPath, type DataDirChange, type DataDirObserver } from './store/data-dir-observer.js';
export { dataBarrier, dataBarrierAsync, isDataDirObserved, observeDataDir } from './store/data-fs.js';
/** The store's mutating file operations, reported to the data directory's observer (for code writing under it). */
export * as dataFs from './store/data-fs.js';
export {
  DEFINITIONS_FILE,
  DefinitionsError,
  FileDefinitionsStore,
  MemoryDefinitionsStore,
  parseDefinitions,
  serializeDefinitions,
  type Definitions,
  type DefinitionsStore,
  type FileDefinitionsStoreOptions,
} from './store/definitions.js';
export { captureDefinitions, restoreDefinitions, type CaptureOptions, type DefinitionsHost } from './definitions-snapshot.js';
export { VHost, type VhostLimits } from './vhost.js';
export {
  erlangTerm,
  matchPolicy,
  mergePolicyDefinitions,
  policyToJson,
  PolicyValidationError,
  validatePolicy,
  type Policy,
  type PolicyApplyTo,
  type PolicyDefinition,
  type PolicyInput,
} from './policy/policy.js';
export { effectiveQueueSettings } from './policy/effective-settings.js';
export { RuntimeParameters, topicAllowed, type RuntimeParameter, type TopicPermission, type UserLimits } from './runtime-parameters.js';
export type { CoreConnectionImpl } from './connection.js';
export { Queue } from './queue/queue.js';
export { Exchange, EXCHANGE_TYPES } from './exchange/index.js';
export type { Binding, Destination } from './exchange/index.js';
export { REPLY_TO_QUEUE, type CoreChannelImpl } from './channel.js';
export type { Consumer } from './queue/consumers.js';
export { KeyedQueue } from './util/keyed-queue.js';
export { DefinitionsBarrier, type DefinitionsBarrierHooks } from './definitions-barrier.js';
export {
  BrokerStats,
  DeliveryCounters,
  MessageCounters,
  ProtocolCounters,
  QueueCounters,
  QUEUE_TYPES,
  queueTypeIndex,
} from './stats/counters.js';
export { SampleRing } from './stats/sample-ring.js';
