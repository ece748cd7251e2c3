/* transfer.h: what the master reads from a context in a file transfer (core/transfer.c),
 * the part that needs no call: the answers of econtext._stat and econtext._get checked,
 * and the local side of an entry of a get -r's walk. Apart so that fuzz/fuzz_transfer.c
 * reaches them with values of its own, without a context; not in the public API. */
#ifndef EC_CORE_TRANSFER_H
#define EC_CORE_TRANSFER_H

#include <stdint.h>
#include <time.h>

#include "econtext.h"

/* econtext._stat's answer: (exists, is a directory, size, SHA-256 or None, mode, owner
 * and group those asked for). */
struct ec__xfer_stat {
	int exists, isdir, owned;
	int64_t size;
	const char *sha256; /* text of the answer (borrowed), or NULL for None */
	unsigned mode;      /* & 07777 */
};
/* r as _stat's answer into *out: 0, or -1 when it is something else. */
int ec__xfer_stat_answer(const ec_value *r, struct ec__xfer_stat *out);

/* econtext._get's answer: (size, SHA-256, mode, mtime) of what the context sent. */
struct ec__xfer_got {
	uint64_t size;
	const char *sha256; /* text of the answer (borrowed) */
	unsigned mode;      /* & 07777 */
	struct timespec mtime;
};
/* r as _get's answer into *out: 0, or -1 when it is something else (an mtime no
 * struct timespec holds among them). */
int ec__xfer_get_answer(const ec_value *r, struct ec__xfer_got *out);

/* Item n (from 0) of econtext._walk_next's answers in a get -r into local_dir, as
 * ec_context_get_tree takes it, its owner and group left as they are: checked (EC_EPROTO:
 * misshapen, the top not first, a name that is absolute, has an empty, "." or ".."
 * component, or goes through what is not a directory here), then a directory made
 * (kind 0) or finished (3: its mode and mtime), a symbolic link made (2). A file (1) is
 * the context's to send: its local path, checked, in *file (malloc'd; else NULL).
 * res->changed says what changed; errors name local_dir. */
int ec__xfer_tree_entry(const char *local_dir, const ec_value *item, uint64_t n, char **file,
                        struct ec_transfer_result *res, struct ec_error *err);

#endif
