/**
 * What a webhook rule can match on and fill into a spec template, taken from a GitHub or GitLab
 * payload. Values the event does not have are undefined (a condition on them fails; a placeholder
 * naming them is an error).
 *
 * Forks: a GitHub `workflow_run` or `pull_request` whose head repository is not the repository the hook
 * is for, or a GitLab merge request (or merge-request pipeline) whose source project is not its target,
 * is a *fork* event: its branch name, workflow name and commit are chosen by whoever owns the fork
 * (a fork's branch may well be called `main`). `fork` is "true" for those — and for such events whose
 * head cannot be told — and rules never match them unless they say `allowForks: true`.
 * `head_repository` names the repository the change comes from; `trigger` is what started a
 * workflow run or pipeline (`push`, `pull_request`, `merge_request_event` …).
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
  'head_repository',
  'fork',
  'trigger',
] as const;

export type Placeholder = (typeof PLACEHOLDERS)[number];

export type Provider = 'github' | 'gitlab';

export interface EventContext {
  provider: Provider;
  /** GitHub: the X-GitHub-Event value (push, release, workflow_run …); GitLab: object_kind (push, tag_push, pipeline, release …). */
  event: string;
  /** The event removes a ref (a deleted branch or tag): no rule ever matches. */
  deleted: boolean;
  /** The change comes from another repository than the hook's (a fork), or that cannot be told. */
  fork: boolean;
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
  // a body that says it deletes a ref does so whatever the (unsigned) event header claims
  let deleted = p.deleted === true;
  let fork = false;
  let head: string | undefined = fullName;
  let specific: Partial<Record<Placeholder, string | undefined>> = {};
  switch (event) {
    case 'push':
      deleted = deleted || ZERO_SHA.test(text(p.after) ?? '');
      specific = { ...refVars(text(p.ref)), ...shaVars(text(p.after)) };
      break;
    case 'create':
    case 'delete': {
      deleted = deleted || event === 'delete';
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
      head = text(obj(run.head_repository).full_name);
      fork = head === undefined || fullName === undefined || head !== fullName;
      specific = {
        ...(branch !== undefined ? refVars(`refs/heads/${branch}`) : {}),
        ...shaVars(text(run.head_sha)),
        workflow: text(run.name),
        conclusion: text(run.conclusion),
        trigger: text(run.event),
      };
      break;
    }
    case 'pull_request':
    case 'pull_request_target': {
      const pr = obj(p.pull_request);
      const prHead = obj(pr.head);
      const base = text(obj(obj(pr.base).repo).full_name) ?? fullName;
      head = text(obj(prHead.repo).full_name);
      fork = head === undefined || base === undefined || head !== base;
      const branch = text(prHead.ref);
      specific = { ...(branch !== undefined ? refVars(`refs/heads/${branch}`) : {}), ...shaVars(text(prHead.sha)), trigger: event };
      break;
    }
    default:
      specific = { ...refVars(text(p.ref)), ...shaVars(text(p.after) ?? text(p.sha)) };
  }
  return {
    provider: 'github',
    event,
    deleted,
    fork,
    vars: clean({ ...common, ...specific, head_repository: head, fork: String(fork), provider: 'github' }),
  };
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
  let fork = false;
  let head: string | undefined = fullName;
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
      // a merge-request pipeline runs the source branch, which a fork's owner names
      if (p.merge_request !== undefined && p.merge_request !== null) {
        const mr = obj(p.merge_request);
        fork = !sameProject(mr.source_project_id, mr.target_project_id);
        head = text(obj(mr.source).path_with_namespace) ?? (fork ? undefined : fullName);
      }
      specific = {
        ...(ref !== undefined ? refVars(attrs.tag === true ? `refs/tags/${ref}` : `refs/heads/${ref}`) : {}),
        ...shaVars(text(attrs.sha)),
        conclusion: text(attrs.status),
        workflow: text(attrs.name),
        trigger: text(attrs.source),
      };
      break;
    }
    case 'merge_request': {
      const attrs = obj(p.object_attributes);
      fork = !sameProject(attrs.source_project_id, attrs.target_project_id);
      head = text(obj(attrs.source).path_with_namespace) ?? (fork ? undefined : fullName);
      const branch = text(attrs.source_branch);
      specific = {
        ...(branch !== undefined ? refVars(`refs/heads/${branch}`) : {}),
        ...shaVars(text(obj(attrs.last_commit).id)),
        action: text(attrs.action),
        trigger: event,
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
  return {
    provider: 'gitlab',
    event,
    deleted,
    fork,
    vars: clean({ ...common, ...specific, head_repository: head, fork: String(fork), provider: 'gitlab' }),
  };
}

/** Two GitLab project ids that are present and equal. */
function sameProject(a: unknown, b: unknown): boolean {
  const x = text(a);
  return x !== undefined && x === text(b);
}
