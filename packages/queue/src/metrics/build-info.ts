/*
 * `bundlefarm_build_info`: a gauge that is always 1, whose labels say what runs — the bundlefarm
 * version, the Node.js version, and the native-backed stages the engine runs on this machine (libdeflate
 * or zlib for deflate, the native addon or node:crypto for AES, SEEK_DATA or a read scan for holes). The API and the workers both export it, so a
 * dashboard can show which versions run where (`count by (version) (bundlefarm_build_info)`).
 */
import { readFileSync } from 'node:fs';
import { Gauge, type Registry } from 'prom-client';

export interface BuildInfo {
  version: string;
  node: string;
  /** e.g. `deflate=libdeflate,aes=native,holes=SEEK_DATA` (see @bundlefarm/engine's engineBackends). */
  backends: string;
}

let cached: BuildInfo | undefined;

/**
 * What runs here. `backends` is what the process bundles with (the worker passes its engine's, e.g.
 * `deflate=libdeflate,aes=native,holes=SEEK_DATA`); a process that does not bundle (the API, which never
 * loads the engine) says `none`.
 */
export function buildInfo(backends = 'none'): BuildInfo {
  cached ??= { version: (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version, node: process.version, backends: '' };
  return { ...cached, backends };
}

/** Registers `bundlefarm_build_info` (= 1, labelled with `buildInfo(backends)`) on `registry`. */
export function registerBuildInfo(registry: Registry, backends?: string): void {
  const info = buildInfo(backends);
  const gauge = new Gauge({
    name: 'bundlefarm_build_info',
    help: 'Always 1; the labels say which bundlefarm version, Node.js version and CPU backends run here',
    labelNames: ['version', 'node', 'backends'] as const,
    registers: [registry],
  });
  gauge.set({ version: info.version, node: info.node, backends: info.backends }, 1);
}
