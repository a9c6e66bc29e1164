import { createRequire } from 'node:module';
import type * as FastXmlParser from 'fast-xml-parser';
import type Forge from 'node-forge';

/**
 * node-forge and fast-xml-parser, loaded on first use: together they are ~90 ms of the CLI's start,
 * and `bundle` needs neither (it writes manifests itself and wraps keys with node:crypto); only
 * reading manifests and unwrapping keys (unbundle, verify, the service) do.
 */
const load = createRequire(import.meta.url);
let forge: typeof Forge | undefined;
let fxp: typeof FastXmlParser | undefined;

export function nodeForge(): typeof Forge {
  return (forge ??= load('node-forge') as typeof Forge);
}

export function fastXmlParser(): typeof FastXmlParser {
  return (fxp ??= load('fast-xml-parser') as typeof FastXmlParser);
}
