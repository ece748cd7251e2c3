/* fuzz_transfer.c: libFuzzer target for what the master reads from a context in a file
 * transfer (core/transfer.c, core/transfer.h), values decoded by the pickle codec as the
 * master decodes a reply: the answer of econtext._stat (put, and get's unchanged check),
 * of econtext._get (size, SHA-256, mode, mtime), and the entries of a get -r's walk
 * (econtext._walk_next) applied to a scratch directory as ec_context_get_tree applies
 * them: directories made and finished (mode, mtime), links made, and for a file what
 * get_file does here (a temporary file beside it, renamed over it).
 *
 * The input: a first byte (0: a _stat answer, 1: a _get answer, else a walk), then a
 * pickle. A walk's pickle is a list of entries (one batch of _walk_next), or a list of
 * such lists (batches, up to the first that is not a list or is empty, as the master
 * stops there).
 *
 * Its checks, besides no crash, leak or undefined behaviour: every refusal has a
 * message; an answer taken holds what the master then reads (a digest that is a string,
 * an mtime with its nanoseconds in range); an entry whose name is absolute, has an
 * empty, "." or ".." component, or a NUL, is refused; what an entry makes (a directory,
 * a link, a file) is under the destination, its directory's real path too; and nothing
 * appears outside the destination: the scratch directory holds only it and a directory
 * "outside" whose one file stays as it was. */
#include "ecbuild.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "econtext/codec.h"
#include "host.h"
#include "transfer.h"

const struct ec_plugin *ec_plugin_pickle_describe(void);

static const struct ec_codec_ops *codec;
static void *codec_state;
static char root[64], dest[96], outside[96], keep[128];
static char real_dest[PATH_MAX];

static void die(const char *why, const char *detail)
{
	fprintf(stderr, "fuzz_transfer: %s%s%s\n", why, detail ? ": " : "", detail ? detail : "");
	abort();
}

/* Remove the tree at path (made writable and searchable first), not following links. */
static void rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		chmod(path, 0700);
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char *sub = NULL;
			if (asprintf(&sub, "%s/%s", path, e->d_name) < 0)
				abort();
			rm_tree(sub);
			free(sub);
		}
		if (d)
			closedir(d);
		if (rmdir(path) != 0)
			die("cannot remove a directory", path);
	} else if (unlink(path) != 0) {
		die("cannot remove", path);
	}
}

static void cleanup(void)
{
	rm_tree(root);
}

static void init(void)
{
	snprintf(root, sizeof(root), "/tmp/ec-fuzz-transfer.XXXXXX");
	if (!mkdtemp(root))
		abort();
	atexit(cleanup);
	snprintf(dest, sizeof(dest), "%s/dest", root);
	snprintf(outside, sizeof(outside), "%s/outside", root);
	snprintf(keep, sizeof(keep), "%s/keep", outside);
	int fd;
	if (mkdir(outside, 0755) || (fd = open(keep, O_WRONLY | O_CREAT | O_EXCL, 0644)) < 0 ||
	    write(fd, "keep", 4) != 4 || close(fd))
		abort();
	struct ec_error err = {0};
	const struct ec_plugin *p = ec_plugin_pickle_describe();
	if (p->load(ec__host_get(), &codec_state, &err))
		abort();
	codec = p->ops;
}

/* The scratch directory holds dest and outside only, and outside its one file as it
 * was. */
static void check_outside(void)
{
	DIR *d = opendir(root);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "dest") &&
		    strcmp(e->d_name, "outside"))
			die("something was made outside the destination", e->d_name);
	if (d)
		closedir(d);
	d = opendir(outside);
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "keep"))
			die("something was made outside the destination, in outside/", e->d_name);
	if (d)
		closedir(d);
	struct stat st;
	if (lstat(keep, &st) || !S_ISREG(st.st_mode) || st.st_size != 4 || (st.st_mode & 07777) != 0644)
		die("a file outside the destination changed", keep);
	if (lstat(outside, &st) || !S_ISDIR(st.st_mode) || (st.st_mode & 07777) != 0755)
		die("the directory outside the destination changed", outside);
}

/* path is dest itself or under it, and the real path of its directory is under dest's. */
static void check_under_dest(const char *path)
{
	size_t n = strlen(dest);
	if (strncmp(path, dest, n) || (path[n] && path[n] != '/'))
		die("an entry's path is not under the destination", path);
	if (!path[n])
		return;
	char *copy = strdup(path), real[PATH_MAX];
	if (!copy)
		abort();
	const char *dir = dirname(copy);
	if (realpath(dir, real)) {
		size_t rn = strlen(real_dest);
		if (strncmp(real, real_dest, rn) || (real[rn] && real[rn] != '/'))
			die("an entry's directory is outside the destination", real);
	}
	free(copy);
}

/* A name the master must refuse, whatever is on the disk. */
static int name_bad(const ec_value *item)
{
	if (item->type != EC_T_TUPLE || item->u.seq.len != 5)
		return 1;
	const ec_value *nv = item->u.seq.items[0];
	if (nv->type != EC_T_STR && nv->type != EC_T_BYTES)
		return 1;
	const char *s = nv->u.s.data;
	size_t len = nv->u.s.len;
	if (!len)
		return 0;
	if (memchr(s, '\0', len) || s[0] == '/')
		return 1;
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && s[j] != '/')
			j++;
		size_t c = j - i;
		if ((c == 0 && j < len) || (c == 1 && s[i] == '.') || (c == 2 && s[i] == '.' && s[i + 1] == '.'))
			return 1;
		i = j + 1;
	}
	return 0;
}

/* What get_file does here with a file's local path, but the bytes: a temporary file
 * beside it, renamed over it; a directory there refuses it. */
static void write_file(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return;
	char *copy = strdup(path), *tmp = NULL;
	if (!copy || asprintf(&tmp, "%s/.ec-fuzz-tmp", dirname(copy)) < 0)
		abort();
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		if (write(fd, "x", 1) != 1)
			die("cannot write", tmp);
		close(fd);
		if (rename(tmp, path) != 0)
			unlink(tmp);
	}
	free(tmp);
	free(copy);
}

static void walk(const ec_value *v)
{
	if (v->type != EC_T_LIST)
		return;
	int batches = v->u.seq.len && v->u.seq.items[0]->type == EC_T_LIST;
	size_t nb = batches ? v->u.seq.len : 1;
	uint64_t n = 0;
	struct ec_transfer_result res = {0};
	for (size_t b = 0; b < nb; b++) {
		const ec_value *batch = batches ? v->u.seq.items[b] : v;
		if (batch->type != EC_T_LIST || !batch->u.seq.len)
			break;
		for (size_t i = 0; i < batch->u.seq.len; i++, n++) {
			const ec_value *item = batch->u.seq.items[i];
			char *file = NULL;
			struct ec_error err = {0};
			int rc = ec__xfer_tree_entry(dest, item, n, &file, &res, &err);
			if (rc) {
				if (!err.msg[0])
					die("an entry refused without a message", NULL);
				if (file)
					die("a refused entry gave a file", file);
				check_outside();
				return; /* the master stops at the first error */
			}
			if (name_bad(item))
				die("an entry with a bad name was taken", item->u.seq.items[0]->u.s.data);
			if (file) {
				check_under_dest(file);
				write_file(file);
				free(file);
			} else if (item->u.seq.items[0]->u.s.len) {
				char *path = NULL;
				if (asprintf(&path, "%s/%s", dest, item->u.seq.items[0]->u.s.data) < 0)
					abort();
				check_under_dest(path);
				free(path);
			}
			check_outside();
		}
	}
}

static void stat_answer(const ec_value *v)
{
	struct ec__xfer_stat s;
	if (ec__xfer_stat_answer(v, &s))
		return;
	if (s.mode > 07777)
		die("a _stat answer taken that the master cannot use", NULL);
	/* What put's stat_finish and get's get_same do with its digest. */
	char theirs[65];
	if (s.sha256)
		snprintf(theirs, sizeof(theirs), "%s", s.sha256);
}

static void get_answer(const ec_value *v)
{
	struct ec__xfer_got g;
	if (ec__xfer_get_answer(v, &g))
		return;
	if (!g.sha256 || g.mtime.tv_nsec < 0 || g.mtime.tv_nsec > 999999999 || g.mode > 07777)
		die("a _get answer taken that the master cannot use", NULL);
	/* What get_file does with it: the mode and times of its file. */
	char path[128];
	snprintf(path, sizeof(path), "%s/got", root);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	struct timespec times[2] = {g.mtime, g.mtime};
	if (fd < 0 || fchmod(fd, g.mode | 0600) != 0)
		die("cannot make a file", path);
	futimens(fd, times); /* out of the filesystem's range: its error, said */
	close(fd);
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!codec)
		init();
	if (size < 1)
		return 0;
	ec_value *v = NULL;
	struct ec_error err = {0};
	if (codec->decode(codec_state, data + 1, size - 1, &v, &err)) {
		if (!err.msg[0])
			die("the codec refused without a message", NULL);
		return 0;
	}
	if (data[0] == 0) {
		stat_answer(v);
	} else if (data[0] == 1) {
		get_answer(v);
	} else {
		if (mkdir(dest, 0755) != 0 || !realpath(dest, real_dest))
			die("cannot make the destination", dest);
		walk(v);
		check_outside();
		rm_tree(dest);
	}
	ec_value_free(v);
	return 0;
}
