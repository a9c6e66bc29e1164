import { DEFAULT_PREFIX } from './queue-settings.js';

/**
 * Cancellation of running jobs across processes: the API publishes the job id on this Redis pub/sub
 * channel; every worker process listens and aborts the job if it is running it (BullMQ's
 * `worker.cancelJob`), which stops the bundle and removes what it uploaded. Jobs still waiting are
 * simply removed by the producer.
 */
export function cancelChannel(prefix = DEFAULT_PREFIX): string {
  return `${prefix}:bundles:cancel`;
}
