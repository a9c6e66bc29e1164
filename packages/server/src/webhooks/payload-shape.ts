/*
 * The event header of a webhook is not covered by its signature (GitHub signs the body only), so a
 * captured body could be sent again under another event name and be read differently — a tag
 * deletion read as a tag creation. The body must look like the event it is delivered as: each event
 * rules can name has fields only it carries. Events not listed here are not checked (no shipped rule
 * uses them); a body is bound to its first event anyway (webhook-ledger.ts).
 */
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (p: Obj, key: string): boolean => p[key] !== undefined && p[key] !== null;

/** What a GitHub payload of each event has, and what no other has. */
const GITHUB_SHAPES: Record<string, (p: Obj) => string | undefined> = {
  push: (p) => (typeof p.ref === 'string' && typeof p.after === 'string' && has(p, 'pusher') && !has(p, 'ref_type') ? undefined : 'needs ref, after and pusher, and no ref_type'),
  create: (p) => (typeof p.ref === 'string' && typeof p.ref_type === 'string' && !has(p, 'after') && !has(p, 'pusher') ? undefined : 'needs ref and ref_type, and no after or pusher'),
  delete: (p) => (typeof p.ref === 'string' && typeof p.ref_type === 'string' && !has(p, 'after') && !has(p, 'pusher') ? undefined : 'needs ref and ref_type, and no after or pusher'),
  release: (p) => (isObj(p.release) && !has(p, 'workflow_run') && !has(p, 'pull_request') ? undefined : 'needs release'),
  workflow_run: (p) => (isObj(p.workflow_run) && isObj(p.workflow) ? undefined : 'needs workflow_run and workflow'),
  pull_request: (p) => (isObj(p.pull_request) && typeof p.number === 'number' ? undefined : 'needs pull_request and number'),
  pull_request_target: (p) => (isObj(p.pull_request) && typeof p.number === 'number' ? undefined : 'needs pull_request and number'),
  ping: (p) => (has(p, 'zen') || has(p, 'hook_id') ? undefined : 'needs zen or hook_id'),
};

/** Why a GitHub body is not a `event` payload, or undefined when it may be. */
export function githubShapeProblem(event: string, payload: unknown): string | undefined {
  if (!isObj(payload)) return 'the payload is not a JSON object';
  const check = GITHUB_SHAPES[event];
  const problem = check?.(payload);
  return problem === undefined ? undefined : `the payload is not a ${event} event (${problem})`;
}

/** GitLab's X-Gitlab-Event values and the object_kind each carries. */
const GITLAB_HEADERS: Record<string, string> = {
  'Push Hook': 'push',
  'Tag Push Hook': 'tag_push',
  'Pipeline Hook': 'pipeline',
  'Merge Request Hook': 'merge_request',
  'Release Hook': 'release',
  'Job Hook': 'build',
};

/** Why a GitLab body (object_kind `kind`) does not fit its X-Gitlab-Event header, or undefined. */
export function gitlabHeaderProblem(header: string | undefined, kind: string | undefined): string | undefined {
  if (header === undefined || header === 'System Hook') return undefined;
  const expected = GITLAB_HEADERS[header];
  if (expected === undefined) return undefined;
  return kind === expected ? undefined : `X-Gitlab-Event ${JSON.stringify(header)} does not fit a payload whose object_kind is ${JSON.stringify(kind ?? '(none)')}`;
}
