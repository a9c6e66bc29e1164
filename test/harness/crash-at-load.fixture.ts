// Not a test of its own (no .test.ts): exit-cleanup.test.ts runs it. It starts what a service test
// file starts — a redis-server, s3rver, a node process, a temporary directory holding a private key —
// and registers a clean-up command (runOnExit: it writes the file $CRASH_MARKER), writes their process
// ids and directories to $CRASH_STATE, then ends as $CRASH_MODE says: 'throw'
// throws at load (as a test file does when Chromium is missing), 'hang' waits to be killed.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSelfSignedIdentity } from '@bundlefarm/format';
import { runOnExit } from '../helpers/exit-cleanup.js';
import { startRedis } from '../helpers/redis-server.js';
import { startS3Server } from '../helpers/s3-server.js';
import { spawnNodeScript } from '../helpers/spawned-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const redis = await startRedis();
const s3 = await startS3Server();
await s3.createBucket('bucket');
const dir = await tempDir();
writeFileSync(join(dir, 'user-key.pem'), generateSelfSignedIdentity({ bits: 1024 }).privateKeyPem, { mode: 0o600 });
const idle = spawnNodeScript(fileURLToPath(new URL('./idle-process.mjs', import.meta.url)), {});
runOnExit([process.execPath, '-e', 'require("node:fs").writeFileSync(process.argv[1], "ran")', process.env.CRASH_MARKER!]);

writeFileSync(
  process.env.CRASH_STATE!,
  JSON.stringify({ pids: [redis.pid, idle.child.pid], dirs: [redis.dir, s3.directory, dir] }),
);
if (process.env.CRASH_MODE === 'throw') throw new Error('crash at load (on purpose)');
await new Promise(() => {}); // 'hang': the handles above keep the process alive until it is killed
