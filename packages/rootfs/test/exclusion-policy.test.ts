import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { ExclusionPolicy, SCRATCH_PREFIX, looksLikePrivateKey, removeStaleScratch } from '@bundlefarm/rootfs';

test('exclusion policy: default classes, -e, -i (the longest path decides) and --no-filter', () => {
  const p = new ExclusionPolicy({ excludes: ['/opt', '/srv/keep/drop'], includes: ['/tmp/keep', '/root/.bash_history', '/srv/keep'] });
  const cls = (path: string, dir = false): string | undefined => p.decide(path, dir).excluded;
  assert.equal(cls('proc', true), undefined, 'the directory stays');
  assert.equal(cls('proc/1', true), 'kernel');
  assert.equal(cls('dev/null'), 'kernel');
  assert.equal(cls('tmp', true), undefined);
  assert.equal(cls('tmp/junk'), 'runtime');
  assert.equal(cls('tmp/keep'), undefined, '-i brings it back');
  assert.equal(cls('root/.bash_history'), undefined, '-i brings it back');
  assert.equal(cls('home/bob/.bash_history'), 'shell-history');
  assert.equal(cls('home/bob/.ssh/authorized_keys'), 'ssh-dirs');
  assert.equal(cls('etc/ssh/ssh_host_rsa_key'), 'ssh-host-keys');
  assert.equal(cls('etc/ssh/ssh_config'), undefined);
  assert.equal(cls('var/lib/cloud/instances/i-1', true), 'cloud-init');
  assert.equal(cls('var/lib/cloud/seed/x'), undefined);
  assert.equal(cls('opt/app/bin'), 'user');
  assert.equal(cls('srv/keep/x'), undefined);
  assert.equal(cls('srv/keep/drop/y'), 'user', 'a deeper -e beats a shallower -i');
  assert.equal(cls('.dockerenv'), 'container');
  const off = new ExclusionPolicy({ filter: false });
  assert.equal(off.decide('etc/ssh/ssh_host_rsa_key', false).excluded, undefined);
  assert.equal(off.decide('proc/1', true).excluded, 'kernel', '--no-filter keeps only the sensitive classes');
  assert.ok(p.keyCandidate('etc/ssl/private/a.key'));
  assert.ok(p.keyCandidate('home/x/id_ed25519'));
  assert.ok(!p.keyCandidate('home/x/id_ed25519.pub'));
  assert.ok(looksLikePrivateKey(Buffer.from('-----BEGIN OPENSSH PRIVATE KEY-----\n')));
  assert.ok(looksLikePrivateKey(Buffer.from('cert\n-----BEGIN RSA PRIVATE KEY-----\n')));
  assert.ok(!looksLikePrivateKey(Buffer.from('-----BEGIN CERTIFICATE-----\n')));
});

test('scratch: leftovers of a dead process on this host are removed, a live one and foreign dirs are not', async () => {
  const parent = await mkdtemp(join(tmpdir(), 'bundlefarm-scratch-'));
  try {
    const make = async (name: string, owner?: object): Promise<void> => {
      await mkdir(join(parent, name));
      if (owner) await writeFile(join(parent, name, 'owner.json'), JSON.stringify(owner));
    };
    await make(`${SCRATCH_PREFIX}dead`, { host: hostname(), pid: 2 ** 22 + 12345 });
    await make(`${SCRATCH_PREFIX}alive`, { host: hostname(), pid: process.pid });
    await make(`${SCRATCH_PREFIX}other-host`, { host: 'elsewhere', pid: 2 ** 22 + 12345 });
    await make(`${SCRATCH_PREFIX}no-owner`);
    await make('unrelated', { host: hostname(), pid: 2 ** 22 + 12345 });
    const removed = await removeStaleScratch(parent);
    assert.deepEqual(removed.map((d) => d.slice(parent.length + 1)), [`${SCRATCH_PREFIX}dead`]);
    assert.deepEqual((await readdir(parent)).sort(), [`${SCRATCH_PREFIX}alive`, `${SCRATCH_PREFIX}no-owner`, `${SCRATCH_PREFIX}other-host`, 'unrelated']);
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
});
