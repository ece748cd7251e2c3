/* econtext/protocol.h: the markers a context's boot prints (docs/protocol.md §1), for
 * transports that watch the boot output. */
#ifndef ECONTEXT_PROTOCOL_H
#define ECONTEXT_PROTOCOL_H

/* The first stage runs and is about to read its payload. */
#define EC_MARKER_BOOT "ECBOOT0\n"
/* The core is up: frames follow. */
#define EC_MARKER_READY "ECREADY\n"

#endif
