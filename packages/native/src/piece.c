/*
 * libdeflate compresses a whole buffer into a complete raw deflate stream: its last block has
 * BFINAL = 1 and the stream ends with zero bits padding it to a byte. To let more deflate data
 * follow (what zlib's Z_SYNC_FLUSH produces), a non-final piece is rewritten:
 *
 *   1. clear the final block's BFINAL bit (the first bit of its 3-bit header);
 *   2. cut the stream right after that block's end-of-block code, dropping libdeflate's padding;
 *   3. append an empty stored block: its 3 header bits (BFINAL = 0, BTYPE = 00, all zero), zero
 *      bits up to the byte boundary, then LEN = 0x0000 and NLEN = 0xffff: bytes 00 00 ff ff.
 *
 * The piece then ends byte-aligned with 00 00 ff ff and the next piece starts a new block there.
 * Pieces carry no back-references into earlier pieces (there is no preset dictionary), so any
 * sequence of non-final pieces followed by one final piece is a valid deflate stream.
 */
#include "piece.h"

#include <stdlib.h>
#include <string.h>

#define SYNC_MARKER_MAX 5 /* at most one byte for the 3 header bits and padding, then 00 00 ff ff */
#define SCRATCH_KEEP (64u << 20) /* free a scratch buffer larger than this after use */

void piece_state_init(piece_state_t *st) { memset(st, 0, sizeof *st); }

void piece_state_free(piece_state_t *st) {
  for (int i = 0; i <= PIECE_MAX_LEVEL; i++) {
    if (st->compressors[i]) libdeflate_free_compressor(st->compressors[i]);
    st->compressors[i] = NULL;
  }
  free(st->scratch);
  st->scratch = NULL;
  st->scratch_size = 0;
}

/* Rewrites the complete stream out[0..len) (walked as *w) into a non-final piece; out must have
 * room for SYNC_MARKER_MAX more bytes. Returns the new length. */
static size_t make_non_final(uint8_t *out, const walk_result_t *w) {
  uint64_t h = w->final_header_bit, end = w->end_bit;
  out[h / 8] &= (uint8_t)~(1u << (h % 8)); /* BFINAL = 0 */
  size_t n = (size_t)(end / 8);
  if (end % 8) out[n++] &= (uint8_t)((1u << (end % 8)) - 1); /* keep the bits before the cut */
  if ((end + 3 + 7) / 8 > n) out[n++] = 0;                    /* room for the 3 zero header bits */
  out[n++] = 0x00;
  out[n++] = 0x00;
  out[n++] = 0xff;
  out[n++] = 0xff;
  return n;
}

const char *deflate_piece(piece_state_t *st, const walker_t *walker, const uint8_t *in, size_t len, int level, bool final,
                          const uint8_t **out, size_t *out_len) {
  if (level < 0 || level > PIECE_MAX_LEVEL) return "level must be 0..12";
  struct libdeflate_compressor *c = st->compressors[level];
  if (!c) {
    c = st->compressors[level] = libdeflate_alloc_compressor(level);
    if (!c) return "libdeflate_alloc_compressor failed (out of memory)";
  }
  size_t bound = libdeflate_deflate_compress_bound(c, len);
  if (bound > SIZE_MAX - SYNC_MARKER_MAX) return "input too large";
  if (st->scratch_size < bound + SYNC_MARKER_MAX) {
    free(st->scratch);
    st->scratch_size = 0;
    st->scratch = malloc(bound + SYNC_MARKER_MAX);
    if (!st->scratch) return "out of memory";
    st->scratch_size = bound + SYNC_MARKER_MAX;
  }
  static const uint8_t empty[1] = {0};
  size_t n = libdeflate_deflate_compress(c, in ? in : empty, len, st->scratch, bound);
  if (n == 0) return "libdeflate_deflate_compress failed";
  if (!final) {
    walk_result_t w;
    const char *err = walk_blocks(walker, st->scratch, n, &w);
    if (err) return err;
    n = make_non_final(st->scratch, &w);
  }
  *out = st->scratch;
  *out_len = n;
  return NULL;
}

void piece_release_scratch(piece_state_t *st) {
  if (st->scratch_size > SCRATCH_KEEP) {
    free(st->scratch);
    st->scratch = NULL;
    st->scratch_size = 0;
  }
}
