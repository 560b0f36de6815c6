import type { Logger } from '../contract.js';

/** A logger that drops everything: the default of the broker and the stores, and handy in tests. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
  isLevelEnabled() {
    return false;
  },
};
