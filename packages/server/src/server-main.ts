/**
 * The API process, for `bundlefarm-api` (beside the worker's `workerMain`): configuration from the
 * BUNDLEFARM_* variables (docs/service.md), listen, and on SIGTERM or SIGINT close gracefully — stop
 * accepting, finish the requests in flight, close Redis — within a grace period. Resolves with the exit
 * status once the server has stopped:
 *
 * - 0: stopped after a signal;
 * - 2: the configuration is wrong (one line on stderr);
 * - 1: could not listen, or the shutdown failed or took longer than the grace period.
 */
import { buildServer } from './build-server.js';
import { serverConfigFromEnv } from './server-config.js';

export interface ServerMainOptions {
  env?: NodeJS.ProcessEnv;
  /** Where a configuration error goes (default process.stderr). */
  stderr?: NodeJS.WritableStream;
  /** How long a graceful shutdown may take before the process gives up on it (default 25 000 ms). */
  graceMs?: number;
}

export const EXIT_SERVER_CONFIG = 2;

export async function serverMain(options: ServerMainOptions = {}): Promise<number> {
  const stderr = options.stderr ?? process.stderr;
  let settings: ReturnType<typeof serverConfigFromEnv>;
  try {
    settings = serverConfigFromEnv(options.env ?? process.env);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    stderr.write(`bundlefarm-api: ${e.code ?? 'error'}: ${e.message ?? String(err)}\n`);
    return EXIT_SERVER_CONFIG;
  }
  const app = await buildServer(settings.config);
  try {
    await app.listen({ host: settings.listen.host, port: settings.listen.port });
  } catch (err) {
    app.log.error({ err }, 'cannot listen');
    await app.close().catch(() => {});
    return 1;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  app.log.info({ signal }, 'shutting down');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), options.graceMs ?? 25_000);
    timer.unref();
  });
  try {
    const outcome = await Promise.race([app.close().then(() => 'closed' as const), timedOut]);
    if (outcome === 'timeout') {
      app.log.error('graceful shutdown timed out; exiting');
      return 1;
    }
    return 0;
  } catch (err) {
    app.log.error({ err }, 'error while shutting down');
    return 1;
  } finally {
    clearTimeout(timer);
  }
}
