/*
 * Reads the extended attributes (xattrs, POSIX ACLs, file capabilities, SELinux labels) of many open
 * files at once with getfattr (Debian's attr package): Node has no xattr API. Each file is named by
 * /proc/PID/fd/N of a descriptor the caller holds (O_PATH for symlinks and special files), so what is
 * read is the very inode that was stat'ed, whatever happens to the path meanwhile.
 */
import { execFile } from 'node:child_process';
import { TreeUnreadableError } from './rootfs-errors.js';

/** xattr namespaces ext4 can store (debugfs refuses others, e.g. system.nfs4_acl). */
export function storableXattr(name: string): boolean {
  return /^(user|trusted|security)\./.test(name) || name === 'system.posix_acl_access' || name === 'system.posix_acl_default';
}

/** xattrs of each descriptor; absent from the map when it has none. */
export async function readXattrs(fds: readonly number[], describe: (fd: number) => string): Promise<Map<number, Array<[string, Buffer]>>> {
  const result = new Map<number, Array<[string, Buffer]>>();
  if (fds.length === 0) return result;
  const prefix = `/proc/${process.pid}/fd/`;
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile(
      'getfattr',
      ['--absolute-names', '-d', '-m', '-', '-e', 'base64', ...fds.map((fd) => prefix + fd)],
      { maxBuffer: 256 * 1024 * 1024, encoding: 'latin1' },
      (err, out, errOut) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') reject(err as Error); // eslint-disable-line @typescript-eslint/no-unnecessary-type-assertion -- execFile's error (ENOENT: tool missing) as it is; callers read its code
        else resolve({ stdout: out, stderr: errOut });
      },
    );
  });
  for (const line of stderr.split('\n')) {
    if (line.trim() === '' || /Operation not supported/.test(line)) continue;
    const m = /fd\/(\d+)/.exec(line);
    throw new TreeUnreadableError(m ? describe(Number(m[1])) : 'xattrs', new Error(line.trim()));
  }
  let current: Array<[string, Buffer]> | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('# file: ')) {
      const fd = Number(line.slice(8 + prefix.length));
      current = [];
      result.set(fd, current);
    } else if (current && line.includes('=')) {
      const eq = line.indexOf('=');
      const name = line.slice(0, eq);
      let value = line.slice(eq + 1);
      if (value === '""') value = '';
      const bytes = value.startsWith('0s') ? Buffer.from(value.slice(2), 'base64') : value.startsWith('"') ? Buffer.from(value.slice(1, -1), 'latin1') : Buffer.alloc(0);
      current.push([name, bytes]);
    }
  }
  return result;
}
