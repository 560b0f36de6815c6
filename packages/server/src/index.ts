/**
 * @warren/server: configuration, logging, start/stop order; `startBroker` embeds the whole broker in-process.
 */
export {
  ConfigError,
  DEFAULT_CONFIG,
  LOG_LEVELS,
  SETTINGS,
  checkConfigInput,
  configFromEnv,
  helpText,
  loadConfigFile,
  mergeConfig,
  parseFlags,
  resolveCommandLine,
  settingsMarkdown,
  validateConfig,
} from './config.js';
export type { ParsedArgs, PortSetting, ResolvedCommandLine, Setting, WarrenConfig, WarrenConfigInput } from './config.js';
export { createLogger } from './logger.js';
export type { LoggerOptions, WarrenLogger } from './logger.js';
export { loadTls, selfSignedPaths } from './tls.js';
export type { LoadedTls } from './tls.js';
export { startBroker } from './start.js';
export type { BrokerLike, ConnectionHandlerFn, RunningBroker, StartOptions } from './start.js';
export { EMBEDDED_DEFAULTS, listenersOff, startEmbeddedBroker } from './embedded.js';
