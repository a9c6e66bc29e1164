/**
 * The transfer list for a message carrying these buffers: each distinct ArrayBuffer once, and never a
 * SharedArrayBuffer, which is shared by posting it (listing one throws DataCloneError).
 *
 * The engine's big buffers (blocks of the tar stream, 10 MiB parts) are SharedArrayBuffers: V8 counts
 * every ArrayBuffer that arrives in an isolate as new external memory until its next GC, and the
 * gigabytes a bundle moves between threads kept the event loop's isolate in back-to-back mark-compacts
 * (50 for 1 GiB); shared backing stores are not counted per isolate. Who may touch a shared buffer is
 * then the protocol's business, as before: a buffer is reused only once the thread it went to has sent
 * it back.
 */
export function transferList(...items: Array<ArrayBufferView | ArrayBufferLike | undefined>): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const item of items) {
    if (item === undefined) continue;
    const buffer = ArrayBuffer.isView(item) ? item.buffer : item;
    if (buffer instanceof ArrayBuffer) out.add(buffer);
  }
  return [...out];
}

/** A view that owns its whole ArrayBuffer (never a slice of Node's shared Buffer pool), safe to transfer. */
export function standalone(u8: Uint8Array): Uint8Array {
  return u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength && !(u8.buffer instanceof SharedArrayBuffer)
    ? u8
    : new Uint8Array(u8);
}
