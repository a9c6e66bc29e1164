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
import { isBundlefarmError } from '@bundlefarm/errors';
import { startBundleWorker, type BundleWorker } from './bundle-worker.js';
import { loadWorkerConfig } from './worker-config.js';
import { createWorkerLogger } from './worker-logger.js';

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
  // A second signal exits at once, whatever the first one is still waiting for (a Redis that is away).
  let stopping = false;
  let signalled: (() => void) | undefined;
  let exitNow!: (status: number) => void;
  const exitRequested = new Promise<number>((resolve) => (exitNow = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal while shutting down: exiting now');
      exitNow(128 + (SIGNAL_NUMBERS[signal] ?? 0));
      return;
    }
    stopping = true;
    logger.info({ signal }, 'signal received: shutting down gracefully');
    signalled?.();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const run = async (): Promise<number> => {
    let worker: BundleWorker;
    const starting = startBundleWorker(config, { logger });
    // a signal while Redis cannot be reached at start-up: no job can have been taken without it, so
    // the worker stops once the grace period is over even if it never got started
    const gaveUp = new Promise<undefined>((resolve) => {
      signalled = () => {
        const timer = setTimeout(() => resolve(undefined), config.shutdownGraceMs);
        timer.unref();
      };
    });
    try {
      const started = await Promise.race([starting, gaveUp]);
      if (started === undefined) {
        logger.warn('the worker had not started (Redis unreachable?) when the grace period ended: exiting');
        return 0;
      }
      worker = started;
    } catch (err) {
      logger.fatal({ err }, 'the worker could not start');
      return EXIT_SOFTWARE;
    }
    return new Promise<number>((resolve) => {
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
  };
  return Promise.race([run(), exitRequested]);
}
