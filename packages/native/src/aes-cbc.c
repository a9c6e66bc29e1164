/*
 * AES-128-CBC in place, with the OpenSSL that Node itself carries. node:crypto's Cipher.update returns a
 * new, zero-filled buffer for every call, and the ciphertext must then be copied into its part: at
 * bundling speeds that allocation, memset and copy cost as much as the encryption. Here the caller
 * encrypts its part buffer where it lies.
 *
 * The functions are looked up at run time (dlsym) rather than linked: Node exports its OpenSSL, but an
 * addon that failed to load for want of a symbol would lose everything else it does too. Without
 * them, aes_cbc_available() is 0 and bundlefarm uses node:crypto. The lookup runs once per process
 * (pthread_once): every thread that loads the addon (each cipher thread of each job) shares the table.
 */
#define _GNU_SOURCE
#include "aes-cbc.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

typedef struct evp_cipher_ctx EVP_CIPHER_CTX;
typedef struct evp_cipher EVP_CIPHER;

static pthread_once_t ossl_once = PTHREAD_ONCE_INIT;
static struct {
  int available; /* written once, under ossl_once */
  EVP_CIPHER_CTX *(*ctx_new)(void);
  void (*ctx_free)(EVP_CIPHER_CTX *);
  const EVP_CIPHER *(*aes_128_cbc)(void);
  int (*init)(EVP_CIPHER_CTX *, const EVP_CIPHER *, void *, const unsigned char *, const unsigned char *);
  int (*set_padding)(EVP_CIPHER_CTX *, int);
  int (*update)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int);
} ossl;

static void ossl_lookup(void) {
  ossl.ctx_new = (EVP_CIPHER_CTX * (*)(void)) dlsym(RTLD_DEFAULT, "EVP_CIPHER_CTX_new");
  ossl.ctx_free = (void (*)(EVP_CIPHER_CTX *))dlsym(RTLD_DEFAULT, "EVP_CIPHER_CTX_free");
  ossl.aes_128_cbc = (const EVP_CIPHER *(*)(void))dlsym(RTLD_DEFAULT, "EVP_aes_128_cbc");
  ossl.init = (int (*)(EVP_CIPHER_CTX *, const EVP_CIPHER *, void *, const unsigned char *, const unsigned char *))dlsym(
      RTLD_DEFAULT, "EVP_EncryptInit_ex");
  ossl.set_padding = (int (*)(EVP_CIPHER_CTX *, int))dlsym(RTLD_DEFAULT, "EVP_CIPHER_CTX_set_padding");
  ossl.update = (int (*)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int))dlsym(RTLD_DEFAULT, "EVP_EncryptUpdate");
  ossl.available = ossl.ctx_new && ossl.ctx_free && ossl.aes_128_cbc && ossl.init && ossl.set_padding && ossl.update;
}

int aes_cbc_available(void) {
  /* pthread_once also orders the table's writes before every caller's reads */
  if (pthread_once(&ossl_once, ossl_lookup) != 0) return 0;
  return ossl.available;
}

int aes_cbc_encrypt(const uint8_t key[16], uint8_t iv[16], uint8_t *buf, size_t len) {
  if (!aes_cbc_available() || len % 16 != 0) return -1;
  if (len == 0) return 0;
  EVP_CIPHER_CTX *ctx = ossl.ctx_new();
  if (!ctx) return -1;
  int ok = ossl.init(ctx, ossl.aes_128_cbc(), NULL, key, iv) == 1 && ossl.set_padding(ctx, 0) == 1;
  size_t done = 0;
  while (ok && done < len) {
    /* EVP takes int lengths: go in slices well below INT_MAX (multiples of 16) */
    size_t n = len - done > (size_t)1 << 30 ? (size_t)1 << 30 : len - done;
    int out = 0;
    ok = ossl.update(ctx, buf + done, &out, buf + done, (int)n) == 1 && (size_t)out == n;
    done += n;
  }
  ossl.ctx_free(ctx);
  if (!ok) return -1;
  memcpy(iv, buf + len - 16, 16);
  return 0;
}
