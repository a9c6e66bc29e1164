#!/usr/bin/env node
// The bundlefarm API process: configuration from BUNDLEFARM_* variables (see docs/service.md), listen,
// close gracefully on SIGTERM/SIGINT (stop accepting, finish requests in flight, close Redis).
import { buildServer, serverConfigFromEnv } from '@bundlefarm/server';

let settings;
try {
  settings = serverConfigFromEnv(process.env);
} catch (err) {
  process.stderr.write(`bundlefarm-api: ${err.code ?? 'error'}: ${err.message}\n`);
  process.exit(2);
}

const app = await buildServer(settings.config);
let closing = false;
const shutdown = async (signal) => {
  if (closing) return;
  closing = true;
  app.log.info({ signal }, 'shutting down');
  const force = setTimeout(() => {
    app.log.error('graceful shutdown timed out; exiting');
    process.exit(1);
  }, 25_000);
  force.unref();
  try {
    await app.close();
    process.exitCode = 0;
  } catch (err) {
    app.log.error({ err }, 'error while shutting down');
    process.exitCode = 1;
  }
};
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

try {
  await app.listen({ host: settings.listen.host, port: settings.listen.port });
} catch (err) {
  app.log.error({ err }, 'cannot listen');
  await app.close().catch(() => {});
  process.exit(1);
}
