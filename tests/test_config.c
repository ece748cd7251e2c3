/* test_config.c: the YAML configuration (core/config.c): every load error with its exact
 * file:line:col, the getters and their defaults, overrides, dup, validation against a
 * plugin schema, files and relative paths, and the search order. */
#include "ecbuild.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "error.h"

#ifndef EC_SYSCONFDIR
#define EC_SYSCONFDIR "/etc"
#endif

/* CU_ASSERT with the caller's line, so that table-driven checks point at the case. */
#define CHECK_AT(cond, line, text) CU_assertImplementation(!!(cond), (line), (text), __FILE__, "", CU_FALSE)

static int load(const char *yaml, struct ec_config **cfg, struct ec_error *err)
{
	return ec__config_load_string("t.yaml", yaml, strlen(yaml), cfg, err);
}

static void report(int line, int rc, const struct ec_error *err)
{
	fprintf(stderr, "\n  test_config.c:%d: got rc=%d (%s) where=[%s] msg=[%s]\n", line, rc,
	        ec_err_name(rc), err->where, err->msg);
}

/* The load fails with code at where, and the message holds needle. */
static void expect_load_error_at(int line, const char *yaml, int code, const char *where,
                                 const char *needle)
{
	struct ec_config *cfg = NULL;
	struct ec_error err = {0};
	int rc = load(yaml, &cfg, &err);
	int ok = rc == code && err.code == code && !cfg && !strcmp(err.where, where) &&
	         strstr(err.msg, needle);
	CHECK_AT(ok, line, "load error: code, where and message");
	if (!ok)
		report(line, rc, &err);
	ec__config_free(cfg);
}
#define EXPECT_LOAD_ERROR(yaml, code, where, needle) \
	expect_load_error_at(__LINE__, yaml, code, where, needle)

/* The message is exactly msg. */
static void expect_exact_at(int line, const char *yaml, const char *where, const char *msg)
{
	struct ec_config *cfg = NULL;
	struct ec_error err = {0};
	int rc = load(yaml, &cfg, &err);
	int ok = rc == EC_ECONFIG && !strcmp(err.where, where) && !strcmp(err.msg, msg);
	CHECK_AT(ok, line, "load error: exact where and message");
	if (!ok)
		report(line, rc, &err);
	ec__config_free(cfg);
}
#define EXPECT_EXACT(yaml, where, msg) expect_exact_at(__LINE__, yaml, where, msg)

static size_t count(const char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

/* ---- load errors ------------------------------------------------------------------- */

static void t_syntax_errors(void)
{
	EXPECT_EXACT("a: [1, 2\n", "t.yaml:2:1",
	             "YAML syntax error: did not find expected ',' or ']' (while parsing a flow "
	             "sequence at 1:4)");
	EXPECT_LOAD_ERROR(": x", EC_ECONFIG, "t.yaml:1:1", "did not find expected key");
	EXPECT_LOAD_ERROR("codec: pickle\n  log_level: info\n", EC_ECONFIG, "t.yaml:2:12",
	                  "YAML syntax error: mapping values are not allowed");
	EXPECT_LOAD_ERROR("contexts:\n  a: 'unterminated\n", EC_ECONFIG, "t.yaml:3:1",
	                  "YAML syntax error: found unexpected end of stream");
	/* Reader errors carry a byte offset; it is turned into line:col as well. */
	EXPECT_EXACT("codec: pickle\ncodec2: \xff\n", "t.yaml:2:9",
	             "cannot read the YAML text: invalid leading UTF-8 octet (byte 0xFF)");
}

static void t_document_shape(void)
{
	EXPECT_EXACT("- a\n- b\n", "t.yaml:1:1",
	             "the configuration must be a mapping of keys (codec, contexts, ...), not a "
	             "list");
	EXPECT_LOAD_ERROR("\n\n  hello\n", EC_ECONFIG, "t.yaml:3:3", "not a string");
	EXPECT_LOAD_ERROR("'quoted'\n", EC_ECONFIG, "t.yaml:1:1", "must be a mapping");
	EXPECT_EXACT("codec: a\n---\ncodec: b\n", "t.yaml:2:1", "only one YAML document is allowed");
}

static void t_empty_documents(void)
{
	const char *const empties[] = {"", "# only a comment\n", "---\n", "~\n", "null", "\n\n"};
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		struct ec_config *cfg = NULL;
		struct ec_error err = {0};
		int rc = ec__config_load_string("e.yaml", empties[i], strlen(empties[i]), &cfg, &err);
		CU_ASSERT_EQUAL_FATAL(rc, 0);
		CU_ASSERT_STRING_EQUAL(ec__config_source(cfg), "e.yaml");
		CU_ASSERT_STRING_EQUAL(ec__config_codec(cfg), "pickle");
		CU_ASSERT_EQUAL(ec__config_log_level(cfg), EC_LOG_INFO);
		CU_ASSERT_EQUAL(ec__config_max_message(cfg), (size_t)64 << 20);
		CU_ASSERT_EQUAL(count(ec__config_module_path(cfg)), 0);
		CU_ASSERT_EQUAL(count(ec__config_plugin_path(cfg)), 0);
		CU_ASSERT_EQUAL(ec__config_predict_imports(cfg), 1);
		CU_ASSERT_EQUAL(ec__config_module_follow_symlinks(cfg), 0);
		const char *const *names = ec__config_context_names(cfg);
		CU_ASSERT_EQUAL_FATAL(count(names), 1);
		CU_ASSERT_STRING_EQUAL(names[0], "local");
		ec__config_free(cfg);
	}
}

static void t_top_level_keys(void)
{
	EXPECT_EXACT("codec: pickle\ncodex: x\n", "t.yaml:2:1",
	             "unknown top-level key 'codex'; did you mean 'codec'?");
	EXPECT_EXACT("log-level: info\n", "t.yaml:1:1",
	             "unknown top-level key 'log-level'; did you mean 'log_level'?");
	EXPECT_EXACT("zzz: 1\n", "t.yaml:1:1",
	             "unknown top-level key 'zzz' (known keys: codec, log_level, module_path, "
	             "plugin_path, max_message_size, predict_imports, module_path_follow_symlinks, "
	             "code_cache, call_spin_us, forks, groups, contexts)");
	EXPECT_EXACT("code_cache: maybe\n", "t.yaml:1:13",
	             "key 'code_cache' must be true or false, not 'maybe'");
	EXPECT_EXACT("predict_import: false\n", "t.yaml:1:1",
	             "unknown top-level key 'predict_import'; did you mean 'predict_imports'?");
	EXPECT_LOAD_ERROR("Contexts: {}\n", EC_ECONFIG, "t.yaml:1:1", "did you mean 'contexts'?");
}

static void t_top_level_types(void)
{
	EXPECT_EXACT("codec: [a]\n", "t.yaml:1:8", "key 'codec' must be a codec plugin name, not a list");
	EXPECT_LOAD_ERROR("codec:\n", EC_ECONFIG, "t.yaml:1:7", "key 'codec'");
	EXPECT_LOAD_ERROR("codec: ../evil\n", EC_ECONFIG, "t.yaml:1:8", "codec '../evil'");
	EXPECT_EXACT("log_level: loud\n", "t.yaml:1:12",
	             "key 'log_level' must be one of debug, info, warning, error, critical; not "
	             "'loud'");
	EXPECT_LOAD_ERROR("log_level: {a: 1}\n", EC_ECONFIG, "t.yaml:1:12", "not a mapping");
	EXPECT_EXACT("max_message_size: big\n", "t.yaml:1:19",
	             "key 'max_message_size' must be a number of bytes from 4096 to 4294967295, "
	             "not 'big'");
	EXPECT_LOAD_ERROR("max_message_size: '65536'\n", EC_ECONFIG, "t.yaml:1:19",
	                  "not the quoted string \"65536\"");
	EXPECT_LOAD_ERROR("max_message_size: 100\n", EC_ECONFIG, "t.yaml:1:19", "not '100'");
	EXPECT_LOAD_ERROR("max_message_size: 4294967296\n", EC_ECONFIG, "t.yaml:1:19",
	                  "max_message_size");
	EXPECT_LOAD_ERROR("max_message_size: 1.5e6\n", EC_ECONFIG, "t.yaml:1:19", "max_message_size");
	EXPECT_EXACT("call_spin_us: -1\n", "t.yaml:1:15",
	             "key 'call_spin_us' must be a number of microseconds from 0 to 10000, not '-1'");
	EXPECT_LOAD_ERROR("call_spin_us: 10001\n", EC_ECONFIG, "t.yaml:1:15", "not '10001'");
	EXPECT_LOAD_ERROR("call_spin_us: fast\n", EC_ECONFIG, "t.yaml:1:15", "call_spin_us");
	EXPECT_EXACT("predict_imports: no\n", "t.yaml:1:18",
	             "key 'predict_imports' must be true or false, not 'no'");
	EXPECT_LOAD_ERROR("predict_imports: 'false'\n", EC_ECONFIG, "t.yaml:1:18",
	                  "must be true or false");
	EXPECT_EXACT("module_path_follow_symlinks: [true]\n", "t.yaml:1:30",
	             "key 'module_path_follow_symlinks' must be true or false, not a list");
	EXPECT_LOAD_ERROR("module_path: {a: b}\n", EC_ECONFIG, "t.yaml:1:14",
	                  "key 'module_path' must be a directory or a list of directories");
	EXPECT_EXACT("plugin_path:\n  - /a\n  - [b]\n", "t.yaml:3:5",
	             "each item of key 'plugin_path' must be a directory, not a list");
	EXPECT_LOAD_ERROR("module_path: [a, ~]\n", EC_ECONFIG, "t.yaml:1:18", "not an empty value");
	EXPECT_EXACT("contexts: [a]\n", "t.yaml:1:11",
	             "key 'contexts' must be a mapping of context names to their keys, not a list");
}

static void t_duplicates(void)
{
	EXPECT_EXACT("codec: a\ncodec: b\n", "t.yaml:2:1", "duplicate key 'codec' (first defined at 1:1)");
	EXPECT_EXACT("contexts:\n  web1:\n    transport: ssh\n    hostname: a\n    port: 22\n"
	             "    hostname: b\n",
	             "t.yaml:6:5", "duplicate key 'hostname' (first defined at 4:5)");
	EXPECT_EXACT("contexts:\n  a: {transport: local}\n  b: {transport: local}\n"
	             "  a: {transport: local}\n",
	             "t.yaml:4:3", "duplicate key 'a' (first defined at 2:3)");
	/* The first repeated key in file order is the one reported. */
	EXPECT_EXACT("{z: 1, a: 1, b: 2, b: 3, a: 4, z: 5}", "t.yaml:1:20",
	             "duplicate key 'b' (first defined at 1:14)");
	/* 'a' and "a" are the same key. */
	EXPECT_LOAD_ERROR("codec: a\n\"codec\": b\n", EC_ECONFIG, "t.yaml:2:1", "duplicate key 'codec'");
}

static void t_unsupported_yaml(void)
{
	EXPECT_EXACT("codec: &x pickle\n", "t.yaml:1:8", "anchors (&x) are not supported");
	EXPECT_EXACT("codec: *x\n", "t.yaml:1:8", "aliases (*x) are not supported; write the value out");
	EXPECT_LOAD_ERROR("contexts:\n  a: &A {transport: local}\n  b: *A\n", EC_ECONFIG,
	                  "t.yaml:2:6", "anchors (&A)");
	EXPECT_EXACT("codec: !!int 5\n", "t.yaml:1:8",
	             "tag 'tag:yaml.org,2002:int' is not supported (only !!str)");
	EXPECT_LOAD_ERROR("codec: !custom x\n", EC_ECONFIG, "t.yaml:1:8", "tag '!custom'");
	EXPECT_EXACT("codec: \"a\\0b\"\n", "t.yaml:1:8", "a NUL character cannot appear in a value");
	EXPECT_EXACT("? [a]\n: b\n", "t.yaml:1:3", "a key must be a string, not a list");
	EXPECT_EXACT("{{a: 1}: b}", "t.yaml:1:2", "a key must be a string, not a mapping");
	EXPECT_EXACT("? \n: x\n", "t.yaml:1:2", "a key cannot be empty");

	/* !!str is accepted and makes the scalar a string. */
	struct ec_config *cfg = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL_FATAL(load("codec: !!str pickle2\n", &cfg, &err), 0);
	CU_ASSERT_STRING_EQUAL(ec__config_codec(cfg), "pickle2");
	ec__config_free(cfg);
}

static void t_hostile_input(void)
{
	/* 100000 levels: refused at level 65, without recursing that deep. */
	size_t depth = 100000;
	char *deep = malloc(2 * depth + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(deep);
	memset(deep, '[', depth);
	memset(deep + depth, ']', depth);
	deep[2 * depth] = '\0';
	EXPECT_EXACT(deep, "t.yaml:1:65", "nesting is deeper than 64 levels");
	free(deep);
	/* Exactly 64 levels are fine as far as nesting goes (then: not a mapping). */
	char ok[129];
	memset(ok, '[', 64);
	memset(ok + 64, ']', 64);
	ok[128] = '\0';
	EXPECT_LOAD_ERROR(ok, EC_ECONFIG, "t.yaml:1:1", "must be a mapping");

	/* "Billion laughs" never expands: the first anchor is refused. */
	EXPECT_LOAD_ERROR("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a]\n"
	                  "c: [*b, *b, *b, *b, *b, *b, *b]\n",
	                  EC_ECONFIG, "t.yaml:1:4", "anchors (&a)");
	/* A self-referencing node (libyaml's loader would build a cycle). */
	EXPECT_LOAD_ERROR("a: &a [*a]\n", EC_ECONFIG, "t.yaml:1:4", "anchors");

	/* Many keys, the duplicate last: found by sorting, not by comparing all pairs. */
	size_t nkeys = 50000, cap = nkeys * 24 + 128, len = 0;
	char *many = malloc(cap);
	CU_ASSERT_PTR_NOT_NULL_FATAL(many);
	len += (size_t)snprintf(many + len, cap - len, "contexts:\n  web1:\n    transport: ssh\n");
	for (size_t i = 0; i < nkeys; i++)
		len += (size_t)snprintf(many + len, cap - len, "    k%zu: v\n", i);
	snprintf(many + len, cap - len, "    k7: again\n");
	char where[64];
	snprintf(where, sizeof(where), "t.yaml:%zu:5", nkeys + 4);
	EXPECT_LOAD_ERROR(many, EC_ECONFIG, where, "duplicate key 'k7' (first defined at 11:5)");
	free(many);

	/* Control characters and long values are shown tamed in messages. */
	struct ec_config *cfg = NULL;
	struct ec_error err = {0};
	char longkey[300];
	longkey[0] = '"';
	memset(longkey + 1, 'k', 200);
	strcpy(longkey + 201, "\\x01\": 1\n");
	CU_ASSERT_EQUAL(load(longkey, &cfg, &err), EC_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "kkk..."));
	CU_ASSERT_PTR_NULL(strchr(err.msg, '\x01'));
}

static void t_context_errors(void)
{
	EXPECT_EXACT("contexts:\n  web1: ssh\n", "t.yaml:2:9",
	             "context 'web1' must be a mapping of keys (transport: ..., ...), not a string");
	EXPECT_LOAD_ERROR("contexts:\n  web1: [a]\n", EC_ECONFIG, "t.yaml:2:9", "not a list");
	EXPECT_EXACT("contexts:\n  py27:\n    transport: local\n  web1:\n    hostname: x\n",
	             "t.yaml:4:3",
	             "context 'web1' has no key 'transport' (the plugin that starts it: local, "
	             "ssh, ...)");
	/* An empty context is a context without transport. */
	EXPECT_LOAD_ERROR("contexts:\n  web1:\n", EC_ECONFIG, "t.yaml:2:3", "has no key 'transport'");
	EXPECT_EXACT("contexts:\n  a:\n    transport: [local]\n", "t.yaml:3:16",
	             "key 'transport' in context 'a' must be a string, not a list");
	EXPECT_EXACT("contexts:\n  a:\n    transport: ../x\n", "t.yaml:3:16",
	             "transport '../x' of context 'a' is not a plugin name (letters, digits and '_')");
	EXPECT_EXACT("contexts:\n  a:\n    transport: local\n    codec: ../x\n", "t.yaml:4:12",
	             "codec '../x' of context 'a' is not a plugin name (letters, digits and '_')");
	EXPECT_EXACT("contexts:\n  a:\n    transport: local\n    connect_timeout: soon\n",
	             "t.yaml:4:22",
	             "key 'connect_timeout' in context 'a' must be a number of seconds such as 30 "
	             "or 2.5, not 'soon'");
	EXPECT_LOAD_ERROR("contexts:\n  a:\n    transport: local\n    connect_timeout: -1\n",
	                  EC_ECONFIG, "t.yaml:4:22", "not '-1'");
	EXPECT_LOAD_ERROR("contexts:\n  a:\n    transport: local\n    connect_timeout: \"30\"\n",
	                  EC_ECONFIG, "t.yaml:4:22", "not the quoted string \"30\"");
	EXPECT_LOAD_ERROR("contexts:\n  a:\n    transport: local\n    python: {x: 1}\n", EC_ECONFIG,
	                  "t.yaml:4:13", "key 'python' in context 'a' must be a string, not a mapping");
	EXPECT_LOAD_ERROR("contexts:\n  a:\n    transport: local\n    python: ''\n", EC_ECONFIG,
	                  "t.yaml:4:13", "key 'python' in context 'a' cannot be empty");
	EXPECT_EXACT("contexts:\n  a:\n    transport: local\n    via: b\n", "t.yaml:4:10",
	             "context 'a' goes via 'b', which is not a defined context");
	EXPECT_EXACT("contexts:\n  a: {transport: local, via: b}\n  b: {transport: local, via: c}\n"
	             "  c: {transport: local, via: a}\n",
	             "t.yaml:2:30", "context 'a' reaches itself through 'via' keys");
	EXPECT_LOAD_ERROR("contexts:\n  a: {transport: local, via: a}\n", EC_ECONFIG, "t.yaml:2:30",
	                  "context 'a' reaches itself");
	/* A loop that does not include the first context walked. */
	EXPECT_LOAD_ERROR("contexts:\n  s: {transport: local, via: b}\n  b: {transport: local, via: c}\n"
	                  "  c: {transport: local, via: b}\n",
	                  EC_ECONFIG, "t.yaml:3:30", "context 'b' reaches itself");
	/* Unknown keys in a context wait for ec__cfg_validate (they depend on the plugin). */
	struct ec_config *cfg = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(load("contexts:\n  a: {transport: local, hostnmae: x}\n", &cfg, &err), 0);
	ec__config_free(cfg);
}

/* ---- a good file and the getters ---------------------------------------------------- */

static const char example[] = "codec: pickle\n"                       /* 1 */
                              "log_level: debug\n"                    /* 2 */
                              "module_path: [./lib]\n"                /* 3 */
                              "plugin_path: /opt/econtext/plugins\n"  /* 4 */
                              "max_message_size: 1048576\n"           /* 5 */
                              "contexts:\n"                           /* 6 */
                              "  py27:\n"                             /* 7 */
                              "    transport: local\n"                /* 8 */
                              "    python: /opt/python2.7/bin/python\n" /* 9 */
                              "    connect_timeout: 2.5\n"            /* 10 */
                              "  web1:\n"                             /* 11 */
                              "    transport: ssh\n"                  /* 12 */
                              "    hostname: web1.example.com\n"      /* 13 */
                              "    username: deploy\n"                /* 14 */
                              "    port: 2222\n"                      /* 15 */
                              "    identity_files: [~/.ssh/a, \"b c\"]\n" /* 16 */
                              "  jump:\n"                             /* 17 */
                              "    transport: ssh\n"                  /* 18 */
                              "    via: web1\n"                       /* 19 */
                              "    hostname: jump\n";                 /* 20 */

static struct ec_config *load_example(void)
{
	struct ec_config *cfg = NULL;
	struct ec_error err = {0};
	int rc = load(example, &cfg, &err);
	if (rc)
		report(__LINE__, rc, &err);
	return cfg;
}

static void t_top_level_values(void)
{
	struct ec_config *cfg = load_example();
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_STRING_EQUAL(ec__config_source(cfg), "t.yaml");
	CU_ASSERT_STRING_EQUAL(ec__config_codec(cfg), "pickle");
	CU_ASSERT_EQUAL(ec__config_log_level(cfg), EC_LOG_DEBUG);
	CU_ASSERT_EQUAL(ec__config_max_message(cfg), 1048576);
	struct ec_config *mf = NULL;
	CU_ASSERT_EQUAL_FATAL(load("predict_imports: false\nmodule_path_follow_symlinks: true\n",
	                           &mf, NULL), 0);
	CU_ASSERT_EQUAL(ec__config_predict_imports(mf), 0);
	CU_ASSERT_EQUAL(ec__config_module_follow_symlinks(mf), 1);
	CU_ASSERT_EQUAL(ec__config_call_spin_us(mf), 400); /* the default */
	ec__config_free(mf);
	CU_ASSERT_EQUAL_FATAL(load("call_spin_us: 0\n", &mf, NULL), 0);
	CU_ASSERT_EQUAL(ec__config_call_spin_us(mf), 0);
	ec__config_free(mf);
	const char *const *mp = ec__config_module_path(cfg);
	CU_ASSERT_EQUAL_FATAL(count(mp), 1);
	CU_ASSERT_STRING_EQUAL(mp[0], "./lib"); /* text, not a file: left as written */
	const char *const *pp = ec__config_plugin_path(cfg);
	CU_ASSERT_EQUAL_FATAL(count(pp), 1); /* a string is a one-element list */
	CU_ASSERT_STRING_EQUAL(pp[0], "/opt/econtext/plugins");
	const char *const *names = ec__config_context_names(cfg);
	CU_ASSERT_EQUAL_FATAL(count(names), 4);
	CU_ASSERT_STRING_EQUAL(names[0], "py27");
	CU_ASSERT_STRING_EQUAL(names[1], "web1");
	CU_ASSERT_STRING_EQUAL(names[2], "jump");
	CU_ASSERT_STRING_EQUAL(names[3], "local"); /* added, after the file's own */
	CU_ASSERT_PTR_NULL(ec__config_context(cfg, "nope"));
	CU_ASSERT_PTR_NULL(ec__config_context(cfg, NULL));
	ec__config_free(cfg);
	ec__config_free(NULL);

	/* Other spellings: a null path list is empty; log levels. */
	CU_ASSERT_EQUAL_FATAL(load("module_path:\nplugin_path: []\nlog_level: critical\n", &cfg, NULL), 0);
	CU_ASSERT_EQUAL(count(ec__config_module_path(cfg)), 0);
	CU_ASSERT_EQUAL(count(ec__config_plugin_path(cfg)), 0);
	CU_ASSERT_EQUAL(ec__config_log_level(cfg), EC_LOG_CRITICAL);
	ec__config_free(cfg);
}

static void t_builtin_local(void)
{
	struct ec_config *cfg = load_example();
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	const struct ec_cfg *local = ec__config_context(cfg, "local");
	CU_ASSERT_PTR_NOT_NULL_FATAL(local);
	const char *s = NULL;
	CU_ASSERT_EQUAL(ec__cfg_str(local, "transport", &s), 0);
	CU_ASSERT_STRING_EQUAL(s, "local");
	CU_ASSERT_EQUAL(ec__cfg_str(local, "python", &s), 0);
	CU_ASSERT_STRING_EQUAL(s, "python3");
	CU_ASSERT_STRING_EQUAL(ec__cfg_where(local, "transport"), "<built-in>");
	CU_ASSERT_STRING_EQUAL(ec__cfg_name(local), "local");
	ec__config_free(cfg);

	/* A file's own `local` wins. */
	CU_ASSERT_EQUAL_FATAL(load("contexts:\n  local:\n    transport: ssh\n    hostname: h\n",
	                           &cfg, NULL), 0);
	CU_ASSERT_EQUAL(count(ec__config_context_names(cfg)), 1);
	CU_ASSERT_EQUAL(ec__cfg_str(ec__config_context(cfg, "local"), "transport", &s), 0);
	CU_ASSERT_STRING_EQUAL(s, "ssh");
	CU_ASSERT_STRING_EQUAL(ec__cfg_where(ec__config_context(cfg, "local"), NULL), "t.yaml:2:3");
	ec__config_free(cfg);
}

static void t_core_getters(void)
{
	struct ec_config *cfg = load_example();
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	const struct ec_cfg *py27 = ec__config_context(cfg, "py27");
	const struct ec_cfg *web1 = ec__config_context(cfg, "web1");
	const struct ec_cfg *jump = ec__config_context(cfg, "jump");
	CU_ASSERT_PTR_NOT_NULL_FATAL(py27);
	CU_ASSERT_PTR_NOT_NULL_FATAL(web1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(jump);
	const char *s = NULL;
	long ms = 0;

	CU_ASSERT_EQUAL(ec__cfg_str(py27, "python", &s), 0);
	CU_ASSERT_STRING_EQUAL(s, "/opt/python2.7/bin/python");
	CU_ASSERT_EQUAL(ec__cfg_ms(py27, "connect_timeout", &ms), 0);
	CU_ASSERT_EQUAL(ms, 2500);
	/* Core defaults, before any ec__cfg_validate. */
	CU_ASSERT_EQUAL(ec__cfg_str(web1, "python", &s), 0);
	CU_ASSERT_STRING_EQUAL(s, "python3");
	CU_ASSERT_EQUAL(ec__cfg_ms(web1, "connect_timeout", &ms), 0);
	CU_ASSERT_EQUAL(ms, 30000);
	s = "untouched";
	CU_ASSERT_EQUAL(ec__cfg_str(web1, "via", &s), EC_ENOTFOUND); /* no default */
	CU_ASSERT_STRING_EQUAL(s, "untouched");
	CU_ASSERT_EQUAL(ec__cfg_str(jump, "via", &s), 0);
	CU_ASSERT_STRING_EQUAL(s, "web1");
	/* Plugin keys are readable as written even before validation. */
	CU_ASSERT_EQUAL(ec__cfg_str(web1, "hostname", &s), 0);
	CU_ASSERT_STRING_EQUAL(s, "web1.example.com");
	CU_ASSERT_EQUAL(ec__cfg_str(web1, "nope", &s), EC_ENOTFOUND);
	CU_ASSERT_EQUAL(ec__cfg_str(web1, NULL, &s), EC_ENOTFOUND);
	CU_ASSERT_EQUAL(ec__cfg_str(NULL, "python", &s), EC_ENOTFOUND);
	/* Asking for the wrong type is EC_ECONFIG. */
	CU_ASSERT_EQUAL(ec__cfg_str(web1, "identity_files", &s), EC_ECONFIG);
	long l = 0;
	int b = 0;
	CU_ASSERT_EQUAL(ec__cfg_int(web1, "hostname", &l), EC_ECONFIG);
	CU_ASSERT_EQUAL(ec__cfg_bool(web1, "hostname", &b), EC_ECONFIG);
	CU_ASSERT_EQUAL(ec__cfg_ms(web1, "hostname", &ms), EC_ECONFIG);
	CU_ASSERT_EQUAL(ec__cfg_int(web1, "port", &l), 0);
	CU_ASSERT_EQUAL(l, 2222);

	/* Where: the key's position, the section's for NULL or an absent key. */
	CU_ASSERT_STRING_EQUAL(ec__cfg_where(web1, "hostname"), "t.yaml:13:5");
	CU_ASSERT_STRING_EQUAL(ec__cfg_where(web1, NULL), "t.yaml:11:3");
	CU_ASSERT_STRING_EQUAL(ec__cfg_where(web1, "python"), "t.yaml:11:3");
	CU_ASSERT_STRING_EQUAL(ec__cfg_where(NULL, NULL), "");
	CU_ASSERT_STRING_EQUAL(ec__cfg_name(web1), "web1");
	ec__config_free(cfg);
}

static void t_list_getter(void)
{
	struct ec_config *cfg = NULL;
	CU_ASSERT_EQUAL_FATAL(load("contexts:\n  a:\n    transport: local\n    one: x\n"
	                           "    many: [x, 'y z', \"\"]\n    none:\n    empty: []\n"
	                           "    quoted_null: '~'\n    map: {a: 1}\n",
	                           &cfg, NULL), 0);
	const struct ec_cfg *a = ec__config_context(cfg, "a");
	const char *const *v = NULL;
	size_t n = 99;
	CU_ASSERT_EQUAL(ec__cfg_list(a, "one", &v, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_STRING_EQUAL(v[0], "x");
	CU_ASSERT_PTR_NULL(v[1]);
	CU_ASSERT_EQUAL(ec__cfg_list(a, "many", &v, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(v[1], "y z");
	CU_ASSERT_STRING_EQUAL(v[2], "");
	CU_ASSERT_PTR_NULL(v[3]);
	CU_ASSERT_EQUAL(ec__cfg_list(a, "none", &v, &n), 0); /* plain null: empty list */
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NULL(v[0]);
	CU_ASSERT_EQUAL(ec__cfg_list(a, "empty", &v, NULL), 0);
	CU_ASSERT_PTR_NULL(v[0]);
	CU_ASSERT_EQUAL(ec__cfg_list(a, "quoted_null", &v, &n), 0); /* a string "~" */
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(ec__cfg_list(a, "map", &v, &n), EC_ECONFIG);
	CU_ASSERT_EQUAL(ec__cfg_list(a, "absent", &v, &n), EC_ENOTFOUND);
	ec__config_free(cfg);
}

static struct ec_cfg *section_of(const char *yaml_body)
{
	char text[1024];
	snprintf(text, sizeof(text), "contexts:\n  s:\n    transport: local\n%s", yaml_body);
	struct ec_config *cfg = NULL;
	struct ec_error err = {0};
	int rc = load(text, &cfg, &err);
	if (rc) {
		report(__LINE__, rc, &err);
		return NULL;
	}
	struct ec_cfg *s = ec__cfg_dup(ec__config_context(cfg, "s"));
	ec__config_free(cfg);
	return s;
}

/* ---- validation against a plugin schema --------------------------------------------- */

static const struct ec_param ssh_params[] = {
	{.key = "hostname", .type = EC_PARAM_STR, .flags = EC_PARAM_REQUIRED, .help = "the host to log in to"},
	{.key = "port", .type = EC_PARAM_INT, .dflt = "22", .min = 1, .max = 65535},
	{.key = "username", .type = EC_PARAM_STR},
	{.key = "compress", .type = EC_PARAM_BOOL, .dflt = "false"},
	{.key = "identity_files", .type = EC_PARAM_STR_LIST, .dflt = "[~/.ssh/id_ed25519, ~/.ssh/id_rsa]"},
	{.key = "keepalive", .type = EC_PARAM_DURATION, .dflt = "15.5"},
	{.key = "retries", .type = EC_PARAM_INT, .dflt = "3"}, /* min == max: any long */
	{.key = "banner", .type = EC_PARAM_STR, .dflt = "hello, world"},
	{0},
};

static void t_durations(void)
{
	static const struct {
		const char *text;
		long ms; /* -1: refused */
	} cases[] = {
		{"0", 0},         {"30", 30000},    {"2.5", 2500},     {".5", 500},
		{"5.", 5000},     {"0.001", 1},     {"0.0005", 1},     {"0.0004", 0},
		{"1.2345", 1235}, {"1.2344", 1234}, {"007", 7000},     {"86400", 86400000},
		{"-1", -1},       {"1e3", -1},      {"abc", -1},       {".", -1},
		{"1.2.3", -1},    {"+1", -1},       {"30s", -1},       {"99999999999999999999", -1},
		{"'30'", -1},     {"[1]", -1},
	};
	struct ec_cfg *s = section_of("    hostname: h\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int good = cases[i].ms >= 0;
		char kv[64];
		struct ec_error err = {0};
		long ms = -7;
		/* A core key: checked by the override. */
		snprintf(kv, sizeof(kv), "connect_timeout=%s", cases[i].text);
		int orc = ec__cfg_override(s, kv, &err);
		int ok = good ? orc == 0 && ec__cfg_ms(s, "connect_timeout", &ms) == 0 && ms == cases[i].ms
		              : orc == EC_ECONFIG && !strcmp(err.where, "-o connect_timeout");
		/* A plugin's key: the getter and ec__cfg_validate. */
		snprintf(kv, sizeof(kv), "keepalive=%s", cases[i].text);
		ok = ok && ec__cfg_override(s, kv, &err) == 0;
		ms = -7;
		int grc = ec__cfg_ms(s, "keepalive", &ms);
		int vrc = ec__cfg_validate(s, ssh_params, "ssh", &err);
		ok = ok && (good ? grc == 0 && vrc == 0 && ms == cases[i].ms
		                 : grc == EC_ECONFIG && ms == -7 && vrc == EC_ECONFIG &&
		                           !strcmp(err.where, "-o keepalive"));
		CU_ASSERT(ok);
		if (!ok)
			fprintf(stderr, "\n  duration '%s': orc=%d grc=%d vrc=%d ms=%ld (%s: %s)\n",
			        cases[i].text, orc, grc, vrc, ms, err.where, err.msg);
	}
	ec__cfg_free(s);
}

/* Validate the web1-like section built from body; expect rc at where with needle. */
static void expect_validate_at(int line, const char *body, int code, const char *where,
                               const char *needle)
{
	char text[1024];
	snprintf(text, sizeof(text), "contexts:\n  web1:\n    transport: ssh\n%s", body);
	struct ec_config *cfg = NULL;
	struct ec_error err = {0};
	int rc = load(text, &cfg, &err);
	CHECK_AT(rc == 0, line, "the file loads");
	if (rc) {
		report(line, rc, &err);
		return;
	}
	struct ec_cfg *s = ec__cfg_dup(ec__config_context(cfg, "web1"));
	rc = ec__cfg_validate(s, ssh_params, "ssh", &err);
	int ok = rc == code && (!code || (err.code == code && !strcmp(err.where, where) &&
	                                  strstr(err.msg, needle)));
	CHECK_AT(ok, line, "validate: code, where and message");
	if (!ok)
		report(line, rc, &err);
	ec__cfg_free(s);
	ec__config_free(cfg);
}
#define EXPECT_VALIDATE(body, code, where, needle) \
	expect_validate_at(__LINE__, body, code, where, needle)

static void t_validate_errors(void)
{
	EXPECT_VALIDATE("    hostname: h\n", 0, "", "");
	/* Every line below is line 4 of its file. */
	EXPECT_VALIDATE("    hostnmae: h\n", EC_ECONFIG, "t.yaml:4:5",
	                "unknown key 'hostnmae' in context 'web1' (transport ssh); did you mean "
	                "'hostname'?");
	EXPECT_VALIDATE("    hostname: h\n    pyton: python3\n", EC_ECONFIG, "t.yaml:5:5",
	                "unknown key 'pyton' in context 'web1' (transport ssh); did you mean 'python'?");
	EXPECT_VALIDATE("    hostname: h\n    Port: 22\n", EC_ECONFIG, "t.yaml:5:5", "did you mean 'port'?");
	EXPECT_VALIDATE("    hostname: h\n    frobnicate: 1\n", EC_ECONFIG, "t.yaml:5:5",
	                "unknown key 'frobnicate' in context 'web1' (transport ssh)");
	EXPECT_VALIDATE("    port: 22\n", EC_ECONFIG, "t.yaml:2:3",
	                "context 'web1' (transport ssh) needs the key 'hostname' (the host to log "
	                "in to)");
	EXPECT_VALIDATE("    hostname: h\n    port: 70000\n", EC_ECONFIG, "t.yaml:5:11",
	                "key 'port' in context 'web1' (transport ssh) must be an integer from 1 to "
	                "65535, not '70000'");
	EXPECT_VALIDATE("    hostname: h\n    port: 0\n", EC_ECONFIG, "t.yaml:5:11", "not '0'");
	EXPECT_VALIDATE("    hostname: h\n    port: \"22\"\n", EC_ECONFIG, "t.yaml:5:11",
	                "not the quoted string \"22\"");
	EXPECT_VALIDATE("    hostname: h\n    port: 0x16\n", EC_ECONFIG, "t.yaml:5:11", "not '0x16'");
	EXPECT_VALIDATE("    hostname: h\n    port: 22.0\n", EC_ECONFIG, "t.yaml:5:11", "not '22.0'");
	EXPECT_VALIDATE("    hostname: h\n    port: [22]\n", EC_ECONFIG, "t.yaml:5:11", "not a list");
	EXPECT_VALIDATE("    hostname: h\n    retries: -5\n", 0, "", "");
	EXPECT_VALIDATE("    hostname: h\n    retries: 99999999999999999999999\n", EC_ECONFIG,
	                "t.yaml:5:14", "must be an integer, not");
	EXPECT_VALIDATE("    hostname: h\n    compress: yes\n", EC_ECONFIG, "t.yaml:5:15",
	                "key 'compress' in context 'web1' (transport ssh) must be true or false, "
	                "not 'yes'");
	EXPECT_VALIDATE("    hostname: h\n    compress: 'true'\n", EC_ECONFIG, "t.yaml:5:15",
	                "not the quoted string \"true\"");
	EXPECT_VALIDATE("    hostname: h\n    compress: True\n", 0, "", "");
	EXPECT_VALIDATE("    hostname: [a, b]\n", EC_ECONFIG, "t.yaml:4:15", "must be a string, not a list");
	/* A plain scalar that looks like a number or a bool is a fine string. */
	EXPECT_VALIDATE("    hostname: 123\n    username: yes\n", 0, "", "");
	EXPECT_VALIDATE("    hostname: h\n    identity_files: {a: b}\n", EC_ECONFIG, "t.yaml:5:21",
	                "must be a string or a list of strings, not a mapping");
	EXPECT_VALIDATE("    hostname: h\n    identity_files:\n      - a\n      - [b]\n", EC_ECONFIG,
	                "t.yaml:7:9", "this item is not a string");
	EXPECT_VALIDATE("    hostname: h\n    keepalive: 1m\n", EC_ECONFIG, "t.yaml:5:16",
	                "must be a number of seconds");
}

static void t_validate_defaults(void)
{
	struct ec_cfg *s = section_of("    hostname: h\n    port: 2200\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	struct ec_error err = {0};
	long l = 0;
	int b = -1;
	const char *str = NULL;
	const char *const *list = NULL;
	size_t n = 0;

	/* Before validation only the core's defaults are known. */
	CU_ASSERT_EQUAL(ec__cfg_bool(s, "compress", &b), EC_ENOTFOUND);
	CU_ASSERT_EQUAL_FATAL(ec__cfg_validate(s, ssh_params, "ssh", &err), 0);
	CU_ASSERT_EQUAL(ec__cfg_int(s, "port", &l), 0);
	CU_ASSERT_EQUAL(l, 2200);
	CU_ASSERT_EQUAL(ec__cfg_int(s, "retries", &l), 0);
	CU_ASSERT_EQUAL(l, 3);
	CU_ASSERT_EQUAL(ec__cfg_bool(s, "compress", &b), 0);
	CU_ASSERT_EQUAL(b, 0);
	CU_ASSERT_EQUAL(ec__cfg_ms(s, "keepalive", &l), 0);
	CU_ASSERT_EQUAL(l, 15500);
	CU_ASSERT_EQUAL(ec__cfg_str(s, "banner", &str), 0);
	CU_ASSERT_STRING_EQUAL(str, "hello, world");
	CU_ASSERT_EQUAL(ec__cfg_list(s, "identity_files", &list, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(list[0], "~/.ssh/id_ed25519");
	CU_ASSERT_STRING_EQUAL(list[1], "~/.ssh/id_rsa");
	CU_ASSERT_PTR_NULL(list[2]);
	CU_ASSERT_EQUAL(ec__cfg_str(s, "username", &str), EC_ENOTFOUND);
	CU_ASSERT_EQUAL(ec__cfg_str(s, "python", &str), 0);
	CU_ASSERT_STRING_EQUAL(str, "python3");
	CU_ASSERT_STRING_EQUAL(ec__cfg_where(s, "port"), "t.yaml:5:5");
	CU_ASSERT_STRING_EQUAL(ec__cfg_where(s, "keepalive"), "t.yaml:2:3"); /* a default */

	/* Validating again with another table replaces the defaults. */
	static const struct ec_param other[] = {
		{.key = "hostname", .type = EC_PARAM_STR},
		{.key = "port", .type = EC_PARAM_INT},
		{.key = "compress", .type = EC_PARAM_BOOL, .dflt = "true"},
		{0},
	};
	CU_ASSERT_EQUAL(ec__cfg_validate(s, other, "other", &err), 0);
	CU_ASSERT_EQUAL(ec__cfg_bool(s, "compress", &b), 0);
	CU_ASSERT_EQUAL(b, 1);
	CU_ASSERT_EQUAL(ec__cfg_ms(s, "keepalive", &l), EC_ENOTFOUND);

	/* A plugin whose defaults do not fit its own types is the plugin's fault. */
	static const struct ec_param broken[] = {
		{.key = "port", .type = EC_PARAM_INT, .dflt = "abc", .min = 1, .max = 10},
		{0},
	};
	CU_ASSERT_EQUAL(ec__cfg_validate(s, broken, "broken", &err), EC_EPLUGIN);
	CU_ASSERT_EQUAL(err.code, EC_EPLUGIN);
	CU_ASSERT_STRING_EQUAL(err.where, "plugin broken");
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "the default of key 'port'"));
	static const struct ec_param broken_yaml[] = {
		{.key = "x", .type = EC_PARAM_STR_LIST, .dflt = "[a"},
		{0},
	};
	CU_ASSERT_EQUAL(ec__cfg_validate(s, broken_yaml, "broken", &err), EC_EPLUGIN);
	CU_ASSERT_EQUAL(ec__cfg_validate(NULL, ssh_params, "ssh", &err), EC_EINVAL);
	/* No plugin table: only the core's keys; the transport's name in messages. */
	CU_ASSERT_EQUAL(ec__cfg_validate(s, NULL, NULL, &err), EC_ECONFIG);
	CU_ASSERT_STRING_EQUAL(err.msg, "unknown key 'hostname' in context 's' (transport local)");
	ec__cfg_free(s);
}

/* ---- overrides and dup -------------------------------------------------------------- */

static void t_overrides(void)
{
	struct ec_config *cfg = load_example();
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	struct ec_cfg *s = ec__cfg_dup(ec__config_context(cfg, "web1"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	struct ec_error err = {0};
	const char *str = NULL;
	const char *const *list = NULL;
	size_t n = 0;
	long l = 0;

	CU_ASSERT_EQUAL(ec__cfg_override(s, "python=/usr/bin/python3.11", &err), 0);
	CU_ASSERT_EQUAL(ec__cfg_str(s, "python", &str), 0);
	CU_ASSERT_STRING_EQUAL(str, "/usr/bin/python3.11");
	CU_ASSERT_STRING_EQUAL(ec__cfg_where(s, "python"), "-o python");
	/* Replacing keeps the rest. */
	CU_ASSERT_EQUAL(ec__cfg_override(s, "hostname=other.example.com", &err), 0);
	CU_ASSERT_EQUAL(ec__cfg_str(s, "hostname", &str), 0);
	CU_ASSERT_STRING_EQUAL(str, "other.example.com");
	CU_ASSERT_STRING_EQUAL(ec__cfg_where(s, "hostname"), "-o hostname");
	CU_ASSERT_STRING_EQUAL(ec__cfg_where(s, "username"), "t.yaml:14:5");
	/* A list, with quoting; a value that holds '='. */
	CU_ASSERT_EQUAL(ec__cfg_override(s, "identity_files=[/k/a, 'b c', \"d,e\"]", &err), 0);
	CU_ASSERT_EQUAL(ec__cfg_list(s, "identity_files", &list, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(list[0], "/k/a");
	CU_ASSERT_STRING_EQUAL(list[1], "b c");
	CU_ASSERT_STRING_EQUAL(list[2], "d,e");
	CU_ASSERT_EQUAL(ec__cfg_override(s, "banner=a=b", &err), 0);
	CU_ASSERT_EQUAL(ec__cfg_str(s, "banner", &str), 0);
	CU_ASSERT_STRING_EQUAL(str, "a=b");
	/* An empty value is the empty string. */
	CU_ASSERT_EQUAL(ec__cfg_override(s, "username=", &err), 0);
	CU_ASSERT_EQUAL(ec__cfg_str(s, "username", &str), 0);
	CU_ASSERT_STRING_EQUAL(str, "");
	CU_ASSERT_EQUAL(ec__cfg_override(s, "port=2022", &err), 0);
	CU_ASSERT_EQUAL(ec__cfg_validate(s, ssh_params, "ssh", &err), 0);
	CU_ASSERT_EQUAL(ec__cfg_int(s, "port", &l), 0);
	CU_ASSERT_EQUAL(l, 2022);

	/* Overridden values are checked by ec__cfg_validate, located at the -o. */
	CU_ASSERT_EQUAL(ec__cfg_override(s, "port='2022'", &err), 0);
	CU_ASSERT_EQUAL(ec__cfg_validate(s, ssh_params, "ssh", &err), EC_ECONFIG);
	CU_ASSERT_STRING_EQUAL(err.where, "-o port");
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not the quoted string \"2022\""));
	CU_ASSERT_EQUAL(ec__cfg_override(s, "port=22", &err), 0);
	/* The core's keys are checked by the override itself (the transport names a file
	 * to load before validation), and named without the plugin. */
	CU_ASSERT_EQUAL(ec__cfg_override(s, "python=[a]", &err), EC_ECONFIG);
	CU_ASSERT_STRING_EQUAL(err.where, "-o python");
	CU_ASSERT_STRING_EQUAL(err.msg, "key 'python' in context 'web1' must be a string, not a list");
	CU_ASSERT_EQUAL(ec__cfg_override(s, "transport=../../tmp/evil", &err), EC_ECONFIG);
	CU_ASSERT_STRING_EQUAL(err.where, "-o transport");
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "is not a plugin name"));
	CU_ASSERT_EQUAL(ec__cfg_override(s, "connect_timeout=-1", &err), EC_ECONFIG);
	CU_ASSERT_EQUAL(ec__cfg_override(s, "via=", &err), EC_ECONFIG);
	CU_ASSERT_EQUAL(ec__cfg_str(s, "python", &str), 0);
	CU_ASSERT_STRING_EQUAL(str, "/usr/bin/python3.11"); /* unchanged */
	CU_ASSERT_EQUAL(ec__cfg_str(s, "transport", &str), 0);
	CU_ASSERT_STRING_EQUAL(str, "ssh");
	CU_ASSERT_EQUAL(ec__cfg_override(s, "hostnmae=x", &err), 0);
	CU_ASSERT_EQUAL(ec__cfg_validate(s, ssh_params, "ssh", &err), EC_ECONFIG);
	CU_ASSERT_STRING_EQUAL(err.where, "-o hostnmae");
	CU_ASSERT_STRING_EQUAL(err.msg, "unknown key 'hostnmae' in context 'web1' (transport ssh); "
	                                "did you mean 'hostname'?");
	CU_ASSERT_STRING_EQUAL(ec__cfg_where(s, "hostnmae"), "-o hostnmae");

	/* Malformed overrides change nothing. */
	static const struct {
		const char *kv, *where, *needle;
	} bad[] = {
		{"noequals", "-o", "override 'noequals' must look like key=value"},
		{"=x", "-o", "must look like key=value"},
		{"bad key=1", "-o", "a key is made of letters"},
		{"x={a: 1}", "-o x", "must be a string or a list [a, b], not a mapping"},
		{"x=a: b", "-o x", "not a mapping (quote it if it holds ': ')"},
		{"x=[a, [b]]", "-o x", "not a list of lists or mappings"},
		{"x=[a", "-o x", "YAML syntax error"},
		{"x=*a", "-o x", "aliases (*a) are not supported"},
		{"x=!!int 1", "-o x", "tag"},
		{"x=a\n---\nb", "-o x", "only one YAML document"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ec_error e = {0};
		int rc = ec__cfg_override(s, bad[i].kv, &e);
		int ok = rc == EC_ECONFIG && !strcmp(e.where, bad[i].where) && strstr(e.msg, bad[i].needle);
		CU_ASSERT(ok);
		if (!ok)
			fprintf(stderr, "\n  override '%s': rc=%d where=[%s] msg=[%s]\n", bad[i].kv, rc,
			        e.where, e.msg);
	}
	CU_ASSERT_EQUAL(ec__cfg_str(s, "x", &str), EC_ENOTFOUND);
	CU_ASSERT_EQUAL(ec__cfg_override(NULL, "a=b", &err), EC_EINVAL);
	CU_ASSERT_EQUAL(ec__cfg_override(s, NULL, &err), EC_EINVAL);
	CU_ASSERT_EQUAL(ec__cfg_override(s, "noequals", NULL), EC_ECONFIG); /* err may be NULL */

	ec__cfg_free(s);
	ec__config_free(cfg);
}

static void t_dup_independent(void)
{
	struct ec_config *cfg = load_example();
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	const struct ec_cfg *orig = ec__config_context(cfg, "web1");
	struct ec_cfg *a = ec__cfg_dup(orig);
	struct ec_cfg *b = ec__cfg_dup(orig);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NULL(ec__cfg_dup(NULL));
	struct ec_error err = {0};
	const char *str = NULL;
	CU_ASSERT_EQUAL(ec__cfg_override(a, "hostname=a.example.com", &err), 0);
	CU_ASSERT_EQUAL(ec__cfg_override(a, "newkey=1", &err), 0);
	CU_ASSERT_EQUAL(ec__cfg_validate(b, ssh_params, "ssh", &err), 0);
	CU_ASSERT_EQUAL(ec__cfg_str(orig, "hostname", &str), 0);
	CU_ASSERT_STRING_EQUAL(str, "web1.example.com");
	CU_ASSERT_EQUAL(ec__cfg_str(orig, "newkey", &str), EC_ENOTFOUND);
	CU_ASSERT_EQUAL(ec__cfg_str(orig, "banner", &str), EC_ENOTFOUND); /* b's defaults stay in b */
	CU_ASSERT_EQUAL(ec__cfg_str(b, "banner", &str), 0);

	/* A dup of a validated section keeps its defaults, and outlives the config. */
	struct ec_cfg *c = ec__cfg_dup(b);
	const char *where = ec__cfg_where(orig, "hostname");
	CU_ASSERT_STRING_EQUAL(where, "t.yaml:13:5");
	ec__config_free(cfg);
	CU_ASSERT_EQUAL(ec__cfg_str(a, "hostname", &str), 0);
	CU_ASSERT_STRING_EQUAL(str, "a.example.com");
	CU_ASSERT_EQUAL(ec__cfg_str(b, "hostname", &str), 0);
	CU_ASSERT_STRING_EQUAL(str, "web1.example.com");
	ec__cfg_free(b);
	CU_ASSERT_EQUAL(ec__cfg_str(c, "banner", &str), 0);
	CU_ASSERT_STRING_EQUAL(str, "hello, world");
	CU_ASSERT_STRING_EQUAL(ec__cfg_where(c, "hostname"), "t.yaml:13:5");
	CU_ASSERT_STRING_EQUAL(ec__cfg_name(c), "web1");
	ec__cfg_free(c);
	ec__cfg_free(a);
	ec__cfg_free(NULL);
}

/* Getters are read-only: several threads may read one section at once. */
struct reader {
	const struct ec_cfg *s;
	int bad;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	for (int i = 0; i < 20000; i++) {
		const char *str = NULL;
		const char *const *list = NULL;
		size_t n = 0;
		long l = 0;
		int b = -1;
		if (ec__cfg_str(r->s, "hostname", &str) || strcmp(str, "web1.example.com") ||
		    ec__cfg_str(r->s, "python", &str) || strcmp(str, "python3") ||
		    ec__cfg_int(r->s, "port", &l) || l != 2222 || ec__cfg_bool(r->s, "compress", &b) ||
		    b != 0 || ec__cfg_ms(r->s, "keepalive", &l) || l != 15500 ||
		    ec__cfg_list(r->s, "identity_files", &list, &n) || n != 2 ||
		    strcmp(ec__cfg_where(r->s, "hostname"), "t.yaml:13:5"))
			r->bad++;
	}
	return NULL;
}

static void t_concurrent_getters(void)
{
	struct ec_config *cfg = load_example();
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	struct ec_cfg *s = ec__cfg_dup(ec__config_context(cfg, "web1"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(ec__cfg_validate(s, ssh_params, "ssh", NULL), 0);
	enum { NTHREADS = 4 };
	pthread_t th[NTHREADS];
	struct reader r[NTHREADS];
	int started = 0;
	for (int i = 0; i < NTHREADS; i++) {
		r[i] = (struct reader){s, 0};
		if (pthread_create(&th[i], NULL, reader_main, &r[i]) == 0)
			started++;
		else
			break;
	}
	CU_ASSERT_EQUAL(started, NTHREADS);
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(r[i].bad, 0);
	}
	ec__cfg_free(s);
	ec__config_free(cfg);
}

/* ---- files -------------------------------------------------------------------------- */

static char tmpdir[PATH_MAX];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int files_init(void)
{
	char tmpl[] = "/tmp/ec_test_config.XXXXXX";
	if (!mkdtemp(tmpl))
		return -1;
	/* The real path: getcwd() reports it when the loader resolves relative names. */
	return realpath(tmpl, tmpdir) ? 0 : -1;
}

static int files_cleanup(void)
{
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write text to tmpdir/rel, creating directories; returns the path (static buffer). */
static const char *put_file(const char *rel, const char *text)
{
	static char path[PATH_MAX + 256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	for (char *p = path + strlen(tmpdir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0700);
		*p = '/';
	}
	FILE *f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return path;
}

struct saved_env {
	const char *name;
	char *value; /* NULL: was unset */
};

static void env_save(struct saved_env *e, const char *name)
{
	const char *v = getenv(name);
	e->name = name;
	e->value = v ? strdup(v) : NULL;
}

static void env_restore(struct saved_env *e)
{
	if (e->value)
		setenv(e->name, e->value, 1);
	else
		unsetenv(e->name);
	free(e->value);
	e->value = NULL;
}

static void t_file_paths(void)
{
	struct saved_env home;
	env_save(&home, "HOME");
	setenv("HOME", "/home/tester", 1);
	const char *path = put_file("conf/econtext.yaml",
	                            "module_path: [./lib, lib2, /abs/dir, ../up, ., ././x//y, '~/mods']\n"
	                            "plugin_path: plugins\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	char p[PATH_MAX + 256];
	snprintf(p, sizeof(p), "%s", path);
	struct ec_config *cfg = NULL;
	struct ec_error err = {0};
	int rc = ec__config_load_file(p, &cfg, &err);
	if (rc)
		report(__LINE__, rc, &err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(ec__config_source(cfg), p);
	const char *const *mp = ec__config_module_path(cfg);
	CU_ASSERT_EQUAL_FATAL(count(mp), 7);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "%s/conf/lib", tmpdir);
	CU_ASSERT_STRING_EQUAL(mp[0], want);
	snprintf(want, sizeof(want), "%s/conf/lib2", tmpdir);
	CU_ASSERT_STRING_EQUAL(mp[1], want);
	CU_ASSERT_STRING_EQUAL(mp[2], "/abs/dir");
	snprintf(want, sizeof(want), "%s/conf/../up", tmpdir);
	CU_ASSERT_STRING_EQUAL(mp[3], want);
	snprintf(want, sizeof(want), "%s/conf", tmpdir);
	CU_ASSERT_STRING_EQUAL(mp[4], want);
	snprintf(want, sizeof(want), "%s/conf/x//y", tmpdir);
	CU_ASSERT_STRING_EQUAL(mp[5], want);
	CU_ASSERT_STRING_EQUAL(mp[6], "/home/tester/mods");
	const char *const *pp = ec__config_plugin_path(cfg);
	CU_ASSERT_EQUAL_FATAL(count(pp), 1);
	snprintf(want, sizeof(want), "%s/conf/plugins", tmpdir);
	CU_ASSERT_STRING_EQUAL(pp[0], want);
	ec__config_free(cfg);

	/* A relative file name: its directory is taken from the working directory. */
	char cwd[PATH_MAX];
	CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof(cwd)));
	CU_ASSERT_EQUAL_FATAL(chdir(tmpdir), 0);
	rc = ec__config_load_file("conf/econtext.yaml", &cfg, &err);
	CU_ASSERT_EQUAL(chdir(cwd), 0);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	snprintf(want, sizeof(want), "%s/conf/lib", tmpdir);
	CU_ASSERT_STRING_EQUAL(ec__config_module_path(cfg)[0], want);
	CU_ASSERT_STRING_EQUAL(ec__config_source(cfg), "conf/econtext.yaml");
	ec__config_free(cfg);
	/* A bare file name in the working directory. */
	CU_ASSERT_EQUAL_FATAL(chdir(tmpdir), 0);
	CU_ASSERT_PTR_NOT_NULL(put_file("bare.yaml", "module_path: lib\n"));
	rc = ec__config_load_file("bare.yaml", &cfg, &err);
	CU_ASSERT_EQUAL(chdir(cwd), 0);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	snprintf(want, sizeof(want), "%s/lib", tmpdir);
	CU_ASSERT_STRING_EQUAL(ec__config_module_path(cfg)[0], want);
	ec__config_free(cfg);
	env_restore(&home);
}

static void t_file_errors(void)
{
	char where[PATH_MAX + 64];
	struct ec_config *cfg = NULL;
	struct ec_error err = {0};
	const char *path = put_file("bad.yaml", "contexts:\n  web1:\n    transport: ssh\n"
	                                        "  web2: {hostname: x}\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	snprintf(where, sizeof(where), "%s:4:3", path);
	CU_ASSERT_EQUAL(ec__config_load_file(path, &cfg, &err), EC_ECONFIG);
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_STRING_EQUAL(err.where, where);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "context 'web2' has no key 'transport'"));

	/* Locations kept in sections carry the file's name too. */
	path = put_file("good.yaml", "contexts:\n  web1:\n    transport: ssh\n");
	CU_ASSERT_EQUAL_FATAL(ec__config_load_file(path, &cfg, &err), 0);
	snprintf(where, sizeof(where), "%s:3:5", path);
	CU_ASSERT_STRING_EQUAL(ec__cfg_where(ec__config_context(cfg, "web1"), "transport"), where);
	ec__config_free(cfg);
	cfg = NULL;

	snprintf(where, sizeof(where), "%s/missing.yaml", tmpdir);
	CU_ASSERT_EQUAL(ec__config_load_file(where, &cfg, &err), EC_ESYS);
	CU_ASSERT_EQUAL(err.sys_errno, ENOENT);
	CU_ASSERT_STRING_EQUAL(err.where, where);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "cannot open the configuration file"));
	CU_ASSERT_PTR_NULL(cfg);
	/* A directory opens but cannot be read. */
	CU_ASSERT_EQUAL(ec__config_load_file(tmpdir, &cfg, &err), EC_ESYS);
	CU_ASSERT_EQUAL(err.sys_errno, EISDIR);
	CU_ASSERT_EQUAL(ec__config_load_file(NULL, &cfg, &err), EC_EINVAL);

	/* A very long path: where keeps its end, line and column. */
	char rel[400];
	size_t off = 0;
	for (int i = 0; i < 6; i++)
		off += (size_t)snprintf(rel + off, sizeof(rel) - off, "%s/", "a-rather-long-directory-name-for-this-test");
	snprintf(rel + off, sizeof(rel) - off, "x.yaml");
	path = put_file(rel, "codec: [x]\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL(ec__config_load_file(path, &cfg, &err), EC_ECONFIG);
	CU_ASSERT_EQUAL(strncmp(err.where, "...", 3), 0);
	CU_ASSERT_EQUAL(strlen(err.where), sizeof(err.where) - 1);
	const char *tail = "this-test/x.yaml:1:8";
	CU_ASSERT_STRING_EQUAL(err.where + strlen(err.where) - strlen(tail), tail);
}

/* The shipped example loads, and every context in it passes validation. */
static void t_shipped_example(void)
{
	const char *srcdir = getenv("EC_TEST_SRCDIR");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/conf/econtext.yaml.example", srcdir ? srcdir : ".");
	if (access(path, R_OK) != 0) {
		fprintf(stderr, "\n  SKIPPED: %s not found (set EC_TEST_SRCDIR)\n", path);
		return;
	}
	struct ec_config *cfg = NULL;
	struct ec_error err = {0};
	int rc = ec__config_load_file(path, &cfg, &err);
	if (rc)
		report(__LINE__, rc, &err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	const char *const *names = ec__config_context_names(cfg);
	CU_ASSERT(count(names) >= 2);
	for (size_t i = 0; names[i]; i++) {
		struct ec_cfg *s = ec__cfg_dup(ec__config_context(cfg, names[i]));
		const char *transport = NULL;
		CU_ASSERT_EQUAL(ec__cfg_str(s, "transport", &transport), 0);
		CU_ASSERT_STRING_EQUAL(transport, "local"); /* the only transport shipped so far */
		rc = ec__cfg_validate(s, NULL, "local", &err);
		CU_ASSERT_EQUAL(rc, 0);
		if (rc)
			report(__LINE__, rc, &err);
		ec__cfg_free(s);
	}
	ec__config_free(cfg);
}

/* ---- search order ------------------------------------------------------------------- */

static void t_search_order(void)
{
	struct saved_env home, envcfg;
	env_save(&home, "HOME");
	env_save(&envcfg, "ECONTEXT_CONFIG");
	struct ec_config *cfg = NULL;
	struct ec_error err = {0};
	char p_explicit[PATH_MAX + 256], p_env[PATH_MAX + 256], p_home[PATH_MAX + 256], h[PATH_MAX + 512];
	snprintf(p_explicit, sizeof(p_explicit), "%s", put_file("s/explicit.yaml", "codec: explicit\n"));
	snprintf(p_env, sizeof(p_env), "%s", put_file("s/env.yaml", "codec: fromenv\n"));
	snprintf(p_home, sizeof(p_home), "%s",
	         put_file("s/home/.config/econtext/econtext.yaml", "codec: fromhome\n"));
	snprintf(h, sizeof(h), "%s/s/home", tmpdir);
	setenv("HOME", h, 1);
	setenv("ECONTEXT_CONFIG", p_env, 1);

	/* 1. An explicit path wins. */
	CU_ASSERT_EQUAL_FATAL(ec__config_load_default(p_explicit, &cfg, &err), 0);
	CU_ASSERT_STRING_EQUAL(ec__config_codec(cfg), "explicit");
	CU_ASSERT_STRING_EQUAL(ec__config_source(cfg), p_explicit);
	ec__config_free(cfg);
	/* ... and must exist, even when the others do. */
	CU_ASSERT_EQUAL(ec__config_load_default("/nonexistent/econtext.yaml", &cfg, &err), EC_ESYS);
	CU_ASSERT_EQUAL(err.sys_errno, ENOENT);

	/* 2. $ECONTEXT_CONFIG. */
	CU_ASSERT_EQUAL_FATAL(ec__config_load_default(NULL, &cfg, &err), 0);
	CU_ASSERT_STRING_EQUAL(ec__config_codec(cfg), "fromenv");
	CU_ASSERT_STRING_EQUAL(ec__config_source(cfg), p_env);
	ec__config_free(cfg);
	setenv("ECONTEXT_CONFIG", "/nonexistent/env.yaml", 1);
	CU_ASSERT_EQUAL(ec__config_load_default(NULL, &cfg, &err), EC_ESYS);
	CU_ASSERT_STRING_EQUAL(err.where, "/nonexistent/env.yaml");
	CU_ASSERT_EQUAL(strncmp(err.msg, "$ECONTEXT_CONFIG: cannot open", 29), 0);
	/* A bad file named by the environment is reported as it is. */
	setenv("ECONTEXT_CONFIG", put_file("s/bad.yaml", "codex: x\n"), 1);
	CU_ASSERT_EQUAL(ec__config_load_default(NULL, &cfg, &err), EC_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.where, "s/bad.yaml:1:1"));

	/* 3. ~/.config/econtext/econtext.yaml; an empty variable counts as unset. */
	setenv("ECONTEXT_CONFIG", "", 1);
	CU_ASSERT_EQUAL_FATAL(ec__config_load_default(NULL, &cfg, &err), 0);
	CU_ASSERT_STRING_EQUAL(ec__config_codec(cfg), "fromhome");
	CU_ASSERT_STRING_EQUAL(ec__config_source(cfg), p_home);
	ec__config_free(cfg);
	unsetenv("ECONTEXT_CONFIG");
	CU_ASSERT_EQUAL_FATAL(ec__config_load_default(NULL, &cfg, &err), 0);
	CU_ASSERT_STRING_EQUAL(ec__config_codec(cfg), "fromhome");
	ec__config_free(cfg);
	/* A broken one is an error, not skipped. */
	put_file("s/home/.config/econtext/econtext.yaml", "codec: [\n");
	CU_ASSERT_EQUAL(ec__config_load_default(NULL, &cfg, &err), EC_ECONFIG);
	snprintf(h, sizeof(h), "%s:2:1", p_home);
	CU_ASSERT_STRING_EQUAL(err.where, h);

	/* 4./5. Without one: the system file, if this machine has one, else the default. */
	snprintf(h, sizeof(h), "%s/s/empty-home", tmpdir);
	mkdir(h, 0700);
	setenv("HOME", h, 1);
	const char *sys = EC_SYSCONFDIR "/econtext/econtext.yaml";
	int have_sys = access(sys, F_OK) == 0;
	for (int round = 0; round < 2; round++) {
		if (round == 1)
			unsetenv("HOME");
		int rc = ec__config_load_default(NULL, &cfg, &err);
		if (have_sys) {
			if (!rc)
				CU_ASSERT_STRING_EQUAL(ec__config_source(cfg), sys);
			ec__config_free(cfg);
			continue;
		}
		CU_ASSERT_EQUAL_FATAL(rc, 0);
		CU_ASSERT_STRING_EQUAL(ec__config_source(cfg), "<embedded default>");
		CU_ASSERT_STRING_EQUAL(ec__config_codec(cfg), "pickle");
		const char *const *names = ec__config_context_names(cfg);
		CU_ASSERT_EQUAL_FATAL(count(names), 1);
		CU_ASSERT_STRING_EQUAL(names[0], "local");
		const char *s = NULL;
		const struct ec_cfg *local = ec__config_context(cfg, "local");
		CU_ASSERT_EQUAL(ec__cfg_str(local, "transport", &s), 0);
		CU_ASSERT_STRING_EQUAL(s, "local");
		CU_ASSERT_STRING_EQUAL(ec__cfg_where(local, "transport"), "<embedded default>:4:5");
		ec__config_free(cfg);
	}
	CU_ASSERT_EQUAL(ec__config_load_default(NULL, NULL, &err), EC_EINVAL);

	env_restore(&home);
	env_restore(&envcfg);
}

/* ---- groups, forks and targets ------------------------------------------------------ */

#define CTX3 "contexts:\n  web1: {transport: local}\n  web2: {transport: local}\n" \
	"  db1: {transport: local}\n"

static void t_group_errors(void)
{
	EXPECT_EXACT("groups: [a]\n", "t.yaml:1:9",
	             "key 'groups' must be a mapping of group names to lists of context names, "
	             "not a list");
	EXPECT_EXACT(CTX3 "groups:\n  web: {a: b}\n", "t.yaml:6:8",
	             "group 'web' must be a list of context names, groups and globs, not a mapping");
	EXPECT_EXACT(CTX3 "groups:\n  web: []\n", "t.yaml:6:8", "group 'web' has no members");
	EXPECT_EXACT(CTX3 "groups:\n  web:\n", "t.yaml:6:7", "group 'web' has no members");
	EXPECT_EXACT(CTX3 "groups:\n  web: [web1, [web2]]\n", "t.yaml:6:15",
	             "each member of group 'web' must be a context name, a group or a glob, not "
	             "a list");
	EXPECT_EXACT(CTX3 "groups:\n  'a,b': [web1]\n", "t.yaml:6:3",
	             "group name 'a,b' cannot contain ',', '*', '?' or '[' (a TARGET could not "
	             "name it)");
	EXPECT_LOAD_ERROR(CTX3 "groups:\n  'w*': [web1]\n", EC_ECONFIG, "t.yaml:6:3", "cannot contain");
	EXPECT_EXACT(CTX3 "groups:\n  web: ['web1,web2']\n", "t.yaml:6:9",
	             "member 'web1,web2' of group 'web': one name per item, without ','");
	/* Members are checked once the contexts are known, wherever groups come. */
	EXPECT_EXACT("groups:\n  web: [web1, web3]\n" CTX3, "t.yaml:2:15",
	             "group 'web': 'web3' is not a context or a group; did you mean 'web1'?");
	EXPECT_EXACT(CTX3 "groups:\n  web: [web1]\n  all: [web, dbs]\n", "t.yaml:7:14",
	             "group 'all': 'dbs' is not a context or a group; did you mean 'db1'?");
	EXPECT_EXACT(CTX3 "groups:\n  all:\n    - web*\n    - mail*\n", "t.yaml:8:7",
	             "group 'all': 'mail*' matches no context");
	/* The built-in local is no glob's match. */
	EXPECT_EXACT(CTX3 "groups:\n  l: ['loc*']\n", "t.yaml:6:7", "group 'l': 'loc*' matches no context");
	EXPECT_EXACT(CTX3 "groups:\n  web1: [web2]\n", "t.yaml:6:3",
	             "group 'web1' has the name of a context (a TARGET could not tell them apart)");
	EXPECT_EXACT(CTX3 "groups:\n  a: [web1, a]\n", "t.yaml:6:13", "group 'a' contains itself: a -> a");
	EXPECT_EXACT(CTX3 "groups:\n  all: [a]\n  a: [web1, b]\n  b: [db1, c]\n  c: [a]\n",
	             "t.yaml:9:7", "group 'a' contains itself: a -> b -> c -> a");
}

static void t_forks(void)
{
	struct ec_config *cfg = NULL;
	CU_ASSERT_EQUAL_FATAL(load("", &cfg, NULL), 0);
	CU_ASSERT_EQUAL(ec__config_forks(cfg), 20);
	ec__config_free(cfg);
	CU_ASSERT_EQUAL_FATAL(load("forks: 1\n", &cfg, NULL), 0);
	CU_ASSERT_EQUAL(ec__config_forks(cfg), 1);
	ec__config_free(cfg);
	EXPECT_EXACT("forks: 0\n", "t.yaml:1:8",
	             "key 'forks' must be a number of contexts from 1 to 10000, not '0'");
	EXPECT_LOAD_ERROR("forks: 10001\n", EC_ECONFIG, "t.yaml:1:8", "not '10001'");
	EXPECT_LOAD_ERROR("forks: '5'\n", EC_ECONFIG, "t.yaml:1:8", "not the quoted string \"5\"");
	EXPECT_LOAD_ERROR("forks: [5]\n", EC_ECONFIG, "t.yaml:1:8", "not a list");
}

/* target expands to want (names joined by ' '), or fails with code and needle. */
static void expect_expand_at(int line, const struct ec_config *cfg, const char *target,
                             const char *want, int code, const char *needle)
{
	const char **out = NULL;
	struct ec_error err = {0};
	int rc = ec__config_expand(cfg, target, &out, &err);
	char got[512] = "";
	for (size_t i = 0; !rc && out[i]; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "", out[i]);
	int ok = want ? rc == 0 && !strcmp(got, want)
	              : rc == code && !strcmp(err.where, "t.yaml") && strstr(err.msg, needle);
	if (code == EC_EINVAL)
		ok = rc == code && strstr(err.msg, needle);
	CHECK_AT(ok, line, "target expansion");
	if (!ok)
		fprintf(stderr, "\n  test_config.c:%d: '%s' gave rc=%d [%s] where=[%s] msg=[%s]\n", line,
		        target, rc, got, err.where, err.msg);
	free(out);
}
#define EXPECT_EXPAND(cfg, target, want) expect_expand_at(__LINE__, cfg, target, want, 0, NULL)
#define EXPECT_EXPAND_ERROR(cfg, target, code, needle) \
	expect_expand_at(__LINE__, cfg, target, NULL, code, needle)

static void t_expand(void)
{
	struct ec_config *cfg = NULL;
	struct ec_error err = {0};
	int rc = load(CTX3 "  'odd[1]': {transport: local}\n  db2: {transport: local}\n"
	              "groups:\n  web: [web1, web2]\n  db: ['db*']\n"
	              "  all: [web, db, web1]\n  most: [db2, all]\n  one: db1\n", &cfg, &err);
	if (rc)
		report(__LINE__, rc, &err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	EXPECT_EXPAND(cfg, "web1", "web1");
	EXPECT_EXPAND(cfg, "local", "local");
	EXPECT_EXPAND(cfg, "web2,web1", "web2 web1");
	EXPECT_EXPAND(cfg, " web2 , web1,web2 ", "web2 web1");
	EXPECT_EXPAND(cfg, "web", "web1 web2");
	EXPECT_EXPAND(cfg, "db", "db1 db2");
	EXPECT_EXPAND(cfg, "all", "web1 web2 db1 db2");
	EXPECT_EXPAND(cfg, "most", "db2 web1 web2 db1");
	EXPECT_EXPAND(cfg, "one", "db1"); /* a single member needs no list */
	EXPECT_EXPAND(cfg, "db1,all,local", "db1 web1 web2 db2 local");
	EXPECT_EXPAND(cfg, "*", "web1 web2 db1 odd[1] db2"); /* the file's own, not local */
	EXPECT_EXPAND(cfg, "web?,d*1", "web1 web2 db1");
	EXPECT_EXPAND(cfg, "odd[1]", "odd[1]"); /* a context's own name first, literally */
	EXPECT_EXPAND(cfg, "odd[[]1]", "odd[1]");
	EXPECT_EXPAND_ERROR(cfg, "web3", EC_ENOTFOUND,
	                    "'web3' is not a context or a group, nor a glob; did you mean 'web1'? "
	                    "(groups: web, db, all, most, one; contexts: web1, web2, db1, odd[1], db2, "
	                    "local)");
	EXPECT_EXPAND_ERROR(cfg, "web1,nosuch", EC_ENOTFOUND, "'nosuch' is not a context or a group");
	EXPECT_EXPAND_ERROR(cfg, "mail*", EC_ENOTFOUND, "'mail*' matches no context (groups: web");
	EXPECT_EXPAND_ERROR(cfg, "loc*", EC_ENOTFOUND, "'loc*' matches no context");
	EXPECT_EXPAND_ERROR(cfg, "web1,,web2", EC_EINVAL, "an empty name in the target 'web1,,web2'");
	EXPECT_EXPAND_ERROR(cfg, "", EC_EINVAL, "an empty name");
	ec__config_free(cfg);

	/* No groups at all; the embedded default. */
	CU_ASSERT_EQUAL_FATAL(load("", &cfg, NULL), 0);
	EXPECT_EXPAND(cfg, "local", "local");
	EXPECT_EXPAND_ERROR(cfg, "*", EC_ENOTFOUND, "'*' matches no context (contexts: local)");
	ec__config_free(cfg);
}

/* A chain of 20000 groups: checked and expanded without recursing that deep; its loop
 * found as well. */
static void t_group_chain(void)
{
	size_t n = 20000, cap = n * 32 + 256, len = 0;
	char *text = malloc(cap);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	len += (size_t)snprintf(text + len, cap - len, CTX3 "groups:\n");
	for (size_t i = 0; i + 1 < n; i++)
		len += (size_t)snprintf(text + len, cap - len, "  g%zu: [web1, g%zu]\n", i, i + 1);
	size_t tail = len;
	snprintf(text + len, cap - len, "  g%zu: [db1]\n", n - 1);
	struct ec_config *cfg = NULL;
	struct ec_error err = {0};
	int rc = load(text, &cfg, &err);
	if (rc)
		report(__LINE__, rc, &err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	EXPECT_EXPAND(cfg, "g0", "web1 db1");
	ec__config_free(cfg);
	snprintf(text + tail, cap - tail, "  g%zu: [db1, g0]\n", n - 1);
	char where[32];
	snprintf(where, sizeof(where), "t.yaml:%zu:17", n + 5); /* "  g19999: [db1, g0]" */
	EXPECT_LOAD_ERROR(text, EC_ECONFIG, where, "group 'g0' contains itself: g0 -> g1 -> g2");
	free(text);
}

/* ---- registration ------------------------------------------------------------------- */

static CU_TestInfo load_error_tests[] = {
	{"syntax errors", t_syntax_errors},
	{"document shape", t_document_shape},
	{"empty documents", t_empty_documents},
	{"top-level keys", t_top_level_keys},
	{"top-level types", t_top_level_types},
	{"duplicate keys", t_duplicates},
	{"unsupported YAML", t_unsupported_yaml},
	{"hostile input", t_hostile_input},
	{"context errors", t_context_errors},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo getter_tests[] = {
	{"top-level values", t_top_level_values},
	{"built-in local", t_builtin_local},
	{"core getters", t_core_getters},
	{"list getter", t_list_getter},
	{"durations", t_durations},
	{"validate errors", t_validate_errors},
	{"validate defaults", t_validate_defaults},
	{"overrides", t_overrides},
	{"dup independence", t_dup_independent},
	{"concurrent getters", t_concurrent_getters},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo file_tests[] = {
	{"relative paths", t_file_paths},
	{"file errors", t_file_errors},
	{"shipped example", t_shipped_example},
	{"search order", t_search_order},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo group_tests[] = {
	{"group errors", t_group_errors},
	{"forks", t_forks},
	{"targets expanded", t_expand},
	{"a long chain of groups", t_group_chain},
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{"config load errors", NULL, NULL, NULL, NULL, load_error_tests},
	{"config sections", NULL, NULL, NULL, NULL, getter_tests},
	{"config files", files_init, files_cleanup, NULL, NULL, file_tests},
	{"groups and targets", NULL, NULL, NULL, NULL, group_tests},
	CU_SUITE_INFO_NULL,
};

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (CU_register_suites(suites) != CUE_SUCCESS) {
		fprintf(stderr, "test_config: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures = CU_get_number_of_failures();
	unsigned suite_failures = CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failures != 0 || suite_failures != 0;
}
