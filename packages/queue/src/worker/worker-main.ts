import { isBundlefarmError } from '@bundlefarm/errors';
import { startBundleWorker, type BundleWorker } from './bundle-worker.js';
import { loadWorkerConfig } from './worker-config.js';
import { createWorkerLogger } from './worker-logger.js';

/**
 * The worker process, for `bundlefarm-worker`: load the configuration (env + JSON file), start the
 * worker, and on SIGTERM or SIGINT shut down gracefully (see BundleWorker.close). Resolves with the
 * exit status once the worker has stopped:
 *
 * - 0: stopped after a signal, running jobs finished or handed back;
 * - 78 (EX_CONFIG): the configuration is wrong (every problem on stderr, one line);
 * - 70 (EX_SOFTWARE): the worker could not start or failed to shut down cleanly;
 * - 128 + signal number: a second signal while shutting down (exit at once; the jobs still running
 *   are taken over by other workers once their locks expire).
 */
export const EXIT_CONFIG = 78;
export const EXIT_SOFTWARE = 70;

export interface WorkerMainOptions {
  env?: NodeJS.ProcessEnv;
  /** Where configuration errors go (default process.stderr). */
  stderr?: NodeJS.WritableStream;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

export async function workerMain(options: WorkerMainOptions = {}): Promise<number> {
  const stderr = options.stderr ?? process.stderr;
  let config;
  try {
    config = await loadWorkerConfig(options.env ?? process.env);
  } catch (err) {
    const text = isBundlefarmError(err) ? `${err.code}: ${err.message}` : String(err);
    stderr.write(`bundlefarm-worker: ${text}\n`);
    return isBundlefarmError(err) && !err.transient ? EXIT_CONFIG : EXIT_SOFTWARE;
  }
  const logger = createWorkerLogger({ level: config.logLevel });
  // Signal handlers go in before the worker starts: a SIGTERM that arrives while it connects (or just
  // after it logged 'worker started') must shut it down gracefully, not kill it with Node's default.
  let stopping = false;
  let signalled: ((signal: NodeJS.Signals) => void) | undefined;
  let exitNow: ((status: number) => void) | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal while shutting down: exiting now');
      exitNow?.(128 + (SIGNAL_NUMBERS[signal] ?? 0));
      return;
    }
    stopping = true;
    logger.info({ signal }, 'signal received: shutting down gracefully');
    signalled?.(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let worker: BundleWorker;
  try {
    worker = await startBundleWorker(config, { logger });
  } catch (err) {
    logger.fatal({ err }, 'the worker could not start');
    return EXIT_SOFTWARE;
  }
  return new Promise<number>((resolve) => {
    exitNow = resolve;
    const shutdown = (): void => {
      worker.close().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          resolve(EXIT_SOFTWARE);
        },
      );
    };
    if (stopping) shutdown();
    else signalled = shutdown;
  });
}
