/*
 * Where a notice goes: the endpoints of the job's principal (principals file) and of the webhook rule
 * that made it (rules file), each with its signing secret read from the environment variable it names,
 * and — for a job from a GitHub or GitLab webhook — a commit status, when the API has a token for that
 * provider and the rule does not say `commitStatus: false`. Secrets are read once, at start-up: a
 * variable that is not set (or too short) stops the API with every such problem named (the variable,
 * never a value).
 */
import type { NoticeState, NotificationPayload, NotifyEndpoint, Principals } from '@bundlefarm/queue';
import { ServerConfigError } from '../server-config.js';
import type { WebhookRules } from '../webhooks/webhook-rules.js';

export const MIN_NOTIFY_SECRET_LENGTH = 16;

export interface WebhookTarget {
  kind: 'webhook';
  /** Stable within a notice: `principal:NAME:I` or `rule:NAME:I`. */
  key: string;
  url: string;
  secret: Buffer;
}

export interface CommitStatusTarget {
  kind: 'commit-status';
  key: string;
  provider: 'github' | 'gitlab';
}

export type NotifyTarget = WebhookTarget | CommitStatusTarget;

export interface NotifyTargetsOptions {
  principals: Principals;
  rules: WebhookRules;
  /** Providers the API has a commit status token for. */
  statusProviders: ReadonlySet<'github' | 'gitlab'>;
  env: NodeJS.ProcessEnv;
}

export class NotifyTargets {
  private readonly secrets = new Map<string, Buffer>();

  constructor(private readonly options: NotifyTargetsOptions) {
    const problems: string[] = [];
    const endpoints = [
      ...options.principals.names.flatMap((name) => (options.principals.get(name)?.notify ?? []).map((e, i) => ({ where: `principal ${name} notify.${i}`, e }))),
      ...options.rules.endpoints.map(({ rule, endpoint }, i) => ({ where: `rule ${rule} notify.${i}`, e: endpoint })),
    ];
    for (const { where, e } of endpoints) {
      const value = options.env[e.secretEnv];
      if (value === undefined || value === '') problems.push(`${e.secretEnv} (${where}.secretEnv): is not set`);
      else if (value.length < MIN_NOTIFY_SECRET_LENGTH) problems.push(`${e.secretEnv} (${where}.secretEnv): must have at least ${MIN_NOTIFY_SECRET_LENGTH} characters`);
      else this.secrets.set(e.secretEnv, Buffer.from(value, 'utf8'));
    }
    if (problems.length > 0) throw new ServerConfigError(problems);
  }

  /** Whether anything is configured at all (no notifier runs otherwise). */
  get any(): boolean {
    return this.secrets.size > 0 || this.options.statusProviders.size > 0;
  }

  /** Whether a job of `principal`, made by `rule` from a `provider` event with a commit, has a target. */
  wanted(principal: string | undefined, origin?: { provider: 'github' | 'gitlab'; rule?: string | undefined }): boolean {
    if ((this.options.principals.get(principal)?.notify.length ?? 0) > 0) return true;
    if (origin === undefined) return false;
    const rule = this.options.rules.notifyOf(origin.rule);
    return (rule?.notify.length ?? 0) > 0 || this.statusWanted(origin);
  }

  /** Whether a job from this origin gets a commit status. */
  statusWanted(origin: { provider: 'github' | 'gitlab'; rule?: string | undefined }): boolean {
    return this.options.statusProviders.has(origin.provider) && this.options.rules.notifyOf(origin.rule)?.commitStatus !== false;
  }

  /** The targets of a notice (`queued` notices go to commit statuses only). */
  forNotice(notice: NotificationPayload): NotifyTarget[] {
    const out: NotifyTarget[] = [];
    const add = (source: string, endpoints: readonly NotifyEndpoint[]): void => {
      endpoints.forEach((e, i) => {
        const secret = this.secrets.get(e.secretEnv);
        if (secret !== undefined && endsWanted(e, notice.state)) out.push({ kind: 'webhook', key: `${source}:${i}`, url: e.url, secret });
      });
    };
    const principal = this.options.principals.get(notice.principal);
    if (principal) add(`principal:${principal.name}`, principal.notify);
    const origin = notice.origin;
    if (origin !== undefined) {
      const rule = this.options.rules.notifyOf(origin.rule);
      if (rule && origin.rule !== undefined) add(`rule:${origin.rule}`, rule.notify);
      if (this.statusWanted(origin)) {
        out.push({ kind: 'commit-status', key: `status:${origin.provider}`, provider: origin.provider });
      }
    }
    return out;
  }
}

function endsWanted(e: NotifyEndpoint, state: NoticeState): boolean {
  return state !== 'queued' && e.events.includes(state);
}
