#ifndef BUNDLEFARM_AES_CBC_H
#define BUNDLEFARM_AES_CBC_H
#include <stddef.h>
#include <stdint.h>

/* 1 when the OpenSSL functions aes_cbc_encrypt needs were found in the process (Node's own OpenSSL). */
int aes_cbc_available(void);

/*
 * AES-128-CBC encryption of `len` bytes (a multiple of 16) of `buf`, in place, chained from `iv`,
 * no padding; `iv` is replaced by the last ciphertext block, so calls chain like one stream.
 * Returns 0, or -1 when OpenSSL is unavailable or fails.
 */
int aes_cbc_encrypt(const uint8_t key[16], uint8_t iv[16], uint8_t *buf, size_t len);
#endif
