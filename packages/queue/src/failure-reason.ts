/**
 * A failed job's `failedReason` starts with its stable code (`BF_CODE: message`, worker/job-failure.ts):
 * what the API, the CLI and the notifier read back from it.
 */

/** The BF code at the start of a `failedReason`, if any. */
export function failureCode(failedReason: string | undefined): string | undefined {
  return /^(BF_[A-Z0-9_]+): /.exec(failedReason ?? '')?.[1];
}
