#!/usr/bin/env node
import { main } from '@bundlefarm/cli';

process.exitCode = await main(process.argv);
