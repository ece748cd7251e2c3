/* fileio.h: whole reads and writes on blocking descriptors (regular files, pipes). */
#ifndef EC_CORE_FILEIO_H
#define EC_CORE_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Read until len bytes or end of file, retrying EINTR. The count read, or -1 (errno)
 * when nothing could be read because of an error. */
ssize_t ec__read_full(int fd, void *buf, size_t len);
/* Write all len bytes, retrying EINTR and short writes. 0, or -1 (errno). */
int ec__write_full(int fd, const void *buf, size_t len);

#endif
