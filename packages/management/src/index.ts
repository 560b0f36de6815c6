/**
 * @warren/management: RabbitMQ's management HTTP API (port 15672) over the core's query and administration methods.
 */
export { createManagementApp, type ApiRequest, type ApiResult, type Handler, type ManagementAppOptions, type Resource, type Routes } from './app.js';
export { authenticate, authenticateRequest, Principal } from './auth.js';
export type { CertificateDescription, ClusterView, ListenerDescription, ManagementContext, NodeResources } from './context.js';
export { connectionName, DEFAULT_CLOSE_REASON } from './routes/connections.js';
export { HttpError, badRequest, notFound, toHttpError } from './http-error.js';
export { answerList, answerOne, project, type Page, type Query } from './list-query.js';
export { defaultClusterName, RABBITMQ_API_VERSION } from './routes/overview.js';
export { propertiesKey } from './format.js';
export { managementHarness, basicAuth, type Harness } from './testing/harness.js';
export { StatsSampler, SAMPLE_INTERVAL_MS } from './stats/sampler.js';
export { bundleUi, registerUiAssets, UI_DIR } from './ui-assets.js';
export { startPrometheusServer, type PrometheusServer } from './prometheus/server.js';
export { renderExposition, type ExpositionView } from './prometheus/exposition.js';
