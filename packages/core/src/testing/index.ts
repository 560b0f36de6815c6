/**
 * Test doubles of the core, published as `@warren/core/testing` so that the main entry carries none of them: fake
 * hosts and connection info, a broker wrapper with a ready channel, a definitions store whose flush a test releases,
 * and temporary-directory helpers for the file stores.
 */
export { FakeChannelHost, FakeConnectionHost, fakeConnectionInfo, makeMessage } from './fake-host.js';
export { err, TestBroker, type TestChannel } from './setup.js';
export { SlowDefinitionsStore } from './slow-definitions.js';
export { recordingLogger, tempDirs } from './temp-store.js';
