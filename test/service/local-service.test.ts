import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readLocalEnv, startLocalService, type LocalService } from '@bundlefarm/local-service';
import { assertOneLineError, bundlefarm } from '../helpers/cli.js';
import { needsTools } from '../helpers/requirements.js';
import { tempDir } from '../helpers/temp-dir.js';

/*
 * bundlefarm serve --local and demo --service as a user meets them: the demo through a service it
 * starts itself (and stops, leaving no process and no directory behind) or through one already
 * running; a service started again on its data dir keeps its token, its jobs (Redis's AOF) and its
 * objects; what stops a start (a data dir in use, a taken port, a bad --bucket) is one clear line.
 */
const skip = needsTools(['redis-server'], 'apt-get install redis-server');

/** Processes whose working directory or environment names `dir` (redis-server runs in its data dir; API and workers get it in their environment). */
function processesUsing(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (cwd.startsWith(dir) || environ.includes(dir)) found.push(`${entry} ${readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ')}`);
    } catch {
      // gone, or not ours
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('bundlefarm serve --local and demo --service', { skip }, () => {
  it('demo --service with no service running starts one, round-trips both regions, and leaves nothing behind', async () => {
    const home = await tempDir('bundlefarm-demo-home-');
    const out = await tempDir('bundlefarm-demo-out-');
    const r = await bundlefarm(['demo', '--service', '--size', '4', '--dir', out], { env: { HOME: home, XDG_DATA_HOME: '' } });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const serviceDir = /starting one in (\S+) for the demo/.exec(r.stdout)?.[1];
    assert.ok(serviceDir, r.stdout);
    assert.match(r.stdout, /^job: +\S+ \(demo-\S+\.img\) completed/m);
    assert.match(r.stdout, /^s3:\/\/bundlefarm-local\/demo\/\S+\/ \(us-east-1, http:\/\/127\.0\.0\.1:\d+\):\n +\d+ +demo\/\S+\.img\.manifest\.xml\n +\d+ +demo\/\S+\.img\.part\.0\n/m);
    assert.match(r.stdout, /^s3:\/\/bundlefarm-local-gov\/demo\/\S+\/ \(us-gov-west-1, /m);
    assert.equal(r.stdout.match(/unbundled .*: identical to the image/g)?.length, 2);
    await assert.rejects(access(serviceDir), /ENOENT/, 'the demo removes the service directory it made');
    assert.deepEqual(processesUsing(serviceDir), []);
  });

  it('demo --service uses a running service; started again on its data dir it keeps token, jobs and objects; a second one there is refused', async () => {
    const dataDir = join(await tempDir('bundlefarm-local-'), 'data');
    let service: LocalService | undefined = await startLocalService({ dataDir, apiPort: 0, s3Port: 0 });
    after(() => service?.stop());
    const first = service;
    assert.equal(first.secretsGenerated, true);

    const r = await bundlefarm(['demo', '--service', '--data-dir', dataDir, '--size', '2']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`using the local service on ${dataDir}`));
    const jobId = /^job (\S+) enqueued$/m.exec(r.stdout)?.[1];
    assert.ok(jobId);

    // one service per data dir (this process is its supervisor, and alive)
    const again = await bundlefarm(['serve', '--local', '--data-dir', dataDir, '--port', '0', '--s3-port', '0']);
    assertOneLineError(again, 'BF_LOCAL_SERVICE', /already runs on .*: stop it first/);
    // a taken API port is named, with the option to change it
    const taken = new URL(first.apiUrl).port;
    const otherDir = join(await tempDir('bundlefarm-local-'), 'data');
    const busy = await bundlefarm(['serve', '--local', '--data-dir', otherDir, '--port', taken, '--s3-port', '0']);
    assertOneLineError(busy, 'BF_LOCAL_SERVICE', new RegExp(`port ${taken} is taken: give the API another with --port`));
    assert.deepEqual(processesUsing(otherDir), []);

    const pids = first.pids();
    await first.stop();
    service = undefined;
    assert.deepEqual(pids.filter(alive), []);

    service = await startLocalService({ dataDir, apiPort: 0, s3Port: 0 });
    assert.equal(service.secretsGenerated, false);
    assert.equal(service.secrets.apiToken, first.secrets.apiToken);
    const env = await readLocalEnv(dataDir);
    assert.equal(env?.apiUrl, service.apiUrl);
    const status = await fetch(`${service.apiUrl}/v1/bundles/${jobId}`, { headers: { authorization: `Bearer ${service.secrets.apiToken}` } });
    assert.equal(status.status, 200);
    const body = (await status.json()) as { state: string; regions: Array<{ region: string; state: string }> };
    assert.equal(body.state, 'completed');
    // the objects too: a second demo run lists its own prefix only, so list the first job's
    const { listLocalObjects } = await import('@bundlefarm/local-service');
    const prefix = /^s3:\/\/bundlefarm-local-gov\/(\S+)\/ \(us-gov-west-1/m.exec(r.stdout)?.[1];
    assert.ok(prefix);
    const objects = await listLocalObjects(env, 'us-gov-west-1', 'bundlefarm-local-gov', `${prefix}/`);
    assert.ok(objects.some((o) => o.key.endsWith('.manifest.xml')));
  });

  it('refuses serve without --local and a malformed --bucket in one line', async () => {
    assertOneLineError(await bundlefarm(['serve']), 'BF_BAD_OPTION', /give --local/);
    assertOneLineError(await bundlefarm(['serve', '--local', '--bucket', 'amis-gov']), 'BF_BAD_OPTION', /--bucket: "amis-gov" is not NAME:REGION/);
    assertOneLineError(await bundlefarm(['serve', '--local', '--bucket', 'amis:mars-north-1']), 'BF_BAD_OPTION', /--bucket: .*region/);
  });
});
