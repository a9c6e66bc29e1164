/*
 * SigV4 as EC2 checks it, for the EC2 stand-in: the expected signature is computed by the AWS SDK's own
 * signer (@smithy/signature-v4) over the headers the client listed as signed and the body as received;
 * the credential scope must name this endpoint's region and the `ec2` service; an unknown key or a wrong
 * signature is EC2's `AuthFailure` (401).
 */
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { Ec2StandInError } from './ec2-query.js';

export interface StandInCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

function authFailure(message: string): Ec2StandInError {
  return new Ec2StandInError(401, 'AuthFailure', message);
}

/** Verifies the request's signature; resolves with the access key id it was signed with. */
export async function verifyEc2Signature(
  request: { method: string; path: string; host: string; headers: Readonly<Record<string, string>>; body: string },
  region: string,
  lookup: (accessKeyId: string) => StandInCredentials | undefined,
): Promise<string> {
  const authorization = request.headers.authorization;
  if (authorization === undefined) throw new Ec2StandInError(401, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
  const m = AUTH.exec(authorization);
  if (!m) throw new Ec2StandInError(400, 'IncompleteSignature', 'The request signature does not conform to AWS standards');
  const [, accessKeyId, date, scopeRegion, service, signedList, signature] = m as unknown as [string, string, string, string, string, string, string];
  const credentials = lookup(accessKeyId);
  if (!credentials) throw authFailure('AWS was not able to validate the provided access credentials');
  if (service !== 'ec2') throw authFailure(`Credential should be scoped to correct service: 'ec2'.`);
  if (scopeRegion !== region) throw authFailure(`Credential should be scoped to a valid region, not '${scopeRegion}'.`);
  const amzDate = request.headers['x-amz-date'];
  if (amzDate?.slice(0, 8) !== date) throw authFailure('The X-Amz-Date does not match the credential scope date');
  const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  if (Number.isNaN(signingDate.getTime()) || Math.abs(Date.now() - signingDate.getTime()) > 15 * 60 * 1000) {
    throw authFailure('Request has expired or its date is too far from the server time');
  }
  const signed = signedList.split(';');
  const headers: Record<string, string> = {};
  for (const name of signed) {
    const value = request.headers[name];
    if (value === undefined) throw authFailure(`Header ${name} is signed but missing`);
    headers[name] = value;
  }
  const signer = new SignatureV4({ credentials, region, service: 'ec2', sha256: Sha256, applyChecksum: false });
  const [hostname, port] = request.host.split(':') as [string, string | undefined];
  const out = await signer.sign(
    { method: request.method, protocol: 'http:', hostname, ...(port !== undefined ? { port: Number(port) } : {}), path: request.path, query: {}, headers, body: request.body },
    { signingDate, signableHeaders: new Set(signed) },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(out.headers.authorization ?? out.headers.Authorization ?? ''))?.[1];
  if (expected !== signature) {
    throw authFailure('AWS was not able to validate the provided access credentials (the request signature we calculated does not match the signature you provided)');
  }
  return accessKeyId;
}
