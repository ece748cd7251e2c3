/* test_modules.c: the module server and the import scanner: lookup along the path,
 * packages and their children, extension modules refused, path escapes (symlinks out
 * of the module path), negative answers, the script module, the LOAD_MODULE answer with
 * predicted modules and its per-context memory. */
#include "ecbuild.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "buf.h"
#include "econtext/codec.h"
#include "econtext/plugin.h"
#include "modules.h"
#include "plugin.h"
#include "testutil.h"

static char root[256];  /* temp tree: root/a (first dir), root/b (second), root/out */

static int put_failed;

static void put(const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0700);
		*p = '/';
	}
	FILE *f = fopen(path, "w");
	if (!f) {
		put_failed = 1;
		return;
	}
	fputs(text, f);
	fclose(f);
}

static int setup(void)
{
	snprintf(root, sizeof(root), "/tmp/ecmodtest.XXXXXX");
	if (!mkdtemp(root))
		return 1;
	put("a/top.py", "import os\nfrom pkg import sub\n");
	put("a/pkg/__init__.py", "from . import one\n");
	put("a/pkg/one.py", "from .two import f\nfrom .sub.deep import g as h\n");
	put("a/pkg/two.py", "def f(): pass\n");
	put("a/pkg/sub/__init__.py", "");
	put("a/pkg/sub/deep.py", "from .. import two\ndef g(): pass\n");
	put("a/pkg/fast.cpython-311-x86_64-linux-gnu.so", "\x7f" "ELF");
	put("a/pkg/notes.txt", "not a module");
	put("a/pkg/nodir/readme", "no __init__: not a package");
	put("a/ext.so", "\x7f" "ELF");
	put("a/latin.py", "x = '\xe9'\n");
	put("a/cookie.py", "# -*- coding: latin-1 -*-\nx = '\xe9'\n");
	put("b/top.py", "shadowed = True\n");
	put("b/other.py", "x = 1\n");
	put("out/secret.py", "password = 'x'\n");
	put("out/evilpkg/__init__.py", "");
	put("out/evilpkg/inner.py", "x = 1\n");
	put("script/tool.py", "def main(): pass\nif __name__ == '__main__':\n    main()\n");
	char target[512], link[512];
	snprintf(target, sizeof(target), "%s/out/secret.py", root);
	snprintf(link, sizeof(link), "%s/a/leak.py", root);
	if (put_failed || symlink(target, link))
		return 1;
	snprintf(target, sizeof(target), "%s/out/evilpkg", root);
	snprintf(link, sizeof(link), "%s/a/evilpkg", root);
	if (symlink(target, link))
		return 1;
	/* A symlink that stays inside the path is fine. */
	snprintf(target, sizeof(target), "%s/a/pkg/two.py", root);
	snprintf(link, sizeof(link), "%s/a/alias.py", root);
	return symlink(target, link) != 0;
}

static int teardown(void)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) != 0;
}

static struct ec_modsrv *server(void)
{
	char a[300], b[300], missing[300];
	snprintf(a, sizeof(a), "%s/a", root);
	snprintf(b, sizeof(b), "%s/b", root);
	snprintf(missing, sizeof(missing), "%s/missing", root);
	const char *dirs[] = {a, missing, b, NULL};
	struct ec_modsrv *s = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(ec__modsrv_new(dirs, NULL, &s, &err), 0);
	CU_ASSERT_EQUAL(ec__modsrv_ndirs(s), 2);
	return s;
}

static const struct ec_module *look(struct ec_modsrv *s, const char *name)
{
	const struct ec_module *m = NULL;
	CU_ASSERT_EQUAL(ec__modsrv_lookup(s, name, &m, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	return m;
}

static int has(char **v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

static void test_lookup(void)
{
	struct ec_modsrv *s = server();
	const struct ec_module *m = look(s, "top");
	CU_ASSERT_EQUAL(m->status, EC_MOD_FOUND);
	CU_ASSERT_FALSE(m->is_pkg);
	CU_ASSERT_PTR_NOT_NULL(strstr(m->path, "/a/top.py")); /* the first dir wins */
	/* The source round-trips through zlib. */
	char buf[256];
	uLongf n = sizeof(buf);
	CU_ASSERT_EQUAL(uncompress((Bytef *)buf, &n, m->zsrc, m->zlen), Z_OK);
	CU_ASSERT_EQUAL(n, m->srclen);
	CU_ASSERT_EQUAL(memcmp(buf, "import os\n", 10), 0);
	CU_ASSERT_EQUAL(look(s, "other")->status, EC_MOD_FOUND); /* from the second dir */
	m = look(s, "pkg.sub.deep");
	CU_ASSERT_EQUAL(m->status, EC_MOD_FOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(m->path, "/a/pkg/sub/deep.py"));
	/* Cached: the same record. */
	CU_ASSERT_PTR_EQUAL(look(s, "pkg.sub.deep"), m);
	/* Negative answers, cached too. */
	m = look(s, "nosuchmodule");
	CU_ASSERT_EQUAL(m->status, EC_MOD_ABSENT);
	CU_ASSERT_PTR_EQUAL(look(s, "nosuchmodule"), m);
	CU_ASSERT_EQUAL(look(s, "pkg.nope")->status, EC_MOD_ABSENT);
	CU_ASSERT_EQUAL(look(s, "top.child")->status, EC_MOD_ABSENT); /* top is no package */
	CU_ASSERT_EQUAL(look(s, "pkg.nodir")->status, EC_MOD_ABSENT); /* no __init__.py */
	CU_ASSERT_EQUAL(look(s, "pkg.notes")->status, EC_MOD_ABSENT);
	/* Names that are not dotted identifiers never reach the file system. */
	CU_ASSERT_EQUAL(look(s, "..")->status, EC_MOD_ABSENT);
	CU_ASSERT_EQUAL(look(s, "../out/secret")->status, EC_MOD_ABSENT);
	CU_ASSERT_EQUAL(look(s, "pkg..two")->status, EC_MOD_ABSENT);
	CU_ASSERT_EQUAL(look(s, "pkg/two")->status, EC_MOD_ABSENT);
	CU_ASSERT_EQUAL(look(s, "")->status, EC_MOD_ABSENT);
	CU_ASSERT_EQUAL(look(s, "1abc")->status, EC_MOD_ABSENT);
	CU_ASSERT_EQUAL(look(s, EC_SCRIPT_MODULE)->status, EC_MOD_ABSENT); /* no script */
	/* Encodings: UTF-8 or a PEP 263 declaration. */
	m = look(s, "latin");
	CU_ASSERT_EQUAL(m->status, EC_MOD_REFUSED);
	CU_ASSERT_PTR_NOT_NULL(m->reason && strstr(m->reason, "not UTF-8"));
	CU_ASSERT_EQUAL(look(s, "cookie")->status, EC_MOD_FOUND);
	ec__modsrv_free(s);
}

static void test_children(void)
{
	struct ec_modsrv *s = server();
	const struct ec_module *m = look(s, "pkg");
	CU_ASSERT_EQUAL_FATAL(m->status, EC_MOD_FOUND);
	CU_ASSERT_TRUE(m->is_pkg);
	CU_ASSERT_PTR_NOT_NULL(strstr(m->path, "/a/pkg/__init__.py"));
	/* Sorted: modules, subpackages and extension modules; no __init__, no data files,
	 * no directories without __init__.py. */
	CU_ASSERT_EQUAL_FATAL(m->nchildren, 4);
	CU_ASSERT_STRING_EQUAL(m->children[0], "fast");
	CU_ASSERT_STRING_EQUAL(m->children[1], "one");
	CU_ASSERT_STRING_EQUAL(m->children[2], "sub/"); /* a package: marked */
	CU_ASSERT_STRING_EQUAL(m->children[3], "two");
	CU_ASSERT_PTR_NULL(m->children[4]);
	m = look(s, "pkg.sub");
	CU_ASSERT_TRUE(m->is_pkg);
	CU_ASSERT_EQUAL(m->nchildren, 1);
	char **top = NULL;
	size_t n = 0;
	CU_ASSERT_EQUAL(ec__modsrv_toplevel(s, &top, &n, NULL), 0);
	CU_ASSERT_TRUE(has(top, "top") && has(top, "other") && has(top, "pkg") && has(top, "ext"));
	CU_ASSERT_TRUE(has(top, "leak") && has(top, "alias") && has(top, "evilpkg"));
	CU_ASSERT_FALSE(has(top, "secret") || has(top, EC_SCRIPT_MODULE));
	for (size_t i = 1; i < n; i++)
		CU_ASSERT_TRUE(strcmp(top[i - 1], top[i]) < 0);
	ec__strv_free(top);
	ec__modsrv_free(s);
}

static void test_extension_refused(void)
{
	struct ec_modsrv *s = server();
	const struct ec_module *m = look(s, "ext");
	CU_ASSERT_EQUAL(m->status, EC_MOD_REFUSED);
	CU_ASSERT_PTR_NOT_NULL(m->reason && strstr(m->reason, "extension module"));
	m = look(s, "pkg.fast");
	CU_ASSERT_EQUAL(m->status, EC_MOD_REFUSED);
	CU_ASSERT_PTR_NOT_NULL(m->reason && strstr(m->reason, "pkg.fast is an extension module"));
	CU_ASSERT_PTR_NULL(m->zsrc);
	ec__modsrv_free(s);
}

static void test_escapes(void)
{
	struct ec_modsrv *s = server();
	const struct ec_module *m = look(s, "leak");
	CU_ASSERT_EQUAL(m->status, EC_MOD_REFUSED);
	CU_ASSERT_PTR_NOT_NULL(m->reason && strstr(m->reason, "outside the module path"));
	CU_ASSERT_PTR_NULL(m->zsrc);
	m = look(s, "evilpkg");
	CU_ASSERT_EQUAL(m->status, EC_MOD_REFUSED);
	CU_ASSERT_PTR_NOT_NULL(m->reason && strstr(m->reason, "outside the module path"));
	CU_ASSERT_EQUAL(look(s, "secret")->status, EC_MOD_ABSENT);
	m = look(s, "alias"); /* a symlink within the path */
	CU_ASSERT_EQUAL(m->status, EC_MOD_FOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(m->path, "/a/pkg/two.py"));
	ec__modsrv_free(s);
	/* The out directory itself is reachable only when it is on the path. */
	char out[300];
	snprintf(out, sizeof(out), "%s/out", root);
	const char *dirs[] = {out, NULL};
	CU_ASSERT_EQUAL(ec__modsrv_new(dirs, NULL, &s, NULL), 0);
	CU_ASSERT_EQUAL(look(s, "secret")->status, EC_MOD_FOUND);
	ec__modsrv_free(s);
}

static void test_follow_symlinks(void)
{
	struct ec_modsrv *s = server();
	ec__modsrv_configure(s, 1, 1, 0);
	const struct ec_module *m = look(s, "leak");
	CU_ASSERT_EQUAL(m->status, EC_MOD_FOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(m->path, "/out/secret.py"));
	m = look(s, "evilpkg");
	CU_ASSERT_EQUAL(m->status, EC_MOD_FOUND);
	CU_ASSERT_TRUE(m->is_pkg);
	CU_ASSERT_TRUE(has(m->children, "inner"));
	CU_ASSERT_EQUAL(look(s, "evilpkg.inner")->status, EC_MOD_FOUND);
	/* Still only what a symlink inside the path leads to: names stay identifiers. */
	CU_ASSERT_EQUAL(look(s, "secret")->status, EC_MOD_ABSENT);
	ec__modsrv_free(s);
}

static void test_negative_cache_bound(void)
{
	struct ec_modsrv *s = server();
	ec__modsrv_configure(s, 1, 0, 8);
	size_t total = 0, absent = 0;
	const struct ec_module *hot = look(s, "hot_but_absent");
	look(s, "pkg.one"); /* found records are never evicted */
	ec__modsrv_cache_counts(s, &total, &absent);
	size_t found = total - absent;
	char name[64];
	for (int i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "hostile%d.deeper%d", i, i);
		CU_ASSERT_EQUAL(look(s, name)->status, EC_MOD_ABSENT);
		/* Recently used (at most 6 newer absent records: each name adds its parent too): stays. */
		if (i % 3 == 0)
			CU_ASSERT_PTR_EQUAL(look(s, "hot_but_absent"), hot);
		ec__modsrv_cache_counts(s, &total, &absent);
		if (absent > 8)
			break;
	}
	CU_ASSERT_EQUAL(absent, 8);
	CU_ASSERT_EQUAL(total, found + 8);
	CU_ASSERT_PTR_EQUAL(look(s, "hot_but_absent"), hot);
	CU_ASSERT_EQUAL(look(s, "pkg.one")->status, EC_MOD_FOUND);
	CU_ASSERT_EQUAL(look(s, "pkg.two")->status, EC_MOD_FOUND);
	/* Answers for many absent names keep the bound too. */
	for (int i = 0; i < 100; i++) {
		ec_value *ans = NULL;
		size_t count = 0;
		snprintf(name, sizeof(name), "nothere%d", i);
		CU_ASSERT_EQUAL(ec__modsrv_answer(s, 7, name, 1 << 20, &ans, &count, NULL), 0);
		CU_ASSERT_EQUAL(count, 1);
		ec_value_free(ans);
	}
	ec__modsrv_cache_counts(s, &total, &absent);
	CU_ASSERT_EQUAL(absent, 8);
	/* Lowering the bound trims at once. */
	ec__modsrv_configure(s, 1, 0, 2);
	ec__modsrv_cache_counts(s, &total, &absent);
	CU_ASSERT_EQUAL(absent, 2);
	ec__modsrv_free(s);
	/* The default bound. */
	s = server();
	for (int i = 0; i < EC_MODSRV_MAX_ABSENT + 100; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		look(s, name);
	}
	ec__modsrv_cache_counts(s, &total, &absent);
	CU_ASSERT_EQUAL(absent, EC_MODSRV_MAX_ABSENT);
	ec__modsrv_free(s);
}

static void test_script(void)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/script/tool.py", root);
	struct ec_modsrv *s = NULL;
	CU_ASSERT_EQUAL_FATAL(ec__modsrv_new(NULL, path, &s, NULL), 0);
	CU_ASSERT_EQUAL(ec__modsrv_ndirs(s), 2); /* the script and its directory */
	const struct ec_module *m = look(s, EC_SCRIPT_MODULE);
	CU_ASSERT_EQUAL(m->status, EC_MOD_FOUND);
	CU_ASSERT_FALSE(m->is_pkg);
	CU_ASSERT_EQUAL(look(s, "tool")->status, EC_MOD_FOUND);
	char **top = NULL;
	size_t n = 0;
	CU_ASSERT_EQUAL(ec__modsrv_toplevel(s, &top, &n, NULL), 0);
	CU_ASSERT_TRUE(has(top, EC_SCRIPT_MODULE) && has(top, "tool"));
	ec__strv_free(top);
	ec__modsrv_free(s);
	snprintf(path, sizeof(path), "%s/script/missing.py", root);
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(ec__modsrv_new(NULL, path, &s, &err), EC_ENOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "cannot open the script"));
}

static char **scan(const char *src, const char *pkg, size_t *n)
{
	char **v = NULL;
	CU_ASSERT_EQUAL(ec__modscan(src, strlen(src), pkg, &v, n), 0);
	CU_ASSERT_PTR_NOT_NULL(v);
	return v;
}

static void test_scanner(void)
{
	size_t n;
	char **v = scan("import os, sys as system\n"
	                "import a.b.c\n"
	                "from x.y import (p,\n    q as r)\n"
	                "if 1: import inline; from semi import colon\n"
	                "def f():\n"
	                "    from . import lazy\n"
	                "    from .. import up\n"
	                "    from .rel.mod import thing\n"
	                "s = 'import fake1'\n"
	                "t = \"\"\"\nimport fake2\n\"\"\"\n"
	                "u = r'\\' import fake3'\n"
	                "# import fake4\n"
	                "raise E from notanimport\n"
	                "x = (yield from gen)\n"
	                "from \\\n   cont import inued\n"
	                "from __future__ import print_function\n"
	                "w = b'import fake5' + rb\"import fake6\"\n",
	                "top.pkg", &n);
	const char *want[] = {"os", "sys", "a", "a.b", "a.b.c", "x", "x.y", "x.y.p", "x.y.q",
	                      "inline", "semi", "semi.colon", "top.pkg.lazy", "top.up",
	                      "top.pkg.rel", "top.pkg.rel.mod", "top.pkg.rel.mod.thing", "cont",
	                      "cont.inued", "top.pkg.os", "top.pkg.a.b.c", NULL};
	for (size_t i = 0; want[i]; i++) {
		if (!has(v, want[i]))
			fprintf(stderr, "scanner missed %s\n", want[i]);
		CU_ASSERT_TRUE(has(v, want[i]));
	}
	const char *unwanted[] = {"fake1", "fake2", "fake3", "fake4", "fake5", "fake6",
	                          "notanimport", "gen", "system", "x.y.r", "import", NULL};
	for (size_t i = 0; unwanted[i]; i++) {
		if (has(v, unwanted[i]))
			fprintf(stderr, "scanner found %s\n", unwanted[i]);
		CU_ASSERT_FALSE(has(v, unwanted[i]));
	}
	ec__strv_free(v);
	/* Relative imports at top level have no anchor; too many dots go nowhere. */
	v = scan("from . import a\nfrom ... import b\nimport c\n", "", &n);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_TRUE(has(v, "c"));
	ec__strv_free(v);
	v = scan("from ... import b\n", "p.q", &n);
	CU_ASSERT_EQUAL(n, 0);
	ec__strv_free(v);
	/* Garbage and truncated input do not crash or loop. */
	v = scan("from", "p", &n);
	ec__strv_free(v);
	v = scan("import", NULL, &n);
	ec__strv_free(v);
	v = scan("'''unterminated\nimport x", NULL, &n);
	CU_ASSERT_FALSE(has(v, "x"));
	ec__strv_free(v);
	v = scan("x = 'a\nimport y\n", NULL, &n); /* an unterminated one-line string ends */
	CU_ASSERT_TRUE(has(v, "y"));
	ec__strv_free(v);
	v = scan("from . import (\n", "p", &n);
	ec__strv_free(v);
	v = scan("\\", NULL, &n);
	ec__strv_free(v);
}

static size_t entries(ec_value *ans, const char *name)
{
	CU_ASSERT_EQUAL_FATAL(ans->type, EC_T_TUPLE);
	CU_ASSERT_EQUAL_FATAL(ans->u.seq.len, 2);
	CU_ASSERT_STRING_EQUAL(ans->u.seq.items[0]->u.s.data, name);
	ec_value *list = ans->u.seq.items[1];
	CU_ASSERT_EQUAL_FATAL(list->type, EC_T_LIST);
	for (size_t i = 0; i < list->u.seq.len; i++) {
		CU_ASSERT_EQUAL(list->u.seq.items[i]->type, EC_T_TUPLE);
		CU_ASSERT_EQUAL(list->u.seq.items[i]->u.seq.len, 5);
	}
	return list->u.seq.len;
}

static int in_answer(ec_value *ans, const char *name)
{
	ec_value *list = ans->u.seq.items[1];
	for (size_t i = 0; i < list->u.seq.len; i++)
		if (strcmp(list->u.seq.items[i]->u.seq.items[0]->u.s.data, name) == 0)
			return 1;
	return 0;
}

static void test_answer(void)
{
	struct ec_modsrv *s = server();
	ec_value *ans = NULL;
	size_t count = 0;
	/* A submodule: the module first, then its parents and the closure of imports. */
	CU_ASSERT_EQUAL_FATAL(ec__modsrv_answer(s, 1, "pkg.one", 1 << 20, &ans, &count, NULL), 0);
	CU_ASSERT_EQUAL(entries(ans, "pkg.one"), count);
	ec_value *first = ans->u.seq.items[1]->u.seq.items[0];
	CU_ASSERT_STRING_EQUAL(first->u.seq.items[0]->u.s.data, "pkg.one");
	CU_ASSERT_EQUAL(first->u.seq.items[1]->type, EC_T_STR);   /* filename */
	CU_ASSERT_EQUAL(first->u.seq.items[2]->type, EC_T_NONE);  /* not a package */
	CU_ASSERT_EQUAL(first->u.seq.items[3]->type, EC_T_BYTES); /* zlib source */
	CU_ASSERT_EQUAL(first->u.seq.items[4]->type, EC_T_NONE);  /* no error */
	CU_ASSERT_EQUAL(count, 5);
	CU_ASSERT_TRUE(in_answer(ans, "pkg") && in_answer(ans, "pkg.two") &&
	               in_answer(ans, "pkg.sub") && in_answer(ans, "pkg.sub.deep"));
	CU_ASSERT_FALSE(in_answer(ans, "pkg.fast")); /* refused ones are not pushed */
	ec_value_free(ans);
	/* The same context is not sent them again; another context is. */
	CU_ASSERT_EQUAL(ec__modsrv_answer(s, 1, "top", 1 << 20, &ans, &count, NULL), 0);
	CU_ASSERT_EQUAL(count, 1);
	ec_value_free(ans);
	CU_ASSERT_EQUAL(ec__modsrv_answer(s, 2, "top", 1 << 20, &ans, &count, NULL), 0);
	CU_ASSERT_EQUAL(count, 6); /* top, pkg (and its closure) */
	ec_value_free(ans);
	/* A module asked for again is answered again. */
	CU_ASSERT_EQUAL(ec__modsrv_answer(s, 1, "pkg.two", 1 << 20, &ans, &count, NULL), 0);
	CU_ASSERT_EQUAL(count, 1);
	ec_value_free(ans);
	/* Forgetting a context starts over. */
	ec__modsrv_forget(s, 1);
	CU_ASSERT_EQUAL(ec__modsrv_answer(s, 1, "pkg.sub.deep", 0, &ans, &count, NULL), 0);
	CU_ASSERT_EQUAL(count, 3); /* no budget: the module and its parents only */
	ec_value_free(ans);
	/* Negative and refused answers. */
	CU_ASSERT_EQUAL(ec__modsrv_answer(s, 3, "nothere", 1 << 20, &ans, &count, NULL), 0);
	CU_ASSERT_EQUAL(count, 1);
	ec_value *e = ans->u.seq.items[1]->u.seq.items[0];
	CU_ASSERT_EQUAL(e->u.seq.items[1]->type, EC_T_NONE);
	CU_ASSERT_EQUAL(e->u.seq.items[4]->type, EC_T_NONE);
	ec_value_free(ans);
	CU_ASSERT_EQUAL(ec__modsrv_answer(s, 3, "ext", 1 << 20, &ans, &count, NULL), 0);
	e = ans->u.seq.items[1]->u.seq.items[0];
	CU_ASSERT_EQUAL(e->u.seq.items[4]->type, EC_T_STR);
	CU_ASSERT_PTR_NOT_NULL(strstr(e->u.seq.items[4]->u.s.data, "extension module"));
	ec_value_free(ans);
	ec__modsrv_free(s);
}

/* ---- the job queue's bound ------------------------------------------------------------ */

/* A codec whose encode waits at a gate: the server's thread stalls on its first job
 * while the test queues more, as behind a slow disk. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open, encoding, delivered;

static int gate_encode(void *state, const struct ec_codec_peer *peer, const ec_value *v,
                       struct ec_buf *out, struct ec_error *err)
{
	(void)state, (void)peer, (void)v, (void)err;
	pthread_mutex_lock(&gate_lock);
	encoding = 1;
	pthread_cond_broadcast(&gate_cond);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	return ec__buf_append(out, "x", 1);
}

static void gate_deliver(void *arg, unsigned ctx_id, struct ec_buf *payload)
{
	(void)arg, (void)ctx_id, (void)payload;
	pthread_mutex_lock(&gate_lock);
	delivered++;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

/* Wait (up to 30 s) until flag reaches want, under gate_lock; 1 if it did. */
static int gate_wait(const int *flag, int want)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	pthread_mutex_lock(&gate_lock);
	int rc = 0;
	while (*flag < want && rc == 0)
		rc = pthread_cond_timedwait(&gate_cond, &gate_lock, &until);
	int ok = *flag >= want;
	pthread_mutex_unlock(&gate_lock);
	return ok;
}

static void test_job_queue_bound(void)
{
	static const struct ec_codec_ops ops = {.size = sizeof(ops), .encode = gate_encode};
	static const struct ec_plugin desc = {.name = "gate", .ops = &ops};
	static const struct ec_loaded_plugin codec = {.desc = &desc};
	struct ec_modsrv *s = server();
	struct ec_modsrv_sink sink = {.codec = &codec, .max_message = 1 << 20,
	                              .deliver = gate_deliver};
	ec__modsrv_set_sink(s, &sink);
	gate_open = encoding = delivered = 0;
	/* The first job is taken by the thread, which stalls in it. */
	CU_ASSERT_EQUAL_FATAL(ec__modsrv_request(s, 1, "one", 3, NULL, "m0"), 0);
	CU_ASSERT_FATAL(gate_wait(&encoding, 1));
	int max = ec__modsrv_ctx_jobs_max(), queued = 0, rc = 0;
	char name[32];
	for (int i = 1; i <= max + 5 && rc == 0; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		if ((rc = ec__modsrv_request(s, 1, "one", 3, NULL, name)) == 0)
			queued++;
	}
	printf("\n  context 1: %d requests waiting, the next refused (%s); the bound is %d\n",
	       queued, ec_err_name(rc), max);
	CU_ASSERT_EQUAL(queued, max);
	CU_ASSERT_EQUAL(rc, EC_EPROTO);
	/* Another context is not refused, nor the first one's forget. */
	CU_ASSERT_EQUAL(ec__modsrv_request(s, 2, "two", 3, NULL, "m0"), 0);
	ec__modsrv_forget(s, 1);
	pthread_mutex_lock(&gate_lock);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	CU_ASSERT(gate_wait(&delivered, 1 + max + 1));
	/* Drained: context 1 is served again. */
	CU_ASSERT_EQUAL(ec__modsrv_request(s, 1, "one", 3, NULL, "again"), 0);
	CU_ASSERT(gate_wait(&delivered, 1 + max + 2));
	ec__modsrv_free(s);
}

int main(void)
{
	CU_initialize_registry();
	CU_pSuite s = CU_add_suite("module server", setup, teardown);
	CU_add_test(s, "lookup along the path, negative answers, encodings", test_lookup);
	CU_add_test(s, "package children and top-level names", test_children);
	CU_add_test(s, "extension modules refused", test_extension_refused);
	CU_add_test(s, "symlinks out of the path refused", test_escapes);
	CU_add_test(s, "symlinks out of the path followed when configured", test_follow_symlinks);
	CU_add_test(s, "negative cache bounded (LRU)", test_negative_cache_bound);
	CU_add_test(s, "script served as a module", test_script);
	CU_add_test(s, "import scanner", test_scanner);
	CU_add_test(s, "answers: predicted modules, per-context memory", test_answer);
	CU_add_test(s, "the job queue: bounded per context", test_job_queue_bound);
	return ec_test_run();
}
