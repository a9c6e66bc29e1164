/**
 * Webhook rules: which CI events enqueue which bundle. A JSON file (docs/webhook-rules.example.json):
 *
 * ```json
 * { "rules": [ {
 *     "name": "release-tags",
 *     "provider": "github",                 // optional: github | gitlab (default: both)
 *     "events": ["push"],                   // GitHub X-GitHub-Event / GitLab object_kind
 *     "when": { "repository": "acme/*", "tag": "v*" },   // globs (or lists of globs), all must match
 *     "principal": "release-ci",            // the principal the rule runs as (its scope bounds the spec)
 *     "allowForks": false,                  // default: events from forks never match
 *     "spec": { "name": "{{repository_name}}-{{tag}}", "image": "…", … },  // a job spec with {{placeholders}}
 *     "notify": [ { "url": "https://…", "secretEnv": "RELEASE_NOTIFY_SECRET" } ],  // job-end notifications
 *     "commitStatus": true                  // default: a commit status when the API has a token for the provider
 * } ] }
 * ```
 *
 * The first rule (in file order) whose provider, event and conditions all match wins; its spec is
 * rendered — every `{{placeholder}}` in a string replaced by the event's value — and validated with
 * the same schema as POST /v1/bundles. Events that remove a ref never match; events from forks (see
 * event-context.ts) match only rules with `allowForks: true`; an event value longer than
 * MAX_EVENT_VALUE_BYTES never matches a condition. No match: the hook is acknowledged (202) and nothing
 * is enqueued.
 *
 * Rules are principals too: with a principals file every rule names the principal it runs as, and its
 * spec must stay in that principal's scope — checked when the file is loaded, as far as the template
 * tells (literal identities, buckets, prefixes and images, and the literal beginnings of templated
 * ones), and for every rendered spec at delivery.
 */
import { readFile } from 'node:fs/promises';
import { BundlefarmError } from '@bundlefarm/errors';
import { GlobSet, notifyEndpointsSchema, targetPath, type NotifyEndpoint, type Principal, type Principals, type SpecProblem } from '@bundlefarm/queue';
import { z } from 'zod';
import { PLACEHOLDERS, type EventContext, type Placeholder, type Provider } from './event-context.js';

/** Event values longer than this (UTF-8 bytes) never match a condition. */
export const MAX_EVENT_VALUE_BYTES = 1024;

const placeholderName = z.enum(PLACEHOLDERS);
const globs = z.union([z.string().min(1).max(256), z.array(z.string().min(1).max(256)).min(1).max(32)]);

export const webhookRuleSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_" or "-"'),
    description: z.string().max(1000).optional(),
    provider: z.enum(['github', 'gitlab']).optional(),
    events: z.array(z.string().regex(/^[a-z_]{1,64}$/, 'must be an event name such as push, release, workflow_run, tag_push')).min(1),
    when: z.partialRecord(placeholderName, globs).default({}),
    principal: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be the name of a principal').optional(),
    allowForks: z.boolean().default(false),
    spec: z.record(z.string(), z.unknown()),
    notify: notifyEndpointsSchema.default([]),
    commitStatus: z.boolean().default(true),
  })
  .strict();

export const webhookRulesFileSchema = z
  .object({
    $comment: z.string().optional(),
    rules: z.array(webhookRuleSchema).max(500),
  })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.rules.forEach((rule, i) => {
      if (seen.has(rule.name)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `duplicate rule name ${JSON.stringify(rule.name)}` });
      seen.add(rule.name);
      for (const { path, name } of placeholdersIn(rule.spec, ['spec'])) {
        if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['rules', i, ...path],
            message: `unknown placeholder {{${name}}}; known: ${PLACEHOLDERS.join(', ')}`,
          });
        }
      }
    });
  });

export type WebhookRuleInput = z.input<typeof webhookRuleSchema>;
export type WebhookRulesFile = z.input<typeof webhookRulesFileSchema>;

export class WebhookRulesError extends BundlefarmError {
  static readonly code = 'BF_BAD_WEBHOOK_RULES';
  constructor(source: string, problems: string[]) {
    super(WebhookRulesError.code, `webhook rules ${source} are invalid: ${problems.join('; ')}`, false, { details: { source, problems: problems.length } });
  }
}

interface CompiledRule {
  name: string;
  provider: Provider | undefined;
  events: ReadonlySet<string>;
  conditions: Array<[Placeholder, GlobSet]>;
  principal: string | undefined;
  allowForks: boolean;
  spec: Record<string, unknown>;
  notify: readonly NotifyEndpoint[];
  commitStatus: boolean;
}

/** What a rule says about notifying the ends of the jobs it makes. */
export interface RuleNotify {
  notify: readonly NotifyEndpoint[];
  commitStatus: boolean;
}

export interface RuleMatch {
  rule: string;
  /** The principal the rule runs as (undefined when it names none: no principals file). */
  principal: string | undefined;
  /** The rendered spec (validate it before use). */
  spec: unknown;
  /** Placeholders the event has no value for. */
  problems: SpecProblem[];
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

function* placeholdersIn(value: unknown, path: Array<string | number>): Generator<{ path: Array<string | number>; name: string }> {
  if (typeof value === 'string') {
    for (const m of value.matchAll(PLACEHOLDER)) yield { path, name: m[1]! };
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* placeholdersIn(value[i], [...path, i]);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) yield* placeholdersIn(v, [...path, k]);
  }
}

export class WebhookRules {
  private readonly rules: CompiledRule[];

  private constructor(rules: CompiledRule[]) {
    this.rules = rules;
  }

  static readonly none = new WebhookRules([]);

  /**
   * Checks a rules document (every problem at once) and compiles its globs. With `principals`, every
   * rule must name one of them and its spec template must fit that principal's scope as far as it can
   * be told before an event fills it in.
   */
  static parse(input: unknown, source = 'document', principals?: Principals): WebhookRules {
    const r = webhookRulesFileSchema.safeParse(input);
    if (!r.success) throw new WebhookRulesError(source, r.error.issues.map((i) => `${i.path.map(String).join('.') || '(file)'}: ${i.message}`));
    if (principals !== undefined) {
      const problems = r.data.rules.flatMap((rule, i) => {
        if (rule.principal === undefined) return [`rules.${i}.principal: each rule must name the principal it runs as (a principals file is configured)`];
        const principal = principals.get(rule.principal);
        if (!principal) return [`rules.${i}.principal: no principal ${JSON.stringify(rule.principal)} is configured`];
        return templateScopeProblems(principal, rule.spec).map((p) => `rules.${i}.spec.${p.path}: ${p.message}`);
      });
      if (problems.length > 0) throw new WebhookRulesError(source, problems);
    }
    return new WebhookRules(
      r.data.rules.map((rule) => ({
        name: rule.name,
        provider: rule.provider,
        events: new Set(rule.events),
        conditions: Object.entries(rule.when).map(([k, g]) => [k as Placeholder, new GlobSet(typeof g === 'string' ? [g] : (g))]),
        principal: rule.principal,
        allowForks: rule.allowForks,
        spec: rule.spec,
        notify: rule.notify,
        commitStatus: rule.commitStatus,
      })),
    );
  }

  static async load(path: string, principals?: Principals): Promise<WebhookRules> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new WebhookRulesError(path, [`cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new WebhookRulesError(path, [`not JSON: ${(err as Error).message}`]);
    }
    return WebhookRules.parse(json, path, principals);
  }

  get size(): number {
    return this.rules.length;
  }

  /** The notification settings of the rule named `name`, if there is one. */
  notifyOf(name: string | undefined): RuleNotify | undefined {
    const rule = name === undefined ? undefined : this.rules.find((r) => r.name === name);
    return rule ? { notify: rule.notify, commitStatus: rule.commitStatus } : undefined;
  }

  /** Every endpoint of every rule (to check their secrets at start-up). */
  get endpoints(): Array<{ rule: string; endpoint: NotifyEndpoint }> {
    return this.rules.flatMap((r) => r.notify.map((endpoint) => ({ rule: r.name, endpoint })));
  }

  /** The first rule matching the event, with its spec rendered; undefined when none matches. */
  match(event: EventContext): RuleMatch | undefined {
    if (event.deleted) return undefined;
    for (const rule of this.rules) {
      if (rule.provider !== undefined && rule.provider !== event.provider) continue;
      if (!rule.events.has(event.event)) continue;
      if (event.fork && !rule.allowForks) continue;
      const ok = rule.conditions.every(([name, globs]) => {
        const value = event.vars[name];
        return value !== undefined && Buffer.byteLength(value, 'utf8') <= MAX_EVENT_VALUE_BYTES && globs.matches(value);
      });
      if (!ok) continue;
      const problems: SpecProblem[] = [];
      const spec = render(rule.spec, event, [], problems);
      return { rule: rule.name, principal: rule.principal, spec, problems };
    }
    return undefined;
  }
}

function render(value: unknown, event: EventContext, path: Array<string | number>, problems: SpecProblem[]): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (_whole, name: string) => {
      const v = event.vars[name as Placeholder];
      if (v === undefined) {
        problems.push({
          path: path.map(String).join('.') || '(spec)',
          message: `placeholder {{${name}}} has no value in this ${event.provider} ${event.event} event`,
        });
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => render(v, event, [...path, i], problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, render(v, event, [...path, k], problems)]));
  }
  return value;
}

/** The literal text of a template up to its first placeholder, and whether that is all of it. */
function literal(template: unknown): { text: string; complete: boolean } | undefined {
  if (typeof template !== 'string') return undefined;
  const at = template.search(/\{\{/);
  return at < 0 ? { text: template, complete: true } : { text: template.slice(0, at), complete: false };
}

/** A glob check of a template: a full match when it has no placeholder, else of what it begins with. */
function templateFits(globs: GlobSet, t: { text: string; complete: boolean }): boolean {
  return t.complete ? globs.matches(t.text) : globs.matchesPrefix(t.text);
}

/**
 * What a rule's spec template asks for that its principal may not have, whatever the event: the parts
 * spelled out in the template (scope-check.ts does the full check on each rendered spec).
 */
export function templateScopeProblems(principal: Principal, spec: Record<string, unknown>): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const who = JSON.stringify(principal.name);
  const identity = literal(spec.identity);
  if (identity && !templateFits(principal.identities, identity)) {
    problems.push({ path: 'identity', message: `principal ${who} may not sign with identity ${JSON.stringify(spec.identity)}` });
  }
  const image = literal(spec.image);
  if (image && image.text.length > 0) {
    const s3 = image.text.startsWith('s3://');
    if (s3 || !'s3://'.startsWith(image.text)) {
      if (!templateFits(s3 ? principal.s3Images : principal.localImages, image)) {
        problems.push({ path: 'image', message: `principal ${who} may not read ${JSON.stringify(spec.image)}` });
      }
    }
  }
  const name = literal(spec.name) ?? { text: '', complete: false };
  const regions = Array.isArray(spec.regions) ? spec.regions : [];
  regions.forEach((r: unknown, i) => {
    const region = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>;
    const bucket = literal(region.bucket);
    if (!bucket) return;
    const prefix = literal(region.prefix ?? '') ?? { text: '', complete: true };
    const at = `regions.${i}`;
    if (!bucket.complete) {
      if (!principal.targets.matchesPrefix(bucket.text)) problems.push({ path: `${at}.bucket`, message: `principal ${who} may not write to a bucket named ${JSON.stringify(region.bucket)}` });
      return;
    }
    if (!principal.targets.matchesPrefix(`${bucket.text}/`)) {
      problems.push({ path: `${at}.bucket`, message: `principal ${who} may not write to bucket ${JSON.stringify(bucket.text)}` });
      return;
    }
    const where = prefix.complete ? targetPath(bucket.text, prefix.text, name.text) : `${bucket.text}/${prefix.text}`;
    const fits = prefix.complete && name.complete ? principal.targets.matches(where) : principal.targets.matchesPrefix(where);
    if (!fits) problems.push({ path: `${at}.prefix`, message: `principal ${who} may not write under ${JSON.stringify(`${String(region.bucket)}/${typeof region.prefix === 'string' ? region.prefix : ''}`)}` });
  });
  return problems;
}
