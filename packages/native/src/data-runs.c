#define _GNU_SOURCE
#include "data-runs.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static int push(int64_t **runs, size_t *count, size_t *cap, int64_t offset, int64_t length) {
  if (*count == *cap) {
    size_t ncap = *cap ? *cap * 2 : 64;
    int64_t *p = realloc(*runs, ncap * 2 * sizeof(int64_t));
    if (!p) return ENOMEM;
    *runs = p;
    *cap = ncap;
  }
  (*runs)[2 * *count] = offset;
  (*runs)[2 * *count + 1] = length;
  (*count)++;
  return 0;
}

int data_runs(int fd, int64_t size, int64_t **runs, size_t *count) {
  size_t cap = 0;
  *runs = NULL;
  *count = 0;
  int64_t pos = 0;
  while (pos < size) {
    off_t data = lseek(fd, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break; /* only a hole from pos to the end */
      int e = errno;
      free(*runs);
      *runs = NULL;
      *count = 0;
      return e;
    }
    if (data >= size) break;
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) {
      int e = errno;
      free(*runs);
      *runs = NULL;
      *count = 0;
      return e;
    }
    if (hole > size) hole = size;
    int e = push(runs, count, &cap, data, hole - data);
    if (e) {
      free(*runs);
      *runs = NULL;
      *count = 0;
      return e;
    }
    pos = hole;
  }
  return 0;
}
