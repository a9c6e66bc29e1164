/*
 * N-API binding of @bundlefarm/native. Every thread that loads it (the main thread and each
 * worker thread) is its own napi_env with its own instance data: the walker's fixed Huffman tables
 * and, with libdeflate, cached compressors and a scratch output buffer, freed when the env is torn
 * down.
 *
 * Always built (a C compiler and Node's headers are all it takes):
 *   walkBlocks(raw) -> { blocks, finalHeaderBit, endBit }   the block walker, for tests and tools
 *   dataRuns(fd, size) -> number[]               [offset, length, ...] of a sparse file's data (SEEK_DATA)
 *   aesCbcEncrypt(key, iv, buf) -> undefined     AES-128-CBC of buf in place, iv advanced (see aes-cbc.c)
 *   aesCbcAvailable() -> boolean                 whether Node's OpenSSL was found for it
 *   alignedOffset(view, alignment) -> number     bytes from the view's start to the first address that
 *                                                is a multiple of alignment (a power of two)
 *   libdeflate: string | null                    libdeflate's version when built with it, else null
 *
 * Only with HAVE_LIBDEFLATE (libdeflate.h found at build time, see scripts/build.mjs):
 *   deflatePiece(input, level, final) -> Buffer  raw deflate piece (see piece.c)
 *   crc32(input, initial = 0) -> number          libdeflate's CRC-32, same contract as zlib.crc32
 *   version() -> string                          libdeflate's version
 */
#include <math.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <errno.h>
#include <string.h>

#include "aes-cbc.h"
#include "data-runs.h"
#include "walker.h"
#ifdef HAVE_LIBDEFLATE
#include "piece.h"
#endif

/* Throws a JS error of the given kind (error, type_error, range_error) with a code; returns NULL. */
#define THROW(env, kind, code, ...)                         \
  do {                                                      \
    char msg_[256];                                         \
    snprintf(msg_, sizeof msg_, __VA_ARGS__);               \
    napi_throw_##kind((env), (code), msg_);                 \
    return NULL;                                            \
  } while (0)

#define E_TYPE "ERR_INVALID_ARG_TYPE"
#define E_VALUE "ERR_INVALID_ARG_VALUE"
#define E_RANGE "ERR_OUT_OF_RANGE"
#define E_INTERNAL "ERR_BUNDLEFARM_NATIVE"

/* Per napi_env (per thread). */
typedef struct {
  walker_t walker;
#ifdef HAVE_LIBDEFLATE
  piece_state_t piece;
#endif
} instance_t;

static void instance_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
#ifdef HAVE_LIBDEFLATE
  piece_state_free(&((instance_t *)data)->piece);
#endif
  free(data);
}

static instance_t *instance(napi_env env) {
  instance_t *st = NULL;
  if (napi_get_instance_data(env, (void **)&st) != napi_ok) return NULL;
  return st;
}

/* Reads a Uint8Array (Buffer included) argument; false if it is not one. The view is writable:
 * callers that only read take it as const. */
static bool get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  void *ptr;
  if (napi_get_typedarray_info(env, v, &type, len, &ptr, NULL, NULL) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  *data = ptr; /* already adjusted by the view's byte offset; NULL when detached (len 0) */
  return true;
}

static bool is_type(napi_env env, napi_value v, napi_valuetype want) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == want;
}

static napi_value aes_cbc_available_fn(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  if (napi_get_boolean(env, aes_cbc_available(), &r) != napi_ok) return NULL;
  return r;
}

/* Whether [a, a+alen) and [b, b+blen) share a byte. */
static bool overlaps(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  if (!a || !b || alen == 0 || blen == 0) return false;
  uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
  return pa < pb + blen && pb < pa + alen;
}

static napi_value aes_cbc_encrypt_fn(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) THROW(env, error, E_INTERNAL, "napi_get_cb_info failed");
  uint8_t *key, *iv, *buf;
  size_t key_len, iv_len, len;
  if (argc < 3 || !get_bytes(env, argv[0], &key, &key_len) || !get_bytes(env, argv[1], &iv, &iv_len) || !get_bytes(env, argv[2], &buf, &len)) {
    THROW(env, type_error, E_TYPE, "aesCbcEncrypt: key, iv and buf must be Uint8Arrays");
  }
  if (key_len != 16 || iv_len != 16) THROW(env, range_error, E_RANGE, "aesCbcEncrypt: key and iv must be 16 bytes");
  if (len % 16 != 0) THROW(env, range_error, E_RANGE, "aesCbcEncrypt: buf must be a multiple of 16 bytes, got %zu", len);
  /* buf is encrypted in place and iv replaced by its last block: neither may lie inside buf */
  if (overlaps(key, 16, buf, len) || overlaps(iv, 16, buf, len)) {
    THROW(env, type_error, E_VALUE, "aesCbcEncrypt: key and iv must not share memory with buf");
  }
  if (len > 0 && aes_cbc_encrypt(key, iv, buf, len) != 0) {
    THROW(env, error, E_INTERNAL, "aesCbcEncrypt: OpenSSL is unavailable or failed");
  }
  return NULL;
}

static bool set_number(napi_env env, napi_value obj, const char *name, double v) {
  napi_value n;
  return napi_create_double(env, v, &n) == napi_ok && napi_set_named_property(env, obj, name, n) == napi_ok;
}

static napi_value walk_blocks_fn(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) THROW(env, error, E_INTERNAL, "napi_get_cb_info failed");
  uint8_t *in;
  size_t len;
  if (argc < 1 || !get_bytes(env, argv[0], &in, &len)) THROW(env, type_error, E_TYPE, "walkBlocks: input must be a Uint8Array or Buffer");
  instance_t *st = instance(env);
  if (!st) THROW(env, error, E_INTERNAL, "binding not initialised");
  walk_result_t w;
  const char *err = walk_blocks(&st->walker, in, len, &w);
  if (err) THROW(env, error, E_INTERNAL, "walkBlocks: %s", err);
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok || !set_number(env, obj, "blocks", (double)w.blocks) ||
      !set_number(env, obj, "finalHeaderBit", (double)w.final_header_bit) || !set_number(env, obj, "endBit", (double)w.end_bit)) {
    return NULL;
  }
  return obj;
}

/* Throws an Error with the message of errno `e` and its number as `errno`. */
static napi_value throw_errno(napi_env env, int e) {
  napi_value msg, code, err;
  if (napi_create_string_utf8(env, strerror(e), NAPI_AUTO_LENGTH, &msg) != napi_ok || napi_create_int32(env, e, &code) != napi_ok ||
      napi_create_error(env, NULL, msg, &err) != napi_ok || napi_set_named_property(env, err, "errno", code) != napi_ok ||
      napi_throw(env, err) != napi_ok) {
    napi_throw_error(env, E_INTERNAL, strerror(e));
  }
  return NULL;
}

static napi_value data_runs_fn(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) THROW(env, error, E_INTERNAL, "napi_get_cb_info failed");
  double fd, size;
  if (argc < 2 || !is_type(env, argv[0], napi_number) || !is_type(env, argv[1], napi_number) ||
      napi_get_value_double(env, argv[0], &fd) != napi_ok || napi_get_value_double(env, argv[1], &size) != napi_ok) {
    THROW(env, type_error, E_TYPE, "dataRuns(fd, size) needs a file descriptor and a size");
  }
  if (!(fd >= 0 && fd <= INT32_MAX && fd == floor(fd))) THROW(env, range_error, E_RANGE, "dataRuns: fd must be an integer from 0 to 2^31-1, got %g", fd);
  /* 2^53: exact in a double, and far beyond any off_t a file here can have */
  if (!(size >= 0 && size <= 9007199254740992.0 && size == floor(size))) {
    THROW(env, range_error, E_RANGE, "dataRuns: size must be an integer from 0 to 2^53, got %g", size);
  }
  int64_t *runs;
  size_t count;
  int e = data_runs((int)fd, (int64_t)size, &runs, &count);
  if (e) return throw_errno(env, e);
  napi_value arr;
  bool ok = count <= UINT32_MAX / 2 && napi_create_array_with_length(env, count * 2, &arr) == napi_ok;
  for (size_t i = 0; ok && i < count * 2; i++) {
    napi_value v;
    ok = napi_create_int64(env, runs[i], &v) == napi_ok && napi_set_element(env, arr, (uint32_t)i, v) == napi_ok;
  }
  free(runs);
  if (!ok) {
    /* a pending exception (e.g. out of memory) is the better message: keep it */
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return NULL;
    THROW(env, error, E_INTERNAL, "dataRuns: could not build the result array (%zu runs)", count);
  }
  return arr;
}

static napi_value aligned_offset_fn(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) THROW(env, error, E_INTERNAL, "napi_get_cb_info failed");
  if (argc < 2) THROW(env, type_error, E_TYPE, "alignedOffset(view, alignment) takes 2 arguments, got %zu", argc);
  uint8_t *data;
  size_t len;
  if (!get_bytes(env, argv[0], &data, &len)) THROW(env, type_error, E_TYPE, "alignedOffset: view must be a Uint8Array or Buffer");
  double alignment;
  if (!is_type(env, argv[1], napi_number) || napi_get_value_double(env, argv[1], &alignment) != napi_ok) {
    THROW(env, type_error, E_TYPE, "alignedOffset: alignment must be a number");
  }
  if (!(alignment >= 1 && alignment <= (1 << 30) && alignment == floor(alignment)) || ((uint64_t)alignment & ((uint64_t)alignment - 1)) != 0) {
    THROW(env, range_error, E_RANGE, "alignedOffset: alignment must be a power of two up to 2^30, got %g", alignment);
  }
  uintptr_t a = (uintptr_t)alignment;
  uintptr_t offset = data == NULL ? 0 : (a - ((uintptr_t)data & (a - 1))) & (a - 1);
  napi_value r;
  if (napi_create_double(env, (double)offset, &r) != napi_ok) return NULL;
  return r;
}

#ifdef HAVE_LIBDEFLATE
/* ---- libdeflate: deflate pieces, CRC-32, version ---- */

static napi_value deflate_piece_fn(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) THROW(env, error, E_INTERNAL, "napi_get_cb_info failed");
  if (argc < 3) THROW(env, type_error, E_TYPE, "deflatePiece(input, level, final) takes 3 arguments, got %zu", argc);
  uint8_t *in;
  size_t len;
  if (!get_bytes(env, argv[0], &in, &len)) THROW(env, type_error, E_TYPE, "deflatePiece: input must be a Uint8Array or Buffer");
  double level;
  if (!is_type(env, argv[1], napi_number) || napi_get_value_double(env, argv[1], &level) != napi_ok) {
    THROW(env, type_error, E_TYPE, "deflatePiece: level must be a number");
  }
  if (!(level >= 0 && level <= PIECE_MAX_LEVEL && level == floor(level))) {
    THROW(env, range_error, E_RANGE, "deflatePiece: level must be an integer from 0 to %d, got %g", PIECE_MAX_LEVEL, level);
  }
  bool final;
  if (!is_type(env, argv[2], napi_boolean) || napi_get_value_bool(env, argv[2], &final) != napi_ok) {
    THROW(env, type_error, E_TYPE, "deflatePiece: final must be a boolean");
  }
  instance_t *st = instance(env);
  if (!st) THROW(env, error, E_INTERNAL, "binding not initialised");

  const uint8_t *out;
  size_t out_len;
  const char *err = deflate_piece(&st->piece, &st->walker, in, len, (int)level, final, &out, &out_len);
  if (err) THROW(env, error, E_INTERNAL, "deflatePiece: %s", err);
  napi_value result;
  void *copy;
  napi_status s = napi_create_buffer_copy(env, out_len, out, &copy, &result);
  piece_release_scratch(&st->piece);
  if (s != napi_ok) THROW(env, error, E_INTERNAL, "deflatePiece: could not allocate a %zu-byte Buffer", out_len);
  return result;
}

static napi_value crc32_fn(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) THROW(env, error, E_INTERNAL, "napi_get_cb_info failed");
  uint8_t *in;
  size_t len;
  if (argc < 1 || !get_bytes(env, argv[0], &in, &len)) THROW(env, type_error, E_TYPE, "crc32: input must be a Uint8Array or Buffer");
  double initial = 0;
  if (argc > 1 && !is_type(env, argv[1], napi_undefined)) {
    if (!is_type(env, argv[1], napi_number) || napi_get_value_double(env, argv[1], &initial) != napi_ok) {
      THROW(env, type_error, E_TYPE, "crc32: initial must be a number");
    }
    if (!(initial >= 0 && initial <= 4294967295.0 && initial == floor(initial))) {
      THROW(env, range_error, E_RANGE, "crc32: initial must be an integer from 0 to 2^32-1, got %g", initial);
    }
  }
  static const uint8_t empty[1] = {0};
  napi_value r;
  if (napi_create_uint32(env, libdeflate_crc32((uint32_t)initial, in ? in : empty, len), &r) != napi_ok) return NULL;
  return r;
}

static napi_value version_fn(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  if (napi_create_string_utf8(env, LIBDEFLATE_VERSION_STRING, NAPI_AUTO_LENGTH, &r) != napi_ok) return NULL;
  return r;
}

#endif /* HAVE_LIBDEFLATE */

NAPI_MODULE_INIT() {
  /* Loaded again in the same env (e.g. from another path): keep the existing state, since setting
   * new instance data would drop the old one without finalizing it. */
  if (!instance(env)) {
    instance_t *st = calloc(1, sizeof *st);
    if (!st) {
      napi_throw_error(env, E_INTERNAL, "out of memory");
      return NULL;
    }
    walker_init(&st->walker);
#ifdef HAVE_LIBDEFLATE
    piece_state_init(&st->piece);
#endif
    if (napi_set_instance_data(env, st, instance_finalize, NULL) != napi_ok) {
      free(st);
      napi_throw_error(env, E_INTERNAL, "napi_set_instance_data failed");
      return NULL;
    }
  }
  /* Resolve Node's OpenSSL functions now, once per process, rather than on a cipher thread's first call. */
  (void)aes_cbc_available();
  napi_value libdeflate;
#ifdef HAVE_LIBDEFLATE
  if (napi_create_string_utf8(env, LIBDEFLATE_VERSION_STRING, NAPI_AUTO_LENGTH, &libdeflate) != napi_ok) return NULL;
#else
  if (napi_get_null(env, &libdeflate) != napi_ok) return NULL;
#endif
  napi_property_descriptor props[] = {
      {"walkBlocks", NULL, walk_blocks_fn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dataRuns", NULL, data_runs_fn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"aesCbcEncrypt", NULL, aes_cbc_encrypt_fn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"aesCbcAvailable", NULL, aes_cbc_available_fn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"alignedOffset", NULL, aligned_offset_fn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"libdeflate", NULL, NULL, NULL, NULL, libdeflate, napi_enumerable, NULL},
#ifdef HAVE_LIBDEFLATE
      {"deflatePiece", NULL, deflate_piece_fn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"crc32", NULL, crc32_fn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"version", NULL, version_fn, NULL, NULL, NULL, napi_enumerable, NULL},
#endif
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
