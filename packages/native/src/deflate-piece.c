/*
 * bundlefarm_libdeflate: raw deflate "pieces" with the system libdeflate.
 *
 * bundlefarm compresses blocks of a tar stream in parallel and concatenates the compressed blocks into
 * ONE deflate stream (one gzip member). That needs every piece but the last to end byte-aligned without
 * a final block (what zlib's Z_SYNC_FLUSH gives). libdeflate only compresses whole buffers and always
 * sets BFINAL on its last block, so after compressing we walk the deflate blocks of the output to find
 * the last block's header and the end of its end-of-block code, clear its BFINAL bit, cut the stream
 * there and append an empty stored block (3 zero header bits, zero padding to a byte, 00 00 ff ff).
 *
 * Deflate bit layout (RFC 1951): bits are read least-significant first; each block starts with BFINAL
 * (1 bit) and BTYPE (2 bits: 00 stored, 01 fixed Huffman, 10 dynamic Huffman). Huffman codes are packed
 * starting with the most significant bit of the code, so decode tables index bit-reversed codes.
 */
#include "deflate-piece.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BITS 15

/* ---------- bit reader over a complete buffer ---------- */

/*
 * A 64-bit bit buffer refilled 8 bytes at a time (as libdeflate's own decompressor does). The caller
 * guarantees 8 readable zero bytes after the input, so refills never read out of bounds; running past
 * the real end is detected by position checks.
 */
typedef struct {
  const uint8_t *in;
  const uint8_t *next; /* next byte to load into buf */
  size_t len;          /* bytes of real input */
  uint64_t buf;
  unsigned cnt; /* valid bits in buf */
} bits_t;

static inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v; /* x86-64 and aarch64 builds here are little-endian */
}

/* After refill at least 56 bits are buffered. */
static inline void refill(bits_t *b) {
  if ((size_t)(b->next - b->in) + 8 <= b->len + 8) {
    b->buf |= load64(b->next) << b->cnt;
    b->next += (63 - b->cnt) >> 3;
    b->cnt |= 56;
  }
}

static inline size_t bit_pos(const bits_t *b) { return (size_t)(b->next - b->in) * 8 - b->cnt; }
static inline int bits_left(const bits_t *b, size_t n) { return bit_pos(b) + n <= b->len * 8; }

static void seek_bits(bits_t *b, size_t pos) {
  b->next = b->in + (pos >> 3);
  b->buf = 0;
  b->cnt = 0;
  refill(b);
  b->buf >>= pos & 7;
  b->cnt -= pos & 7;
}

/* Next n (<= 32) bits; the buffer must hold them (refill first). */
static inline uint32_t peek(const bits_t *b, unsigned n) { return (uint32_t)(b->buf & ((1ull << n) - 1)); }
static inline void drop(bits_t *b, unsigned n) {
  b->buf >>= n;
  b->cnt -= n;
}
static inline uint32_t take(bits_t *b, unsigned n) {
  if (b->cnt < n) refill(b);
  uint32_t v = peek(b, n);
  drop(b, n);
  return v;
}

/* ---------- Huffman decoding ---------- */

/*
 * Codes of up to FAST_BITS bits decode with one lookup in `fast` (entry = symbol << 4 | length, 0 = longer
 * or invalid); longer codes, rare, decode canonically bit by bit (as zlib's puff.c does). Keeping the
 * table small keeps building it cheap: libdeflate starts a new block every few tens of KiB.
 */
#define FAST_BITS 11

typedef struct {
  uint16_t fast[1u << FAST_BITS];
  uint16_t count[MAX_BITS + 1];
  uint16_t symbol[320];
} huff_t;

static unsigned reverse_bits(unsigned code, unsigned len) {
  unsigned r = 0;
  for (unsigned i = 0; i < len; i++) {
    r = (r << 1) | (code & 1);
    code >>= 1;
  }
  return r;
}

/* Build from code lengths (canonical Huffman). Returns 0 on success. */
static int huff_build(huff_t *h, const uint8_t *lens, unsigned n) {
  uint16_t offs[MAX_BITS + 2];
  unsigned next[MAX_BITS + 2];
  memset(h->count, 0, sizeof(h->count));
  for (unsigned i = 0; i < n; i++) {
    if (lens[i] > MAX_BITS) return -1;
    h->count[lens[i]]++;
  }
  h->count[0] = 0;
  offs[1] = 0;
  for (unsigned len = 1; len <= MAX_BITS; len++) offs[len + 1] = (uint16_t)(offs[len] + h->count[len]);
  unsigned code = 0;
  for (unsigned len = 1; len <= MAX_BITS; len++) {
    code = (code + h->count[len - 1]) << 1;
    next[len] = code;
  }
  memset(h->fast, 0, sizeof(h->fast));
  for (unsigned sym = 0; sym < n; sym++) {
    unsigned len = lens[sym];
    if (len == 0) continue;
    h->symbol[offs[len]++] = (uint16_t)sym;
    unsigned c = next[len]++;
    if (c >= (1u << len)) return -1; /* over-subscribed */
    if (len <= FAST_BITS) {
      unsigned r = reverse_bits(c, len);
      for (unsigned idx = r; idx < (1u << FAST_BITS); idx += 1u << len) h->fast[idx] = (uint16_t)((sym << 4) | len);
    }
  }
  return 0;
}

/* Decode one symbol; the buffer must hold at least 15 bits. */
static inline int huff_decode(bits_t *b, const huff_t *h, unsigned *sym) {
  uint16_t e = h->fast[peek(b, FAST_BITS)];
  if (e) {
    drop(b, e & 15);
    *sym = e >> 4;
    return 0;
  }
  /* canonical decode, most significant code bit first (puff.c) */
  int code = 0, first = 0, index = 0;
  for (unsigned len = 1; len <= MAX_BITS; len++) {
    code |= (int)(b->buf & 1);
    drop(b, 1);
    int count = h->count[len];
    if (code - count < first) {
      *sym = h->symbol[index + (code - first)];
      return 0;
    }
    index += count;
    first += count;
    first <<= 1;
    code <<= 1;
  }
  return -1;
}

static const uint8_t LEN_EXTRA[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint8_t DIST_EXTRA[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
static const uint8_t CL_ORDER[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

/* Skip the symbols of a Huffman block up to and including end-of-block. */
static int skip_symbols(bits_t *b, const huff_t *litlen, const huff_t *dist) {
  const size_t limit = b->len + 8;
  for (;;) {
    /* 56 buffered bits cover the longest length/distance pair (15 + 5 + 15 + 13 = 48) or three
     * literals (3 x 15 = 45): decode up to three literals per refill, the common case. */
    refill(b);
    uint16_t e = litlen->fast[peek(b, FAST_BITS)];
    if (e && (e >> 4) < 256) {
      drop(b, e & 15);
      e = litlen->fast[peek(b, FAST_BITS)];
      if (e && (e >> 4) < 256) {
        drop(b, e & 15);
        e = litlen->fast[peek(b, FAST_BITS)];
        if (e && (e >> 4) < 256) {
          drop(b, e & 15);
          continue;
        }
      }
      refill(b);
    }
    unsigned sym;
    if (huff_decode(b, litlen, &sym)) return -1;
    if (sym < 256) continue;
    if (sym == 256) return bits_left(b, 0) ? 0 : -1;
    sym -= 257;
    if (sym >= 29) return -1;
    drop(b, LEN_EXTRA[sym]);
    unsigned d;
    if (huff_decode(b, dist, &d)) return -1;
    if (d >= 30) return -1;
    drop(b, DIST_EXTRA[d]);
    if ((size_t)(b->next - b->in) > limit) return -1;
  }
}

struct walker_tables {
  huff_t litlen, dist, cl, fixed_litlen, fixed_dist;
  int fixed_built;
};

static int skip_dynamic(bits_t *b, tables_t *t) {
  unsigned hlit = take(b, 5) + 257, hdist = take(b, 5) + 1, hclen = take(b, 4) + 4;
  if (hlit > 286 || hdist > 30) return -1;
  uint8_t cl_lens[19] = {0};
  for (unsigned i = 0; i < hclen; i++) cl_lens[CL_ORDER[i]] = (uint8_t)take(b, 3);
  huff_t *cl = &t->cl;
  if (huff_build(cl, cl_lens, 19)) return -1;
  uint8_t lens[286 + 30];
  unsigned n = 0;
  while (n < hlit + hdist) {
    unsigned sym;
    refill(b);
    if (huff_decode(b, cl, &sym)) return -1;
    if (sym < 16) {
      lens[n++] = (uint8_t)sym;
      continue;
    }
    unsigned rep;
    uint8_t val = 0;
    if (sym == 16) {
      if (n == 0) return -1;
      val = lens[n - 1];
      rep = 3 + take(b, 2);
    } else if (sym == 17) {
      rep = 3 + take(b, 3);
    } else {
      rep = 11 + take(b, 7);
    }
    if (n + rep > hlit + hdist) return -1;
    while (rep--) lens[n++] = val;
  }
  if (lens[256] == 0) return -1; /* no end-of-block code */
  if (huff_build(&t->litlen, lens, hlit) || huff_build(&t->dist, lens + hlit, hdist)) return -1;
  return skip_symbols(b, &t->litlen, &t->dist);
}

static int skip_fixed(bits_t *b, tables_t *t) {
  if (!t->fixed_built) {
    uint8_t lens[288 + 30];
    unsigned i = 0;
    for (; i < 144; i++) lens[i] = 8;
    for (; i < 256; i++) lens[i] = 9;
    for (; i < 280; i++) lens[i] = 7;
    for (; i < 288; i++) lens[i] = 8;
    for (; i < 288 + 30; i++) lens[i] = 5;
    if (huff_build(&t->fixed_litlen, lens, 288) || huff_build(&t->fixed_dist, lens + 288, 30)) return -1;
    t->fixed_built = 1;
  }
  return skip_symbols(b, &t->fixed_litlen, &t->fixed_dist);
}

/*
 * Walk the blocks of a complete raw deflate stream. On success *final_hdr is the bit position of the
 * final block's header and *end the bit position just after its last bit (end-of-block code or, for a
 * stored block, its data).
 */
static int walk(const uint8_t *in, size_t len, tables_t *tables, size_t *final_hdr, size_t *end) {
  bits_t b = {in, in, len, 0, 0};
  refill(&b);
  for (;;) {
    size_t hdr = bit_pos(&b);
    if (!bits_left(&b, 3)) return -1;
    unsigned bfinal = take(&b, 1);
    unsigned btype = take(&b, 2);
    int err = 0;
    if (btype == 0) {
      size_t pos = (bit_pos(&b) + 7) & ~(size_t)7;
      if (pos + 32 > len * 8) return -1;
      seek_bits(&b, pos);
      unsigned n = take(&b, 16), nn = take(&b, 16);
      pos += 32 + (size_t)n * 8;
      if ((n ^ 0xffff) != nn || pos > len * 8) return -1;
      seek_bits(&b, pos);
    } else if (btype == 1) {
      err = skip_fixed(&b, tables);
    } else if (btype == 2) {
      err = skip_dynamic(&b, tables);
    } else {
      return -1;
    }
    if (err || !bits_left(&b, 0)) return -1;
    if (bfinal) {
      *final_hdr = hdr;
      *end = bit_pos(&b);
      return 0;
    }
  }
}

/* ---------- pieces ---------- */

void piece_state_free(piece_state_t *st) {
  for (int i = 0; i <= PIECE_MAX_LEVEL; i++) libdeflate_free_compressor(st->compressors[i]);
  free(st->scratch);
  free(st->tables);
  memset(st, 0, sizeof(*st));
}

const char *deflate_piece(piece_state_t *st, const uint8_t *in, size_t in_len, int level, int final,
                          const uint8_t **out, size_t *out_len) {
  if (!st->compressors[level]) {
    st->compressors[level] = libdeflate_alloc_compressor(level);
    if (!st->compressors[level]) return "libdeflate_alloc_compressor failed";
  }
  struct libdeflate_compressor *c = st->compressors[level];
  size_t bound = libdeflate_deflate_compress_bound(c, in_len) + 8;
  if (st->scratch_cap < bound) {
    uint8_t *p = realloc(st->scratch, bound);
    if (!p) return "out of memory";
    st->scratch = p;
    st->scratch_cap = bound;
  }
  uint8_t *buf = st->scratch;
  size_t n = libdeflate_deflate_compress(c, in, in_len, buf, bound - 8);
  if (n == 0) return "libdeflate_deflate_compress: output did not fit its bound";
  *out = buf;
  *out_len = n;
  if (final) return NULL;

  size_t hdr, end;
  if (!st->tables && !(st->tables = calloc(1, sizeof(tables_t)))) return "out of memory";
  memset(buf + n, 0, 8); /* the walker's refills may read up to 8 bytes past the end */
  if (walk(buf, n, st->tables, &hdr, &end)) return "internal error: could not walk libdeflate's output";
  buf[hdr >> 3] &= (uint8_t) ~(1u << (hdr & 7)); /* clear BFINAL */
  size_t end_byte = end >> 3;
  unsigned end_bit = (unsigned)(end & 7);
  /* zero everything from bit `end` on: the 3 zero bits of a stored block header and the padding */
  if (end_bit) buf[end_byte] &= (uint8_t)((1u << end_bit) - 1);
  size_t aligned = (end + 3 + 7) >> 3; /* byte where LEN of the empty stored block starts */
  for (size_t i = end_byte + (end_bit ? 1 : 0); i < aligned; i++) buf[i] = 0;
  buf[aligned] = 0x00;
  buf[aligned + 1] = 0x00;
  buf[aligned + 2] = 0xff;
  buf[aligned + 3] = 0xff;
  *out_len = aligned + 4;
  return NULL;
}
