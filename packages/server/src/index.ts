// @bundlefarm/server: the HTTP API (Fastify) — bundles, uploads, webhooks, job-end notifications, the
// board. apps/api/bin is a thin wrapper around serverMain. Loads no engine (test/contracts/module-graph).

// Running the API process, or building the server inside another one, with its configuration.
export { serverMain, type ServerMainOptions } from './server-main.js';
export { buildServer, type BuildServerOptions } from './build-server.js';
export { checkServerConfig, serverConfigFromEnv, ServerConfigError, type ServerConfig, type ResolvedServerConfig, type ListenConfig } from './server-config.js';
// What clients rely on: the OpenAPI operation ids, the HTTP status of each error code, the board's paths.
export { OPERATIONS, type OperationNames } from './openapi/openapi-shape.js';
export { HTTP_STATUS_BY_CODE, httpStatusOf } from './errors/status-registry.js';
export { BOARD_PATH, ADMIN_BOARD_PATH } from './board/bull-board.js';
// Signatures of webhooks received and of notifications sent, for senders and receivers to check against.
export { githubSignature, verifyGithubSignature, verifyGitlabToken } from './webhooks/signatures.js';
export { notificationSignature, verifyNotificationSignature } from './notifications/notification-signature.js';
export { type DeliveryRecord } from './notifications/notifier.js';

// For tests: error responses, webhook rules and event contexts, notification targets, ids and commit states.
export { toErrorResponse } from './errors/error-handler.js';
export { WebhookRules, WebhookRulesError, MAX_EVENT_VALUE_BYTES } from './webhooks/webhook-rules.js';
export { githubContext, gitlabContext } from './webhooks/event-context.js';
export { NotifyTargets } from './notifications/notify-targets.js';
export { deliveryId } from './notifications/notifier.js';
export { commitState, originProblem } from './notifications/commit-status.js';
