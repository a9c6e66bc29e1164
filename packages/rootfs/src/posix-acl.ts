/*
 * POSIX ACLs in text form (SCHILY.acl.access/default, as older GNU tar and star write them) to the
 * binary form the kernel's system.posix_acl_* xattrs use (posix_acl_xattr v2), which libext2fs then
 * stores in ext4's own format.
 */
import { EntryUnsupportedError } from './rootfs-errors.js';

const TAGS: Record<string, number> = { user: 0x01, group: 0x04, mask: 0x10, other: 0x20 };
const NAMED: Record<string, number> = { user: 0x02, group: 0x08 };
const UNDEFINED_ID = 0xffffffff;

export interface IdNames {
  users: ReadonlyMap<string, number>;
  groups: ReadonlyMap<string, number>;
}

/** True when the text names a user or group by name (needs the image's passwd/group to resolve). */
export function aclUsesNames(text: string): boolean {
  return entries(text).some((e) => e.qualifier !== '' && !/^\d+$/.test(e.qualifier));
}

export function aclTextToXattr(path: string, text: string, names?: IdNames): Buffer {
  const list: Array<{ tag: number; id: number; perm: number }> = [];
  for (const e of entries(text)) {
    const kind = e.tag === 'u' ? 'user' : e.tag === 'g' ? 'group' : e.tag === 'm' ? 'mask' : e.tag === 'o' ? 'other' : e.tag;
    const perm = (e.perms.includes('r') ? 4 : 0) | (e.perms.includes('w') ? 2 : 0) | (e.perms.includes('x') ? 1 : 0);
    if (e.qualifier === '') {
      const tag = TAGS[kind];
      if (tag === undefined) throw new EntryUnsupportedError(path, `ACL entry ${JSON.stringify(e.raw)} is not understood`);
      list.push({ tag, id: UNDEFINED_ID, perm });
    } else {
      const tag = NAMED[kind];
      if (tag === undefined) throw new EntryUnsupportedError(path, `ACL entry ${JSON.stringify(e.raw)} is not understood`);
      let id: number | undefined = /^\d+$/.test(e.qualifier) ? Number(e.qualifier) : undefined;
      if (id === undefined) id = (kind === 'user' ? names?.users : names?.groups)?.get(e.qualifier);
      if (id === undefined) {
        throw new EntryUnsupportedError(path, `ACL names ${kind} ${JSON.stringify(e.qualifier)}, which the image's /etc/${kind === 'user' ? 'passwd' : 'group'} does not define`);
      }
      list.push({ tag, id, perm });
    }
  }
  list.sort((a, b) => a.tag - b.tag || a.id - b.id);
  const buf = Buffer.alloc(4 + 8 * list.length);
  buf.writeUInt32LE(2, 0);
  list.forEach((e, i) => {
    buf.writeUInt16LE(e.tag, 4 + i * 8);
    buf.writeUInt16LE(e.perm, 6 + i * 8);
    buf.writeUInt32LE(e.id, 8 + i * 8);
  });
  return buf;
}

/**
 * An access ACL of only owner, group and other entries says nothing the mode does not; the kernel
 * never stores one (GNU tar still writes it out in text form for every file).
 */
export function isMinimalAcl(text: string): boolean {
  return entries(text).every((e) => e.qualifier === '' && /^(u|user|g|group|o|other)$/.test(e.tag));
}

/** name → id from passwd/group file content (name:x:id:…). */
export function parseIdFile(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && /^\d+$/.test(f[2]!)) map.set(f[0]!, Number(f[2]));
  }
  return map;
}

function entries(text: string): Array<{ tag: string; qualifier: string; perms: string; raw: string }> {
  const out: Array<{ tag: string; qualifier: string; perms: string; raw: string }> = [];
  for (let raw of text.split(/[\n,]/)) {
    const hash = raw.indexOf('#');
    if (hash >= 0) raw = raw.slice(0, hash);
    raw = raw.trim();
    if (raw === '') continue;
    const f = raw.split(':');
    if (f.length !== 3) continue;
    out.push({ tag: f[0]!, qualifier: f[1]!, perms: f[2]!, raw });
  }
  return out;
}
