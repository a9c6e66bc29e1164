#!/usr/bin/env node
// @ts-check
import { main } from '@bundlefarm/cli';

process.exitCode = await main(process.argv);
