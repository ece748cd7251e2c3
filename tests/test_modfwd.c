/* test_modfwd.c: the module forwarder end to end, on every Python interpreter found:
 * a package tree (tests/data/modfwd) with subpackages and relative imports served from
 * the master, module attributes (__file__, __package__, __path__, __spec__, loaders),
 * inspect.getsource, a lazy sibling import, pickle of a module-level class inside the
 * context, tracebacks with forwarded source lines, modules missing on both sides, an
 * extension module refused, a syntax error for that interpreter, a single-file script,
 * the round trips for a ten-module package (with and without predictive import),
 * pkgutil over forwarded packages, a source with a PEP 263 (Latin-1) declaration, a
 * big module served without stalling another context, and a real third-party package
 * (from /usr/lib/python3/dist-packages) served to interpreters that lack it. */
#include "ecbuild.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "econtext.h"
#include "testutil.h"

#define DIST_PACKAGES "/usr/lib/python3/dist-packages"

static struct ec_test_python pythons[16];
static size_t npythons;
static const struct ec_test_python *cur;
static ec_master *master;
static ec_context *ctx;
static char extdir[64]; /* temp dir holding a fake extension module and bigmod.py */
static int big_done[2]; /* the big-module test runs on the first Python 2 and 3 found */
static int over_done;   /* the module-over-the-limit test: on the first Python 3 */


/* ---- suite setup ----------------------------------------------------------------- */

static int suite_init(const struct ec_test_python *py)
{
	cur = py;
	ec_test_log_clear();
	char data[1024], script[1100];
	snprintf(data, sizeof(data), "%s/tests/data/modfwd", ec_test_srcdir());
	snprintf(script, sizeof(script), "%s/script.py", data);
	const char *dirs[] = {data, extdir, DIST_PACKAGES, NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .log_fn = ec_test_log_capture,
	                               .log_level = EC_LOG_DEBUG, .module_path = dirs,
	                               .script = script};
	struct ec_error err = {0};
	setenv("ECONTEXT_CONFIG", "/dev/null", 1);
	if (ec_master_new(&mo, &master, &err)) {
		fprintf(stderr, "master: %s: %s\n", err.where, err.msg);
		return 1;
	}
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", py->path);
	const char *ov[] = {opt, NULL};
	if (ec_context_connect(master, "local", ov, 30000, &ctx, &err)) {
		fprintf(stderr, "connect %s: %s: %s\n", py->path, err.where, err.msg);
		ec_master_free(master);
		master = NULL;
		return 1;
	}
	fprintf(stderr, "python %s: bootstrap %.1f ms\n", ec_context_python_version(ctx),
	        ec_context_boot_seconds(ctx) * 1000);
	return 0;
}

static int suite_clean(void)
{
	if (ctx)
		ec_context_shutdown(ctx, 3000, NULL);
	ctx = NULL;
	ec_master_free(master);
	master = NULL;
	return 0;
}

#define SUITE_FNS(i)                            \
	static int init_##i(void)               \
	{                                       \
		return suite_init(&pythons[i]); \
	}
SUITE_FNS(0)
SUITE_FNS(1)
SUITE_FNS(2)
SUITE_FNS(3)
SUITE_FNS(4)
SUITE_FNS(5)
SUITE_FNS(6)
SUITE_FNS(7)
SUITE_FNS(8)
static int (*const inits[])(void) = {init_0, init_1, init_2, init_3, init_4,
                                     init_5, init_6, init_7, init_8};

/* ---- helpers ------------------------------------------------------------------ */

static ec_value *call(const char *mod, const char *fn, ec_value *arg, int *rc)
{
	ec_value *args = ec_value_new(EC_T_TUPLE);
	if (arg)
		ec_value_append(args, arg);
	ec_value *res = NULL;
	struct ec_error err = {0};
	*rc = ec_context_call(ctx, mod, fn, args, NULL, 20000, &res, &err);
	if (*rc && *rc != EC_EREMOTE)
		fprintf(stderr, "%s.%s: %s\n", mod, fn, err.msg);
	ec_value_free(args);
	return res;
}

/* Call expecting success; print the traceback otherwise. */
static ec_value *call_ok(const char *mod, const char *fn, ec_value *arg)
{
	int rc;
	ec_value *res = call(mod, fn, arg, &rc);
	if (rc == EC_EREMOTE && res)
		fprintf(stderr, "%s.%s raised: %s\n", mod, fn, res->u.err.traceback);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc) {
		ec_value_free(res);
		return NULL;
	}
	return res;
}

static const char *text(const ec_value *v)
{
	return v && (v->type == EC_T_STR || v->type == EC_T_BYTES) ? v->u.s.data : "";
}

static int py2(void)
{
	return cur->version[0] == '2';
}

/* ---- tests -------------------------------------------------------------------- */

static void test_package_attributes(void)
{
	ec_value *r = call_ok("fwdpkg.info", "attrs", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(text(ec_value_dict_get(r, "name")), "fwdpkg.info");
	const char *file = text(ec_value_dict_get(r, "file"));
	CU_ASSERT_EQUAL(strncmp(file, "master:/", 8), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(file, "/tests/data/modfwd/fwdpkg/info.py"));
	CU_ASSERT_STRING_EQUAL(text(ec_value_dict_get(r, "package")), "fwdpkg");
	CU_ASSERT_STRING_EQUAL(text(ec_value_dict_get(r, "package_type")), "str"); /* native */
	CU_ASSERT_STRING_EQUAL(text(ec_value_dict_get(r, "pkg_package")), "fwdpkg");
	CU_ASSERT_STRING_EQUAL(text(ec_value_dict_get(r, "leaf_package")), "fwdpkg.sub");
	const ec_value *path = ec_value_dict_get(r, "pkg_path");
	CU_ASSERT(path && path->type == EC_T_LIST);
	if (!py2()) {
		CU_ASSERT_STRING_EQUAL(text(ec_value_dict_get(r, "spec_name")), "fwdpkg.info");
		CU_ASSERT_STRING_EQUAL(text(ec_value_dict_get(r, "spec_parent")), "fwdpkg");
	}
	const ec_value *v = ec_value_dict_get(r, "loader_source");
	CU_ASSERT(v && v->type == EC_T_INT && v->u.i >= 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(text(ec_value_dict_get(r, "getsource")), "source of helper"));
	v = ec_value_dict_get(r, "import_module");
	CU_ASSERT(v && v->type == EC_T_INT && v->u.i == 8);
	ec_value_free(r);
}

static void test_lazy_sibling(void)
{
	ec_value *r = call_ok("fwdpkg.lazy", "sibling_value", NULL);
	CU_ASSERT(r && r->type == EC_T_INT && r->u.i == 42);
	ec_value_free(r);
}

static void test_pickle_class(void)
{
	ec_value *r = call_ok("fwdpkg.util", "pickle_roundtrip", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL_FATAL(r->type, EC_T_LIST);
	CU_ASSERT_EQUAL_FATAL(r->u.seq.len, 5);
	CU_ASSERT(r->u.seq.items[0]->type == EC_T_BOOL && r->u.seq.items[0]->u.b);
	CU_ASSERT(r->u.seq.items[1]->type == EC_T_BOOL && r->u.seq.items[1]->u.b);
	CU_ASSERT_STRING_EQUAL(text(r->u.seq.items[2]), "fwdpkg.util");
	CU_ASSERT(r->u.seq.items[3]->type == EC_T_INT && r->u.seq.items[3]->u.i == 4);
	CU_ASSERT(r->u.seq.items[4]->type == EC_T_BOOL && r->u.seq.items[4]->u.b);
	ec_value_free(r);
	/* The master's codec refuses instances, naming the class by its forwarded module. */
	int rc;
	r = call("fwdpkg.util", "point", NULL, &rc);
	CU_ASSERT_EQUAL(rc, EC_EREMOTE);
	CU_ASSERT(r && strstr(r->u.err.type, "SerializationError") &&
	          strstr(r->u.err.message, "fwdpkg.util.Point"));
	ec_value_free(r);
}

static void test_traceback(void)
{
	int rc;
	ec_value *r = call("fwdpkg.boom", "fail", NULL, &rc);
	CU_ASSERT_EQUAL(rc, EC_EREMOTE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->u.err.type, "ValueError"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->u.err.traceback, "master:/"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->u.err.traceback, "fwdpkg/boom.py\", line 4, in fail"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->u.err.traceback, "raise ValueError('forwarded failure %d' % x)"));
	if (!strstr(r->u.err.traceback, "raise ValueError"))
		fprintf(stderr, "%s\n", r->u.err.traceback);
	ec_value_free(r);
	/* A UTF-8 source line (with its PEP 263 declaration for 2.7). */
	r = call("fwdpkg.boom", "fail_unicode", NULL, &rc);
	CU_ASSERT_EQUAL(rc, EC_EREMOTE);
	CU_ASSERT(r && strstr(r->u.err.traceback, "raise KeyError('k')  # non-ASCII source: caf\xc3\xa9"));
	ec_value_free(r);
}

static void test_missing(void)
{
	int rc;
	size_t before = ec_test_log_count("econtext.modules", "GET_MODULE", NULL);
	ec_value *r = call("no_such_module_econtext_xyz", "f", NULL, &rc);
	CU_ASSERT_EQUAL(rc, EC_EREMOTE);
	CU_ASSERT(r && (strstr(r->u.err.type, "ImportError") ||
	                strstr(r->u.err.type, "ModuleNotFoundError")));
	ec_value_free(r);
	/* Names the master does not offer, and children a forwarded package does not have,
	 * are answered in the context without a round trip. */
	r = call_ok("fwdpkg.info", "try_import", ec_value_cstr("fwdpkg.nothere"));
	CU_ASSERT(r && strstr(text(r), "nothere"));
	ec_value_free(r);
	r = call_ok("fwdpkg.info", "try_import", ec_value_cstr("fwdpkg.sub.nothere"));
	CU_ASSERT(r && strstr(text(r), "nothere"));
	ec_value_free(r);
	CU_ASSERT_EQUAL(ec_test_log_count("econtext.modules", "GET_MODULE", NULL), before);
}

static void test_extension_refused(void)
{
	int rc;
	ec_value *r = call("fakeext", "f", NULL, &rc);
	CU_ASSERT_EQUAL(rc, EC_EREMOTE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->u.err.type, "ImportError"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->u.err.message, "fakeext"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->u.err.message, "extension module"));
	ec_value_free(r);
	CU_ASSERT_TRUE(ec_test_log_wait("econtext.modules", "cannot forward module fakeext", NULL));
}

static void test_syntax_error(void)
{
	int rc;
	ec_value *r = call("fwdpkg.py3only", "f", NULL, &rc);
	if (!py2()) {
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT(r && r->type == EC_T_INT && r->u.i == 1);
	} else {
		CU_ASSERT_EQUAL(rc, EC_EREMOTE);
		CU_ASSERT(r && strstr(r->u.err.type, "ImportError") &&
		          strstr(r->u.err.message, "cannot forward fwdpkg.py3only"));
		CU_ASSERT_TRUE(ec_test_log_wait("econtext.ctx.local.econtext", "cannot forward fwdpkg.py3only", NULL));
	}
	ec_value_free(r);
}

static void test_script(void)
{
	ec_value *r = call_ok("__econtext_script__", "main", ec_value_int(21));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL_FATAL(r->type, EC_T_LIST);
	CU_ASSERT_STRING_EQUAL(text(r->u.seq.items[0]), "__econtext_script__");
	CU_ASSERT(r->u.seq.items[1]->type == EC_T_INT && r->u.seq.items[1]->u.i == 42);
	ec_value_free(r);
}

static void test_round_trips(void)
{
	size_t before = ec_test_log_count("econtext.modules", "GET_MODULE rt10", NULL);
	ec_value *r = call_ok("rt10.m5", "func", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->type, EC_T_LIST);
	CU_ASSERT_EQUAL(r->u.seq.len, 4);
	ec_value_free(r);
	size_t trips = ec_test_log_count("econtext.modules", "GET_MODULE rt10", NULL) - before;
	r = call_ok("fwdpkg.info", "loaded", ec_value_cstr("rt10"));
	size_t loaded = r && r->type == EC_T_LIST ? r->u.seq.len : 0;
	ec_value_free(r);
	r = call_ok("econtext", "importer.stats", NULL);
	const ec_value *gets = r ? ec_value_dict_get(r, "gets") : NULL;
	fprintf(stderr, "\n    python %s: rt10 (%zu modules) arrived in %zu round trip%s "
	        "(context total: %lld GET_MODULE) ", cur->full, loaded, trips, trips == 1 ? "" : "s",
	        gets && gets->type == EC_T_INT ? (long long)gets->u.i : -1LL);
	ec_value_free(r);
	CU_ASSERT_EQUAL(loaded, 11);
	CU_ASSERT_TRUE(trips >= 1 && trips <= 2);
}

static int has_pair(const ec_value *list, const char *name, int ispkg)
{
	for (size_t i = 0; list && list->type == EC_T_LIST && i < list->u.seq.len; i++) {
		const ec_value *p = list->u.seq.items[i];
		if (p->type == EC_T_LIST && p->u.seq.len == 2 && !strcmp(text(p->u.seq.items[0]), name) &&
		    p->u.seq.items[1]->type == EC_T_BOOL && p->u.seq.items[1]->u.b == ispkg)
			return 1;
	}
	return 0;
}

static int has_text(const ec_value *list, const char *name)
{
	for (size_t i = 0; list && list->type == EC_T_LIST && i < list->u.seq.len; i++)
		if (!strcmp(text(list->u.seq.items[i]), name))
			return 1;
	return 0;
}

static void test_pkgutil(void)
{
	ec_value *r = call_ok("fwdpkg.info", "children", ec_value_cstr("fwdpkg"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->u.seq.len, 8);
	CU_ASSERT_TRUE(has_pair(r, "sub", 1) && has_pair(r, "util", 0) && has_pair(r, "boom", 0) &&
	               has_pair(r, "latin1", 0) && has_pair(r, "py3only", 0));
	ec_value_free(r);
	r = call_ok("fwdpkg.info", "children", ec_value_cstr("fwdpkg.sub"));
	CU_ASSERT(r && r->u.seq.len == 1 && has_pair(r, "leaf", 0));
	ec_value_free(r);
	r = call_ok("fwdpkg.info", "walk", ec_value_cstr("fwdpkg"));
	CU_ASSERT(r && has_text(r, "fwdpkg.sub") && has_text(r, "fwdpkg.sub.leaf") &&
	          has_text(r, "fwdpkg.util") && has_text(r, "fwdpkg.lazy"));
	CU_ASSERT(r && r->u.seq.len == 9);
	ec_value_free(r);
	/* Relative imports and sibling imports still work after a walk. */
	r = call_ok("fwdpkg.lazy", "sibling_value", NULL);
	CU_ASSERT(r && r->type == EC_T_INT && r->u.i == 42);
	ec_value_free(r);
}

static void test_pep263(void)
{
	int rc;
	ec_value *r = call("fwdpkg.latin1", "fail", NULL, &rc);
	CU_ASSERT_EQUAL(rc, EC_EREMOTE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->u.err.traceback, "fwdpkg/latin1.py\", line 6, in fail"));
	if (!py2()) /* 2.7's sources stay byte strings, as its own loaders return them */
		CU_ASSERT_PTR_NOT_NULL(strstr(r->u.err.traceback, "raise ValueError(\"x\")  # \xc3\xa9t\xc3\xa9"));
	ec_value_free(r);
	if (py2())
		return;
	r = call_ok("fwdpkg.latin1", "source", NULL);
	CU_ASSERT(r && strstr(text(r), "# \xc3\xa9t\xc3\xa9"));
	ec_value_free(r);
	r = call_ok("fwdpkg.latin1", "doc", NULL);
	CU_ASSERT_STRING_EQUAL(text(r), "Latin-1 source: d\xc3\xa9j\xc3\xa0 vu.");
	ec_value_free(r);
}

/* The same ten-module package with predict_imports: false: one round trip a module. */
static void test_no_prediction(void)
{
	char cfgpath[] = "/tmp/ecnopredict.XXXXXX";
	int fd = mkstemp(cfgpath);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, "predict_imports: false\n", 23) == 23);
	close(fd);
	char data[1024];
	snprintf(data, sizeof(data), "%s/tests/data/modfwd", ec_test_srcdir());
	const char *dirs[] = {data, NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .log_fn = ec_test_log_capture, .config_path = cfgpath,
	                               .log_level = EC_LOG_DEBUG, .module_path = dirs};
	struct ec_error err = {0};
	ec_master *m2 = NULL;
	ec_context *c2 = NULL;
	int rc = ec_master_new(&mo, &m2, &err);
	unlink(cfgpath);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", cur->path);
	const char *ov[] = {opt, NULL};
	rc = ec_context_connect(m2, "local", ov, 30000, &c2, &err);
	CU_ASSERT_EQUAL(rc, 0);
	if (!rc) {
		size_t before = ec_test_log_count("econtext.modules", "GET_MODULE rt10", NULL);
		ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL;
		rc = ec_context_call(c2, "rt10.m5", "func", args, NULL, 20000, &res, &err);
		CU_ASSERT_EQUAL(rc, 0);
		ec_value_free(res);
		res = NULL;
		size_t trips = ec_test_log_count("econtext.modules", "GET_MODULE rt10", NULL) - before;
		rc = ec_context_call(c2, "econtext", "importer.stats", args, NULL, 20000, &res, &err);
		const ec_value *gets = !rc ? ec_value_dict_get(res, "gets") : NULL;
		fprintf(stderr, "\n    python %s, predict_imports: false: rt10 in %zu round trips "
		        "(context total: %lld GET_MODULE) ", cur->full, trips,
		        gets && gets->type == EC_T_INT ? (long long)gets->u.i : -1LL);
		CU_ASSERT_EQUAL(trips, 11); /* the package and its ten modules, one by one */
		ec_value_free(res);
		ec_value_free(args);
		ec_context_shutdown(c2, 3000, NULL);
	}
	ec_master_free(m2);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The threads of this process. */
static int thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* A context importing a ~12 MiB module (read, compressed, scanned on the master) does
 * not stall another context of the same master: the module server has its own thread.
 * Proved by events, not timings: in a master of its own, the server's thread is born
 * with the GET_MODULE of bigmod (its first) and logs when it has answered; a call in
 * the other context that starts after that birth and returns before that log went
 * through the broker while the server worked. Were the work done on the broker, no
 * call could. */
static void test_big_module(void)
{
	/* Once per major version: 2.7 and 3.x import differently (the 3.x machinery holds
	 * the global import lock around find_spec while the reply is awaited). */
	if (big_done[cur->version[0] == '3']++) {
		fprintf(stderr, "(run on the first interpreter of each major version only) ");
		return;
	}
	const char *dirs[] = {extdir, NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .log_fn = ec_test_log_capture,
	                               .log_level = EC_LOG_DEBUG, .module_path = dirs};
	struct ec_error err = {0};
	ec_master *m = NULL;
	CU_ASSERT_EQUAL_FATAL(ec_master_new(&mo, &m, &err), 0);
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", cur->path);
	const char *ov[] = {opt, NULL};
	ec_context *importer = NULL, *other = NULL;
	CU_ASSERT_EQUAL(ec_context_connect(m, "local", ov, 30000, &importer, &err), 0);
	CU_ASSERT_EQUAL(ec_context_connect(m, "local", ov, 30000, &other, &err), 0);
	ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL;
	if (!importer || !other ||
	    ec_context_call(other, "os", "getpid", args, NULL, 30000, &res, &err) != 0) {
		CU_FAIL("two contexts and a call");
		goto out;
	}
	ec_value_free(res);
	res = NULL;
	ec_test_log_clear();
	int threads = thread_count(); /* the caller and the broker: no server yet */
	ec_call *big = NULL;
	double t0 = now_ms(), worst = 0;
	CU_ASSERT_EQUAL_FATAL(ec_context_call_async(importer, "bigmod", "size", args, NULL, &big, &err), 0);
	int rc, pings = 0, during = 0;
	while ((rc = ec_call_wait(big, 1, &res, &err)) == EC_ETIMEDOUT) {
		int serving = thread_count() > threads;
		double t = now_ms();
		ec_value *pid = NULL;
		CU_ASSERT_EQUAL(ec_context_call(other, "os", "getpid", args, NULL, 30000, &pid, &err), 0);
		ec_value_free(pid);
		if (serving && !ec_test_log_count("econtext.modules", "GET_MODULE bigmod", NULL))
			during++;
		if (now_ms() - t > worst)
			worst = now_ms() - t;
		pings++;
	}
	double total = now_ms() - t0;
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(res && res->type == EC_T_INT && res->u.i == 12);
	CU_ASSERT_EQUAL(ec_test_log_count("econtext.modules", "GET_MODULE bigmod: found", NULL), 1);
	ec_value_free(res);
	ec_call_free(big);
	fprintf(stderr, "\n    12 MiB module imported in %.0f ms; meanwhile %d calls in another "
	        "context, %d of them while the server worked on it, the slowest %.1f ms ", total,
	        pings, during, worst);
	CU_ASSERT(during > 0);
out:
	ec_value_free(args);
	ec_context_shutdown(other, 3000, NULL);
	ec_context_shutdown(importer, 3000, NULL);
	ec_master_free(m);
}

/* A module whose answer is over the master's max_message_size (1 MiB here; bigmod.py
 * compresses to several): the context's import fails with an ImportError saying why,
 * the master logs it, and the context goes on. */
static void test_module_over_limit(void)
{
	if (cur->version[0] != '3' || over_done++) {
		fprintf(stderr, "(run on the first Python 3 only) ");
		return;
	}
	char *path = ec_test_tmpfile("max_message_size: 1048576\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	const char *dirs[] = {extdir, NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = path,
	                               .log_fn = ec_test_log_capture, .log_level = EC_LOG_DEBUG,
	                               .module_path = dirs};
	struct ec_error err = {0};
	ec_master *m = NULL;
	int mrc = ec_master_new(&mo, &m, &err);
	unlink(path);
	free(path);
	CU_ASSERT_EQUAL_FATAL(mrc, 0);
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", cur->path);
	const char *ov[] = {opt, NULL};
	ec_context *c = NULL;
	ec_test_log_clear();
	CU_ASSERT_EQUAL(ec_context_connect(m, "local", ov, 30000, &c, &err), 0);
	ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL;
	ec_value_append(args, ec_value_cstr("bigmod"));
	int rc = c ? ec_context_call(c, "importlib", "import_module", args, NULL, 30000, &res, &err)
	           : -1;
	CU_ASSERT_EQUAL(rc, EC_EREMOTE);
	CU_ASSERT(res && res->type == EC_T_ERROR && strstr(res->u.err.type, "ImportError") &&
	          strstr(res->u.err.message, "could not serve it") &&
	          strstr(res->u.err.message, "maximum message size"));
	if (res && res->type == EC_T_ERROR)
		fprintf(stderr, "\n    %s: %s ", res->u.err.type, res->u.err.message);
	CU_ASSERT(ec_test_log_count("econtext.modules", "exceeds the maximum message size", NULL) >= 1);
	ec_value_free(res);
	res = NULL;
	ec_value_free(args);
	args = ec_value_new(EC_T_TUPLE);
	CU_ASSERT(c && ec_context_call(c, "os", "getpid", args, NULL, 30000, &res, &err) == 0);
	ec_value_free(res);
	ec_value_free(args);
	if (c)
		ec_context_shutdown(c, 3000, NULL);
	ec_master_free(m);
}

/* Can this interpreter import name by itself? */
static int has_locally(const char *name)
{
	char cmd[800];
	snprintf(cmd, sizeof(cmd), "'%s' -c 'import %s' >/dev/null 2>&1", cur->path, name);
	return system(cmd) == 0;
}

static void test_third_party(void)
{
	struct stat st;
	if (stat(DIST_PACKAGES "/toml/__init__.py", &st) != 0 ||
	    stat(DIST_PACKAGES "/six.py", &st) != 0) {
		fprintf(stderr, "(no toml and six in " DIST_PACKAGES ": skipped) ");
		return;
	}
	const char *names[] = {"toml", "six"};
	for (size_t i = 0; i < 2; i++) {
		int local = has_locally(names[i]);
		ec_value *r = call_ok("fwdpkg.info", "where", ec_value_cstr(names[i]));
		const char *file = text(r);
		fprintf(stderr, "%s%s: %s ", i ? "" : "\n    ", names[i], file);
		/* Forwarded only where the interpreter has no copy of its own. */
		CU_ASSERT_EQUAL(strncmp(file, "master:" DIST_PACKAGES "/", 8 + strlen(DIST_PACKAGES)) == 0,
		                !local);
		ec_value_free(r);
	}
	ec_value *d = ec_value_new(EC_T_DICT);
	ec_value_dict_set(d, ec_value_cstr("answer"), ec_value_int(42));
	ec_value *r = call_ok("toml", "dumps", d);
	CU_ASSERT_STRING_EQUAL(text(r), "answer = 42\n");
	ec_value_free(r);
	r = call_ok("six", "ensure_str", ec_value_cstr("six works"));
	CU_ASSERT_STRING_EQUAL(text(r), "six works");
	ec_value_free(r);
}

int main(void)
{
	snprintf(extdir, sizeof(extdir), "/tmp/ecmodfwd.XXXXXX");
	if (!mkdtemp(extdir)) {
		perror("mkdtemp");
		return 1;
	}
	char ext[128];
	snprintf(ext, sizeof(ext), "%s/fakeext.cpython-311-x86_64-linux-gnu.so", extdir);
	FILE *f = fopen(ext, "w");
	if (f) {
		fputs("\x7f" "ELF", f);
		fclose(f);
	}
	/* bigmod.py: 12 MiB, mostly comments of pseudo-random hex (slow to compress). */
	char big[128];
	snprintf(big, sizeof(big), "%s/bigmod.py", extdir);
	f = fopen(big, "w");
	if (f) {
		fputs("def size():\n    return 12\n", f);
		unsigned long long x = 88172645463325252ull;
		for (long n = 0; n < (12l << 20) / 36; n++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			fprintf(f, "# %016llx%016llx\n", x, x * 2654435761ull);
		}
		fclose(f);
	}
	CU_initialize_registry();
	npythons = ec_test_pythons(pythons, sizeof(pythons) / sizeof(pythons[0]));
	int any = 0;
	for (size_t i = 0; i < npythons && i < sizeof(inits) / sizeof(inits[0]); i++) {
		char name[128];
		snprintf(name, sizeof(name), "module forwarder, python %.16s%s", pythons[i].version,
		         pythons[i].path[0] ? "" : " (ABSENT: skipped)");
		CU_pSuite s = CU_add_suite(name, inits[i], suite_clean);
		CU_add_test(s, "package tree: __file__, __package__, __spec__, getsource", test_package_attributes);
		CU_add_test(s, "lazy sibling import", test_lazy_sibling);
		CU_add_test(s, "module-level class pickled in the context", test_pickle_class);
		CU_add_test(s, "traceback shows forwarded source lines", test_traceback);
		CU_add_test(s, "missing on both sides: ImportError, no round trip", test_missing);
		CU_add_test(s, "extension module refused", test_extension_refused);
		CU_add_test(s, "syntax error for this interpreter", test_syntax_error);
		CU_add_test(s, "single-file script", test_script);
		CU_add_test(s, "ten-module package in at most two round trips", test_round_trips);
		CU_add_test(s, "third-party package from dist-packages", test_third_party);
		CU_add_test(s, "pkgutil.iter_modules and walk_packages", test_pkgutil);
		CU_add_test(s, "PEP 263 source (Latin-1): tracebacks, getsource", test_pep263);
		CU_add_test(s, "predict_imports: false: one round trip a module", test_no_prediction);
		CU_add_test(s, "a big module does not stall other contexts", test_big_module);
		CU_add_test(s, "a module over the message limit: ImportError saying so",
		            test_module_over_limit);
		if (!pythons[i].path[0])
			CU_set_suite_active(s, CU_FALSE);
		else
			any = 1;
	}
	if (!any)
		fprintf(stderr, "SKIP: no Python interpreter found\n");
	int rc = ec_test_run();
	unlink(ext);
	unlink(big);
	rmdir(extdir);
	return rc;
}
