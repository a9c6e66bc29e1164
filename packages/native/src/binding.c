/*
 * N-API glue of bundlefarm's native helpers (one instance per thread: each worker thread is its own
 * napi_env with its own libdeflate compressors and scratch buffers).
 *   deflatePiece(input, level, final) -> Buffer   raw deflate piece (see deflate-piece.c)
 *   crc32(input, initial?) -> number              libdeflate's CRC-32
 *   dataRuns(fd, size) -> number[]                [offset, length, ...] of a sparse file's data
 *   version() -> string                           libdeflate's version
 */
#include <errno.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

#include "data-runs.h"
#include "deflate-piece.h"

#define THROW(env, kind, msg)              \
  do {                                     \
    napi_throw_##kind((env), NULL, (msg)); \
    return NULL;                           \
  } while (0)

static void instance_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  piece_state_free((piece_state_t *)data);
  free(data);
}

static piece_state_t *instance(napi_env env) {
  piece_state_t *st = NULL;
  if (napi_get_instance_data(env, (void **)&st) == napi_ok && st) return st;
  st = calloc(1, sizeof(piece_state_t));
  if (!st) return NULL;
  if (napi_set_instance_data(env, st, instance_finalize, NULL) != napi_ok) {
    free(st);
    return NULL;
  }
  return st;
}

static int get_bytes(napi_env env, napi_value v, const uint8_t **data, size_t *len) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return -1;
  napi_typedarray_type type;
  size_t length, offset;
  void *ptr;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &offset) != napi_ok) return -1;
  if (type != napi_uint8_array) return -1;
  *data = ptr;
  *len = length;
  return 0;
}

static napi_value deflate_piece_fn(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) {
    THROW(env, type_error, "deflatePiece(input, level, final) needs 3 arguments");
  }
  const uint8_t *in;
  size_t in_len;
  if (get_bytes(env, argv[0], &in, &in_len)) THROW(env, type_error, "input must be a Uint8Array or Buffer");
  int32_t level;
  if (napi_get_value_int32(env, argv[1], &level) != napi_ok) THROW(env, type_error, "level must be a number");
  if (level < 0 || level > PIECE_MAX_LEVEL) THROW(env, range_error, "level must be 0..12");
  bool final;
  if (napi_get_value_bool(env, argv[2], &final) != napi_ok) THROW(env, type_error, "final must be a boolean");
  piece_state_t *st = instance(env);
  if (!st) THROW(env, error, "out of memory");
  const uint8_t *out;
  size_t out_len;
  const char *err = deflate_piece(st, in, in_len, level, final, &out, &out_len);
  if (err) THROW(env, error, err);
  napi_value result;
  void *copy;
  if (napi_create_buffer_copy(env, out_len, out, &copy, &result) != napi_ok) THROW(env, error, "could not allocate the result");
  return result;
}

static napi_value crc32_fn(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const uint8_t *in;
  size_t len;
  if (argc < 1 || get_bytes(env, argv[0], &in, &len)) THROW(env, type_error, "input must be a Uint8Array or Buffer");
  uint32_t initial = 0;
  if (argc > 1) {
    napi_valuetype t;
    napi_typeof(env, argv[1], &t);
    if (t != napi_undefined && napi_get_value_uint32(env, argv[1], &initial) != napi_ok) THROW(env, type_error, "initial must be a number");
  }
  napi_value r;
  napi_create_uint32(env, libdeflate_crc32(initial, in, len), &r);
  return r;
}

static napi_value data_runs_fn(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  int64_t size;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &size) != napi_ok) {
    THROW(env, type_error, "dataRuns(fd, size) needs a file descriptor and a size");
  }
  int64_t *runs;
  size_t count;
  int e = data_runs(fd, size, &runs, &count);
  if (e) {
    napi_value msg, code, err;
    napi_create_string_utf8(env, strerror(e), NAPI_AUTO_LENGTH, &msg);
    napi_create_int32(env, e, &code);
    napi_create_error(env, NULL, msg, &err);
    napi_set_named_property(env, err, "errno", code);
    napi_throw(env, err);
    return NULL;
  }
  napi_value arr;
  napi_create_array_with_length(env, count * 2, &arr);
  for (size_t i = 0; i < count * 2; i++) {
    napi_value v;
    napi_create_int64(env, runs[i], &v);
    napi_set_element(env, arr, (uint32_t)i, v);
  }
  free(runs);
  return arr;
}

static napi_value version_fn(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_create_string_utf8(env, LIBDEFLATE_VERSION_STRING, NAPI_AUTO_LENGTH, &r);
  return r;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"deflatePiece", NULL, deflate_piece_fn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"crc32", NULL, crc32_fn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dataRuns", NULL, data_runs_fn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"version", NULL, version_fn, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
