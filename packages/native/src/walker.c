/*
 * DEFLATE block walker (see walker.h).
 *
 * Bit layout (RFC 1951, section 3.1.1): a deflate stream is read as a sequence of bits, starting
 * with the least significant bit of the first byte. Header fields and extra bits are numbers stored
 * least significant bit first; Huffman codes are stored most significant bit first, so a code of
 * length n appears in the stream bit-reversed. Every block starts with a 3-bit header:
 *
 *   BFINAL (1 bit)  1 on the last block of the stream
 *   BTYPE  (2 bits) 00 stored, 01 fixed Huffman codes, 10 dynamic Huffman codes, 11 invalid
 *
 *   stored:  skip to the next byte boundary, LEN (16 bits), NLEN = ~LEN (16 bits), LEN raw bytes.
 *   fixed:   symbols in the fixed literal/length and distance codes, up to end-of-block (256).
 *   dynamic: HLIT (5 bits, + 257), HDIST (5 bits, + 1), HCLEN (4 bits, + 4), HCLEN 3-bit lengths of
 *            the code-length code (in the order 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1 15),
 *            then HLIT + HDIST code lengths in that code (16: repeat the previous length 3-6 times,
 *            2 extra bits; 17: 3-10 zeros, 3 extra bits; 18: 11-138 zeros, 7 extra bits), then the
 *            symbols up to end-of-block.
 *
 * A literal/length symbol is a literal (0-255), end-of-block (256) or a match length (257-285,
 * followed by 0-5 extra bits) which is followed by a distance code (0-29, then 0-13 extra bits).
 * To skip a symbol we only need the total number of bits it takes (code + extra bits), which the
 * lookup tables below hold directly.
 */
#include "walker.h"

#include <stdbool.h>
#include <string.h>

/* What a decoded symbol is (the "value" in a table entry; never 0, which marks "slow path"). */
enum { SYM_LITERAL = 1, SYM_LENGTH = 2, SYM_END = 3, SYM_DISTANCE = 4, SYM_INVALID = 5 };
#define E(value, extra) ((uint16_t)((value) << 8 | (extra)))
/* Table entries are (value << 8) | bits to consume, with bits <= 15 + 13 = 28. Masking with 63
 * rather than 255 lets the compiler shift by the entry itself (x86 shifts use the count mod 64). */
#define ENTRY_BITS(e) ((unsigned)(e) & 63)

/* Per literal/length symbol: kind and number of extra bits. 286 and 287 only exist in the fixed
 * code and must not occur. */
static const uint16_t LITLEN_INFO[288] = {
    [0 ... 255] = E(SYM_LITERAL, 0), [256] = E(SYM_END, 0),
    [257 ... 264] = E(SYM_LENGTH, 0), [265 ... 268] = E(SYM_LENGTH, 1),
    [269 ... 272] = E(SYM_LENGTH, 2), [273 ... 276] = E(SYM_LENGTH, 3),
    [277 ... 280] = E(SYM_LENGTH, 4), [281 ... 284] = E(SYM_LENGTH, 5),
    [285] = E(SYM_LENGTH, 0),         [286 ... 287] = E(SYM_INVALID, 0),
};

/* Per distance symbol: distances 0-3 have no extra bits, then 1, 1, 2, 2, ... 13, 13. */
static const uint16_t DIST_INFO[32] = {
    E(SYM_DISTANCE, 0),  E(SYM_DISTANCE, 0),  E(SYM_DISTANCE, 0),  E(SYM_DISTANCE, 0),
    E(SYM_DISTANCE, 1),  E(SYM_DISTANCE, 1),  E(SYM_DISTANCE, 2),  E(SYM_DISTANCE, 2),
    E(SYM_DISTANCE, 3),  E(SYM_DISTANCE, 3),  E(SYM_DISTANCE, 4),  E(SYM_DISTANCE, 4),
    E(SYM_DISTANCE, 5),  E(SYM_DISTANCE, 5),  E(SYM_DISTANCE, 6),  E(SYM_DISTANCE, 6),
    E(SYM_DISTANCE, 7),  E(SYM_DISTANCE, 7),  E(SYM_DISTANCE, 8),  E(SYM_DISTANCE, 8),
    E(SYM_DISTANCE, 9),  E(SYM_DISTANCE, 9),  E(SYM_DISTANCE, 10), E(SYM_DISTANCE, 10),
    E(SYM_DISTANCE, 11), E(SYM_DISTANCE, 11), E(SYM_DISTANCE, 12), E(SYM_DISTANCE, 12),
    E(SYM_DISTANCE, 13), E(SYM_DISTANCE, 13), E(SYM_INVALID, 0),   E(SYM_INVALID, 0),
};

/* Code-length code: the value is the symbol + 1 (0 is reserved); extra bits are read separately. */
static const uint16_t PRECODE_INFO[19] = {
    E(1, 0),  E(2, 0),  E(3, 0),  E(4, 0),  E(5, 0),  E(6, 0),  E(7, 0),  E(8, 0),  E(9, 0),  E(10, 0),
    E(11, 0), E(12, 0), E(13, 0), E(14, 0), E(15, 0), E(16, 0), E(17, 0), E(18, 0), E(19, 0),
};

static const uint8_t PRECODE_ORDER[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

/* ---- Bit reader ------------------------------------------------------------------------------
 * buf holds the next stream bits, the next one in bit 0; count of them are valid (the bits above
 * may already hold the following stream bits, which a refill ORs in again unchanged). Past the end
 * of the input the reader feeds zero bytes and counts them in overrun; consuming any of them is an
 * error, detected at the next refill or when a block ends. */
typedef struct {
  const uint8_t *in, *next, *end;
  uint64_t buf;
  unsigned count;
  size_t overrun;
} bits_t;

static inline uint64_t bit_pos(const bits_t *b) {
  return ((uint64_t)(b->next - b->in) + b->overrun) * 8 - b->count;
}

static inline bool in_bounds(const bits_t *b) { return bit_pos(b) <= (uint64_t)(b->end - b->in) * 8; }

static inline uint64_t load_le64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

static inline bool refill_slow(bits_t *b) {
  if (!in_bounds(b)) return false;
  while (b->count < 56) { /* ends with 56..63 bits, like the fast path */
    uint64_t byte = 0;
    if (b->next < b->end) byte = *b->next++;
    else b->overrun++;
    b->buf |= byte << b->count;
    b->count += 8;
  }
  return true;
}

/* Ensures at least 56 valid bits: enough for a length code and its extra bits plus a distance code
 * and its extra bits (15 + 5 + 15 + 13 = 48), or a 32-bit stored-block LEN/NLEN after aligning. */
static inline bool refill(bits_t *b) {
  if (__builtin_expect(b->end - b->next >= 8, 1)) {
    b->buf |= load_le64(b->next) << b->count; /* count <= 63 */
    b->next += (63 - b->count) >> 3;          /* whole bytes that fit */
    b->count |= 56;                           /* == count + 8 * those bytes */
    return true;
  }
  return refill_slow(b);
}

static inline void drop(bits_t *b, unsigned n) {
  b->buf >>= n;
  b->count -= n;
}

/* ---- Huffman codes ---------------------------------------------------------------------------- */

static unsigned reverse_bits(unsigned code, unsigned len) {
  unsigned r = 0;
  for (unsigned i = 0; i < len; i++, code >>= 1) r = (r << 1) | (code & 1);
  return r;
}

/* Builds the canonical code for lens[0..n) (n <= 288). Fails on an over-subscribed code; an
 * incomplete one is accepted, its unused bit patterns fail when they are decoded. */
static bool huff_build(walk_huff_t *h, const uint8_t *lens, unsigned n, const uint16_t *info) {
  uint16_t offs[WALK_MAX_CODE + 1];
  memset(h->count, 0, sizeof h->count);
  for (unsigned s = 0; s < n; s++) h->count[lens[s]]++;
  h->count[0] = 0;
  int left = 1;
  for (unsigned len = 1; len <= WALK_MAX_CODE; len++) {
    left = (left << 1) - h->count[len];
    if (left < 0) return false;
  }
  offs[1] = 0;
  for (unsigned len = 1; len < WALK_MAX_CODE; len++) offs[len + 1] = offs[len] + h->count[len];
  for (unsigned s = 0; s < n; s++) {
    if (lens[s]) h->symbol[offs[lens[s]]++] = (uint16_t)s;
  }
  /* Codes of each length are consecutive numbers, starting at (first code of the previous length +
   * its count) << 1. A code of length len <= WALK_FAST_BITS fills every table slot whose low len
   * bits are the reversed code. */
  memset(h->fast, 0, sizeof h->fast);
  unsigned code = 0, index = 0;
  for (unsigned len = 1; len <= WALK_FAST_BITS; len++, code <<= 1) {
    for (unsigned k = 0; k < h->count[len]; k++, code++) {
      uint16_t entry = (uint16_t)(info[h->symbol[index++]] + len);
      for (unsigned i = reverse_bits(code, len); i < (1u << WALK_FAST_BITS); i += 1u << len) h->fast[i] = entry;
    }
  }
  h->info = info;
  return true;
}

/* Decodes a code longer than WALK_FAST_BITS bit by bit (as in zlib's puff.c). bits must hold at
 * least WALK_MAX_CODE valid bits. Returns the table entry, or 0 if the bits are no code. */
static uint16_t huff_slow(const walk_huff_t *h, uint64_t bits) {
  int code = 0, first = 0, index = 0;
  for (unsigned len = 1; len <= WALK_MAX_CODE; len++, bits >>= 1) {
    code |= (int)(bits & 1);
    int count = h->count[len];
    if (code - count < first) return (uint16_t)(h->info[h->symbol[index + (code - first)]] + len);
    index += count;
    first = (first + count) << 1;
    code <<= 1;
  }
  return 0;
}

/* Consumes one symbol (with its extra bits, if any) and returns its value, 0 if invalid. */
static inline unsigned skip_symbol(bits_t *b, const walk_huff_t *h) {
  uint16_t e = h->fast[b->buf & ((1u << WALK_FAST_BITS) - 1)];
  if (__builtin_expect(e == 0, 0)) {
    e = huff_slow(h, b->buf);
    if (e == 0) return 0;
  }
  drop(b, ENTRY_BITS(e));
  return e >> 8;
}

/* Skips the symbols of a Huffman block up to and including its end-of-block code.
 *
 * Speed matters (this runs over every piece): the cost is one dependent chain per symbol, table
 * lookup then shift. So the next entry is looked up before refilling, keeping the refill off that
 * chain: a refill leaves >= 56 bits; a literal code takes <= 15 bits, so two literals leave >= 26;
 * a length code with extra bits takes <= 20, then a refill, then a distance code with extra bits
 * <= 28 leaves >= 28: always enough for the next WALK_FAST_BITS lookup (a refill only adds bits
 * above the valid ones). The reader state is copied to a local so that it lives in registers. */
static bool skip_block_symbols(bits_t *bp, const walk_huff_t *litlen, const walk_huff_t *dist) {
  const uint64_t mask = (1u << WALK_FAST_BITS) - 1;
  bits_t local = *bp, *b = &local;
  if (!refill(b)) return false;
  uint16_t e = litlen->fast[b->buf & mask];
  for (;;) {
    /* here: >= 56 valid bits; e = entry of the next literal/length code (0: slow path) */
    unsigned kind = e >> 8;
    if (__builtin_expect(kind == SYM_LITERAL, 1)) {
      drop(b, ENTRY_BITS(e));
      e = litlen->fast[b->buf & mask];
      if ((e >> 8) == SYM_LITERAL) { /* a second literal before refilling */
        drop(b, ENTRY_BITS(e));
        e = litlen->fast[b->buf & mask];
      }
    } else if (kind == SYM_LENGTH) {
      drop(b, ENTRY_BITS(e)); /* code and extra bits */
      if (!refill(b)) return false;
      uint16_t d = dist->fast[b->buf & mask];
      if (__builtin_expect(d == 0, 0)) d = huff_slow(dist, b->buf);
      if ((d >> 8) != SYM_DISTANCE) return false;
      drop(b, ENTRY_BITS(d));
      e = litlen->fast[b->buf & mask];
    } else if (e == 0) {
      e = huff_slow(litlen, b->buf); /* a code longer than WALK_FAST_BITS */
      if (e == 0) return false;
      continue;
    } else if (kind == SYM_END) {
      drop(b, ENTRY_BITS(e));
      *bp = local;
      return in_bounds(bp);
    } else {
      return false;
    }
    if (!refill(b)) return false;
  }
}

/* Reads a dynamic block's header and builds its two codes. */
static const char *read_dynamic_header(bits_t *b, walk_huff_t *litlen, walk_huff_t *dist) {
  if (!refill(b)) return "truncated stream";
  unsigned nlen = (unsigned)(b->buf & 31) + 257, ndist = (unsigned)(b->buf >> 5 & 31) + 1;
  unsigned ncode = (unsigned)(b->buf >> 10 & 15) + 4;
  drop(b, 14);
  if (nlen > 286 || ndist > 30) return "too many length or distance codes";

  uint8_t pre_lens[19] = {0};
  for (unsigned i = 0; i < ncode; i++) {
    if (!refill(b)) return "truncated stream";
    pre_lens[PRECODE_ORDER[i]] = b->buf & 7;
    drop(b, 3);
  }
  walk_huff_t precode;
  if (!huff_build(&precode, pre_lens, 19, PRECODE_INFO)) return "invalid code-length code";

  uint8_t lens[286 + 30];
  for (unsigned i = 0; i < nlen + ndist;) {
    if (!refill(b)) return "truncated stream";
    unsigned v = skip_symbol(b, &precode);
    if (v == 0) return "invalid code-length symbol";
    unsigned sym = v - 1, repeat;
    uint8_t value = 0;
    if (sym < 16) {
      lens[i++] = (uint8_t)sym;
      continue;
    } else if (sym == 16) {
      if (i == 0) return "repeated code length without a previous one";
      value = lens[i - 1];
      repeat = 3 + (unsigned)(b->buf & 3);
      drop(b, 2);
    } else if (sym == 17) {
      repeat = 3 + (unsigned)(b->buf & 7);
      drop(b, 3);
    } else {
      repeat = 11 + (unsigned)(b->buf & 127);
      drop(b, 7);
    }
    if (repeat > nlen + ndist - i) return "code lengths overflow";
    memset(lens + i, value, repeat);
    i += repeat;
  }
  if (lens[256] == 0) return "no end-of-block code";
  if (!huff_build(litlen, lens, nlen, LITLEN_INFO)) return "invalid literal/length code";
  if (!huff_build(dist, lens + nlen, ndist, DIST_INFO)) return "invalid distance code";
  return NULL;
}

void walker_init(walker_t *w) {
  uint8_t lens[288];
  memset(lens, 8, 144);
  memset(lens + 144, 9, 112);
  memset(lens + 256, 7, 24);
  memset(lens + 280, 8, 8);
  huff_build(&w->fixed_litlen, lens, 288, LITLEN_INFO);
  memset(lens, 5, 32);
  huff_build(&w->fixed_dist, lens, 32, DIST_INFO);
}

const char *walk_blocks(const walker_t *w, const uint8_t *in, size_t len, walk_result_t *res) {
  static const uint8_t empty[1] = {0};
  bits_t b = {.in = in ? in : empty, .next = in ? in : empty, .end = (in ? in : empty) + len};
  walk_huff_t litlen, dist;
  uint64_t blocks = 0;
  for (;;) {
    if (!refill(&b)) return "truncated stream (no final block)";
    uint64_t header = bit_pos(&b);
    unsigned final = b.buf & 1, type = b.buf >> 1 & 3;
    drop(&b, 3);
    blocks++;
    if (type == 0) {
      drop(&b, b.count & 7); /* to the byte boundary: the stream position is (bytes * 8 - count) */
      unsigned stored = b.buf & 0xffff, nstored = b.buf >> 16 & 0xffff;
      drop(&b, 32);
      if (stored != (~nstored & 0xffff)) return "stored block length mismatch";
      if (!in_bounds(&b)) return "truncated stream";
      uint64_t at = bit_pos(&b) / 8 + stored;
      if (at > len) return "truncated stored block";
      b.next = b.in + at; /* restart the reader after the stored bytes */
      b.buf = 0;
      b.count = 0;
      b.overrun = 0;
    } else if (type == 1) {
      if (!skip_block_symbols(&b, &w->fixed_litlen, &w->fixed_dist)) return "invalid or truncated fixed block";
    } else if (type == 2) {
      const char *err = read_dynamic_header(&b, &litlen, &dist);
      if (err) return err;
      if (!skip_block_symbols(&b, &litlen, &dist)) return "invalid or truncated dynamic block";
    } else {
      return "invalid block type 3";
    }
    if (final) {
      uint64_t end = bit_pos(&b);
      if (end > (uint64_t)len * 8) return "truncated stream";
      if ((end + 7) / 8 != len) return "data after the final block";
      res->final_header_bit = header;
      res->end_bit = end;
      res->blocks = blocks;
      return NULL;
    }
  }
}
