/*
 * Which implementation of each native-backed stage this process runs, for `bundlefarm --version`,
 * `bundle --debug` and a BullMQ worker's start log. Each stage has a fallback, so a machine without the
 * native addon (or without libdeflate in it) still bundles — the same bundle format, slower:
 *
 *   deflate      libdeflate pieces | zlib (a different, ~2 % larger deflate stream; both gunzip alike)
 *   aes          native (in place, Node's OpenSSL) | node:crypto (same bytes)
 *   holes        SEEK_DATA (where the filesystem tells) | read scan (reads the whole image once)
 *   part writes  O_DIRECT (where the filesystem takes it; --no-direct-io turns it off) | buffered
 *
 * A BullMQ worker, whose parts go to S3, reports no part writes. What a stage reports is what this process
 * would use; the filesystem can still refuse SEEK_DATA or O_DIRECT for one file, and then that file
 * falls back by itself.
 */
import { constants } from 'node:fs';
import { loadNative } from '@bundlefarm/native';
import { deflatePreference, libdeflateBackend } from './deflate-backend.js';

export interface EngineBackends {
  deflate: 'libdeflate' | 'zlib';
  /** libdeflate's version, when the deflate stage runs it. */
  libdeflateVersion?: string;
  aes: 'native' | 'node:crypto';
  holes: 'SEEK_DATA' | 'read scan';
  /** How parts are written to local files (absent for a process whose parts go to S3). */
  partWrites?: 'O_DIRECT' | 'buffered';
  /** Why a stage runs its fallback (absent for the stages that run natively). */
  reasons: Partial<Record<'deflate' | 'aes' | 'holes' | 'partWrites', string>>;
}

export interface EngineBackendsOptions {
  /** Where parts go: 'directory' (default, local files: part writes are reported) or 's3' (they are not). */
  sink?: 'directory' | 's3';
}

export function engineBackends(options: EngineBackendsOptions = {}): EngineBackends {
  const reasons: EngineBackends['reasons'] = {};
  const loaded = loadNative();
  const binding = loaded.binding;
  const noAddon = loaded.binding === null ? loaded.reason : undefined;

  let deflate: EngineBackends['deflate'] = 'zlib';
  let libdeflateVersion: string | undefined;
  let preference: ReturnType<typeof deflatePreference> | undefined;
  try {
    preference = deflatePreference();
  } catch (err) {
    reasons.deflate = (err as Error).message;
  }
  if (preference === 'zlib') {
    reasons.deflate = 'BUNDLEFARM_DEFLATE=zlib';
  } else if (preference !== undefined) {
    const lib = libdeflateBackend();
    if (lib.backend && binding?.libdeflate) {
      deflate = 'libdeflate';
      libdeflateVersion = binding.libdeflate;
    } else {
      reasons.deflate = preference === 'libdeflate' ? `BUNDLEFARM_DEFLATE=libdeflate, but ${lib.reason}: bundling fails` : lib.reason;
    }
  }

  let aes: EngineBackends['aes'] = 'node:crypto';
  if (binding?.aesCbcAvailable()) aes = 'native';
  else reasons.aes = noAddon ?? "Node's OpenSSL functions were not found in the process";

  const holes: EngineBackends['holes'] = binding ? 'SEEK_DATA' : 'read scan';
  if (noAddon) reasons.holes = noAddon;

  const stages = { deflate, ...(libdeflateVersion !== undefined ? { libdeflateVersion } : {}), aes, holes };
  if (options.sink === 's3') return { ...stages, reasons };
  let partWrites: NonNullable<EngineBackends['partWrites']> = 'buffered';
  if (constants.O_DIRECT === undefined) reasons.partWrites = 'this platform has no O_DIRECT';
  else if (noAddon) reasons.partWrites = `${noAddon} (O_DIRECT needs aligned part buffers)`;
  else partWrites = 'O_DIRECT';
  return { ...stages, partWrites, reasons };
}

/** One line: `deflate: libdeflate 1.14, aes: native, holes: SEEK_DATA, part writes: O_DIRECT`. */
export function formatBackends(b: EngineBackends): string {
  const deflate = b.libdeflateVersion !== undefined ? `${b.deflate} ${b.libdeflateVersion}` : b.deflate;
  return `deflate: ${deflate}, aes: ${b.aes}, holes: ${b.holes}${b.partWrites !== undefined ? `, part writes: ${b.partWrites}` : ''}`;
}
