import { readFile } from 'node:fs/promises';
import { BundlefarmError } from '@bundlefarm/errors';
import type { SpecProblem } from '@bundlefarm/queue';
import { z } from 'zod';
import { PLACEHOLDERS, type EventContext, type Placeholder, type Provider } from './event-context.js';
import { compileGlobs, type GlobMatcher } from './glob.js';

/**
 * Webhook rules: which CI events enqueue which bundle. A JSON file (docs/webhook-rules.example.json):
 *
 * ```json
 * { "rules": [ {
 *     "name": "release-tags",
 *     "provider": "github",                 // optional: github | gitlab (default: both)
 *     "events": ["push"],                   // GitHub X-GitHub-Event / GitLab object_kind
 *     "when": { "repository": "acme/*", "tag": "v*" },   // globs (or lists of globs), all must match
 *     "spec": { "name": "{{repository_name}}-{{tag}}", "image": "…", … }  // a job spec with {{placeholders}}
 * } ] }
 * ```
 *
 * The first rule (in file order) whose provider, event and conditions all match wins; its spec is
 * rendered — every `{{placeholder}}` in a string replaced by the event's value — and validated with
 * the same schema as POST /v1/bundles. Events that remove a ref never match. No match: the hook is
 * acknowledged (202) and nothing is enqueued.
 */
const placeholderName = z.enum(PLACEHOLDERS);
const globs = z.union([z.string().min(1).max(256), z.array(z.string().min(1).max(256)).min(1).max(32)]);

export const webhookRuleSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_" or "-"'),
    description: z.string().max(1000).optional(),
    provider: z.enum(['github', 'gitlab']).optional(),
    events: z.array(z.string().regex(/^[a-z_]{1,64}$/, 'must be an event name such as push, release, workflow_run, tag_push')).min(1),
    when: z.partialRecord(placeholderName, globs).default({}),
    spec: z.record(z.string(), z.unknown()),
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
  conditions: Array<[Placeholder, GlobMatcher]>;
  spec: Record<string, unknown>;
}

export interface RuleMatch {
  rule: string;
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

  /** Checks a rules document (every problem at once) and compiles its globs. */
  static parse(input: unknown, source = 'document'): WebhookRules {
    const r = webhookRulesFileSchema.safeParse(input);
    if (!r.success) throw new WebhookRulesError(source, r.error.issues.map((i) => `${i.path.map(String).join('.') || '(file)'}: ${i.message}`));
    return new WebhookRules(
      r.data.rules.map((rule) => ({
        name: rule.name,
        provider: rule.provider,
        events: new Set(rule.events),
        conditions: Object.entries(rule.when).map(([k, g]) => [k as Placeholder, compileGlobs(g)]),
        spec: rule.spec,
      })),
    );
  }

  static async load(path: string): Promise<WebhookRules> {
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
    return WebhookRules.parse(json, path);
  }

  get size(): number {
    return this.rules.length;
  }

  /** The first rule matching the event, with its spec rendered; undefined when none matches. */
  match(event: EventContext): RuleMatch | undefined {
    if (event.deleted) return undefined;
    for (const rule of this.rules) {
      if (rule.provider !== undefined && rule.provider !== event.provider) continue;
      if (!rule.events.has(event.event)) continue;
      const ok = rule.conditions.every(([name, matches]) => {
        const value = event.vars[name];
        return value !== undefined && matches(value);
      });
      if (!ok) continue;
      const problems: SpecProblem[] = [];
      const spec = render(rule.spec, event, [], problems);
      return { rule: rule.name, spec, problems };
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
