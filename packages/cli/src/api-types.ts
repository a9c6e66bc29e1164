/*
 * The bundlefarm API's wire format as TypeScript types, GENERATED from the server's OpenAPI document
 * (GET /openapi.json) by openapi-typescript: do not edit; run `npm run api-types` (scripts/api-types.ts).
 * test/service/openapi.test.ts fails when this file is not what the document gives now.
 */
/* eslint-disable */
export interface paths {
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness: the process answers (Redis not involved) */
        get: operations["getHealth"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness: Redis answers PING */
        get: operations["getReadiness"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus metrics */
        get: operations["getMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/bundles": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List bundle jobs
         * @description The jobs the caller's principal may see (its own, or every job with canSeeOthers), newest first, a page at a time: pass the answer's nextCursor as ?cursor= for the next page. A job a user cancelled while it ran is in state cancelled, not failed.
         */
        get: operations["listBundles"];
        put?: never;
        /**
         * Enqueue a bundle job
         * @description Validates the job spec (every problem is reported), checks the image where its size can be known (at most 10 GiB), and queues the job. With an Idempotency-Key header the job id is made from the key and the caller's principal (`p<length of the name>-<name>-<key>`): repeating the request returns the same job (200) instead of making another; another principal's use of the same key is a job of its own, never seen here.
         */
        post: operations["enqueueBundle"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/bundles/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A bundle job's state, progress and result */
        get: operations["getBundle"];
        put?: never;
        post?: never;
        /**
         * Cancel a bundle job
         * @description A job that has not started is removed (200). A running job is cancelled (202): the worker running it stops and removes what it uploaded. Finished jobs: 409.
         */
        delete: operations["cancelBundle"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/bundles/{id}/logs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A bundle job's log
         * @description What its workers noted (attempts, preflight, bundling, each region published, the failure), oldest first; ?offset=N skips the first N lines (pass `next` to follow).
         */
        get: operations["getBundleLogs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/bundles/{id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Retry a failed or cancelled bundle job
         * @description Runs a failed or cancelled job again with fresh attempts (also a completed job one of whose regions failed). Regions already published are not redone. Any other job: 409 BF_JOB_STATE_CONFLICT naming its state; a job whose data is not a job of this service: 422 BF_JOB_DATA_INVALID.
         */
        post: operations["retryBundle"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/queue": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Job counts per state */
        get: operations["getQueueCounts"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/uploads": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Start an image upload into the staging area
         * @description Answers presigned S3 URLs for an object at PREFIX/<principal>/<id>/<filename> of the staging area (BUNDLEFARM_STAGING), which must be inside the principal's image scope (else 403, field image). Up to 64 MiB: one PUT URL; larger: a multipart upload in parts of 16 MiB (more above 156 GiB). Send each part with Content-MD5, then POST the ETags to completeUrl, and enqueue a job with `image`. The object is deleted by the worker when that job ends.
         */
        post: operations["createUpload"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/uploads/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** An upload: parts stored, fresh URLs for the others (resume) */
        get: operations["getUpload"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/uploads/{id}/complete": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Complete an upload
         * @description Checks that every part is stored with the ETag given, completes the multipart upload, and answers the image to enqueue with. Repeating it answers the same.
         */
        post: operations["completeUpload"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/hooks/github": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * GitHub webhook (push, release, workflow_run …)
         * @description Authenticated by X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the hook secret). The job id is derived from X-GitHub-Delivery. Requests without a well-formed signature, event and delivery header are refused before the body is read.
         */
        post: operations["receiveGithubWebhook"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/hooks/gitlab": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * GitLab webhook (push, tag_push, pipeline, merge_request, release …)
         * @description Authenticated by X-Gitlab-Token (the hook secret token). The job id is derived from X-Gitlab-Event-UUID (or Idempotency-Key).
         */
        post: operations["receiveGitlabWebhook"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** @description Every error of the API. `error` is a stable code (docs/errors.md); match on it, never on `message`. */
        Error: {
            /**
             * @description Stable error code, BF_…
             * @example BF_BAD_SPEC
             */
            error: string;
            /** @description One line, for people */
            message: string;
            /** @description Every problem of a spec (BF_BAD_SPEC, BF_OUT_OF_SCOPE, BF_RULE_SPEC_INVALID) */
            problems?: {
                path: string;
                message: string;
            }[];
            details?: {
                [key: string]: string | number | boolean | null;
            };
        };
        Health: {
            /** @enum {boolean} */
            ok: true;
        };
        Readiness: {
            ok: boolean;
            /** @enum {string} */
            redis: "up" | "down";
        };
        JobSpec: {
            name?: string;
            image: string;
            filesystem?: {
                /** @enum {string} */
                from: "tree" | "tarball";
                sizeMiB?: number;
                label?: string;
                /**
                 * @default none
                 * @enum {string}
                 */
                partition?: "none" | "mbr" | "gpt";
                /**
                 * @default keep
                 * @enum {string}
                 */
                fstab?: "keep" | "generate";
            };
            /** @enum {string} */
            architecture: "i386" | "x86_64";
            accountId: string;
            identity: string;
            regions: {
                /** @enum {string} */
                region: "us-east-1" | "us-east-2" | "us-west-1" | "us-west-2" | "af-south-1" | "ap-east-1" | "ap-east-2" | "ap-south-1" | "ap-south-2" | "ap-northeast-1" | "ap-northeast-2" | "ap-northeast-3" | "ap-southeast-1" | "ap-southeast-2" | "ap-southeast-3" | "ap-southeast-4" | "ap-southeast-5" | "ap-southeast-6" | "ap-southeast-7" | "ca-central-1" | "ca-west-1" | "eu-central-1" | "eu-central-2" | "eu-west-1" | "eu-west-2" | "eu-west-3" | "eu-south-1" | "eu-south-2" | "eu-north-1" | "il-central-1" | "me-south-1" | "me-central-1" | "mx-central-1" | "sa-east-1" | "us-gov-west-1" | "cn-north-1";
                bucket: string;
                /** @default  */
                prefix?: string;
                kernelId?: string;
                ramdiskId?: string;
                register?: {
                    name: string;
                    description?: string;
                    /** @enum {string} */
                    virtualizationType?: "paravirtual" | "hvm";
                    /** @enum {string} */
                    architecture?: "i386" | "x86_64";
                    blockDeviceMappings?: {
                        virtual: string;
                        device: string;
                    }[];
                };
            }[];
            blockDeviceMapping?: {
                virtual: string;
                device: string;
            }[];
            productCodes?: string[];
            level?: number;
            threads?: number;
            /** @default false */
            replace?: boolean;
        };
        EnqueuedJob: {
            id: string;
            name: string;
            created: boolean;
            statusUrl: string;
        };
        BundleList: {
            /** @description newest first; only jobs the caller may see */
            jobs: {
                id: string;
                name: string;
                /**
                 * @description cancelled: stopped by a user while it ran (never counted as failed)
                 * @enum {string}
                 */
                state: "waiting" | "delayed" | "prioritized" | "waiting-children" | "active" | "completed" | "failed" | "cancelled" | "unknown";
                finished: boolean;
                source: string;
                principal?: string;
                /** @description the spec's regions, in its order */
                regions: string[];
                percent: number | null;
                stage: ("queued" | "preflight" | "building-filesystem" | "bundling" | "uploading" | "publishing" | "done") | null;
                /** @description why it failed or was cancelled; BF_JOB_DATA_INVALID for a job whose stored data is not a job of this service */
                error: {
                    code: string;
                    message: string;
                } | null;
                createdAt: string;
                finishedAt: string | null;
            }[];
            /** @description pass as ?cursor= for the next page; null on the last */
            nextCursor: string | null;
        };
        BundleStatus: {
            id: string;
            name: string;
            /**
             * @description cancelled: stopped by a user while it ran (never counted as failed)
             * @enum {string}
             */
            state: "waiting" | "delayed" | "prioritized" | "waiting-children" | "active" | "completed" | "failed" | "cancelled" | "unknown";
            finished: boolean;
            source: string;
            delivery?: string;
            principal?: string;
            spec: {
                name?: string;
                image: string;
                filesystem?: {
                    /** @enum {string} */
                    from: "tree" | "tarball";
                    sizeMiB?: number;
                    label?: string;
                    /**
                     * @default none
                     * @enum {string}
                     */
                    partition: "none" | "mbr" | "gpt";
                    /**
                     * @default keep
                     * @enum {string}
                     */
                    fstab: "keep" | "generate";
                };
                /** @enum {string} */
                architecture: "i386" | "x86_64";
                accountId: string;
                identity: string;
                regions: {
                    region: string;
                    bucket: string;
                    /** @default  */
                    prefix: string;
                    kernelId?: string;
                    ramdiskId?: string;
                    register?: {
                        name: string;
                        description?: string;
                        /** @enum {string} */
                        virtualizationType?: "paravirtual" | "hvm";
                        /** @enum {string} */
                        architecture?: "i386" | "x86_64";
                        blockDeviceMappings?: {
                            virtual: string;
                            device: string;
                        }[];
                    };
                }[];
                blockDeviceMapping?: {
                    virtual: string;
                    device: string;
                }[];
                productCodes?: string[];
                level?: number;
                threads?: number;
                /** @default false */
                replace: boolean;
            };
            progress: {
                /** @enum {string} */
                stage: "queued" | "preflight" | "building-filesystem" | "bundling" | "uploading" | "publishing" | "done";
                percent: number;
                bytesIn: number;
                totalIn: number;
                bytesOut: number;
                partsDone: number;
                partsTotal?: number;
                regions: {
                    [key: string]: {
                        /** @enum {string} */
                        stage: "pending" | "uploading" | "published" | "failed" | "skipped";
                        partsDone: number;
                    };
                };
                /** @description jobs with "filesystem": where the build of the ext4 image from the tree or tarball is */
                filesystem?: {
                    /** @enum {string} */
                    phase: "scanning" | "writing" | "finishing" | "done";
                    entries: number;
                    fileBytes: number;
                };
            } | null;
            result: {
                name: string;
                digest: string;
                size: number;
                bundledSize: number;
                parts: number;
                seconds: number;
                regions: {
                    [key: string]: {
                        region: string;
                        bucket: string;
                        manifestKey?: string;
                        partKeys?: string[];
                        error?: {
                            code: string;
                            message: string;
                            transient: boolean;
                            details: {
                                [key: string]: string | number | boolean | null | unknown;
                            };
                        };
                        replaced?: {
                            /** @description s3:// URL of its manifest, withdrawn just before the first part of the new bundle went there */
                            manifest: string;
                            /** @description the job that had published it (absent: not bundlefarm) */
                            owner?: string;
                            /** @description s3:// URLs of the parts its manifest named */
                            parts?: string[];
                            /** @description s3:// URLs of its objects the job removed: the manifest, and parts deleted or overwritten */
                            removed: string[];
                        };
                        /** @description the AMI the bundle is registered as (targets with register) */
                        imageId?: string;
                        /** @description the AMI name */
                        imageName?: string;
                    };
                };
                uploadRetries: number;
                /**
                 * @description the job had completed before (a retry of a completed job); metrics did not count it again
                 * @enum {boolean}
                 */
                repeated?: true;
            } | null;
            error: {
                code: string;
                message: string;
            } | null;
            attempts: {
                made: number;
                started: number;
                max: number;
            };
            regions: {
                region: string;
                bucket: string;
                prefix: string;
                /** @enum {string} */
                stage: "pending" | "uploading" | "published" | "failed" | "skipped";
                partsDone: number;
                manifestKey?: string;
                partKeys?: string[];
                error?: {
                    code: string;
                    message: string;
                    transient: boolean;
                    details: {
                        [key: string]: string | number | boolean | null | unknown;
                    };
                };
                replaced?: {
                    /** @description s3:// URL of its manifest, withdrawn just before the first part of the new bundle went there */
                    manifest: string;
                    /** @description the job that had published it (absent: not bundlefarm) */
                    owner?: string;
                    /** @description s3:// URLs of the parts its manifest named */
                    parts?: string[];
                    /** @description s3:// URLs of its objects the job removed: the manifest, and parts deleted or overwritten */
                    removed: string[];
                };
                /** @description the AMI the bundle is registered as (targets with register), once registered */
                imageId?: string;
                imageName?: string;
            }[];
            createdAt: string;
            startedAt: string | null;
            finishedAt: string | null;
        };
        CancelResult: {
            id: string;
            /** @enum {string} */
            outcome: "removed" | "cancelling";
            /**
             * @description cancelled: stopped by a user while it ran (never counted as failed)
             * @enum {string}
             */
            previousState: "waiting" | "delayed" | "prioritized" | "waiting-children" | "active" | "completed" | "failed" | "cancelled" | "unknown";
        };
        BundleLogs: {
            id: string;
            /** @description what the workers noted, oldest first, from ?offset= on */
            lines: string[];
            /** @description pass as ?offset= to get only newer lines */
            next: number;
            total: number;
            /**
             * @description cancelled: stopped by a user while it ran (never counted as failed)
             * @enum {string}
             */
            state: "waiting" | "delayed" | "prioritized" | "waiting-children" | "active" | "completed" | "failed" | "cancelled" | "unknown";
            finished: boolean;
        };
        RetryResult: {
            id: string;
            /**
             * @description cancelled: stopped by a user while it ran (never counted as failed)
             * @enum {string}
             */
            state: "waiting" | "delayed" | "prioritized" | "waiting-children" | "active" | "completed" | "failed" | "cancelled" | "unknown";
            keptRegions: string[];
        };
        QueueCounts: {
            queue: string;
            counts: {
                waiting: number;
                active: number;
                delayed: number;
                prioritized: number;
                "waiting-children": number;
                completed: number;
                /** @description failed jobs, not counting the cancelled ones */
                failed: number;
                /** @description jobs a user cancelled while they ran */
                cancelled: number;
            };
        };
        UploadRequest: {
            filename: string;
            size: number;
        };
        Upload: {
            /** @description upload id (a UUID) */
            id: string;
            /** @description the job image once complete: s3://BUCKET/PREFIX/<principal>/<id>/<filename> */
            image: string;
            filename: string;
            size: number;
            /** @description false: one PUT (part 1 of 1); true: a multipart upload */
            multipart: boolean;
            partSize: number;
            /** @description the object is complete: nothing left to send */
            completed: boolean;
            /** @description when the URLs stop working (GET the upload again for fresh ones) */
            expiresAt: string;
            parts: {
                partNumber: number;
                /** @description bytes of the image in this part: from (partNumber - 1) * partSize */
                size: number;
                /** @description the part is stored already, with this ETag (the MD5 of its bytes): not to be sent again */
                etag?: string;
                /** @description presigned URL to PUT the bytes to (send Content-MD5; no Authorization header) */
                url?: string;
            }[];
            /** @description POST { parts: [{ partNumber, etag }] } here once every part is sent */
            completeUrl: string;
        };
        UploadCompletion: {
            parts: {
                partNumber: number;
                etag: string;
            }[];
        };
        CompletedUpload: {
            id: string;
            /** @description s3:// URL to enqueue the job with */
            image: string;
            size: number;
        };
        WebhookResult: {
            id: string;
            name: string;
            created: boolean;
            statusUrl: string;
            rule: string;
        } | {
            /** @enum {boolean} */
            ignored: true;
            reason: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    getHealth: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
        };
    };
    getReadiness: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Readiness"];
                };
            };
            /** @description HTTP 503 */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Readiness"];
                };
            };
        };
    };
    getMetrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    listBundles: {
        parameters: {
            query?: {
                /** @description comma-separated states to list (waiting, delayed, prioritized, waiting-children, active, completed, failed, cancelled); default all */
                state?: string;
                /** @description jobs per page, 1-100 */
                limit?: number;
                /** @description nextCursor of the previous page */
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BundleList"];
                };
            };
            /** @description Error: BF_IMAGE_TOO_LARGE, BF_IMAGE_EMPTY, BF_FILE_UNREADABLE, BF_UNSAFE_PATH, BF_BAD_ACCOUNT, BF_BAD_ARCH, BF_BAD_NAME, BF_BAD_OPTION, BF_UNKNOWN_REGION, BF_BAD_KEY, BF_BAD_CERT, BF_WEAK_KEY, BF_CERT_KEY_MISMATCH, BF_MANIFEST_MALFORMED, BF_SIGNATURE_INVALID, BF_WRONG_KEY, BF_PART_MISSING, BF_PART_TAMPERED, BF_ARCHIVE_INVALID, BF_FS_FULL, BF_TARBALL_INVALID, BF_TREE_UNREADABLE, BF_ENTRY_UNSUPPORTED, BF_S3_ACL_NOT_SUPPORTED, BF_S3_BUCKET_NOT_FOUND, BF_S3_OBJECT_NOT_FOUND, BF_S3_OBJECT_TOO_LARGE, BF_S3_REGION_MISMATCH, BF_AMI_NAME_INVALID, BF_EC2_MANIFEST_INVALID, BF_BAD_SPEC, BF_BAD_CURSOR, BF_BAD_REQUEST, BF_BAD_JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_IMAGE_TOO_LARGE",
                     *       "message": "the image is over the 10 GiB that EC2 accepts for an instance-store bundle"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_UNAUTHORIZED */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_UNAUTHORIZED",
                     *       "message": "no valid token, webhook signature or webhook token"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_SCRATCH_FULL, BF_S3_UNAVAILABLE, BF_EC2_UNAVAILABLE, BF_QUEUE_UNAVAILABLE, BF_BUSY */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_SCRATCH_FULL",
                     *       "message": "the scratch space for building the filesystem is too small for this job now"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    enqueueBundle: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the job id (with the caller's principal); a repeated key returns the existing job */
                "idempotency-key"?: string;
                /** @description Who enqueues (default api; e.g. cli) */
                "x-bundlefarm-source"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "debian-12",
                 *       "image": "s3://ci-images/debian-12.img",
                 *       "architecture": "x86_64",
                 *       "accountId": "123456789012",
                 *       "identity": "release",
                 *       "regions": [
                 *         {
                 *           "region": "us-east-1",
                 *           "bucket": "my-amis",
                 *           "prefix": "debian/12/"
                 *         },
                 *         {
                 *           "region": "eu-west-1",
                 *           "bucket": "my-amis-eu",
                 *           "prefix": "debian/12/"
                 *         }
                 *       ]
                 *     }
                 */
                "application/json": components["schemas"]["JobSpec"];
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EnqueuedJob"];
                };
            };
            /** @description Accepted */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EnqueuedJob"];
                };
            };
            /** @description Error: BF_IMAGE_TOO_LARGE, BF_IMAGE_EMPTY, BF_FILE_UNREADABLE, BF_UNSAFE_PATH, BF_BAD_ACCOUNT, BF_BAD_ARCH, BF_BAD_NAME, BF_BAD_OPTION, BF_UNKNOWN_REGION, BF_BAD_KEY, BF_BAD_CERT, BF_WEAK_KEY, BF_CERT_KEY_MISMATCH, BF_MANIFEST_MALFORMED, BF_SIGNATURE_INVALID, BF_WRONG_KEY, BF_PART_MISSING, BF_PART_TAMPERED, BF_ARCHIVE_INVALID, BF_FS_FULL, BF_TARBALL_INVALID, BF_TREE_UNREADABLE, BF_ENTRY_UNSUPPORTED, BF_S3_ACL_NOT_SUPPORTED, BF_S3_BUCKET_NOT_FOUND, BF_S3_OBJECT_NOT_FOUND, BF_S3_OBJECT_TOO_LARGE, BF_S3_REGION_MISMATCH, BF_AMI_NAME_INVALID, BF_EC2_MANIFEST_INVALID, BF_BAD_SPEC, BF_BAD_CURSOR, BF_BAD_REQUEST, BF_BAD_JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_IMAGE_TOO_LARGE",
                     *       "message": "the image is over the 10 GiB that EC2 accepts for an instance-store bundle"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_UNAUTHORIZED */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_UNAUTHORIZED",
                     *       "message": "no valid token, webhook signature or webhook token"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_S3_ACCESS_DENIED, BF_EC2_ACCESS_DENIED, BF_OUT_OF_SCOPE, BF_FORBIDDEN */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_S3_ACCESS_DENIED",
                     *       "message": "S3 refused these credentials for the bucket or object named"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_AMI_NAME_TAKEN, BF_JOB_STATE_CONFLICT, BF_CANCELLED, BF_BUNDLE_EXISTS, BF_IDEMPOTENCY_CONFLICT, BF_WEBHOOK_REPLAYED, BF_UPLOAD_INCOMPLETE */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_AMI_NAME_TAKEN",
                     *       "message": "another image of the account (from another manifest) already has this AMI name in the region"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_BODY_TOO_LARGE */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_BODY_TOO_LARGE",
                     *       "message": "the request body is over the configured limit"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_UNSUPPORTED_MEDIA_TYPE */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_UNSUPPORTED_MEDIA_TYPE",
                     *       "message": "the body is not JSON"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_SCRATCH_FULL, BF_S3_UNAVAILABLE, BF_EC2_UNAVAILABLE, BF_QUEUE_UNAVAILABLE, BF_BUSY */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_SCRATCH_FULL",
                     *       "message": "the scratch space for building the filesystem is too small for this job now"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getBundle: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description job id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BundleStatus"];
                };
            };
            /** @description Error: BF_UNAUTHORIZED */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_UNAUTHORIZED",
                     *       "message": "no valid token, webhook signature or webhook token"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_JOB_NOT_FOUND, BF_NOT_FOUND, BF_UPLOAD_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_JOB_NOT_FOUND",
                     *       "message": "no such job, or one the caller may not see"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_JOB_DATA_INVALID, BF_RULE_SPEC_INVALID */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_JOB_DATA_INVALID",
                     *       "message": "the job’s data in Redis is not a job of this service (e.g. added by hand): it cannot be reported or retried"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_SCRATCH_FULL, BF_S3_UNAVAILABLE, BF_EC2_UNAVAILABLE, BF_QUEUE_UNAVAILABLE, BF_BUSY */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_SCRATCH_FULL",
                     *       "message": "the scratch space for building the filesystem is too small for this job now"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    cancelBundle: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description job id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CancelResult"];
                };
            };
            /** @description Accepted */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CancelResult"];
                };
            };
            /** @description Error: BF_UNAUTHORIZED */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_UNAUTHORIZED",
                     *       "message": "no valid token, webhook signature or webhook token"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_S3_ACCESS_DENIED, BF_EC2_ACCESS_DENIED, BF_OUT_OF_SCOPE, BF_FORBIDDEN */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_S3_ACCESS_DENIED",
                     *       "message": "S3 refused these credentials for the bucket or object named"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_JOB_NOT_FOUND, BF_NOT_FOUND, BF_UPLOAD_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_JOB_NOT_FOUND",
                     *       "message": "no such job, or one the caller may not see"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_AMI_NAME_TAKEN, BF_JOB_STATE_CONFLICT, BF_CANCELLED, BF_BUNDLE_EXISTS, BF_IDEMPOTENCY_CONFLICT, BF_WEBHOOK_REPLAYED, BF_UPLOAD_INCOMPLETE */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_AMI_NAME_TAKEN",
                     *       "message": "another image of the account (from another manifest) already has this AMI name in the region"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_SCRATCH_FULL, BF_S3_UNAVAILABLE, BF_EC2_UNAVAILABLE, BF_QUEUE_UNAVAILABLE, BF_BUSY */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_SCRATCH_FULL",
                     *       "message": "the scratch space for building the filesystem is too small for this job now"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getBundleLogs: {
        parameters: {
            query?: {
                /** @description first line to return (default 0) */
                offset?: number;
            };
            header?: never;
            path: {
                /** @description job id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BundleLogs"];
                };
            };
            /** @description Error: BF_IMAGE_TOO_LARGE, BF_IMAGE_EMPTY, BF_FILE_UNREADABLE, BF_UNSAFE_PATH, BF_BAD_ACCOUNT, BF_BAD_ARCH, BF_BAD_NAME, BF_BAD_OPTION, BF_UNKNOWN_REGION, BF_BAD_KEY, BF_BAD_CERT, BF_WEAK_KEY, BF_CERT_KEY_MISMATCH, BF_MANIFEST_MALFORMED, BF_SIGNATURE_INVALID, BF_WRONG_KEY, BF_PART_MISSING, BF_PART_TAMPERED, BF_ARCHIVE_INVALID, BF_FS_FULL, BF_TARBALL_INVALID, BF_TREE_UNREADABLE, BF_ENTRY_UNSUPPORTED, BF_S3_ACL_NOT_SUPPORTED, BF_S3_BUCKET_NOT_FOUND, BF_S3_OBJECT_NOT_FOUND, BF_S3_OBJECT_TOO_LARGE, BF_S3_REGION_MISMATCH, BF_AMI_NAME_INVALID, BF_EC2_MANIFEST_INVALID, BF_BAD_SPEC, BF_BAD_CURSOR, BF_BAD_REQUEST, BF_BAD_JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_IMAGE_TOO_LARGE",
                     *       "message": "the image is over the 10 GiB that EC2 accepts for an instance-store bundle"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_UNAUTHORIZED */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_UNAUTHORIZED",
                     *       "message": "no valid token, webhook signature or webhook token"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_JOB_NOT_FOUND, BF_NOT_FOUND, BF_UPLOAD_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_JOB_NOT_FOUND",
                     *       "message": "no such job, or one the caller may not see"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_SCRATCH_FULL, BF_S3_UNAVAILABLE, BF_EC2_UNAVAILABLE, BF_QUEUE_UNAVAILABLE, BF_BUSY */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_SCRATCH_FULL",
                     *       "message": "the scratch space for building the filesystem is too small for this job now"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    retryBundle: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description job id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Accepted */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RetryResult"];
                };
            };
            /** @description Error: BF_UNAUTHORIZED */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_UNAUTHORIZED",
                     *       "message": "no valid token, webhook signature or webhook token"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_S3_ACCESS_DENIED, BF_EC2_ACCESS_DENIED, BF_OUT_OF_SCOPE, BF_FORBIDDEN */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_S3_ACCESS_DENIED",
                     *       "message": "S3 refused these credentials for the bucket or object named"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_JOB_NOT_FOUND, BF_NOT_FOUND, BF_UPLOAD_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_JOB_NOT_FOUND",
                     *       "message": "no such job, or one the caller may not see"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_AMI_NAME_TAKEN, BF_JOB_STATE_CONFLICT, BF_CANCELLED, BF_BUNDLE_EXISTS, BF_IDEMPOTENCY_CONFLICT, BF_WEBHOOK_REPLAYED, BF_UPLOAD_INCOMPLETE */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_AMI_NAME_TAKEN",
                     *       "message": "another image of the account (from another manifest) already has this AMI name in the region"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_JOB_DATA_INVALID, BF_RULE_SPEC_INVALID */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_JOB_DATA_INVALID",
                     *       "message": "the job’s data in Redis is not a job of this service (e.g. added by hand): it cannot be reported or retried"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_SCRATCH_FULL, BF_S3_UNAVAILABLE, BF_EC2_UNAVAILABLE, BF_QUEUE_UNAVAILABLE, BF_BUSY */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_SCRATCH_FULL",
                     *       "message": "the scratch space for building the filesystem is too small for this job now"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getQueueCounts: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["QueueCounts"];
                };
            };
            /** @description Error: BF_UNAUTHORIZED */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_UNAUTHORIZED",
                     *       "message": "no valid token, webhook signature or webhook token"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_SCRATCH_FULL, BF_S3_UNAVAILABLE, BF_EC2_UNAVAILABLE, BF_QUEUE_UNAVAILABLE, BF_BUSY */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_SCRATCH_FULL",
                     *       "message": "the scratch space for building the filesystem is too small for this job now"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createUpload: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UploadRequest"];
            };
        };
        responses: {
            /** @description Created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Upload"];
                };
            };
            /** @description Error: BF_IMAGE_TOO_LARGE, BF_IMAGE_EMPTY, BF_FILE_UNREADABLE, BF_UNSAFE_PATH, BF_BAD_ACCOUNT, BF_BAD_ARCH, BF_BAD_NAME, BF_BAD_OPTION, BF_UNKNOWN_REGION, BF_BAD_KEY, BF_BAD_CERT, BF_WEAK_KEY, BF_CERT_KEY_MISMATCH, BF_MANIFEST_MALFORMED, BF_SIGNATURE_INVALID, BF_WRONG_KEY, BF_PART_MISSING, BF_PART_TAMPERED, BF_ARCHIVE_INVALID, BF_FS_FULL, BF_TARBALL_INVALID, BF_TREE_UNREADABLE, BF_ENTRY_UNSUPPORTED, BF_S3_ACL_NOT_SUPPORTED, BF_S3_BUCKET_NOT_FOUND, BF_S3_OBJECT_NOT_FOUND, BF_S3_OBJECT_TOO_LARGE, BF_S3_REGION_MISMATCH, BF_AMI_NAME_INVALID, BF_EC2_MANIFEST_INVALID, BF_BAD_SPEC, BF_BAD_CURSOR, BF_BAD_REQUEST, BF_BAD_JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_IMAGE_TOO_LARGE",
                     *       "message": "the image is over the 10 GiB that EC2 accepts for an instance-store bundle"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_UNAUTHORIZED */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_UNAUTHORIZED",
                     *       "message": "no valid token, webhook signature or webhook token"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_S3_ACCESS_DENIED, BF_EC2_ACCESS_DENIED, BF_OUT_OF_SCOPE, BF_FORBIDDEN */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_S3_ACCESS_DENIED",
                     *       "message": "S3 refused these credentials for the bucket or object named"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_STAGING_NOT_CONFIGURED */
            501: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_STAGING_NOT_CONFIGURED",
                     *       "message": "the API takes no uploads: it has no staging area (BUNDLEFARM_STAGING)"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_SCRATCH_FULL, BF_S3_UNAVAILABLE, BF_EC2_UNAVAILABLE, BF_QUEUE_UNAVAILABLE, BF_BUSY */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_SCRATCH_FULL",
                     *       "message": "the scratch space for building the filesystem is too small for this job now"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getUpload: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description upload id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Upload"];
                };
            };
            /** @description Error: BF_UNAUTHORIZED */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_UNAUTHORIZED",
                     *       "message": "no valid token, webhook signature or webhook token"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_JOB_NOT_FOUND, BF_NOT_FOUND, BF_UPLOAD_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_JOB_NOT_FOUND",
                     *       "message": "no such job, or one the caller may not see"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_STAGING_NOT_CONFIGURED */
            501: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_STAGING_NOT_CONFIGURED",
                     *       "message": "the API takes no uploads: it has no staging area (BUNDLEFARM_STAGING)"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_SCRATCH_FULL, BF_S3_UNAVAILABLE, BF_EC2_UNAVAILABLE, BF_QUEUE_UNAVAILABLE, BF_BUSY */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_SCRATCH_FULL",
                     *       "message": "the scratch space for building the filesystem is too small for this job now"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    completeUpload: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description upload id */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UploadCompletion"];
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CompletedUpload"];
                };
            };
            /** @description Error: BF_IMAGE_TOO_LARGE, BF_IMAGE_EMPTY, BF_FILE_UNREADABLE, BF_UNSAFE_PATH, BF_BAD_ACCOUNT, BF_BAD_ARCH, BF_BAD_NAME, BF_BAD_OPTION, BF_UNKNOWN_REGION, BF_BAD_KEY, BF_BAD_CERT, BF_WEAK_KEY, BF_CERT_KEY_MISMATCH, BF_MANIFEST_MALFORMED, BF_SIGNATURE_INVALID, BF_WRONG_KEY, BF_PART_MISSING, BF_PART_TAMPERED, BF_ARCHIVE_INVALID, BF_FS_FULL, BF_TARBALL_INVALID, BF_TREE_UNREADABLE, BF_ENTRY_UNSUPPORTED, BF_S3_ACL_NOT_SUPPORTED, BF_S3_BUCKET_NOT_FOUND, BF_S3_OBJECT_NOT_FOUND, BF_S3_OBJECT_TOO_LARGE, BF_S3_REGION_MISMATCH, BF_AMI_NAME_INVALID, BF_EC2_MANIFEST_INVALID, BF_BAD_SPEC, BF_BAD_CURSOR, BF_BAD_REQUEST, BF_BAD_JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_IMAGE_TOO_LARGE",
                     *       "message": "the image is over the 10 GiB that EC2 accepts for an instance-store bundle"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_UNAUTHORIZED */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_UNAUTHORIZED",
                     *       "message": "no valid token, webhook signature or webhook token"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_JOB_NOT_FOUND, BF_NOT_FOUND, BF_UPLOAD_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_JOB_NOT_FOUND",
                     *       "message": "no such job, or one the caller may not see"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_AMI_NAME_TAKEN, BF_JOB_STATE_CONFLICT, BF_CANCELLED, BF_BUNDLE_EXISTS, BF_IDEMPOTENCY_CONFLICT, BF_WEBHOOK_REPLAYED, BF_UPLOAD_INCOMPLETE */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_AMI_NAME_TAKEN",
                     *       "message": "another image of the account (from another manifest) already has this AMI name in the region"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_STAGING_NOT_CONFIGURED */
            501: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_STAGING_NOT_CONFIGURED",
                     *       "message": "the API takes no uploads: it has no staging area (BUNDLEFARM_STAGING)"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_SCRATCH_FULL, BF_S3_UNAVAILABLE, BF_EC2_UNAVAILABLE, BF_QUEUE_UNAVAILABLE, BF_BUSY */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_SCRATCH_FULL",
                     *       "message": "the scratch space for building the filesystem is too small for this job now"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    receiveGithubWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookResult"];
                };
            };
            /** @description Accepted */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookResult"];
                };
            };
            /** @description Error: BF_IMAGE_TOO_LARGE, BF_IMAGE_EMPTY, BF_FILE_UNREADABLE, BF_UNSAFE_PATH, BF_BAD_ACCOUNT, BF_BAD_ARCH, BF_BAD_NAME, BF_BAD_OPTION, BF_UNKNOWN_REGION, BF_BAD_KEY, BF_BAD_CERT, BF_WEAK_KEY, BF_CERT_KEY_MISMATCH, BF_MANIFEST_MALFORMED, BF_SIGNATURE_INVALID, BF_WRONG_KEY, BF_PART_MISSING, BF_PART_TAMPERED, BF_ARCHIVE_INVALID, BF_FS_FULL, BF_TARBALL_INVALID, BF_TREE_UNREADABLE, BF_ENTRY_UNSUPPORTED, BF_S3_ACL_NOT_SUPPORTED, BF_S3_BUCKET_NOT_FOUND, BF_S3_OBJECT_NOT_FOUND, BF_S3_OBJECT_TOO_LARGE, BF_S3_REGION_MISMATCH, BF_AMI_NAME_INVALID, BF_EC2_MANIFEST_INVALID, BF_BAD_SPEC, BF_BAD_CURSOR, BF_BAD_REQUEST, BF_BAD_JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_IMAGE_TOO_LARGE",
                     *       "message": "the image is over the 10 GiB that EC2 accepts for an instance-store bundle"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_UNAUTHORIZED */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_UNAUTHORIZED",
                     *       "message": "no valid token, webhook signature or webhook token"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_S3_ACCESS_DENIED, BF_EC2_ACCESS_DENIED, BF_OUT_OF_SCOPE, BF_FORBIDDEN */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_S3_ACCESS_DENIED",
                     *       "message": "S3 refused these credentials for the bucket or object named"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_BODY_TIMEOUT */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_BODY_TIMEOUT",
                     *       "message": "the request body arrived too slowly"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_AMI_NAME_TAKEN, BF_JOB_STATE_CONFLICT, BF_CANCELLED, BF_BUNDLE_EXISTS, BF_IDEMPOTENCY_CONFLICT, BF_WEBHOOK_REPLAYED, BF_UPLOAD_INCOMPLETE */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_AMI_NAME_TAKEN",
                     *       "message": "another image of the account (from another manifest) already has this AMI name in the region"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_BODY_TOO_LARGE */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_BODY_TOO_LARGE",
                     *       "message": "the request body is over the configured limit"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_JOB_DATA_INVALID, BF_RULE_SPEC_INVALID */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_JOB_DATA_INVALID",
                     *       "message": "the job’s data in Redis is not a job of this service (e.g. added by hand): it cannot be reported or retried"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_SCRATCH_FULL, BF_S3_UNAVAILABLE, BF_EC2_UNAVAILABLE, BF_QUEUE_UNAVAILABLE, BF_BUSY */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_SCRATCH_FULL",
                     *       "message": "the scratch space for building the filesystem is too small for this job now"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    receiveGitlabWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookResult"];
                };
            };
            /** @description Accepted */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookResult"];
                };
            };
            /** @description Error: BF_IMAGE_TOO_LARGE, BF_IMAGE_EMPTY, BF_FILE_UNREADABLE, BF_UNSAFE_PATH, BF_BAD_ACCOUNT, BF_BAD_ARCH, BF_BAD_NAME, BF_BAD_OPTION, BF_UNKNOWN_REGION, BF_BAD_KEY, BF_BAD_CERT, BF_WEAK_KEY, BF_CERT_KEY_MISMATCH, BF_MANIFEST_MALFORMED, BF_SIGNATURE_INVALID, BF_WRONG_KEY, BF_PART_MISSING, BF_PART_TAMPERED, BF_ARCHIVE_INVALID, BF_FS_FULL, BF_TARBALL_INVALID, BF_TREE_UNREADABLE, BF_ENTRY_UNSUPPORTED, BF_S3_ACL_NOT_SUPPORTED, BF_S3_BUCKET_NOT_FOUND, BF_S3_OBJECT_NOT_FOUND, BF_S3_OBJECT_TOO_LARGE, BF_S3_REGION_MISMATCH, BF_AMI_NAME_INVALID, BF_EC2_MANIFEST_INVALID, BF_BAD_SPEC, BF_BAD_CURSOR, BF_BAD_REQUEST, BF_BAD_JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_IMAGE_TOO_LARGE",
                     *       "message": "the image is over the 10 GiB that EC2 accepts for an instance-store bundle"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_UNAUTHORIZED */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_UNAUTHORIZED",
                     *       "message": "no valid token, webhook signature or webhook token"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_S3_ACCESS_DENIED, BF_EC2_ACCESS_DENIED, BF_OUT_OF_SCOPE, BF_FORBIDDEN */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_S3_ACCESS_DENIED",
                     *       "message": "S3 refused these credentials for the bucket or object named"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_BODY_TIMEOUT */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_BODY_TIMEOUT",
                     *       "message": "the request body arrived too slowly"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_AMI_NAME_TAKEN, BF_JOB_STATE_CONFLICT, BF_CANCELLED, BF_BUNDLE_EXISTS, BF_IDEMPOTENCY_CONFLICT, BF_WEBHOOK_REPLAYED, BF_UPLOAD_INCOMPLETE */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_AMI_NAME_TAKEN",
                     *       "message": "another image of the account (from another manifest) already has this AMI name in the region"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_BODY_TOO_LARGE */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_BODY_TOO_LARGE",
                     *       "message": "the request body is over the configured limit"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_JOB_DATA_INVALID, BF_RULE_SPEC_INVALID */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_JOB_DATA_INVALID",
                     *       "message": "the job’s data in Redis is not a job of this service (e.g. added by hand): it cannot be reported or retried"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Error: BF_SCRATCH_FULL, BF_S3_UNAVAILABLE, BF_EC2_UNAVAILABLE, BF_QUEUE_UNAVAILABLE, BF_BUSY */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "error": "BF_SCRATCH_FULL",
                     *       "message": "the scratch space for building the filesystem is too small for this job now"
                     *     }
                     */
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
}
