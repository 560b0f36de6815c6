/**
 * The test doubles live behind `@warren/core/testing`: the main entry, which every adapter and the server load in
 * production, carries none of them.
 */
import { describe, expect, it } from 'vitest';
import * as core from '@warren/core';
import * as testing from '@warren/core/testing';

const DOUBLES = [
  'FakeChannelHost',
  'FakeConnectionHost',
  'fakeConnectionInfo',
  'makeMessage',
  'TestBroker',
  'SlowDefinitionsStore',
  'tempDirs',
  'recordingLogger',
] as const;

describe('@warren/core/testing', () => {
  it('exports every test double', () => {
    for (const name of DOUBLES) expect(typeof (testing as Record<string, unknown>)[name], name).toBe('function');
  });

  it('keeps them out of the main entry', () => {
    for (const name of DOUBLES) expect((core as Record<string, unknown>)[name], name).toBeUndefined();
  });
});
