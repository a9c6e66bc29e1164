/*
 * Commit statuses for jobs that came from a GitHub or GitLab webhook: the job's state on the commit the
 * event named (job data `origin`, under the job MAC), posted through the provider's REST API with the
 * API's token:
 *
 * - GitHub (and GitHub Enterprise, API base https://HOST/api/v3): POST /repos/{owner}/{repo}/statuses/{sha}
 *   with state pending | success | failure | error and context `bundlefarm`;
 * - GitLab: POST /projects/{url-encoded path}/statuses/{sha} with state pending | success | failed |
 *   canceled and name `bundlefarm`.
 *
 * queued → pending; completed → success (failure when a region failed); failed → failure (GitLab:
 * failed); cancelled → error (GitLab: canceled). The repository and commit are checked again before
 * they go into a URL: job data read back from Redis is not trusted for its shape.
 */
import type { JobOrigin, NotificationPayload } from '@bundlefarm/queue';
import { post, type AttemptOutcome } from './notification-delivery.js';

export const STATUS_CONTEXT = 'bundlefarm';

export interface CommitStatusSettings {
  /** API base without a trailing "/", e.g. https://api.github.com or https://gitlab.com/api/v4. */
  apiUrl: string;
  token: string;
  timeoutMs: number;
  /** Link of the job's status page (absent: no link). */
  targetUrl?: string;
}

const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const GITHUB_REPO = /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/;
const GITLAB_PATH = /^[A-Za-z0-9_.-]{1,255}(?:\/[A-Za-z0-9_.-]{1,255}){1,20}$/;

export type CommitState = 'pending' | 'success' | 'failure' | 'error';

/** The commit state a notice stands for. */
export function commitState(notice: NotificationPayload): CommitState {
  switch (notice.state) {
    case 'queued':
      return 'pending';
    case 'completed':
      return notice.regions.some((r) => r.error !== undefined) ? 'failure' : 'success';
    case 'failed':
      return 'failure';
    default:
      return 'error';
  }
}

function description(notice: NotificationPayload): string {
  const text = {
    queued: `bundle ${notice.name} queued`,
    completed: commitState(notice) === 'success' ? `bundle ${notice.name} published` : `bundle ${notice.name}: some regions failed`,
    failed: `bundle ${notice.name} failed: ${notice.error?.code ?? 'error'}`,
    cancelled: `bundle ${notice.name} cancelled`,
  }[notice.state];
  // both APIs cap the description (GitHub: 140 characters)
  return text.length > 140 ? `${text.slice(0, 139)}…` : text;
}

/** Why an origin cannot be used in a URL, if it cannot. */
export function originProblem(origin: JobOrigin): string | undefined {
  if (!SHA.test(origin.sha)) return 'the commit is not 40 or 64 lowercase hex digits';
  const ok = origin.provider === 'github' ? GITHUB_REPO.test(origin.repository) : GITLAB_PATH.test(origin.repository);
  if (!ok || origin.repository.split('/').some((s) => s === '.' || s === '..')) return `the repository ${JSON.stringify(origin.repository)} is not a ${origin.provider} repository path`;
  return undefined;
}

export async function postCommitStatus(origin: JobOrigin, notice: NotificationPayload, settings: CommitStatusSettings): Promise<AttemptOutcome> {
  const problem = originProblem(origin);
  if (problem !== undefined) return { ok: false, reason: problem };
  const state = commitState(notice);
  const link = settings.targetUrl !== undefined ? { target_url: settings.targetUrl } : {};
  if (origin.provider === 'github') {
    const [owner, repo] = origin.repository.split('/') as [string, string];
    const url = `${settings.apiUrl}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/statuses/${origin.sha}`;
    return post(url, JSON.stringify({ state, context: STATUS_CONTEXT, description: description(notice), ...link }), settings.timeoutMs, {
      'content-type': 'application/json',
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      authorization: `Bearer ${settings.token}`,
      'user-agent': 'bundlefarm-notifier/1',
    });
  }
  const gitlabState = { pending: 'pending', success: 'success', failure: 'failed', error: 'canceled' }[state];
  const url = `${settings.apiUrl}/projects/${encodeURIComponent(origin.repository)}/statuses/${origin.sha}`;
  return post(url, JSON.stringify({ state: gitlabState, name: STATUS_CONTEXT, description: description(notice), ...link }), settings.timeoutMs, {
    'content-type': 'application/json',
    'private-token': settings.token,
    'user-agent': 'bundlefarm-notifier/1',
  });
}
