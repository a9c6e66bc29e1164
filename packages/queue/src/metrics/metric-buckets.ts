/** Histogram buckets shared by the API's and the workers' metrics. */

/** Buckets of job durations (seconds): a small image takes seconds, a 10 GiB one many minutes. */
export const JOB_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];
