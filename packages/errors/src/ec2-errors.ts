/**
 * Errors of registering instance-store bundles as AMIs with EC2 (RegisterImage, DescribeImages,
 * DeregisterImage). Messages name regions, AMI names and ids, manifest locations and EC2's error codes,
 * never credentials or request signatures. `transient` follows EC2's retry guidance: 5xx, throttling
 * (`RequestLimitExceeded`), `Unavailable` and dropped connections may pass; everything else will not.
 */
import { BundlefarmError, type BundlefarmErrorOptions } from './bundlefarm-error.js';

/** Options of EC2 errors: the region the request went to (messages and `details` name it). */
export interface Ec2ErrorOptions extends BundlefarmErrorOptions {
  region?: string;
}

function inRegion(region: string | undefined): string {
  return region === undefined ? '' : ` in ${region}`;
}

/**
 * The AMI name is held by another image of the account (EC2's `InvalidAMIName.Duplicate`, or found by
 * the DescribeImages look-up before registering): a different bundle already carries this name.
 * Permanent: deregister that image or choose another name.
 */
export class AmiNameTakenError extends BundlefarmError {
  static readonly code = 'BF_AMI_NAME_TAKEN';
  constructor(name: string, holder: { imageId?: string; imageLocation?: string } = {}, options: Ec2ErrorOptions = {}) {
    const { region, ...rest } = options;
    const by = holder.imageId !== undefined ? ` by ${holder.imageId}${holder.imageLocation !== undefined ? ` (${holder.imageLocation})` : ''}` : '';
    super(
      AmiNameTakenError.code,
      `AMI name ${JSON.stringify(name)} is already in use${by}${inRegion(region)}; deregister that image or choose another name`,
      false,
      { ...rest, details: { ...rest.details, name, region, imageId: holder.imageId, imageLocation: holder.imageLocation } },
    );
  }
}

/** The AMI name breaks EC2's rules (3–128 characters of letters, digits and `()[] ./-'@_`). */
export class AmiNameInvalidError extends BundlefarmError {
  static readonly code = 'BF_AMI_NAME_INVALID';
  constructor(name: string, reason: string, options: Ec2ErrorOptions = {}) {
    const { region, ...rest } = options;
    super(AmiNameInvalidError.code, `AMI name ${JSON.stringify(name)} is not valid: ${reason}`, false, {
      ...rest,
      details: { ...rest.details, name, reason, region },
    });
  }
}

/** EC2 refused the manifest (`InvalidManifest`): missing, unreadable by EC2, not a bundle manifest, or in another region. */
export class Ec2ManifestInvalidError extends BundlefarmError {
  static readonly code = 'BF_EC2_MANIFEST_INVALID';
  constructor(location: string, reason: string, options: Ec2ErrorOptions = {}) {
    const { region, ...rest } = options;
    super(Ec2ManifestInvalidError.code, `EC2${inRegion(region)} cannot register ${location}: ${reason}`, false, {
      ...rest,
      details: { ...rest.details, location, reason, region },
    });
  }
}

/** No such image, or not one of this account (`InvalidAMIID.NotFound` / `.Unavailable` / `.Malformed`). */
export class AmiNotFoundError extends BundlefarmError {
  static readonly code = 'BF_AMI_NOT_FOUND';
  constructor(imageId: string, reason: string, options: Ec2ErrorOptions = {}) {
    const { region, ...rest } = options;
    super(AmiNotFoundError.code, `AMI ${imageId}${inRegion(region)}: ${reason}`, false, {
      ...rest,
      details: { ...rest.details, imageId, reason, region },
    });
  }
}

/** The credentials may not call EC2, or are invalid or expired (`AuthFailure`, `UnauthorizedOperation` …). */
export class Ec2AccessDeniedError extends BundlefarmError {
  static readonly code = 'BF_EC2_ACCESS_DENIED';
  constructor(operation: string, ec2Code: string, options: Ec2ErrorOptions = {}) {
    const { region, ...rest } = options;
    super(
      Ec2AccessDeniedError.code,
      `access denied: EC2 refused ${operation}${inRegion(region)} (${ec2Code}); check the credentials and their IAM policy`,
      false,
      { ...rest, details: { ...rest.details, operation, ec2Code, region } },
    );
  }
}

/** 5xx, throttling, timeouts, dropped connections: EC2 may answer later. */
export class Ec2UnavailableError extends BundlefarmError {
  static readonly code = 'BF_EC2_UNAVAILABLE';
  constructor(operation: string, reason: string, options: Ec2ErrorOptions = {}) {
    const { region, ...rest } = options;
    super(Ec2UnavailableError.code, `EC2 is unavailable: ${operation}${inRegion(region)} failed: ${reason}`, true, {
      ...rest,
      details: { ...rest.details, operation, reason, region },
    });
  }
}

/** Any other refusal (`InvalidParameterValue`, `InvalidAKIID.NotFound` …): the same request fails the same way. */
export class Ec2RequestFailedError extends BundlefarmError {
  static readonly code = 'BF_EC2_REQUEST_FAILED';
  constructor(operation: string, reason: string, options: Ec2ErrorOptions = {}) {
    const { region, ...rest } = options;
    super(Ec2RequestFailedError.code, `${operation}${inRegion(region)} failed: ${reason}`, false, {
      ...rest,
      details: { ...rest.details, operation, reason, region },
    });
  }
}
