/*
 * Exact-length reads over a stream of chunks (a decompressor's output), for the tar reader: headers
 * block by block, file data as views of the chunks it arrived in (no copy).
 */
export class ByteReader {
  private readonly it: AsyncIterator<Buffer>;
  private chunks: Buffer[] = [];
  private available = 0;
  private ended = false;
  /** Bytes handed out or skipped so far. */
  consumed = 0;

  constructor(source: AsyncIterable<Buffer | Uint8Array | string>) {
    const inner = source[Symbol.asyncIterator]();
    this.it = {
      next: async () => {
        const r = await inner.next();
        if (r.done) return { done: true, value: undefined };
        const v = r.value;
        return { done: false, value: typeof v === 'string' ? Buffer.from(v, 'latin1') : Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength) };
      },
      return: async () => {
        await inner.return?.();
        return { done: true, value: undefined };
      },
    };
  }

  private async fill(n: number): Promise<void> {
    while (this.available < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else if (r.value.length > 0) {
        this.chunks.push(r.value);
        this.available += r.value.length;
      }
    }
  }

  /** Exactly `n` bytes; fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    const take = Math.min(n, this.available);
    let out: Buffer;
    if (this.chunks.length > 0 && this.chunks[0]!.length >= take) {
      out = this.chunks[0]!.subarray(0, take);
      this.drop(take);
    } else {
      out = Buffer.allocUnsafe(take);
      let at = 0;
      while (at < take) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, take - at);
        c.copy(out, at, 0, k);
        at += k;
        this.drop(k);
      }
    }
    return out;
  }

  /** Up to `max` bytes that are already buffered or arrive next (at least 1 unless the stream ended). */
  async readSome(max: number): Promise<Buffer> {
    if (this.available === 0) await this.fill(1);
    if (this.available === 0) return Buffer.alloc(0);
    const c = this.chunks[0]!;
    const k = Math.min(c.length, max);
    const out = c.subarray(0, k);
    this.drop(k);
    return out;
  }

  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const b = await this.readSome(Math.min(left, 1 << 20));
      if (b.length === 0) break;
      left -= b.length;
    }
    return n - left;
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }

  private drop(k: number): void {
    this.consumed += k;
    this.available -= k;
    const c = this.chunks[0]!;
    if (k === c.length) this.chunks.shift();
    else this.chunks[0] = c.subarray(k);
  }
}
