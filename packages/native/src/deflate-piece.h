/*
 * Raw deflate "pieces" with the system libdeflate: a non-final piece holds no final block and ends
 * byte-aligned with a sync-flush marker, so pieces concatenate into one deflate stream. See
 * deflate-piece.c for how libdeflate's final block is turned into a non-final one.
 */
#ifndef BUNDLEFARM_DEFLATE_PIECE_H
#define BUNDLEFARM_DEFLATE_PIECE_H

#include <libdeflate.h>
#include <stddef.h>
#include <stdint.h>

#define PIECE_MAX_LEVEL 12

typedef struct walker_tables tables_t;

/* Per-thread state: compressors by level, an output scratch buffer, the walker's decode tables. */
typedef struct {
  struct libdeflate_compressor *compressors[PIECE_MAX_LEVEL + 1];
  uint8_t *scratch;
  size_t scratch_cap;
  tables_t *tables;
} piece_state_t;

/*
 * Compress `in` into a piece; on success returns NULL and points *out at the piece (valid until the next
 * call with the same state), else returns an error message.
 */
const char *deflate_piece(piece_state_t *st, const uint8_t *in, size_t in_len, int level, int final,
                          const uint8_t **out, size_t *out_len);

void piece_state_free(piece_state_t *st);

#endif
