/*
 * A DEFLATE (RFC 1951) block walker: finds where the blocks of a raw deflate stream begin and end
 * without decompressing it (no output, no window). Used to turn libdeflate's whole-buffer output
 * into a non-final "piece" that can be followed by more deflate data.
 */
#ifndef BUNDLEFARM_WALKER_H
#define BUNDLEFARM_WALKER_H

#include <stddef.h>
#include <stdint.h>

#define WALK_FAST_BITS 10 /* bits resolved by one table lookup; longer codes take the slow path */
#define WALK_MAX_CODE 15  /* longest Huffman code DEFLATE allows */

/* A canonical Huffman code, set up for skipping symbols. */
typedef struct {
  /* Indexed by the next WALK_FAST_BITS stream bits: (value << 8) | bits to consume, where the bits
   * to consume include a length's or distance's extra bits. 0: the code is longer than
   * WALK_FAST_BITS (or the bits are no code at all): use the slow path. */
  uint16_t fast[1u << WALK_FAST_BITS];
  uint16_t count[WALK_MAX_CODE + 1]; /* number of codes of each length */
  uint16_t symbol[288];              /* symbols sorted by code (canonical order) */
  const uint16_t *info;              /* per symbol: (value << 8) | extra bits */
} walk_huff_t;

/* Per thread: the fixed Huffman codes of BTYPE=01 blocks, built once by walker_init(). */
typedef struct {
  walk_huff_t fixed_litlen;
  walk_huff_t fixed_dist;
} walker_t;

typedef struct {
  uint64_t final_header_bit; /* stream bit offset of the final block's BFINAL bit */
  uint64_t end_bit;          /* stream bit offset just past the final block (after its end-of-block code) */
  uint64_t blocks;           /* number of blocks, final one included */
} walk_result_t;

void walker_init(walker_t *w);

/* Walks the raw deflate stream in[0..len). Returns NULL and fills *res on success, or a static
 * message if the stream is malformed, is truncated or has bytes after the final block's padding. */
const char *walk_blocks(const walker_t *w, const uint8_t *in, size_t len, walk_result_t *res);

#endif
