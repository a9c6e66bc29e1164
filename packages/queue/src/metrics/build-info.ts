/*
 * `bundlefarm_build_info`: a gauge that is always 1, whose labels say what runs — the bundlefarm
 * version, the Node.js version, and the CPU backends the engine uses on this machine (libdeflate or
 * zlib for deflate, the native addon or OpenSSL for AES). The API and the workers both export it, so a
 * dashboard can show which versions run where (`count by (version) (bundlefarm_build_info)`).
 */
import { readFileSync } from 'node:fs';
import { Gauge, type Registry } from 'prom-client';
import { libdeflateBackend } from '@bundlefarm/engine';
import { loadNative } from '@bundlefarm/native';

export interface BuildInfo {
  version: string;
  node: string;
  /** e.g. `deflate=libdeflate,aes=native`. */
  backends: string;
}

let cached: BuildInfo | undefined;

export function buildInfo(): BuildInfo {
  if (cached) return cached;
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const native = loadNative();
  const aes = native.binding?.aesCbcAvailable?.() ? 'native' : 'openssl';
  const deflate = libdeflateBackend().backend?.name ?? 'zlib';
  cached = { version: pkg.version, node: process.version, backends: `deflate=${deflate},aes=${aes}` };
  return cached;
}

/** Registers `bundlefarm_build_info` (= 1, labelled with `buildInfo()`) on `registry`. */
export function registerBuildInfo(registry: Registry): void {
  const info = buildInfo();
  const gauge = new Gauge({
    name: 'bundlefarm_build_info',
    help: 'Always 1; the labels say which bundlefarm version, Node.js version and CPU backends run here',
    labelNames: ['version', 'node', 'backends'] as const,
    registers: [registry],
  });
  gauge.set({ version: info.version, node: info.node, backends: info.backends }, 1);
}
