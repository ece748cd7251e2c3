/* fuzz_modsrv.c: libFuzzer target for the module server's request path: the name a
 * context sends in GET_MODULE (any bytes but NUL, as core/context.c lets through) and
 * what the server's thread does with it: ec__modsrv_answer over a small module tree
 * made at start (a package with relative and absolute imports, a namespace package, a
 * Latin-1 source, an undecodable one, an extension module, a symlink leading out of the
 * tree, a second directory shadowing the first), then the answer encoded by the pickle
 * codec as build_reply does. One server serves every input, with a small negative
 * cache, so that its caches and what it recorded as sent to each context live on.
 *
 * The input: a first byte (context id, prediction budget), then names, one a line.
 * Every answer must be (name, [entry, ...]) with the requested module's 5-tuple first.
 * A crash, a sanitizer report, a leak or a misshapen answer is a finding. */
#include "ecbuild.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "econtext/codec.h"
#include "host.h"
#include "modules.h"

const struct ec_plugin *ec_plugin_pickle_describe(void);

static struct ec_modsrv *server;
static const struct ec_codec_ops *codec;
static void *codec_state;
static char root[64];

static void put(const char *rel, const char *text, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f)) {
		perror(path);
		abort();
	}
}
#define PUT(rel, lit) put(rel, lit, sizeof(lit) - 1)

static void cleanup(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		fprintf(stderr, "fuzz_modsrv: could not remove %s\n", root);
}

static void init(void)
{
	snprintf(root, sizeof(root), "/tmp/ec-fuzz-modsrv.XXXXXX");
	if (!mkdtemp(root))
		abort();
	atexit(cleanup);
	const char *dirs[] = {"a", "b", "a/pkg", "a/pkg/deep", "a/nspkg", "a/nspkg/inner", NULL};
	for (size_t i = 0; dirs[i]; i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
		if (mkdir(path, 0755))
			abort();
	}
	PUT("a/pkg/__init__.py", "from . import sub\nimport os, json as j\nfrom .deep import mod\n"
	                         "from pkg.sub import x\n__all__ = ['sub']\n");
	PUT("a/pkg/sub.py", "import pkg.deep.mod\nfrom .. import plain\nx = 1\n");
	PUT("a/pkg/deep/__init__.py", "");
	PUT("a/pkg/deep/mod.py", "try:\n    import shadow\nexcept ImportError:\n    pass\n"
	                         "import nspkg.inner.leaf, missing.module\n");
	PUT("a/nspkg/inner/leaf.py", "from ...pkg import sub\n");
	PUT("a/plain.py", "# -*- coding: latin-1 -*-\ns = '\xe9t\xe9'\nimport pkg\n");
	PUT("a/bad.py", "\xff\xfe\x00 import (\n");
	PUT("a/ext.cpython-311-x86_64-linux-gnu.so", "\x7f" "ELF");
	PUT("a/shadow.py", "import plain\n");
	PUT("b/shadow.py", "raise ImportError('the second directory')\n");
	PUT("b/only_b.py", "import pkg.sub as s\n");
	char target[256], link[256];
	snprintf(target, sizeof(target), "%s/b/only_b.py", root);
	snprintf(link, sizeof(link), "%s/a/outside.py", root);
	if (symlink("/etc/hostname", link))
		abort();
	snprintf(link, sizeof(link), "%s/a/inside.py", root);
	if (symlink(target, link))
		abort();
	char da[128], db[128];
	snprintf(da, sizeof(da), "%s/a", root);
	snprintf(db, sizeof(db), "%s/b", root);
	const char *path[] = {da, db, NULL};
	struct ec_error err = {0};
	if (ec__modsrv_new(path, NULL, &server, &err)) {
		fprintf(stderr, "fuzz_modsrv: %s\n", err.msg);
		abort();
	}
	ec__modsrv_configure(server, 1, 0, 16);
	const struct ec_plugin *p = ec_plugin_pickle_describe();
	if (p->load(ec__host_get(), &codec_state, &err))
		abort();
	codec = p->ops;
}

static int is_text(const ec_value *v)
{
	return v && (v->type == EC_T_STR || v->type == EC_T_BYTES);
}

static void check_answer(const ec_value *a, const char *name, size_t count)
{
	int ok = a && a->type == EC_T_TUPLE && a->u.seq.len == 2 && is_text(a->u.seq.items[0]) &&
	         !strcmp(a->u.seq.items[0]->u.s.data, name) && a->u.seq.items[1]->type == EC_T_LIST &&
	         a->u.seq.items[1]->u.seq.len == count && count >= 1;
	for (size_t i = 0; ok && i < count; i++) {
		const ec_value *e = a->u.seq.items[1]->u.seq.items[i];
		ok = e->type == EC_T_TUPLE && e->u.seq.len == 5 && is_text(e->u.seq.items[0]);
	}
	if (ok)
		ok = !strcmp(a->u.seq.items[1]->u.seq.items[0]->u.seq.items[0]->u.s.data, name);
	if (!ok) {
		fprintf(stderr, "fuzz_modsrv: misshapen answer for '%s'\n", name);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!server)
		init();
	if (size < 1)
		return 0;
	unsigned ctx = data[0] & 3;
	static const size_t budgets[] = {0, 1, 4096, 4u << 20};
	size_t budget = budgets[(data[0] >> 2) & 3];
	char *names = malloc(size);
	if (!names)
		return 0;
	memcpy(names, data + 1, size - 1);
	names[size - 1] = '\0';
	for (char *name = names, *next; name; name = next) {
		next = memchr(name, '\n', (size_t)(names + size - 1 - name));
		if (next)
			*next++ = '\0';
		if (!*name || strlen(name) != (size_t)((next ? next - 1 : names + size - 1) - name))
			continue; /* empty, or a NUL inside: the broker refuses those */
		ec_value *answer = NULL;
		size_t count = 0;
		struct ec_error err = {0};
		if (ec__modsrv_answer(server, ctx, name, budget, &answer, &count, &err) == 0) {
			check_answer(answer, name, count);
			for (int major = 2; major <= 3; major++) {
				struct ec_codec_peer peer = {.python_major = major};
				struct ec_buf out;
				ec__buf_init(&out);
				struct ec_error e2 = {0};
				codec->encode(codec_state, &peer, answer, &out, &e2);
				ec__buf_free(&out);
			}
			ec_value_free(answer);
		}
	}
	free(names);
	return 0;
}
