/*
 * Reading EC2 Query-API requests and writing their answers, for the EC2 stand-in (ec2-standin.ts):
 * form-encoded parameters with EC2's list forms (`Owner.1`, `Filter.1.Name`, `Filter.1.Value.1`,
 * `BlockDeviceMapping.1.DeviceName`), XML answers in EC2's namespace, errors in EC2's `<Response>` form.
 */
import { randomUUID } from 'node:crypto';

export const EC2_API_VERSION = '2016-11-15';
export const EC2_NAMESPACE = `http://ec2.amazonaws.com/doc/${EC2_API_VERSION}/`;

/** An EC2 refusal: HTTP status, EC2 error code and message. */
export class Ec2StandInError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Decoded form parameters, in the order sent. */
export type QueryParams = ReadonlyMap<string, string>;

export function parseForm(body: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(body)) {
    if (params.has(name)) throw new Ec2StandInError(400, 'InvalidParameterCombination', `The parameter ${name} was given more than once`);
    params.set(name, value);
  }
  return params;
}

/** `Prefix.1`, `Prefix.2` … values, in index order (EC2 lists start at 1). */
export function listOf(params: QueryParams, prefix: string): string[] {
  return indexes(params, prefix).map((i) => params.get(`${prefix}.${i}`)!);
}

/** The indexes N of `Prefix.N[.…]` parameters, sorted. */
export function indexes(params: QueryParams, prefix: string): number[] {
  const found = new Set<number>();
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)(?:\\.|$)`);
  for (const name of params.keys()) {
    const m = re.exec(name);
    if (m) {
      const n = Number(m[1]);
      if (n < 1) throw new Ec2StandInError(400, 'InvalidParameterValue', `Invalid list index in ${name}`);
      found.add(n);
    }
  }
  return [...found].sort((a, b) => a - b);
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** `<Tag>value</Tag>` (nothing when value is undefined). */
export function element(tag: string, value: string | boolean | undefined): string {
  return value === undefined ? '' : `<${tag}>${escapeXml(String(value))}</${tag}>`;
}

export function successXml(action: string, requestId: string, inner: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_NAMESPACE}"><requestId>${requestId}</requestId>${inner}</${action}Response>`;
}

export function errorXml(err: Ec2StandInError, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
}

export function newRequestId(): string {
  return randomUUID();
}
