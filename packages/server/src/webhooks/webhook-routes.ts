import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { deliveryJobId, InvalidJobSpecError, OutOfScopeError, specScopeProblems, type BundleProducer, type Principals } from '@bundlefarm/queue';
import { BadRequestError, MalformedJsonError, RuleSpecInvalidError, UnauthorizedError, WebhookReplayedError } from '../errors/http-errors.js';
import { errorBodySchema, responseJsonSchema, webhookResponseSchema, type ErrorBody, type WebhookResponse } from '../openapi/api-schemas.js';
import { statusUrl } from '../routes/bundle-routes.js';
import { firstHeader } from '../routes/headers.js';
import { RawBodies, type BodyBudget } from './body-budget.js';
import { githubContext, gitlabContext, gitlabEventName, type EventContext } from './event-context.js';
import { githubShapeProblem, gitlabHeaderProblem } from './payload-shape.js';
import { parseWebhookPayload } from './raw-body.js';
import { verifyGithubSignature, verifyGitlabToken } from './signatures.js';
import { WebhookLedger, type DeliveryRecord } from './webhook-ledger.js';
import type { WebhookRules } from './webhook-rules.js';
import type { NotifyTargets } from '../notifications/notify-targets.js';

export interface WebhookRoutesOptions {
  producer: BundleProducer;
  rules: WebhookRules;
  /** The principals rules run as (undefined: no principals file, rules are not scoped). */
  principals: Principals | undefined;
  githubSecrets: readonly string[];
  gitlabTokens: readonly string[];
  bodyLimit: number;
  bodyTimeoutMs: number;
  /** Shared by every unauthenticated body being read (GitHub's, whose HMAC needs the whole body). */
  budget: BodyBudget;
  /** Where job ends are notified (decides whether a job is marked for notices, and a pending status). */
  notifyTargets: NotifyTargets;
}

const response = {
  200: responseJsonSchema(webhookResponseSchema),
  202: responseJsonSchema(webhookResponseSchema),
  ...Object.fromEntries([400, 401, 403, 408, 409, 413, 422, 503].map((c) => [c, responseJsonSchema(errorBodySchema)])),
};

type Reply = FastifyReply<{ Reply: WebhookResponse | ErrorBody }>;

const EVENT_NAME = /^[a-z_]{1,64}$/;

/**
 * CI webhooks. The raw body is authenticated first (GitHub: HMAC-SHA256 signature; GitLab: secret
 * token), then parsed, checked to be the event it claims, looked up in the delivery ledger
 * (webhook-ledger.ts) and mapped to a job spec by the rules, inside the scope of the rule's principal.
 * The job id comes from the delivery id, and the body's digest is remembered too, so a redelivery — or
 * a captured request replayed under another delivery id — finds the job it made (200, same id) instead
 * of making another; a body cannot be replayed as another event.
 *
 * GitHub requests without a well-formed signature, event and delivery header are refused before a byte
 * of their body is read; the bodies of the others draw on a shared budget (body-budget.ts).
 */
export async function webhookRoutes(app: FastifyInstance, options: WebhookRoutesOptions): Promise<void> {
  const bodies = new RawBodies({ limit: options.bodyLimit, timeoutMs: options.bodyTimeoutMs, budget: options.budget });
  bodies.install(app);
  const ledger = new WebhookLedger(options.producer);

  const intake = async (reply: Reply, event: EventContext, raw: Buffer, delivery: string, shapeProblem: string | undefined): Promise<Reply> => {
    const provider = event.provider;
    const digest = createHash('sha256').update(raw).digest('hex');
    const seen = await ledger.check(provider, delivery, event.event, digest);
    if (seen.conflict !== undefined) {
      reply.log.warn({ provider, event: event.event, delivery }, `webhook refused: ${seen.conflict}`);
      throw new WebhookReplayedError(seen.conflict);
    }
    const remember = (r: Omit<DeliveryRecord, 'event' | 'digest'>): Promise<void> => ledger.record(provider, delivery, { event: event.event, digest, ...r });
    const earlier = seen.earlier;
    if (earlier?.outcome === 'job' && earlier.job !== undefined) {
      await remember({ outcome: 'job', job: earlier.job, ...(earlier.name !== undefined ? { name: earlier.name } : {}), ...(earlier.rule !== undefined ? { rule: earlier.rule } : {}) });
      reply.log.info({ provider, event: event.event, delivery, job: earlier.job }, 'webhook already handled');
      return reply.code(200).send({ id: earlier.job, name: earlier.name ?? '', created: false, statusUrl: statusUrl(earlier.job), rule: earlier.rule ?? '' });
    }
    if (earlier !== undefined) {
      await remember({ outcome: earlier.outcome, reason: earlier.reason ?? 'ignored' });
      reply.log.info({ provider, event: event.event, delivery }, 'webhook ignored (received before)');
      return reply.code(202).send({ ignored: true, reason: `this body was received before and ${earlier.outcome === 'refused' ? 'refused' : 'ignored'}: ${earlier.reason ?? ''}` });
    }
    const refuse = async (err: Error & { message: string }): Promise<never> => {
      await remember({ outcome: 'refused', reason: err.message });
      throw err;
    };
    if (shapeProblem !== undefined) return refuse(new BadRequestError(`X-GitHub-Event ${JSON.stringify(event.event)} does not fit the body: ${shapeProblem}`));

    const match = options.rules.match(event);
    if (!match) {
      const reason = event.deleted
        ? `the ${event.event} event deletes a ref`
        : event.fork
          ? `no rule that allows forks matches this ${event.provider} ${event.event} event from ${event.vars.head_repository ?? 'an unknown repository'}`
          : `no rule matches this ${event.provider} ${event.event} event`;
      await remember({ outcome: 'ignored', reason });
      reply.log.info({ provider, event: event.event, delivery, fork: event.fork }, 'webhook ignored');
      return reply.code(202).send({ ignored: true, reason });
    }
    if (match.problems.length > 0) return refuse(new RuleSpecInvalidError(match.rule, match.problems));
    let spec;
    try {
      spec = options.producer.validate(match.spec);
    } catch (err) {
      if (err instanceof InvalidJobSpecError) return refuse(new RuleSpecInvalidError(match.rule, err.problems));
      throw err;
    }
    if (options.principals !== undefined) {
      const principal = options.principals.get(match.principal);
      // rules were checked to name a configured principal when they were loaded
      if (!principal) return refuse(new RuleSpecInvalidError(match.rule, [{ path: 'principal', message: `no principal ${JSON.stringify(match.principal)}` }]));
      const problems = specScopeProblems(principal, spec);
      if (problems.length > 0) {
        reply.log.warn({ provider, event: event.event, delivery, rule: match.rule, principal: principal.name }, 'webhook refused: the rendered spec is outside the rule principal\'s scope');
        return refuse(new OutOfScopeError(principal.name, problems));
      }
    }
    // the commit a status goes to, recorded in the job under its MAC
    const sha = event.vars.sha;
    const repository = event.vars.repository;
    const origin = sha !== undefined && repository !== undefined ? { provider, repository, sha: sha.toLowerCase(), rule: match.rule } : undefined;
    const notify = options.notifyTargets.wanted(match.principal, origin ?? { provider, rule: match.rule });
    const r = await options.producer.enqueue(spec, {
      source: provider,
      jobId: deliveryJobId(provider, delivery),
      delivery,
      ...(match.principal !== undefined ? { principal: match.principal } : {}),
      replayKeys: [`${provider}-body:${event.event}:${digest}`],
      ...(origin !== undefined ? { origin } : {}),
      notify,
      // a pending commit status; the job's end replaces it
      pendingNotice: origin !== undefined && options.notifyTargets.statusWanted(origin),
    });
    await remember({ outcome: 'job', job: r.id, name: r.name, rule: match.rule });
    reply.log.info({ provider, event: event.event, delivery, rule: match.rule, principal: match.principal, job: r.id, created: r.created }, 'webhook handled');
    return reply.code(r.created ? 202 : 200).send({ id: r.id, name: r.name, created: r.created, statusUrl: statusUrl(r.id), rule: match.rule });
  };

  const rawBody = (request: FastifyRequest): Buffer => (Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0));

  app.post<{ Body: Buffer; Reply: WebhookResponse | ErrorBody }>(
    '/v1/hooks/github',
    {
      bodyLimit: options.bodyLimit,
      config: { unauthenticatedBody: true },
      schema: {
        tags: ['webhooks'],
        summary: 'GitHub webhook (push, release, workflow_run …)',
        description:
          'Authenticated by X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the hook secret). The job id is derived from X-GitHub-Delivery. ' +
          'Requests without a well-formed signature, event and delivery header are refused before the body is read.',
        response,
      },
      // what can be checked without the body is checked before a byte of it is read
      onRequest: async (request, reply) => {
        const refuse = (err: Error): never => {
          reply.header('connection', 'close');
          return bodies.refuse(request, err);
        };
        const challenge = 'HMAC-SHA256 header="X-Hub-Signature-256"';
        if (options.githubSecrets.length === 0) refuse(new UnauthorizedError('GitHub webhooks are not enabled (no secret is configured)', challenge));
        if (!/^sha256=[0-9a-fA-F]{64}$/.test(firstHeader(request, 'x-hub-signature-256')?.trim() ?? '')) {
          refuse(new UnauthorizedError('X-Hub-Signature-256 is missing or not sha256=<64 hex digits>', challenge));
        }
        const event = firstHeader(request, 'x-github-event');
        const delivery = firstHeader(request, 'x-github-delivery');
        if (event === undefined || delivery === undefined) refuse(new BadRequestError('X-GitHub-Event and X-GitHub-Delivery are required'));
        if (!EVENT_NAME.test(event ?? '') || (delivery ?? '').length > 200) refuse(new BadRequestError('X-GitHub-Event or X-GitHub-Delivery is malformed'));
        // a declared length over the limit is refused unread; the body's bytes draw on the shared budget as they come
        reply.header('connection', 'close');
        bodies.admit(request);
        reply.removeHeader('connection');
      },
    },
    async (request, reply) => {
      const raw = rawBody(request);
      if (!verifyGithubSignature(raw, firstHeader(request, 'x-hub-signature-256'), options.githubSecrets)) {
        throw new UnauthorizedError('X-Hub-Signature-256 does not match the body', 'HMAC-SHA256 header="X-Hub-Signature-256"');
      }
      const event = firstHeader(request, 'x-github-event')!;
      const delivery = firstHeader(request, 'x-github-delivery')!;
      const payload = parseWebhookPayload(raw, firstHeader(request, 'content-type'));
      if (payload === undefined) throw new MalformedJsonError('expected a JSON payload (application/json or form-encoded payload=)');
      if (event === 'ping' && githubShapeProblem('ping', payload) === undefined) return reply.code(200).send({ ignored: true, reason: 'ping: the webhook is set up' });
      return intake(reply, githubContext(event, delivery, payload), raw, delivery, githubShapeProblem(event, payload));
    },
  );

  app.post<{ Body: Buffer; Reply: WebhookResponse | ErrorBody }>(
    '/v1/hooks/gitlab',
    {
      bodyLimit: options.bodyLimit,
      schema: {
        tags: ['webhooks'],
        summary: 'GitLab webhook (push, tag_push, pipeline, merge_request, release …)',
        description: 'Authenticated by X-Gitlab-Token (the hook secret token). The job id is derived from X-Gitlab-Event-UUID (or Idempotency-Key).',
        response,
      },
      // the token is a header: checked before the body is read
      onRequest: async (request, reply) => {
        if (!verifyGitlabToken(firstHeader(request, 'x-gitlab-token'), options.gitlabTokens)) {
          reply.header('connection', 'close');
          bodies.refuse(
            request,
            new UnauthorizedError(
            options.gitlabTokens.length === 0 ? 'GitLab webhooks are not enabled (no token is configured)' : 'X-Gitlab-Token is missing or not valid',
              'Token header="X-Gitlab-Token"',
            ),
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
      const header = firstHeader(request, 'x-gitlab-event');
      const event = gitlabEventName(header, payload);
      const kind = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>).object_kind : undefined;
      const problem = gitlabHeaderProblem(header, typeof kind === 'string' ? kind : undefined);
      return intake(reply, gitlabContext(event, delivery, payload), raw, delivery, problem);
    },
  );
}
