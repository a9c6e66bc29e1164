/*
 * The error answers of the S3 front: S3's own codes, HTTP statuses and XML bodies
 * (`<Error><Code>…</Code><Message>…</Message>…<RequestId>…</RequestId><HostId>…</HostId></Error>`),
 * with the extra elements S3 adds per error (Region, AWSAccessKeyId, StringToSign, ExpectedDigest …),
 * so that an SDK parses them exactly as it parses S3's.
 */

/** One refusal, as S3 answers it. Thrown anywhere in the front; turned into a response at the top. */
export class S3FrontError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra elements of the `<Error>` body, in order. */
    readonly fields: Readonly<Record<string, string>> = {},
    /** Extra response headers (e.g. `x-amz-bucket-region`). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = code;
  }
}

/** Escapes text for XML element content (quotes stay as they are, as in S3's own error bodies). */
export function xmlEscape(text: string): string {
  return text.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}

/** The XML body of an error answer. */
export function errorXml(error: S3FrontError, requestId: string, hostId: string): string {
  const fields = Object.entries(error.fields)
    .map(([name, value]) => `<${name}>${xmlEscape(value)}</${name}>`)
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${xmlEscape(error.code)}</Code><Message>${xmlEscape(error.message)}</Message>${fields}` +
    `<RequestId>${requestId}</RequestId><HostId>${hostId}</HostId></Error>`
  );
}

/** Refusals several checks share. */
export const s3Errors = {
  accessDenied: (message = 'Access Denied', fields: Record<string, string> = {}): S3FrontError => new S3FrontError(403, 'AccessDenied', message, fields),
  noSuchBucket: (bucket: string): S3FrontError => new S3FrontError(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket }),
  noSuchKey: (key: string): S3FrontError => new S3FrontError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key }),
  invalidArgument: (message: string, name: string, value: string): S3FrontError =>
    new S3FrontError(400, 'InvalidArgument', message, { ArgumentName: name, ArgumentValue: value }),
  invalidRequest: (message: string): S3FrontError => new S3FrontError(400, 'InvalidRequest', message),
  notImplemented: (what: string): S3FrontError =>
    new S3FrontError(501, 'NotImplemented', `A header or parameter you provided implies functionality that is not implemented (${what})`),
};
