/* Errors of the uploads API (POST /v1/uploads …); statuses in errors/status-registry.ts. */
import { BundlefarmError, type BundlefarmErrorOptions } from '@bundlefarm/errors';

/** No upload of this id for this principal (never made, another principal's, or forgotten after the replay TTL). */
export class UploadNotFoundError extends BundlefarmError {
  static readonly code = 'BF_UPLOAD_NOT_FOUND';
  constructor(id: string, options: BundlefarmErrorOptions = {}) {
    super(UploadNotFoundError.code, `upload ${JSON.stringify(id)} does not exist (or belongs to another principal); start a new one with POST /v1/uploads`, false, {
      ...options,
      details: { ...options.details, id },
    });
  }
}

/** Completion asked for while parts are missing or differ from what the client says it sent. */
export class UploadIncompleteError extends BundlefarmError {
  static readonly code = 'BF_UPLOAD_INCOMPLETE';
  constructor(id: string, reason: string, options: BundlefarmErrorOptions = {}) {
    super(UploadIncompleteError.code, `upload ${JSON.stringify(id)} is not complete: ${reason}; GET /v1/uploads/${id} lists what to send`, false, {
      ...options,
      details: { ...options.details, id },
    });
  }
}

/** The API has no staging area (BUNDLEFARM_STAGING). */
export class StagingNotConfiguredError extends BundlefarmError {
  static readonly code = 'BF_STAGING_NOT_CONFIGURED';
  constructor(options: BundlefarmErrorOptions = {}) {
    super(StagingNotConfiguredError.code, 'this API takes no uploads: it has no staging area (BUNDLEFARM_STAGING=s3://BUCKET/PREFIX)', false, options);
  }
}
