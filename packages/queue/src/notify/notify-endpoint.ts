/*
 * Where job-end notifications go: a list of endpoints on a principal (principals file) or a webhook rule
 * (rules file), each an http(s) URL, the *name* of the environment variable holding its signing secret
 * on the API host (the secret itself is never in a file, in Redis or in a job), and the job ends it
 * wants:
 *
 * ```json
 * "notify": [ { "url": "https://ci.example.com/bundlefarm", "secretEnv": "TEAM_A_NOTIFY_SECRET", "events": ["completed", "failed"] } ]
 * ```
 */
import { z } from 'zod';
import { JOB_END_STATES, type JobEndState } from './job-notice.js';

export const notifyEndpointSchema = z
  .object({
    url: z
      .string()
      .max(2048)
      .refine((s) => {
        try {
          const u = new URL(s);
          return (u.protocol === 'https:' || u.protocol === 'http:') && u.username === '' && u.password === '';
        } catch {
          return false;
        }
      }, 'must be an http:// or https:// URL without user or password'),
    secretEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be the name of an environment variable holding the signing secret'),
    events: z
      .array(z.enum(JOB_END_STATES as [JobEndState, ...JobEndState[]]))
      .min(1)
      .default([...JOB_END_STATES]),
  })
  .strict();

export const notifyEndpointsSchema = z.array(notifyEndpointSchema).max(8);

export type NotifyEndpointInput = z.input<typeof notifyEndpointSchema>;
export type NotifyEndpoint = z.output<typeof notifyEndpointSchema>;
