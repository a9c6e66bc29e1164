/*
 * Who may call the S3 front: access key pairs, each belonging to an account. An account has S3's
 * canonical user id (64 hex digits) and display name, which ACLs and bucket ownership name. One
 * account is built in besides the default: `za-team`, the canonical user that EC2 reads
 * instance-store bundles as (the grantee of the `aws-exec-read` canned ACL), so that a test can read a
 * bundle the way EC2 does.
 *
 * Key pairs are looked up in the front's own list first, then in a registry shared by every front of
 * the process (`registerProcessCredentials`): worker processes started by a test use keys the test
 * registered, whichever front they reach.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export interface S3FrontCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Set for temporary credentials: requests must carry it as `x-amz-security-token`. */
  sessionToken?: string;
  /** The account the keys belong to (default `DEFAULT_ACCOUNT`). */
  account?: string;
}

export interface S3Account {
  /** The account's name, S3's `DisplayName`. */
  name: string;
  /** S3's canonical user id: 64 lowercase hex digits. */
  canonicalId: string;
}

export const DEFAULT_ACCOUNT = 'bundlefarm-test';

/** EC2's canonical user, granted READ by `aws-exec-read` (as S3 lists it in object ACLs). */
export const EC2_ACCOUNT: S3Account = { name: 'za-team', canonicalId: '6aa5a366c34c1cbe25dc49211496e913e0351eb0e8c37aa3477e40942ec6b97c' };

export function accountNamed(name: string): S3Account {
  if (name === EC2_ACCOUNT.name) return EC2_ACCOUNT;
  return { name, canonicalId: createHash('sha256').update(`bundlefarm s3 front account ${name}`).digest('hex') };
}

const processCredentials = new Map<string, S3FrontCredentials>();

/** Keys every front of this process accepts (unless started with `processCredentials: false`). */
export function registerProcessCredentials(credentials: S3FrontCredentials): void {
  checkCredentials(credentials);
  processCredentials.set(credentials.accessKeyId, { ...credentials });
}

export function checkCredentials(c: S3FrontCredentials): void {
  if (typeof c.accessKeyId !== 'string' || !/^[A-Za-z0-9]{3,128}$/.test(c.accessKeyId)) {
    throw new TypeError('S3 front credentials: accessKeyId must be 3–128 letters and digits');
  }
  if (typeof c.secretAccessKey !== 'string' || c.secretAccessKey === '') throw new TypeError('S3 front credentials: secretAccessKey is empty');
}

export class CredentialStore {
  private readonly own = new Map<string, S3FrontCredentials>();

  constructor(
    credentials: readonly S3FrontCredentials[],
    private readonly useProcessCredentials: boolean,
  ) {
    for (const c of credentials) this.add(c);
  }

  add(credentials: S3FrontCredentials): void {
    checkCredentials(credentials);
    this.own.set(credentials.accessKeyId, { ...credentials });
  }

  find(accessKeyId: string): S3FrontCredentials | undefined {
    return this.own.get(accessKeyId) ?? (this.useProcessCredentials ? processCredentials.get(accessKeyId) : undefined);
  }
}

export function accountOf(credentials: S3FrontCredentials): S3Account {
  return accountNamed(credentials.account ?? DEFAULT_ACCOUNT);
}

/** Constant-time comparison of two strings (signatures, tokens). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
