import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { deliveryJobId, InvalidJobSpecError, type BundleProducer } from '@bundlefarm/queue';
import { BadRequestError, MalformedJsonError, RuleSpecInvalidError, UnauthorizedError } from '../errors/http-errors.js';
import { errorBodySchema, responseJsonSchema, webhookResponseSchema, type ErrorBody, type WebhookResponse } from '../openapi/api-schemas.js';
import { statusUrl } from '../routes/bundle-routes.js';
import { firstHeader } from '../routes/headers.js';
import { githubContext, gitlabContext, gitlabEventName, type EventContext } from './event-context.js';
import { parseWebhookPayload, useRawBodies } from './raw-body.js';
import { verifyGithubSignature, verifyGitlabToken } from './signatures.js';
import type { WebhookRules } from './webhook-rules.js';

export interface WebhookRoutesOptions {
  producer: BundleProducer;
  rules: WebhookRules;
  githubSecrets: readonly string[];
  gitlabTokens: readonly string[];
  bodyLimit: number;
}

const response = {
  200: responseJsonSchema(webhookResponseSchema),
  202: responseJsonSchema(webhookResponseSchema),
  ...Object.fromEntries([400, 401, 413, 422, 503].map((c) => [c, responseJsonSchema(errorBodySchema)])),
};

type Reply = FastifyReply<{ Reply: WebhookResponse | ErrorBody }>;

/**
 * CI webhooks. The raw body is authenticated first (GitHub: HMAC-SHA256 signature; GitLab: secret
 * token), then parsed and mapped to a job spec by the rules. The job id comes from the delivery id, and
 * the body's digest is remembered too, so a redelivery — or a captured request replayed under another
 * delivery id — finds the job it made (200, same id) instead of making another.
 */
export async function webhookRoutes(app: FastifyInstance, options: WebhookRoutesOptions): Promise<void> {
  useRawBodies(app, options.bodyLimit);

  const intake = async (reply: Reply, event: EventContext, raw: Buffer, delivery: string): Promise<Reply> => {
    const match = options.rules.match(event);
    if (!match) {
      const reason = event.deleted ? `the ${event.event} event deletes a ref` : `no rule matches this ${event.provider} ${event.event} event`;
      reply.log.info({ provider: event.provider, event: event.event, delivery }, 'webhook ignored');
      return reply.code(202).send({ ignored: true, reason });
    }
    if (match.problems.length > 0) throw new RuleSpecInvalidError(match.rule, match.problems);
    let spec;
    try {
      spec = options.producer.validate(match.spec);
    } catch (err) {
      if (err instanceof InvalidJobSpecError) throw new RuleSpecInvalidError(match.rule, err.problems);
      throw err;
    }
    const bodyDigest = createHash('sha256').update(raw).digest('hex');
    const r = await options.producer.enqueue(spec, {
      source: event.provider,
      jobId: deliveryJobId(event.provider, delivery),
      delivery,
      replayKeys: [`${event.provider}-body:${bodyDigest}`],
    });
    reply.log.info({ provider: event.provider, event: event.event, delivery, rule: match.rule, job: r.id, created: r.created }, 'webhook handled');
    return reply.code(r.created ? 202 : 200).send({ id: r.id, name: r.name, created: r.created, statusUrl: statusUrl(r.id), rule: match.rule });
  };

  const rawBody = (request: FastifyRequest): Buffer => (Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0));

  app.post<{ Body: Buffer; Reply: WebhookResponse | ErrorBody }>(
    '/v1/hooks/github',
    {
      bodyLimit: options.bodyLimit,
      schema: {
        tags: ['webhooks'],
        summary: 'GitHub webhook (push, release, workflow_run …)',
        description: 'Authenticated by X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the hook secret). The job id is derived from X-GitHub-Delivery.',
        response,
      },
    },
    async (request, reply) => {
      const raw = rawBody(request);
      if (!verifyGithubSignature(raw, firstHeader(request, 'x-hub-signature-256'), options.githubSecrets)) {
        throw new UnauthorizedError(
          options.githubSecrets.length === 0 ? 'GitHub webhooks are not enabled (no secret is configured)' : 'X-Hub-Signature-256 does not match the body',
          'HMAC-SHA256 header="X-Hub-Signature-256"',
        );
      }
      const event = firstHeader(request, 'x-github-event');
      const delivery = firstHeader(request, 'x-github-delivery');
      if (event === undefined || delivery === undefined) throw new BadRequestError('X-GitHub-Event and X-GitHub-Delivery are required');
      if (event === 'ping') return reply.code(200).send({ ignored: true, reason: 'ping: the webhook is set up' });
      const payload = parseWebhookPayload(raw, firstHeader(request, 'content-type'));
      if (payload === undefined) throw new MalformedJsonError('expected a JSON payload (application/json or form-encoded payload=)');
      return intake(reply, githubContext(event, delivery, payload), raw, delivery);
    },
  );

  app.post<{ Body: Buffer; Reply: WebhookResponse | ErrorBody }>(
    '/v1/hooks/gitlab',
    {
      bodyLimit: options.bodyLimit,
      schema: {
        tags: ['webhooks'],
        summary: 'GitLab webhook (push, tag_push, pipeline, release …)',
        description: 'Authenticated by X-Gitlab-Token (the hook secret token). The job id is derived from X-Gitlab-Event-UUID (or Idempotency-Key).',
        response,
      },
      // the token is a header: checked before the body is read
      onRequest: async (request) => {
        if (!verifyGitlabToken(firstHeader(request, 'x-gitlab-token'), options.gitlabTokens)) {
          throw new UnauthorizedError(
            options.gitlabTokens.length === 0 ? 'GitLab webhooks are not enabled (no token is configured)' : 'X-Gitlab-Token is missing or not valid',
            'Token header="X-Gitlab-Token"',
          );
        }
      },
    },
    async (request, reply) => {
      const raw = rawBody(request);
      const delivery = firstHeader(request, 'x-gitlab-event-uuid') ?? firstHeader(request, 'idempotency-key');
      if (delivery === undefined) throw new BadRequestError('X-Gitlab-Event-UUID (or Idempotency-Key) is required');
      const payload = parseWebhookPayload(raw, firstHeader(request, 'content-type'));
      if (payload === undefined) throw new MalformedJsonError('expected a JSON payload');
      const event = gitlabEventName(firstHeader(request, 'x-gitlab-event'), payload);
      return intake(reply, gitlabContext(event, delivery, payload), raw, delivery);
    },
  );
}
