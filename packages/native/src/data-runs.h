/*
 * Data runs of a sparse file from the filesystem (lseek SEEK_DATA / SEEK_HOLE), as GNU tar -S finds
 * them: no read of the holes at all.
 */
#ifndef BUNDLEFARM_DATA_RUNS_H
#define BUNDLEFARM_DATA_RUNS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Appends [offset, length] pairs of the data runs of fd in [0, size) to *runs (realloc'd, *count pairs).
 * Returns 0, or an errno value (EINVAL/ENOTSUP/ENXIO... when the filesystem cannot tell).
 */
int data_runs(int fd, int64_t size, int64_t **runs, size_t *count);

#endif
