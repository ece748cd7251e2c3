/* codecache.h: the remote core as bytecode, kept per local interpreter binary.
 *
 * Compiling the core's source is most of a context's start-up after the interpreter's
 * own (5 to 16 ms: more than unmarshalling it takes by a factor of 30). A local context
 * compiles it once for the master (econtext.core_code); the master keeps the result in
 * its cache directory, and later boots of the same interpreter binary with the same
 * econtext build receive it instead of the source (payload/loader.py unmarshals it)
 * (docs/protocol.md §1, "The bytecode cache"). Only contexts that run on this machine
 * as this user (the `local` transport) write it: bytecode from anywhere else could not
 * be trusted to run in other contexts; a `sudo` context on this machine may read it.
 * Entries unused for 30 days are removed when a new one is written. */
#ifndef EC_CORE_CODECACHE_H
#define EC_CORE_CODECACHE_H

#include <stddef.h>
#include <sys/stat.h>

#include "buf.h"

#define EC_CODECACHE_NAME_MAX 48
/* What the loader says (payload/loader.py), in the boot output, when the interpreter
 * is not the one its entry was made for. */
#define EC_CODECACHE_REFUSAL "this bytecode cache entry is for another Python"

/* The cache file's name for `python` (a path, or a name looked up in $PATH as
 * posix_spawnp does): a hash of this build's core, of the binary's identity (real
 * path, device, inode, size, mtime) and of the codec's context side (codec: its
 * remote_source, compiled with the core; may be NULL). -1 if the binary cannot be
 * found. */
int ec__codecache_name(const char *python, const char *codec,
                       char name[EC_CODECACHE_NAME_MAX]);

/* Where posix_spawnp would find `python`: into real, the file (symbolic links
 * resolved) and its identity; into found, the path as found, absolute, links kept (a
 * virtualenv's python is a link to another's). -1 when it is not found, not a binary,
 * or (found not NULL) found through a relative $PATH entry. No OpenSSL: it runs
 * before a direct boot's spawn. */
int ec__codecache_binary(const char *python, char *real, struct stat *st, char *found);

/* Any entry: a private file of ours in the cache directory, an 8-byte magic, the
 * SHA-256 of the body, the body. get appends the body to out: 0, or -1 on a miss or
 * a file that is damaged, not ours or not private. put replaces the file whole
 * (rename): 0, or -1 with a sentence in why. */
int ec__codecache_get(const char *name, const char *magic, struct ec_buf *out);
int ec__codecache_put(const char *name, const char *magic, const void *body, size_t len,
                      char *why, size_t why_len);
/* The same without the header: the file's bytes as they are (read appends them to
 * out), for an entry that checks itself without OpenSSL (core/direct.c). */
int ec__codecache_read(const char *name, struct ec_buf *out);
int ec__codecache_write(const char *name, const void *data, size_t len, char *why,
                        size_t why_len);

/* The cache directory ($XDG_CACHE_HOME/econtext or ~/.cache/econtext) into dir. -1
 * if there is no home. */
int ec__codecache_dir(char *dir, size_t n);

/* On a hit, append to core the compressed bytecode (raw deflate ending on a sync
 * flush, ready to go last in the boot stream) and return 0. -1 on a
 * miss, or when the file is not ours, not private, or damaged. */
int ec__codecache_load(const char *name, struct ec_buf *core);

/* Keep `marshalled` (the interpreter's 4-byte bytecode magic, then the core's code
 * object as marshal.dumps gives it) under name. 0, or -1 with a sentence in why (for a
 * debug line). */
int ec__codecache_store(const char *name, const unsigned char *marshalled, size_t len,
                        char *why, size_t why_len);

/* Append to out the raw deflate of `marshalled` (as ec__codecache_store takes it) at
 * zlib level `level`, ended on a sync flush: what the boot stream carries after B's
 * tag 'C'. -1 when out of memory (or no bytecode). */
int ec__codecache_pack(const unsigned char *marshalled, size_t len, int level,
                       struct ec_buf *out);
/* Forget an entry (a boot from it failed). */
void ec__codecache_drop(const char *name);

#endif
