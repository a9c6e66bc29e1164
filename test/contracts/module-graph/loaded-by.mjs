// Imports the module given as argv[2] with record-resolutions.mjs registered, and prints (JSON) every
// file: URL the import resolved, once the import and its top-level code are done.
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const { port1, port2 } = new MessageChannel();
const seen = new Set();
port1.on('message', (url) => seen.add(url));
register(new URL('./record-resolutions.mjs', import.meta.url), { data: { port: port2 }, transferList: [port2] });
await import(process.argv[2]);
// messages from the hooks thread arrive asynchronously: let them drain
await new Promise((resolve) => setTimeout(resolve, 300));
process.stdout.write(JSON.stringify([...seen].filter((u) => u.startsWith('file:'))));
process.exit(0);
