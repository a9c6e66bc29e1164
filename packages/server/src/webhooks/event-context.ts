/**
 * What a webhook rule can match on and fill into a spec template, taken from a GitHub or GitLab
 * payload. Values the event does not have are undefined (a condition on them fails; a placeholder
 * naming them is an error).
 */
export const PLACEHOLDERS = [
  'provider',
  'event',
  'action',
  'delivery',
  'ref',
  'branch',
  'tag',
  'sha',
  'sha7',
  'repository',
  'repository_name',
  'owner',
  'workflow',
  'conclusion',
] as const;

export type Placeholder = (typeof PLACEHOLDERS)[number];

export type Provider = 'github' | 'gitlab';

export interface EventContext {
  provider: Provider;
  /** GitHub: the X-GitHub-Event value (push, release, workflow_run …); GitLab: object_kind (push, tag_push, pipeline, release …). */
  event: string;
  /** The event removes a ref (a deleted branch or tag): no rule ever matches. */
  deleted: boolean;
  vars: Partial<Record<Placeholder, string>>;
}

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);
const ZERO_SHA = /^0+$/;

function refVars(ref: string | undefined): Partial<Record<Placeholder, string>> {
  if (ref === undefined) return {};
  if (ref.startsWith('refs/heads/')) return { ref, branch: ref.slice('refs/heads/'.length) };
  if (ref.startsWith('refs/tags/')) return { ref, tag: ref.slice('refs/tags/'.length) };
  return { ref };
}

function shaVars(sha: string | undefined): Partial<Record<Placeholder, string>> {
  if (sha === undefined || ZERO_SHA.test(sha)) return {};
  return { sha, sha7: sha.slice(0, 7) };
}

function clean(vars: Partial<Record<Placeholder, string | undefined>>): Partial<Record<Placeholder, string>> {
  return Object.fromEntries(Object.entries(vars).filter(([, v]) => v !== undefined && v !== ''));
}

export function githubContext(event: string, delivery: string, payload: unknown): EventContext {
  const p = obj(payload);
  const repo = obj(p.repository);
  const fullName = text(repo.full_name);
  const common = {
    provider: 'github',
    event,
    delivery,
    action: text(p.action),
    repository: fullName,
    repository_name: text(repo.name) ?? fullName?.split('/').pop(),
    owner: text(obj(repo.owner).login) ?? fullName?.split('/')[0],
  };
  let deleted = false;
  let specific: Partial<Record<Placeholder, string | undefined>> = {};
  switch (event) {
    case 'push':
      deleted = p.deleted === true || ZERO_SHA.test(text(p.after) ?? '');
      specific = { ...refVars(text(p.ref)), ...shaVars(text(p.after)) };
      break;
    case 'create':
    case 'delete': {
      deleted = event === 'delete';
      const name = text(p.ref);
      const full = name === undefined ? undefined : p.ref_type === 'tag' ? `refs/tags/${name}` : p.ref_type === 'branch' ? `refs/heads/${name}` : name;
      specific = refVars(full);
      break;
    }
    case 'release': {
      const release = obj(p.release);
      const tag = text(release.tag_name);
      specific = { ...(tag !== undefined ? refVars(`refs/tags/${tag}`) : {}) };
      break;
    }
    case 'workflow_run': {
      const run = obj(p.workflow_run);
      const branch = text(run.head_branch);
      specific = {
        ...(branch !== undefined ? refVars(`refs/heads/${branch}`) : {}),
        ...shaVars(text(run.head_sha)),
        workflow: text(run.name),
        conclusion: text(run.conclusion),
      };
      break;
    }
    default:
      specific = { ...refVars(text(p.ref)), ...shaVars(text(p.after) ?? text(p.sha)) };
  }
  return { provider: 'github', event, deleted, vars: clean({ ...common, ...specific, provider: 'github' }) };
}

/** GitLab's X-Gitlab-Event header ("Tag Push Hook") as an object_kind ("tag_push"). */
export function gitlabEventName(header: string | undefined, payload: unknown): string {
  const kind = text(obj(payload).object_kind) ?? text(obj(payload).event_type);
  if (kind !== undefined) return kind;
  return (header ?? '')
    .replace(/ Hook$/i, '')
    .trim()
    .toLowerCase()
    .replace(/\s+/g, '_');
}

export function gitlabContext(event: string, delivery: string, payload: unknown): EventContext {
  const p = obj(payload);
  const project = obj(p.project);
  const fullName = text(project.path_with_namespace);
  const common = {
    event,
    delivery,
    repository: fullName,
    repository_name: text(project.path) ?? fullName?.split('/').pop(),
    owner: fullName?.includes('/') ? fullName.slice(0, fullName.lastIndexOf('/')) : text(project.namespace),
  };
  let deleted = false;
  let specific: Partial<Record<Placeholder, string | undefined>> = {};
  switch (event) {
    case 'push':
    case 'tag_push': {
      const after = text(p.after);
      deleted = ZERO_SHA.test(after ?? '') || (p.checkout_sha === null && after !== undefined);
      specific = { ...refVars(text(p.ref)), ...shaVars(text(p.checkout_sha) ?? after) };
      break;
    }
    case 'pipeline': {
      const attrs = obj(p.object_attributes);
      const ref = text(attrs.ref);
      specific = {
        ...(ref !== undefined ? refVars(attrs.tag === true ? `refs/tags/${ref}` : `refs/heads/${ref}`) : {}),
        ...shaVars(text(attrs.sha)),
        conclusion: text(attrs.status),
        workflow: text(attrs.name),
      };
      break;
    }
    case 'release': {
      const tag = text(p.tag);
      specific = { ...(tag !== undefined ? refVars(`refs/tags/${tag}`) : {}), ...shaVars(text(obj(p.commit).id)), action: text(p.action) };
      break;
    }
    default:
      specific = { ...refVars(text(p.ref)), ...shaVars(text(p.checkout_sha) ?? text(p.after)), action: text(obj(p.object_attributes).action) };
  }
  return { provider: 'gitlab', event, deleted, vars: clean({ ...common, ...specific, provider: 'gitlab' }) };
}
