/* test_plugin.c: the plugin loader's refusals, each one clear line, and a good load. */
#include "ecbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	CU_ASSERT_EQUAL(ec__plugins_init(&ps, dirs, ec__host_get(), NULL), 0);
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
	CU_ASSERT_EQUAL(ec__plugins_init(&ps, NULL, ec__host_get(), NULL), 0);

	test_plugin_path("badabi", path, sizeof(path));
	CU_ASSERT_EQUAL(ec__plugins_load_file(&ps, path, "badabi", EC_PLUGIN_CODEC, &lp, &err), EC_EABI);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "built for plugin ABI 2.0"));
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

static void test_builtin_found(void)
{
	/* From the build tree, the freshly built plugins are found without any path. */
	struct ec_plugins ps;
	const struct ec_loaded_plugin *lp = NULL, *again = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(ec__plugins_init(&ps, NULL, ec__host_get(), NULL), 0);
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
	CU_add_test(s, "ABI mismatch, init failure, no symbol, not ELF, wrong kind", test_refusals);
	CU_add_test(s, "build tree plugins found and loaded once", test_builtin_found);
	return ec_test_run();
}
