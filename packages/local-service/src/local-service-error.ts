/*
 * The one error class of the local service: something on this machine keeps it from starting (a
 * port taken, redis-server missing, a data directory that cannot be used, a process that exited while
 * starting). Permanent: running the same command again does not help until the cause is fixed; the
 * message names it and what to do.
 */
import { BundlefarmError, type BundlefarmErrorOptions } from '@bundlefarm/errors';

export class LocalServiceError extends BundlefarmError {
  static readonly code = 'BF_LOCAL_SERVICE';
  constructor(message: string, options: BundlefarmErrorOptions = {}) {
    super(LocalServiceError.code, message, false, options);
  }
}
