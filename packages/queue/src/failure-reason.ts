/**
 * A failed job's `failedReason` (BullMQ's string) starts with its stable code (`BF_CODE: message`,
 * worker/job-failure.ts). This is the one place that reads the code back out of it: the API, the CLI,
 * the notifier and the worker's metrics all go through parseFailedReason. Per-region failures are not
 * read from it any more but from the job's data (region-failures.ts).
 */

/** A failure's stable code and its message. */
export interface FailedReason {
  code: string;
  message: string;
}

/** `BF_CODE: message` → code and message; undefined when the reason does not start with a BF code. */
export function parseFailedReason(failedReason: string | null | undefined): FailedReason | undefined {
  const m = /^(BF_[A-Z0-9_]+): ([\s\S]*)$/.exec(failedReason ?? '');
  return m ? { code: m[1]!, message: m[2]! } : undefined;
}

/** The BF code at the start of a `failedReason`, if any. */
export function failureCode(failedReason: string | undefined): string | undefined {
  return parseFailedReason(failedReason)?.code;
}
