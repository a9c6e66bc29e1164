import Fastify, { type FastifyInstance } from 'fastify';
import { BundleProducer, jobMacKey } from '@bundlefarm/queue';
import { loadServerPrincipals, principalsWarnings } from './auth/principals.js';
import { BodyBudget } from './webhooks/body-budget.js';
import { registerBullBoard } from './board/bull-board.js';
import { installErrorHandling } from './errors/error-handler.js';
import { loggerOptions } from './logging/logger-options.js';
import { ServiceMetrics } from './metrics/service-metrics.js';
import { openApiRoute, registerApiDocs, registerOpenApi } from './openapi/openapi.js';
import { bundleRoutes } from './routes/bundle-routes.js';
import { healthRoutes } from './routes/health-routes.js';
import { Notifier } from './notifications/notifier.js';
import { NotifyTargets } from './notifications/notify-targets.js';
import { uploadRoutes } from './routes/upload-routes.js';
import { StagingUploads } from './uploads/staging-uploads.js';
import { checkServerConfig, fastifyTrustProxy, type ServerConfig } from './server-config.js';
import { webhookRoutes } from './webhooks/webhook-routes.js';
import { WebhookRules } from './webhooks/webhook-rules.js';

export const API_VERSION = '0.1.0';

export interface BuildServerOptions {
  /** `false`: no logging at all (default: pino at `config.logLevel`, to stdout). */
  logger?: false;
  /** Where log lines go instead of stdout (same level and redaction). */
  logStream?: NodeJS.WritableStream;
  /** Where notification endpoints' `secretEnv` variables are read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/**
 * The bundlefarm HTTP API as a Fastify app, not yet listening: routes, webhooks, metrics, OpenAPI and
 * Bull Board over one BundleProducer. Closing the app closes its Redis connections.
 *
 * Nothing CPU-heavy runs here — bundling is the workers' — so the event loop stays free: bodies are
 * bounded (bodyLimit), validation is a zod parse of a small object, a webhook costs one HMAC over at
 * most `webhookBodyLimit` bytes, and the rest is Redis I/O.
 */
export async function buildServer(config: ServerConfig, options: BuildServerOptions = {}): Promise<FastifyInstance> {
  const c = checkServerConfig(config);
  const principals = await loadServerPrincipals(c.principalsFile, c.apiTokens);
  // rules run as principals: with a principals file each names one, and is checked against its scope now
  const rules =
    c.webhookRulesFile !== undefined ? await WebhookRules.load(c.webhookRulesFile, c.principalsFile !== undefined ? principals.all : undefined) : WebhookRules.none;
  // endpoint secrets are read now: a missing one stops the API before it takes a request
  const notifyTargets = new NotifyTargets({
    principals: principals.all,
    rules,
    statusProviders: new Set([...(c.githubStatusToken !== undefined ? (['github'] as const) : []), ...(c.gitlabStatusToken !== undefined ? (['gitlab'] as const) : [])]),
    env: options.env ?? process.env,
  });

  const producer = new BundleProducer({
    redisUrl: c.redisUrl,
    prefix: c.queuePrefix,
    jobPolicy: {
      ...(c.jobAttempts !== undefined ? { attempts: c.jobAttempts } : {}),
      ...(c.jobBackoffMs !== undefined ? { backoffMs: c.jobBackoffMs } : {}),
      ...(c.keepCompleted !== undefined ? { keepCompleted: c.keepCompleted } : {}),
      ...(c.keepFailed !== undefined ? { keepFailed: c.keepFailed } : {}),
    },
    imageCheck: { ...(c.imageRoot !== undefined ? { imageRoot: c.imageRoot } : {}), ...(c.s3 !== undefined ? { s3: c.s3 } : {}) },
    replayTtlSeconds: c.replayTtlSeconds,
    ...(c.eventsMaxLen !== undefined ? { eventsMaxLen: c.eventsMaxLen } : {}),
    ...(c.redisWaitReplicas !== undefined ? { waitReplicas: c.redisWaitReplicas } : {}),
    ...(c.jobMacKey !== undefined ? { jobMacKey: jobMacKey(c.jobMacKey) } : {}),
  });
  const metrics = new ServiceMetrics(producer, c.redisUrl);
  const uploads = c.staging !== undefined ? new StagingUploads(c.staging, producer) : undefined;

  const app = Fastify({
    logger: options.logger === false ? false : loggerOptions(c.logLevel, options.logStream),
    bodyLimit: c.bodyLimit,
    trustProxy: fastifyTrustProxy(c.trustProxy),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    requestTimeout: 60_000,
  });
  app.server.maxConnections = c.maxConnections;
  // Requests are validated with zod (every problem named); route schemas only document the API.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installErrorHandling(app, c.bodyLimit);
  const notifier = notifyTargets.any
    ? Notifier.start({
        redisUrl: c.redisUrl,
        prefix: c.queuePrefix,
        bundles: producer.queue,
        notices: producer.notices,
        targets: notifyTargets,
        macKey: c.jobMacKey !== undefined ? jobMacKey(c.jobMacKey) : undefined,
        attempts: c.notifyAttempts,
        backoffMs: c.notifyBackoffMs,
        timeoutMs: c.notifyTimeoutMs,
        publicUrl: c.publicUrl,
        github: c.githubStatusToken !== undefined ? { apiUrl: c.githubApiUrl, token: c.githubStatusToken } : undefined,
        gitlab: c.gitlabStatusToken !== undefined ? { apiUrl: c.gitlabApiUrl, token: c.gitlabStatusToken } : undefined,
        logger: app.log,
      })
    : undefined;
  app.addHook('onClose', async () => {
    await notifier?.close();
    await metrics.close();
    uploads?.close();
    await producer.close();
  });

  await registerOpenApi(app, API_VERSION);
  await app.register(async (scope) => healthRoutes(scope, producer, metrics));
  await app.register(async (scope) => bundleRoutes(scope, { producer, principals: principals.all, bodyLimit: c.bodyLimit }));
  await app.register(async (scope) => uploadRoutes(scope, { uploads, principals: principals.all }));
  await app.register(async (scope) =>
    webhookRoutes(scope, {
      producer,
      rules,
      principals: c.principalsFile !== undefined ? principals.all : undefined,
      githubSecrets: c.githubWebhookSecrets,
      gitlabTokens: c.gitlabWebhookTokens,
      bodyLimit: c.webhookBodyLimit,
      bodyTimeoutMs: c.webhookBodyTimeoutMs,
      budget: new BodyBudget(c.webhookBufferBudget),
      notifyTargets,
    }),
  );
  await registerBullBoard(app, producer, {
    logins: { principals: principals.all, ...(c.admin !== undefined ? { admin: c.admin } : {}) },
    readOnly: c.boardReadOnly,
  });
  openApiRoute(app);
  await registerApiDocs(app);
  // a moment for Redis, so the first requests do not meet a connection still being made; never fails
  const redisUp = await producer.connected(3_000);
  app.log.info(
    {
      rules: rules.size,
      principals: principals.all.names,
      jobMac: c.jobMacKey !== undefined,
      github: c.githubWebhookSecrets.length > 0,
      gitlab: c.gitlabWebhookTokens.length > 0,
      notifications: notifier !== undefined,
      commitStatuses: [...(c.githubStatusToken !== undefined ? ['github'] : []), ...(c.gitlabStatusToken !== undefined ? ['gitlab'] : [])],
      staging: uploads ? c.staging?.url : null,
      redis: redisUp ? 'up' : 'not yet',
    },
    'bundlefarm API configured',
  );
  for (const warning of principalsWarnings(principals)) app.log.warn(warning);
  if (c.jobMacKey === undefined) app.log.warn('no job MAC key (BUNDLEFARM_JOB_MAC_KEY): workers cannot tell jobs of this API from jobs written straight to Redis');
  return app;
}
