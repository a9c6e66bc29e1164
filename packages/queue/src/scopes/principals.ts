/*
 * Principals: who may do what. One JSON file (BUNDLEFARM_PRINCIPALS_FILE), read by the API and by every
 * worker, so both enforce the same scopes:
 *
 * ```json
 * { "principals": [ {
 *     "name": "team-a-ci",
 *     "tokenHashes": ["sha256:…"],                         // `bundlefarm hash-token`; none: webhook rules only
 *     "identities": ["nightly"],                           // signing identities (globs)
 *     "targets": ["acme-amis-nightly/team-a/**"],          // BUCKET/PREFIX/NAME it may write (globs)
 *     "images": ["team-a/**", "s3://acme-ci-images/team-a/**"],  // image-root paths and s3:// objects it may read
 *     "register": ["us-east-1", "eu-*"],                   // EC2 registration: true (any region, the default), false, or region globs
 *     "canSeeOthers": false,                               // GET others' jobs (and the read-only board)
 *     "canCancelOthers": false,                            // DELETE / retry others' jobs (implies seeing them)
 *     "notify": [ { "url": "https://ci.example/hook", "secretEnv": "TEAM_A_NOTIFY_SECRET" } ]  // job-end notifications
 * } ] }
 * ```
 *
 * Globs are glob.ts's (`*` within a path segment, `**` across). A target is matched as
 * `BUCKET/PREFIX/NAME` — the bundle's objects are NAME.part.N and NAME.manifest.xml under the prefix —
 * so `amis/team-a/**` allows any prefix under `team-a/` of bucket `amis`. Image globs starting with
 * `s3://` are matched against `s3://` images only, the others against paths in the image root only.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { notifyEndpointsSchema, type NotifyEndpoint } from '../notify/notify-endpoint.js';
import { GlobSet } from './glob.js';
import { PrincipalsFileError } from './scope-errors.js';
import { findTokenDigest, hashToken, MIN_TOKEN_LENGTH, TOKEN_HASH_PATTERN, tokenDigest } from './token-hash.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const glob = z.string().min(1).max(1024);
const globs = z.array(glob).max(256);

export const principalSchema = z
  .object({
    name: z.string().regex(NAME, 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit'),
    description: z.string().max(1000).optional(),
    tokenHashes: z.array(z.string().regex(TOKEN_HASH_PATTERN, 'must be sha256:<64 lowercase hex digits> (bundlefarm hash-token)')).max(64).default([]),
    identities: globs.default([]),
    targets: globs.default([]),
    images: globs.default([]),
    /**
     * May its jobs register AMIs (a region's `register`)? true: in every region (the default, so files
     * written before this field keep today's behaviour); false: never; a list: in the regions matching
     * one of these globs only.
     */
    register: z.union([z.boolean(), globs]).default(true),
    canSeeOthers: z.boolean().default(false),
    canCancelOthers: z.boolean().default(false),
    notify: notifyEndpointsSchema.default([]),
  })
  .strict();

export const principalsFileSchema = z
  .object({
    $comment: z.string().optional(),
    principals: z.array(principalSchema).max(1000),
  })
  .strict()
  .superRefine((file, ctx) => {
    const names = new Set<string>();
    const hashes = new Map<string, string>();
    file.principals.forEach((p, i) => {
      if (names.has(p.name)) ctx.addIssue({ code: 'custom', path: ['principals', i, 'name'], message: `duplicate principal name ${JSON.stringify(p.name)}` });
      names.add(p.name);
      p.tokenHashes.forEach((h, j) => {
        const other = hashes.get(h);
        if (other !== undefined) ctx.addIssue({ code: 'custom', path: ['principals', i, 'tokenHashes', j], message: `the same token hash is also given to ${JSON.stringify(other)}` });
        hashes.set(h, p.name);
      });
    });
  });

export type PrincipalInput = z.input<typeof principalSchema>;
export type PrincipalsFile = z.input<typeof principalsFileSchema>;

/** What one principal may do. */
export class Principal {
  readonly name: string;
  readonly identities: GlobSet;
  readonly targets: GlobSet;
  /** Globs of paths in the image root. */
  readonly localImages: GlobSet;
  /** Globs of `s3://bucket/key` images. */
  readonly s3Images: GlobSet;
  /** Regions it may register AMIs in (`**`: every region; empty: none). */
  readonly registerRegions: GlobSet;
  readonly canSeeOthers: boolean;
  readonly canCancelOthers: boolean;
  /** SHA-256 digests of its tokens. */
  readonly tokenDigests: readonly Buffer[];
  /** Where its jobs' ends are notified (notify/notify-endpoint.ts). */
  readonly notify: readonly NotifyEndpoint[];

  constructor(p: z.output<typeof principalSchema>) {
    this.name = p.name;
    this.identities = new GlobSet(p.identities);
    this.targets = new GlobSet(p.targets);
    this.localImages = new GlobSet(p.images.filter((g) => !g.startsWith('s3://')));
    this.s3Images = new GlobSet(p.images.filter((g) => g.startsWith('s3://')));
    this.registerRegions = new GlobSet(p.register === true ? ['**'] : p.register === false ? [] : p.register);
    this.canCancelOthers = p.canCancelOthers;
    this.canSeeOthers = p.canSeeOthers || p.canCancelOthers;
    this.tokenDigests = p.tokenHashes.map(tokenDigest);
    this.notify = p.notify;
  }

  /** May this principal read the status of a job enqueued by `owner` (undefined: a job no principal enqueued)? */
  maySee(owner: string | undefined): boolean {
    return this.canSeeOthers || (owner !== undefined && owner === this.name);
  }

  /** May it cancel or retry that job? */
  mayManage(owner: string | undefined): boolean {
    return this.canCancelOthers || (owner !== undefined && owner === this.name);
  }

  /** Its scope, for logs (no token material). */
  describe(): Record<string, unknown> {
    const sources = (s: GlobSet): string[] => s.globs.map((g) => g.source);
    return {
      name: this.name,
      tokens: this.tokenDigests.length,
      identities: sources(this.identities),
      targets: sources(this.targets),
      images: [...sources(this.localImages), ...sources(this.s3Images)],
      register: sources(this.registerRegions),
      canSeeOthers: this.canSeeOthers,
      canCancelOthers: this.canCancelOthers,
      notify: this.notify.length,
    };
  }
}

/** The name of the principal the legacy BUNDLEFARM_API_TOKENS list stands for. */
export const LEGACY_PRINCIPAL = 'api-tokens';

/** Every principal, by name and by token. */
export class Principals {
  private readonly byName: ReadonlyMap<string, Principal>;
  /** Every token digest, and whose it is (parallel arrays, for a constant-time scan). */
  private readonly digests: Buffer[] = [];
  private readonly owners: Principal[] = [];

  private constructor(list: readonly Principal[]) {
    this.byName = new Map(list.map((p) => [p.name, p]));
    for (const p of list) {
      for (const d of p.tokenDigests) {
        this.digests.push(d);
        this.owners.push(p);
      }
    }
  }

  static readonly none = new Principals([]);

  static parse(input: unknown, source = 'document'): Principals {
    const r = principalsFileSchema.safeParse(input);
    if (!r.success) throw new PrincipalsFileError(source, r.error.issues.map((i) => `${i.path.map(String).join('.') || '(file)'}: ${i.message}`));
    return new Principals(r.data.principals.map((p) => new Principal(p)));
  }

  static async load(path: string): Promise<Principals> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new PrincipalsFileError(path, [`cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new PrincipalsFileError(path, [`not JSON: ${(err as Error).message}`]);
    }
    return Principals.parse(json, path);
  }

  /**
   * The legacy BUNDLEFARM_API_TOKENS list as one principal, LEGACY_PRINCIPAL, that may do everything
   * (every identity, target and image; see and cancel every job).
   */
  static unrestricted(tokens: readonly string[], name = LEGACY_PRINCIPAL): Principal {
    for (const t of tokens) if (t.length < MIN_TOKEN_LENGTH) throw new PrincipalsFileError('BUNDLEFARM_API_TOKENS', [`each token must have at least ${MIN_TOKEN_LENGTH} characters`]);
    return new Principal({
      name,
      tokenHashes: tokens.map(hashToken),
      identities: ['**'],
      targets: ['**'],
      images: ['**', 's3://**'],
      register: true,
      canSeeOthers: true,
      canCancelOthers: true,
      notify: [],
    });
  }

  /** These principals and more (names must not clash). */
  with(...more: Principal[]): Principals {
    for (const p of more) if (this.byName.has(p.name)) throw new PrincipalsFileError('configuration', [`principal ${JSON.stringify(p.name)} is defined twice`]);
    return new Principals([...this.byName.values(), ...more]);
  }

  get(name: string | undefined): Principal | undefined {
    return name === undefined ? undefined : this.byName.get(name);
  }

  /** The principal `token` belongs to (compared in constant time against every configured token). */
  byToken(token: string): Principal | undefined {
    const i = findTokenDigest(token, this.digests);
    return i < 0 ? undefined : this.owners[i];
  }

  get size(): number {
    return this.byName.size;
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }

  get tokenCount(): number {
    return this.digests.length;
  }
}
