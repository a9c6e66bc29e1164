/*
 * What bundle-vol and bundle-tar leave out of an image, by class, as ec2-bundle-vol does and as makes
 * sense today: kernel/device filesystems, runtime and temporary files, removable-media mount points,
 * other mounted filesystems, the destination, container-runtime markers, and — unless `--no-filter` —
 * files that must never ship in a public image (private keys, SSH host keys, ~/.ssh, shell histories,
 * cloud-init instance data). `-e PATH` excludes more; `-i PATH` brings back something excluded
 * (the longest of the -e/-i paths that covers an entry decides between them).
 *
 * Paths are relative to the volume or tarball root, without a leading slash, as byte strings.
 */
import { displayPath } from './rootfs-errors.js';

export type ExclusionClassId =
  | 'kernel'
  | 'runtime'
  | 'media'
  | 'filesystems'
  | 'destination'
  | 'container'
  | 'private-keys'
  | 'ssh-host-keys'
  | 'ssh-dirs'
  | 'shell-history'
  | 'cloud-init'
  | 'user'
  | 'sockets';

export const EXCLUSION_CLASSES: Record<ExclusionClassId, { title: string; filter: boolean }> = {
  kernel: { title: 'contents of /proc, /sys and /dev (the directories stay; /dev gets console, null, zero and tty)', filter: false },
  runtime: { title: 'contents of /run and /tmp (the directories stay)', filter: false },
  media: { title: 'contents of /mnt and /media (the directories stay)', filter: false },
  filesystems: { title: 'contents of virtual and remote filesystems mounted in the volume (-a includes remote ones)', filter: false },
  destination: { title: 'the destination and scratch directories', filter: false },
  container: { title: 'container runtime markers (/.dockerenv, /.containerenv)', filter: false },
  'private-keys': { title: 'private keys (*.pem, *.key, id_* … holding a PRIVATE KEY, and the -k key)', filter: true },
  'ssh-host-keys': { title: "this machine's SSH host keys (/etc/ssh/ssh_host_*_key*; the image must make its own at boot)", filter: true },
  'ssh-dirs': { title: '~/.ssh directories (/root/.ssh, /home/*/.ssh)', filter: true },
  'shell-history': { title: 'shell and REPL histories', filter: true },
  'cloud-init': { title: 'cloud-init instance data (/var/lib/cloud except seed/, cloud-init logs)', filter: true },
  user: { title: 'excluded with -e', filter: false },
  sockets: { title: 'sockets (they exist only while a program listens; recreated at run time)', filter: false },
};

const KERNEL_DIRS = new Set(['proc', 'sys', 'dev']);
const RUNTIME_DIRS = new Set(['run', 'tmp']);
const MEDIA_DIRS = new Set(['mnt', 'media']);
const HISTORIES = new Set([
  '.bash_history',
  '.zsh_history',
  '.sh_history',
  '.ash_history',
  '.history',
  '.python_history',
  '.mysql_history',
  '.psql_history',
  '.sqlite_history',
  '.node_repl_history',
  '.rediscli_history',
  '.lesshst',
]);
const KEY_NAME = /(\.pem|\.key|\.priv)$|^id_(rsa|dsa|ecdsa|ed25519)(_sk)?$/;

export interface ExclusionOptions {
  /** -e paths (relative, byte strings). */
  excludes?: readonly string[];
  /** -i paths (relative, byte strings). */
  includes?: readonly string[];
  /** Exclude sensitive files (default true; ec2-bundle-vol's --no-filter turns it off). */
  filter?: boolean;
  /** More paths excluded whole, with their class (the destination, scratch, the signing key). */
  extra?: ReadonlyArray<{ path: string; cls: ExclusionClassId }>;
}

export interface Decision {
  /** The class that excludes the entry; undefined: it is in the image. */
  excluded?: ExclusionClassId;
}

/** Normalizes a user-given path inside the volume: no leading or trailing slash, no `.`/`..`. */
export function relativeInVolume(path: string): string {
  const parts: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return parts.join('/');
}

function covers(prefix: string, path: string): boolean {
  return prefix === '' || path === prefix || path.startsWith(prefix + '/');
}

export class ExclusionPolicy {
  private readonly excludes: string[];
  private readonly includes: string[];
  private readonly filter: boolean;
  private readonly extra: ReadonlyArray<{ path: string; cls: ExclusionClassId }>;

  constructor(options: ExclusionOptions = {}) {
    this.excludes = (options.excludes ?? []).map(relativeInVolume);
    this.includes = (options.includes ?? []).map(relativeInVolume);
    this.filter = options.filter ?? true;
    this.extra = (options.extra ?? []).map((e) => ({ path: relativeInVolume(e.path), cls: e.cls }));
  }

  /** Whether `path` is excluded, and by which class; `path` itself or an ancestor may be the reason. */
  decide(path: string, isDir: boolean): Decision {
    if (path === '') return {};
    const inc = this.longest(this.includes, path);
    const exc = this.longest(this.excludes, path);
    if (inc !== undefined && (exc === undefined || inc.length >= exc.length)) return {};
    const cls: ExclusionClassId | undefined = exc !== undefined ? 'user' : this.byRules(path);
    if (cls === undefined) return {};
    // a directory on the way to an -i path stays, with only what -i asks for inside
    if (isDir && this.includes.some((i) => i.startsWith(path + '/'))) return {};
    return { excluded: cls };
  }

  /** Whether an -i path asks for `path` or something inside it. */
  wanted(path: string): boolean {
    return this.includes.some((i) => covers(path, i) || covers(i, path));
  }

  /** A file whose name says it may be a private key: the source checks its content. */
  keyCandidate(path: string): boolean {
    if (!this.filter) return false;
    const name = path.slice(path.lastIndexOf('/') + 1);
    return KEY_NAME.test(name) && this.decide(path, false).excluded === undefined;
  }

  /** Whether a class is in force (filter classes are off with --no-filter). */
  active(cls: ExclusionClassId): boolean {
    return this.filter || !EXCLUSION_CLASSES[cls].filter;
  }

  private longest(list: readonly string[], path: string): string | undefined {
    let best: string | undefined;
    for (const p of list) if (covers(p, path) && (best === undefined || p.length > best.length)) best = p;
    return best;
  }

  private byRules(path: string): ExclusionClassId | undefined {
    for (const e of this.extra) if (covers(e.path, path)) return e.cls;
    const segs = path.split('/');
    const top = segs[0]!;
    if (segs.length >= 2 && KERNEL_DIRS.has(top)) return 'kernel';
    if (segs.length >= 2 && RUNTIME_DIRS.has(top)) return 'runtime';
    if (segs.length >= 2 && MEDIA_DIRS.has(top)) return 'media';
    if (segs.length === 1 && (top === '.dockerenv' || top === '.containerenv')) return 'container';
    if (!this.filter) return undefined;
    if (top === 'etc' && segs[1] === 'ssh' && segs.length === 3 && /^ssh_host_.*_key(\.pub)?$/.test(segs[2]!)) return 'ssh-host-keys';
    if ((top === 'root' && segs[1] === '.ssh') || (top === 'home' && segs.length >= 3 && segs[2] === '.ssh')) return 'ssh-dirs';
    if (HISTORIES.has(segs[segs.length - 1]!)) return 'shell-history';
    if (top === 'var' && segs[1] === 'lib' && segs[2] === 'cloud' && segs.length >= 4 && segs[3] !== 'seed') return 'cloud-init';
    if (path === 'var/log/cloud-init.log' || path === 'var/log/cloud-init-output.log') return 'cloud-init';
    return undefined;
  }
}

/** True when the first bytes of a file hold a PEM or OpenSSH private key. */
export function looksLikePrivateKey(head: Buffer): boolean {
  return /-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----/.test(head.toString('latin1'));
}

export interface ExclusionSummary {
  id: ExclusionClassId;
  title: string;
  count: number;
  /** The first few excluded paths (readable form). */
  examples: string[];
}

/** What was left out, by class, for printing and for job results. */
export class ExclusionReport {
  private readonly classes = new Map<ExclusionClassId, { count: number; examples: string[] }>();

  add(cls: ExclusionClassId, path: string): void {
    let c = this.classes.get(cls);
    if (!c) this.classes.set(cls, (c = { count: 0, examples: [] }));
    c.count++;
    if (c.examples.length < 5) c.examples.push(displayPath(path));
  }

  summary(): ExclusionSummary[] {
    const order = Object.keys(EXCLUSION_CLASSES) as ExclusionClassId[];
    return order
      .filter((id) => this.classes.has(id))
      .map((id) => ({ id, title: EXCLUSION_CLASSES[id].title, ...this.classes.get(id)! }));
  }
}
