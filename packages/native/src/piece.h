/*
 * Deflate "pieces": raw deflate of one buffer that can be concatenated with the pieces of the
 * following buffers into one deflate stream (see piece.c). The libdeflate part of the addon: built
 * only when libdeflate's header was found (HAVE_LIBDEFLATE, see scripts/build.mjs).
 */
#ifndef BUNDLEFARM_PIECE_H
#define BUNDLEFARM_PIECE_H

#include <libdeflate.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "walker.h"

#define PIECE_MAX_LEVEL 12

/* Per thread (per napi_env): compressors are created on first use of a level. */
typedef struct {
  struct libdeflate_compressor *compressors[PIECE_MAX_LEVEL + 1];
  uint8_t *scratch; /* compressed output, reused between calls */
  size_t scratch_size;
} piece_state_t;

void piece_state_init(piece_state_t *st);
void piece_state_free(piece_state_t *st);

/* Compresses in[0..len) at level (0..12); a non-final piece is cut with `walker`. On success returns
 * NULL and sets *out / *out_len to the piece (in st->scratch, valid until the next call); otherwise
 * returns a static error message. */
const char *deflate_piece(piece_state_t *st, const walker_t *walker, const uint8_t *in, size_t len, int level, bool final,
                          const uint8_t **out, size_t *out_len);

/* Frees the scratch buffer if one huge input made it huge (call after copying the piece). */
void piece_release_scratch(piece_state_t *st);

#endif
