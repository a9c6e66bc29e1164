/*
 * The store behind the S3 front, on a thread of its own (see s3rver-store.ts): s3rver's own work —
 * MD5 of every body, file writes, XML — then stays off the event loop of the process that hosts the
 * front (in the tests, also the API under test; in `bundlefarm serve --local`, the supervisor).
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

/** What this thread uses of s3rver (which ships no types). */
interface S3rverInstance {
  store: { deleteObject(bucket: string, key: string): Promise<void> };
  httpServer: Server;
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;
const { directory } = workerData as { directory: string };
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, vhostBuckets: false });

// s3rver keeps `a/b/key` as files in directory `a/b/`, and a delete removes the directories it left
// empty (readdir, then rmdir): two deletes in one directory at once race, and the loser answers 500
// (ENOENT, or ENOTEMPTY when a PUT refilled it) although its object is gone. S3 has no directories
// and no such failure, so the directory cleanup's own errors are ignored.
const deleteObject = server.store.deleteObject.bind(server.store);
server.store.deleteObject = async (bucket, key) => {
  try {
    await deleteObject(bucket, key);
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY') throw err;
  }
};

const { port } = await server.run();
// idle connections of the front's pool stay usable for a minute (Node's default closes them after
// 5 s, racing the front reusing them)
server.httpServer.keepAliveTimeout = 60_000;
server.httpServer.headersTimeout = 65_000;
parentPort!.on('message', (message) => {
  if (message !== 'close') return;
  server.close().then(
    () => parentPort!.postMessage('closed'),
    () => parentPort!.postMessage('closed'),
  );
});
parentPort!.postMessage({ port });
