#!/usr/bin/env node
// @ts-check
// bundlefarm-api: the HTTP API (and Bull Board). Configuration: BUNDLEFARM_* variables — see
// docs/service.md and packages/server/src/server-config.ts. SIGTERM/SIGINT: graceful shutdown.
import { serverMain } from '@bundlefarm/server';

process.exit(await serverMain());
