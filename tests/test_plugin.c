/* test_plugin.c: the plugin loader's refusals, each one clear line, and a good load;
 * each plugin's own host table, whose log records carry its name. */
#include "ecbuild.h"

#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "econtext/codec.h"
#include "econtext/transport.h"
#include "host.h"
#include "plugin.h"
#include "testutil.h"

static char dir[1024];

static void test_plugin_path(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/tests/plugins/%s/.libs/%s.so", ec_test_builddir(), name, name);
}

static int load(const char *name, enum ec_plugin_kind kind, struct ec_error *err)
{
	struct ec_plugins ps;
	const char *dirs[] = {dir, NULL};
	CU_ASSERT_EQUAL(ec__plugins_init(&ps, dirs, ec__host_get(), ec__host_new_for_plugin, NULL), 0);
	const struct ec_loaded_plugin *lp = NULL;
	int rc = ec__plugins_get(&ps, name, kind, &lp, err);
	ec__plugins_close(&ps);
	return rc;
}

static void test_unknown(void)
{
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(load("nosuchthing", EC_PLUGIN_TRANSPORT, &err), EC_EPLUGIN);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unknown transport 'nosuchthing'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, dir));
	CU_ASSERT_EQUAL(load("../etc/x", EC_PLUGIN_TRANSPORT, &err), EC_EPLUGIN);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "invalid transport plugin name"));
}

static void test_refusals(void)
{
	struct ec_error err = {0};
	char path[1200];
	struct ec_plugins ps;
	const struct ec_loaded_plugin *lp = NULL;
	CU_ASSERT_EQUAL(ec__plugins_init(&ps, NULL, ec__host_get(), ec__host_new_for_plugin, NULL), 0);

	test_plugin_path("badabi", path, sizeof(path));
	CU_ASSERT_EQUAL(ec__plugins_load_file(&ps, path, "badabi", EC_PLUGIN_CODEC, &lp, &err), EC_EABI);
	char abi[64];
	snprintf(abi, sizeof(abi), "built for plugin ABI %d.0", EC_PLUGIN_ABI_MAJOR + 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, abi));
	CU_ASSERT_STRING_EQUAL(err.where, path);

	test_plugin_path("failinit", path, sizeof(path));
	CU_ASSERT_EQUAL(ec__plugins_load_file(&ps, path, "failinit", EC_PLUGIN_CODEC, &lp, &err), EC_EPLUGIN);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "failed to initialise: the test plugin refuses to start"));

	test_plugin_path("nosym", path, sizeof(path));
	CU_ASSERT_EQUAL(ec__plugins_load_file(&ps, path, "nosym", EC_PLUGIN_CODEC, &lp, &err), EC_EPLUGIN);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "does not export ec_plugin_nosym_describe"));

	/* Not a shared object at all. */
	char *junk = ec_test_tmpfile("not an ELF file\n");
	CU_ASSERT_EQUAL(ec__plugins_load_file(&ps, junk, "junk", EC_PLUGIN_CODEC, &lp, &err), EC_EPLUGIN);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "cannot load codec plugin 'junk'"));
	unlink(junk);
	free(junk);

	/* The right file asked for as the wrong kind. */
	snprintf(path, sizeof(path), "%s/plugins/local/.libs/local.so", ec_test_builddir());
	CU_ASSERT_EQUAL(ec__plugins_load_file(&ps, path, "local", EC_PLUGIN_CODEC, &lp, &err), EC_EPLUGIN);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "is a transport plugin, not a codec plugin"));
	ec__plugins_close(&ps);
}

/* The ops tables the loader refuses: tests/plugins/badops.c, one plugin per case. */
static void test_ops_refusals(void)
{
	size_t end10 = offsetof(struct ec_transport_ops, destroy) + sizeof(void (*)(void *));
	size_t large = sizeof(struct ec_transport_ops) + sizeof(void (*)(void *));
	char small_msg[256], large_msg[256];
	snprintf(small_msg, sizeof(small_msg),
	         "plugin 'opssmall' has a transport ops table of %zu bytes, too small for plugin "
	         "ABI %d.%d (%zu bytes): rebuild the plugin",
	         end10, EC_PLUGIN_ABI_MAJOR, EC_PLUGIN_ABI_MINOR, sizeof(struct ec_transport_ops));
	snprintf(large_msg, sizeof(large_msg),
	         "plugin 'opslarge' has a transport ops table of %zu bytes, larger than this "
	         "econtext's (%zu bytes for ABI %d.%d)",
	         large, sizeof(struct ec_transport_ops), EC_PLUGIN_ABI_MAJOR, EC_PLUGIN_ABI_MINOR);
	const struct {
		const char *name;
		enum ec_plugin_kind kind;
		int code;
		const char *msg;
	} cases[] = {
		{"opssmall", EC_PLUGIN_TRANSPORT, EC_EABI, small_msg},
		{"opslarge", EC_PLUGIN_TRANSPORT, EC_EABI, large_msg},
		{"nostart", EC_PLUGIN_TRANSPORT, EC_EPLUGIN,
		 "plugin 'nostart' lacks 'start', which every transport plugin must have"},
		{"nodecode", EC_PLUGIN_CODEC, EC_EPLUGIN,
		 "plugin 'nodecode' lacks 'decode', which every codec plugin must have"},
		{"nosource", EC_PLUGIN_CODEC, EC_EPLUGIN,
		 "plugin 'nosource' lacks 'remote_source (plugin ABI 2.1: the codec's context side)', "
		 "which every codec plugin must have"},
		{"noops", EC_PLUGIN_TRANSPORT, EC_EPLUGIN, "plugin 'noops' has no operations"},
	};
	struct ec_plugins ps;
	CU_ASSERT_EQUAL_FATAL(ec__plugins_init(&ps, NULL, ec__host_get(), ec__host_new_for_plugin, NULL), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[1200];
		struct ec_error err = {0};
		const struct ec_loaded_plugin *lp = NULL;
		test_plugin_path(cases[i].name, path, sizeof(path));
		CU_ASSERT_EQUAL(ec__plugins_load_file(&ps, path, cases[i].name, cases[i].kind, &lp,
		                                      &err),
		                cases[i].code);
		if (!strstr(err.msg, cases[i].msg))
			fprintf(stderr, "%s: got '%s'\n  wanted '%s'\n", cases[i].name, err.msg,
			        cases[i].msg);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, cases[i].msg));
		CU_ASSERT_STRING_EQUAL(err.where, path);
		CU_ASSERT_PTR_NULL(lp);
	}
	CU_ASSERT_PTR_NULL(ps.loaded);
	ec__plugins_close(&ps);
}

/* Each plugin loaded gets its own copy of the host table: its records say
 * "econtext.<plugin>". */
static void test_own_host_table(void)
{
	struct ec_logger lg = {.level = EC_LOG_DEBUG, .fn = ec_test_log_capture};
	struct ec__host base;
	ec__host_init(&base, &lg, NULL);
	struct ec_plugins ps;
	const struct ec_loaded_plugin *chatty = NULL, *local = NULL;
	struct ec_error err = {0};
	char path[1200];
	ec_test_log_clear();
	CU_ASSERT_EQUAL_FATAL(ec__plugins_init(&ps, NULL, &base.pub, ec__host_new_for_plugin, NULL), 0);
	test_plugin_path("chatty", path, sizeof(path));
	CU_ASSERT_EQUAL_FATAL(
		ec__plugins_load_file(&ps, path, "chatty", EC_PLUGIN_TRANSPORT, &chatty, &err), 0);
	CU_ASSERT_EQUAL(ec_test_log_count("econtext.chatty", "chatty: loaded", NULL), 1);
	CU_ASSERT_EQUAL(ec_test_log_count("econtext.plugin", "chatty", NULL), 0);
	CU_ASSERT_EQUAL(ec__plugins_get(&ps, "local", EC_PLUGIN_TRANSPORT, &local, &err), 0);
	CU_ASSERT_PTR_NOT_EQUAL(chatty->host, local->host);
	CU_ASSERT_PTR_NOT_EQUAL(chatty->host, &base.pub);
	CU_ASSERT_PTR_EQUAL(chatty->state, chatty->host); /* what load() got */
	ec__plugins_close(&ps);
}

/* Through a master: the table a transport's create() finds in info->host is its own
 * (core/transport.c), the one its load() got. */
static void test_transport_logs_as_itself(void)
{
	char pdir[1200];
	snprintf(pdir, sizeof(pdir), "%s/chatty/.libs", dir);
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = "/dev/null",
	                               .plugin_path = pdir, .log_level = EC_LOG_DEBUG,
	                               .log_fn = ec_test_log_capture};
	ec_master *m = NULL;
	ec_context *ctx = NULL;
	struct ec_error err = {0};
	ec_test_log_clear();
	CU_ASSERT_EQUAL_FATAL(ec_master_new(&mo, &m, &err), 0);
	const char *ov[] = {"transport=chatty", NULL};
	CU_ASSERT_NOT_EQUAL(ec_context_connect(m, "talk", ov, 30000, &ctx, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "chatty starts nothing"));
	CU_ASSERT_EQUAL(ec_test_log_count("econtext.chatty", "chatty: loaded", NULL), 1);
	CU_ASSERT_EQUAL(ec_test_log_count("econtext.chatty",
	                                  "chatty: creating 'talk' with the table load() got", NULL),
	                1);
	ec_master_free(m);
}

/* Plugin ABI 2.0 through a master: a transport that polls no descriptor once open and
 * waits on its pollset's timer alone still carries a context (the core honours the
 * timer for the open stream), and its create, start and destroy run on one thread, the
 * broker's, not the one that connects. */
static void test_timer_and_threads(void)
{
	char pdir[1200], py[600] = "python=/usr/bin/python3", self[64];
	snprintf(pdir, sizeof(pdir), "%s/ticker/.libs", dir);
	struct ec_test_python pys[16];
	size_t npy = ec_test_pythons(pys, 16);
	for (size_t i = 0; i < npy; i++)
		if (pys[i].path[0]) {
			snprintf(py, sizeof(py), "python=%s", pys[i].path);
			break;
		}
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = "/dev/null",
	                               .plugin_path = pdir, .log_level = EC_LOG_WARNING,
	                               .log_fn = ec_test_log_capture};
	ec_master *m = NULL;
	ec_context *ctx = NULL;
	struct ec_error err = {0};
	ec_test_log_clear();
	CU_ASSERT_EQUAL_FATAL(ec_master_new(&mo, &m, &err), 0);
	const char *ov[] = {"transport=ticker", py, NULL};
	int rc = ec_context_connect(m, "tick", ov, 30000, &ctx, &err);
	if (rc)
		fprintf(stderr, "ticker: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	for (int i = 0; i < 20 && !rc; i++) {
		ec_value *res = NULL;
		rc = ec_context_call(ctx, "os", "getpid", NULL, NULL, 10000, &res, &err);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT(res && res->type == EC_T_INT && res->u.i == ec_context_pid(ctx));
		ec_value_free(res);
	}
	if (ctx)
		CU_ASSERT_EQUAL(ec_context_shutdown(ctx, 30000, &err), 0);
	ec_master_free(m);
	snprintf(self, sizeof(self), "ticker: create on thread %lu", (unsigned long)pthread_self());
	CU_ASSERT_EQUAL(ec_test_log_count("econtext.ticker", "ticker: create on thread", NULL), 1);
	CU_ASSERT_EQUAL(ec_test_log_count("econtext.ticker", self, NULL), 0);
	CU_ASSERT_EQUAL(ec_test_log_count("econtext.ticker",
	                                  "ticker: start and destroy on create's thread: yes", NULL),
	                1);
}

static void test_builtin_found(void)
{
	/* From the build tree, the freshly built plugins are found without any path. */
	struct ec_plugins ps;
	const struct ec_loaded_plugin *lp = NULL, *again = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(ec__plugins_init(&ps, NULL, ec__host_get(), ec__host_new_for_plugin, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(ec__plugins_get(&ps, "local", EC_PLUGIN_TRANSPORT, &lp, &err), 0);
	CU_ASSERT_STRING_EQUAL(lp->desc->name, "local");
	CU_ASSERT_EQUAL(ec__plugins_get(&ps, "local", EC_PLUGIN_TRANSPORT, &again, &err), 0);
	CU_ASSERT_PTR_EQUAL(lp, again); /* loaded once */
	CU_ASSERT_EQUAL(ec__plugins_get(&ps, "pickle", EC_PLUGIN_CODEC, &lp, &err), 0);
	ec__plugins_close(&ps);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "%s/tests/plugins", ec_test_builddir());
	CU_initialize_registry();
	CU_pSuite s = CU_add_suite("plugin loader", NULL, NULL);
	CU_add_test(s, "unknown plugin names the path searched", test_unknown);
	CU_add_test(s, "a transport on its timer alone; its ops on the broker thread",
	            test_timer_and_threads);
	CU_add_test(s, "ABI mismatch, init failure, no symbol, not ELF, wrong kind", test_refusals);
	CU_add_test(s, "ops table too small, too large, without a mandatory op, none",
	            test_ops_refusals);
	CU_add_test(s, "build tree plugins found and loaded once", test_builtin_found);
	CU_add_test(s, "each plugin has its own host table", test_own_host_table);
	CU_add_test(s, "a transport's records carry its name", test_transport_logs_as_itself);
	return ec_test_run();
}
