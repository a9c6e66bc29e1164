#!/usr/bin/env node
// @ts-check
// bundlefarm-worker: runs bundle jobs from the queue. Configuration: BUNDLEFARM_REDIS_URL,
// BUNDLEFARM_QUEUE_PREFIX, BUNDLEFARM_CONFIG (JSON file), BUNDLEFARM_LOG_LEVEL — see
// packages/queue/src/worker/worker-config.ts. SIGTERM/SIGINT: graceful shutdown.
import { workerMain } from '@bundlefarm/queue';

process.exit(await workerMain());
