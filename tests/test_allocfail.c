/* test_allocfail.c: every allocation of a scenario failed in turn (tests/allocfail.h),
 * the first, the second, ... up to the last the scenario makes: each run must end as a
 * clear error (EC_ENOMEM with a message) or with the very result of a run where
 * nothing failed, and leave no block allocated. A crash or a hang fails the program;
 * make check runs it under valgrind when asked (VALGRIND=), tests/sanitize.sh under
 * ASan. The scenarios read the fuzz targets' seeds (fuzz/corpus/): the configuration
 * loader with a context's overrides and validation, JSON values both ways, the pickle
 * codec both ways, and frames. Then a whole local call (master, connect, json.dumps,
 * shutdown, free) with one allocation in N failing (EC_ALLOCFAIL_CALL_STRIDE; about 40
 * runs by default), each run in a child process: a crash or a hang (120 s) is a bad
 * run, as are blocks left and an error other than EC_ENOMEM; the broker's and module
 * server's threads allocate too, so the order varies a little and each run is judged
 * alone. The call loads test copies of the local and pickle plugins linked with the
 * same wrappers (tests/allocfail-plugins), so their allocations are failed too; it
 * runs without the bytecode cache, from a filled one, and filling an empty one. A second
 * whole-call scenario (one in N as well) opens a channel that chanfn.echo echoes, then
 * puts a 300 KiB file and gets it back: after each run both targets must hold the old
 * bytes or the new, and no temporary file may be left beside them. A third puts a tree
 * (two files, an empty directory, a link) and gets it back: after each run no
 * temporary file anywhere in either copy, every file in them whole, and both copies
 * complete when the run succeeded. A fourth connects the context back over TLS (a copy
 * of the tls transport, linked as the other two) and calls over the connection. A fifth
 * calls a context over ssh through a jump host and one on the jump host at once, 400 KB
 * back from each (a private sshd; the ssh plugin's copy, and libssh2, which allocates
 * through it), a sixth a context as another user through
 * sudo, which asks for the password (as root: the sudo fixture's users), a seventh the
 * same through sudo stacked on ssh.
 * EC_ALLOCFAIL_VERBOSE prints each failed allocation's stack. */
#include "ecbuild.h"

#include <dirent.h>
#include <execinfo.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "allocfail.h"
#include "buf.h"
#include "cfgschema.h"
#include "config.h"
#include "error.h"
#include "econtext/codec.h"
#include "frame.h"
#include "host.h"
#include "econtext.h"
#include "testutil.h"

const struct ec_plugin *ec_plugin_pickle_describe(void);

/* A scenario: the work on one input; its outcome, when it succeeds, written to out (a
 * string to compare with the run where nothing failed). 0, EC_ENOMEM with err, or
 * another outcome (written to out as well, compared the same way). */
typedef int (*scenario_fn)(const unsigned char *in, size_t len, char *out, size_t cap,
                           struct ec_error *err);

/* Append "s n;" to out. */
static void put(char *out, size_t cap, const char *s, long n)
{
	size_t used = strlen(out);
	if (used < cap)
		snprintf(out + used, cap - used, "%s %ld;", s, n);
}

/* ---- the scenarios ------------------------------------------------------------------ */

static const struct ec_param local_params[] = {{.key = NULL}};

static int sc_config(const unsigned char *in, size_t len, char *out, size_t cap,
                     struct ec_error *err)
{
	struct ec_config *cfg = NULL;
	int rc = ec__config_load_string("seed.yaml", (const char *)in, len, &cfg, err);
	if (rc)
		return rc;
	put(out, cap, ec__config_codec(cfg), ec__config_log_level(cfg));
	const char *const *names = ec__config_context_names(cfg);
	for (size_t i = 0; names && names[i] && !rc; i++) {
		struct ec_cfg *c = ec__cfg_dup(ec__config_context(cfg, names[i]));
		if (!c) {
			rc = ec__error_set(err, EC_ENOMEM, "test", "out of memory copying a context");
			break;
		}
		struct ec_error e = {0};
		int r = ec__cfg_override(c, "connect_timeout=7", &e);
		if (r == 0)
			r = ec__cfg_override(c, "python=/opt/py/bin/python3", &e);
		const char *transport = NULL;
		if (r == 0 && ec__cfg_str(c, "transport", &transport) == 0 && transport &&
		    !strcmp(transport, "local"))
			r = ec__cfg_validate(c, local_params, "local", &e);
		long ms = -1;
		if (r == 0)
			ec__cfg_ms(c, "connect_timeout", &ms);
		ec__cfg_free(c);
		if (r == EC_ENOMEM) {
			*err = e;
			rc = r;
		}
		put(out, cap, names[i], r ? r : ms);
	}
	ec__config_free(cfg);
	return rc;
}

static int sc_json(const unsigned char *in, size_t len, char *out, size_t cap, struct ec_error *err)
{
	char *text = malloc(len + 1);
	if (!text)
		return ec__error_set(err, EC_ENOMEM, "test", "out of memory");
	memcpy(text, in, len);
	text[len] = '\0';
	ec_value *v = NULL, *copy = NULL;
	int rc = ec_value_from_json(text, &v, err);
	free(text);
	if (rc)
		return rc;
	char *json = NULL;
	if (!(copy = ec_value_dup(v)))
		rc = ec__error_set(err, EC_ENOMEM, "test", "out of memory copying a value");
	else if ((rc = ec_value_to_json(copy, &json, err)) == 0)
		put(out, cap, json, ec_value_equal(v, copy));
	free(json);
	ec_value_free(copy);
	ec_value_free(v);
	return rc;
}

static const struct ec_codec_ops *pickle_ops;
static void *pickle_state;

static int sc_pickle(const unsigned char *in, size_t len, char *out, size_t cap,
                     struct ec_error *err)
{
	ec_value *v = NULL, *again = NULL;
	int rc = pickle_ops->decode(pickle_state, in, len, &v, err);
	if (rc)
		return rc;
	struct ec_codec_peer peer = {.python_major = 3};
	struct ec_buf b;
	ec__buf_init(&b);
	if ((rc = pickle_ops->encode(pickle_state, &peer, v, &b, err)) == 0 &&
	    (rc = pickle_ops->decode(pickle_state, b.data, b.len, &again, err)) == 0)
		put(out, cap, "equal ", ec_value_equal(v, again));
	ec__buf_free(&b);
	ec_value_free(again);
	ec_value_free(v);
	return rc;
}

static int sc_frame(const unsigned char *in, size_t len, char *out, size_t cap,
                    struct ec_error *err)
{
	static const unsigned char key[EC_FRAME_KEY_LEN] = {1, 2, 3};
	struct ec_frame_mac tx, rx;
	if (ec__frame_mac_init(&tx, key, EC_FRAME_DIR_CONTEXT))
		return ec__error_set(err, EC_ENOMEM, "test", "mac");
	if (ec__frame_mac_init(&rx, key, EC_FRAME_DIR_CONTEXT)) {
		ec__frame_mac_close(&tx);
		return ec__error_set(err, EC_ENOMEM, "test", "mac");
	}
	struct ec_buf b;
	ec__buf_init(&b);
	struct ec_frame_hdr h = {.handle = 7, .length = (uint32_t)len};
	int rc = 0;
	for (int i = 0; i < 3 && !rc; i++)
		if (ec__frame_encode(&tx, &h, in, &b))
			rc = ec__error_set(err, EC_ENOMEM, "test", "out of memory framing");
	size_t pos = 0;
	int got = 0;
	while (!rc && pos < b.len) {
		struct ec_frame_hdr g;
		const unsigned char *p = NULL;
		size_t used = 0;
		int r = ec__frame_decode(&rx, b.data + pos, b.len - pos, 1 << 20, "context t", &g, &p,
		                         &used, err);
		if (r != 1) {
			rc = r ? r : EC_EPROTO;
			break;
		}
		got += g.handle == 7 && g.length == len && !memcmp(p, in, len);
		pos += used;
	}
	if (!rc)
		put(out, cap, "frames ", got);
	ec__buf_free(&b);
	ec__frame_mac_close(&tx);
	ec__frame_mac_close(&rx);
	return rc;
}

/* ---- the pass -------------------------------------------------------------------------- */

static char *read_seed(const char *rel, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/fuzz/corpus/%s", ec_test_srcdir(), rel);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static char data[1 << 18];
	*len = fread(data, 1, sizeof(data), f);
	fclose(f);
	return data;
}

struct totals {
	size_t allocs, errors, recovered, bad;
};
static struct totals all;

/* Fail each allocation of fn on the seed in turn. */
static void pass(scenario_fn fn, const char *seed)
{
	size_t len = 0;
	const char *in = read_seed(seed, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	static char want[1 << 16], got[1 << 16];
	struct ec_error err = {0};
	want[0] = '\0';
	ec_allocfail_arm(0);
	int want_rc = fn((const unsigned char *)in, len, want, sizeof(want), &err);
	size_t n = ec_allocfail_count();
	CU_ASSERT_NOT_EQUAL(want_rc, EC_ENOMEM);
	CU_ASSERT_EQUAL(ec_allocfail_live(), 0);
	struct totals t = {n, 0, 0, 0};
	for (size_t k = 1; k <= n; k++) {
		got[0] = '\0';
		memset(&err, 0, sizeof(err));
		ec_allocfail_arm(k);
		int rc = fn((const unsigned char *)in, len, got, sizeof(got), &err);
		ec_allocfail_disarm();
		size_t live = ec_allocfail_live();
		int clear = rc == EC_ENOMEM && err.msg[0] && err.code == rc;
		int same = rc == want_rc && !strcmp(got, want);
		if (clear)
			t.errors++;
		else if (same)
			t.recovered++;
		if ((!clear && !same) || live) {
			t.bad++;
			printf("\n  %s: allocation %zu of %zu failed: %s (%s) %s; %zu blocks left", seed, k,
			       n, ec_err_name(rc), err.msg, same ? "same result" : "result differs", live);
			if (getenv("EC_ALLOCFAIL_VERBOSE"))
				printf("\n    want %s\n    got  %s", want, got);
		}
	}
	printf("\n  %s: %zu allocations, each failed in turn: %zu clear errors, %zu runs with the "
	       "same result, %zu bad",
	       seed, n, t.errors, t.recovered, t.bad);
	CU_ASSERT_EQUAL(t.bad, 0);
	all.allocs += t.allocs;
	all.errors += t.errors;
	all.recovered += t.recovered;
	all.bad += t.bad;
}

static void test_config(void)
{
	pass(sc_config, "config/example");
	pass(sc_config, "config/errors");
	pass(sc_config, "config/sudo-ssh");
}

static void test_json(void)
{
	for (int i = 0; i <= 8; i++) {
		char seed[32];
		snprintf(seed, sizeof(seed), "json/seed%d", i);
		pass(sc_json, seed);
	}
}

static void test_pickle(void)
{
	pass(sc_pickle, "pickle/containers-p4");
	pass(sc_pickle, "pickle/reply-p4");
	pass(sc_pickle, "pickle/call-p2");
	pass(sc_pickle, "pickle/big-p4");
}

static void test_frame(void)
{
	pass(sc_frame, "json/seed0");
	pass(sc_frame, "pickle/big-p4");
}

/* ---- a whole local call ------------------------------------------------------------- */

static char call_python[512];
/* The pass's config file (code_cache: false or true). */
static char call_config[64];
/* The plugins the whole call loads, its plugin_path: the test copies of the local
 * transport and the pickle codec, linked with the wrappers (Makefile.am,
 * tests/allocfail-plugins); their real paths, as dladdr names them once loaded. */
static char plugin_dir[PATH_MAX], local_so[PATH_MAX + 16], pickle_so[PATH_MAX + 16];
/* The tls, ssh and sudo transports' copies, where configure built them ("" otherwise). */
static char tls_so[PATH_MAX + 16], ssh_so[PATH_MAX + 16], sudo_so[PATH_MAX + 16];
/* The private sshd of the ssh scenario (tests/sshd-fixture.sh), started by its test. */
static char sshd_dir[64];
static struct ec_test_sshd sshd;
/* The sudo scenario's fixture (tests/sudo_fixture.sh: its users, set up by its test):
 * the master runs as SUDO_SRC, which becomes SUDO_TARGET with its password. */
#define SUDO_SRC "ecsudo_src"
#define SUDO_TARGET "ecsudo_pw"
#define SUDO_PW_VAR "EC_ALLOCFAIL_SUDO_PW"
#define SUDO_SSH_USER "ecsudo_ssh" /* logs in over ssh, then sudo asks for its password */
static char sudo_password[64];
static int sudo_set_up;

/* What the whole call does once connected: json.dumps(7); or a channel echoed and a
 * file put and got back; ... SC_SSH: 400 KB from a context over ssh through a jump host
 * and from one on the jump host at once, then json.dumps(7) (the same sshd as both). */
enum call_scenario {
	SC_CALL,
	SC_CHANNEL_TRANSFER,
	SC_TREE,
	SC_CONNECT_BACK,
	SC_SSH,
	SC_SUDO,
	SC_SUDO_SSH,
	SC_MODULES
};
static enum call_scenario call_scenario;
/* The transport copy the scenario loads: local_so, ssh_so for SC_SSH, sudo_so for
 * SC_SUDO (json.dumps(7) as another user, sudo asking for the password) and SC_SUDO_SSH
 * (the same on the far side of an ssh connection; ssh_so's allocations counted in all). */
static const char *transport_so;
/* tests/data/chan (chanfn.echo), the channel scenario's module_path; tests/data/modfwd
 * (fwdpkg: a package, its subpackage, their modules), the module scenario's. */
static char chan_modules[PATH_MAX], modfwd_modules[PATH_MAX];
/* The transfer's private directory: src (the file put, XFER_SIZE bytes, over a chunk
 * so that put's digest thread runs), put/ (its target, holding old bytes before each
 * run) and back/ (the get's target, likewise). */
#define XFER_SIZE (300u << 10)
static char xfer_root[64], xfer_src[128], xfer_put[128], xfer_back[128];
/* The tree scenario's source: sub/file (XFER_SIZE bytes), sub/small, empty/, link (to
 * sub/file); put to put/tree, got back to back/tree. */
static char tree_src[128];
static const char tree_small[] = "a small file\n";
static unsigned char xfer_data[XFER_SIZE];
static const char xfer_old[] = "the old file, left as it was by a failed transfer\n";

/* chanfn.echo on a new channel: three values sent, each received back, the channel
 * closed, the call's result 3. 0, an error (err), or 1 (a wrong result). */
static int channel_echo(ec_context *ctx, struct ec_error *err)
{
	ec_channel *ch = NULL;
	ec_call *call = NULL;
	ec_value *args = NULL, *res = NULL;
	int rc = ec_channel_new(ctx, &ch, err);
	if (!rc) {
		args = ec_value_new(EC_T_TUPLE);
		if (!args || ec_value_append(args, ec_value_channel(ch)))
			rc = ec__error_set(err, EC_ENOMEM, "test", "out of memory");
	}
	if (!rc)
		rc = ec_context_call_async(ctx, "chanfn", "echo", args, NULL, &call, err);
	ec_value_free(args);
	for (int i = 0; !rc && i < 3; i++) {
		ec_value *v = i == 1 ? ec_value_str("two", 3) : i ? ec_value_bytes("\0\1\2", 3)
		                                              : ec_value_int(1);
		ec_value *back = NULL;
		if (!v)
			rc = ec__error_set(err, EC_ENOMEM, "test", "out of memory");
		if (!rc)
			rc = ec_channel_send(ch, v, 30000, err);
		if (!rc)
			rc = ec_channel_recv(ch, 30000, &back, err);
		if (!rc && !ec_value_equal(v, back))
			rc = 1;
		ec_value_free(v);
		ec_value_free(back);
	}
	if (!rc)
		rc = ec_channel_close(ch, err);
	if (!rc)
		rc = ec_call_wait(call, 30000, &res, err);
	else if (rc == EC_EEOF && call) {
		/* The channel closed by the context: its call says why. */
		struct ec_error e = {0};
		int crc = ec_call_wait(call, 30000, &res, &e);
		if (crc) {
			rc = crc;
			*err = e;
		} else if (res && res->type == EC_T_ERROR) {
			rc = EC_EREMOTE;
			snprintf(err->msg, sizeof(err->msg), "%s", res->u.err.message);
		}
	}
	if (!rc && (!res || res->type != EC_T_INT || res->u.i != 3))
		rc = 1;
	ec_value_free(res);
	ec_call_free(call);
	ec_channel_free(ch);
	return rc;
}

/* 1 if the file at path holds len bytes equal to data. */
static int file_is(const char *path, const void *data, size_t len)
{
	static unsigned char got[XFER_SIZE + 1];
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	size_t n = fread(got, 1, sizeof(got), f);
	fclose(f);
	return n == len && !memcmp(got, data, len);
}

/* 1 if the tree at path is tree_src's copy: its files' bytes, its link, its empty
 * directory. */
static int tree_is(const char *path)
{
	char p[256], target[64];
	struct stat st;
	snprintf(p, sizeof(p), "%s/sub/file", path);
	if (!file_is(p, xfer_data, XFER_SIZE))
		return 0;
	snprintf(p, sizeof(p), "%s/sub/small", path);
	if (!file_is(p, tree_small, strlen(tree_small)))
		return 0;
	snprintf(p, sizeof(p), "%s/empty", path);
	if (stat(p, &st) || !S_ISDIR(st.st_mode))
		return 0;
	snprintf(p, sizeof(p), "%s/link", path);
	ssize_t n = readlink(p, target, sizeof(target) - 1);
	return n == 8 && !memcmp(target, "sub/file", 8);
}

/* src put to put/file and got back to back/file (tree: tree_src to put/tree and
 * back/tree): 0 and both copies whole, an error (err), or 1 (a wrong result). */
static int put_get_both(ec_context *ctx, int tree, struct ec_error *err)
{
	char dst[160], back[160];
	snprintf(dst, sizeof(dst), "%s/%s", xfer_put, tree ? "tree" : "file");
	snprintf(back, sizeof(back), "%s/%s", xfer_back, tree ? "tree" : "file");
	struct ec_transfer_options o = {.size = sizeof(o), .timeout_ms = 30000};
	struct ec_transfer_result put = {0}, got = {0};
	int rc = tree ? ec_context_put_tree(&ctx, 1, tree_src, dst, &o, &put, err)
	              : ec_context_put(ctx, xfer_src, dst, &o, &put, err);
	if (!rc && (put.changed != 1 || !(tree ? tree_is(dst)
	                                       : put.size == XFER_SIZE &&
	                                             file_is(dst, xfer_data, XFER_SIZE))))
		return 1;
	if (!rc)
		rc = tree ? ec_context_get_tree(ctx, dst, back, &o, &got, err)
		          : ec_context_get(ctx, dst, back, &o, &got, err);
	if (!rc && (got.changed != 1 || !(tree ? tree_is(back)
	                                       : !strcmp(got.sha256, put.sha256) &&
	                                             file_is(back, xfer_data, XFER_SIZE))))
		return 1;
	return rc;
}

/* module.fn(arg) (arg: a str, or none when NULL): its result in *res. 0 or an error. */
static int call_arg(ec_context *ctx, const char *module, const char *fn, const char *arg,
                    ec_value **res, struct ec_error *err)
{
	ec_value *args = ec_value_new(EC_T_TUPLE), *a = arg ? ec_value_cstr(arg) : NULL;
	int bad = !args || (arg && !a);
	if (args && a)
		bad |= ec_value_append(args, a) != 0; /* takes a, also on failure */
	else
		ec_value_free(a);
	int rc = bad ? ec__error_set(err, EC_ENOMEM, "test", "out of memory")
	             : ec_context_call(ctx, module, fn, args, NULL, 30000, res, err);
	ec_value_free(args);
	return rc;
}

/* Forwarded modules: fwdpkg.util.pickle_roundtrip (the package, its __init__'s imports
 * of util, sub and sub.leaf, each asked of the master; a class of a forwarded module
 * pickled in the context), then imports the master cannot serve (a child the package
 * does not list, a top-level name it does not offer): ImportError in the context.
 * 0, an error, or 1 (a wrong result). */
static int forwarded_modules(ec_context *ctx, struct ec_error *err)
{
	ec_value *r = NULL;
	int rc = call_arg(ctx, "fwdpkg.util", "pickle_roundtrip", NULL, &r, err);
	if (!rc && (!r || r->type != EC_T_LIST || r->u.seq.len != 5 ||
	            r->u.seq.items[0]->type != EC_T_BOOL || !r->u.seq.items[0]->u.b ||
	            r->u.seq.items[2]->type != EC_T_STR ||
	            strcmp(r->u.seq.items[2]->u.s.data, "fwdpkg.util") ||
	            r->u.seq.items[3]->type != EC_T_INT || r->u.seq.items[3]->u.i != 4))
		rc = 1;
	const char *missing[] = {"fwdpkg.sub.nothere", "ec_allocfail_nothere"};
	for (size_t i = 0; !rc && i < 2; i++) {
		ec_value_free(r);
		r = NULL;
		rc = call_arg(ctx, "fwdpkg.info", "try_import", missing[i], &r, err);
		if (!rc && (!r || r->type != EC_T_STR || !strstr(r->u.s.data, "nothere")))
			rc = 1;
	}
	ec_value_free(r);
	return rc;
}

/* Shut ctx down (if any); its failure becomes *rc and *err unless one came first. */
static void shutdown_into(ec_context *ctx, int *rc, struct ec_error *err)
{
	struct ec_error e2 = {0};
	int src = ctx ? ec_context_shutdown(ctx, 30000, &e2) : 0;
	if (!*rc && src) {
		*rc = src;
		*err = e2;
	}
}

/* Over ssh: hop (through far) and far itself (on the connection hop's tunnel rides)
 * each return 400 KB of os.urandom at once, so that packets of both channels, and of
 * the tunnel, arrive interleaved on one connection: libssh2 refused memory for one of
 * them may drop a packet of the other (ssh__after_call). Then json.dumps(7) on hop.
 * 0, an error, or 1 (a wrong result). */
static int ssh_calls(ec_master *m, ec_context *hop, const char *const *ov, struct ec_error *err)
{
	ec_context *far = NULL;
	ec_call *k[2] = {NULL, NULL};
	ec_value *args = ec_value_new(EC_T_TUPLE), *r[2] = {NULL, NULL};
	int rc = !args || ec_value_append(args, ec_value_int(400000))
	             ? ec__error_set(err, EC_ENOMEM, "test", "out of memory")
	             : ec_context_connect(m, "far", ov, 30000, &far, err);
	for (int i = 0; !rc && i < 2; i++)
		rc = ec_context_call_async(i ? far : hop, "os", "urandom", args, NULL, &k[i], err);
	for (int i = 0; !rc && i < 2; i++) {
		rc = ec_call_wait(k[i], 30000, &r[i], err);
		if (!rc && (!r[i] || r[i]->type != EC_T_BYTES || r[i]->u.s.len != 400000))
			rc = 1;
	}
	for (int i = 0; i < 2; i++) {
		ec_value_free(r[i]);
		ec_call_free(k[i]);
	}
	ec_value_free(args);
	shutdown_into(far, &rc, err);
	return rc;
}

/* The context connected back (econtext.connect_back_state(True): once its frames went to
 * the TLS connection both ways), then 5 MiB of os.urandom (a frame read into a buffer
 * of core/buf.c's large kind) and json.dumps(7) over it: 0, an error, or 1 (a wrong
 * result). */
static int connected_back_call(ec_context *ctx, struct ec_error *err)
{
	ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL;
	int rc = !args || ec_value_append(args, ec_value_bool(1))
	             ? ec__error_set(err, EC_ENOMEM, "test", "out of memory")
	             : ec_context_call(ctx, "econtext", "connect_back_state", args, NULL, 30000, &res,
	                               err);
	ec_value_free(args);
	if (!rc && (!res || res->type != EC_T_STR || strcmp(res->u.s.data, "switched")))
		rc = 1;
	ec_value_free(res);
	res = NULL;
	args = rc ? NULL : ec_value_new(EC_T_TUPLE);
	if (!rc && (!args || ec_value_append(args, ec_value_int(5 << 20))))
		rc = ec__error_set(err, EC_ENOMEM, "test", "out of memory");
	if (!rc)
		rc = ec_context_call(ctx, "os", "urandom", args, NULL, 30000, &res, err);
	if (!rc && (!res || res->type != EC_T_BYTES || res->u.s.len != 5 << 20))
		rc = 1;
	ec_value_free(args);
	ec_value_free(res);
	res = NULL;
	args = rc ? NULL : ec_value_new(EC_T_TUPLE);
	if (!rc && (!args || ec_value_append(args, ec_value_int(7))))
		rc = ec__error_set(err, EC_ENOMEM, "test", "out of memory");
	if (!rc)
		rc = ec_context_call(ctx, "json", "dumps", args, NULL, 30000, &res, err);
	if (!rc && (!res || res->type != EC_T_STR || strcmp(res->u.s.data, "7")))
		rc = 1;
	ec_value_free(args);
	ec_value_free(res);
	return rc;
}

/* The python of the ssh and sudo scenarios' contexts: what another user may run. */
static const char *far_python(void)
{
	return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : call_python;
}

/* The master made, a context connected (local, or over ssh), json.dumps(7) called, the
 * context shut down, the master freed, allocation nth failing (0: none). In a child
 * process (a hang is then a timeout of the parent's, a crash a signal): it writes
 * "COUNT LIVE TRANSPORT PICKLE IN RC MSG" on fd, TRANSPORT and PICKLE the allocations
 * the plugins' code made (the ssh plugin's include libssh2's: its allocator is the
 * plugin's), IN 1 or 2 when the failed one was the transport's or pickle's (else 0). */
/* A crash of a child run (EC_ALLOCFAIL_VERBOSE): its stack on stderr, then the
 * signal's default. */
static void crash_trace(int sig)
{
	void *frames[64];
	int n = backtrace(frames, 64);
	backtrace_symbols_fd(frames, n, 2);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int call_child(size_t nth, int fd)
{
	if (getenv("EC_ALLOCFAIL_VERBOSE")) {
		signal(SIGSEGV, crash_trace);
		signal(SIGABRT, crash_trace);
	}
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s",
	         call_scenario == SC_SSH || call_scenario == SC_SUDO || call_scenario == SC_SUDO_SSH
	             ? far_python()
	             : call_python);
	/* Root never needs a password for sudo: the master runs as the fixture's user. */
	if (call_scenario == SC_SUDO_SSH && setenv(SUDO_PW_VAR, sudo_password, 1)) {
		dprintf(fd, "0 0 0 0 0 -1 setenv: %s\n", strerror(errno));
		return 0;
	}
	if (call_scenario == SC_SUDO &&
	    (ec_test_become(SUDO_SRC, "/") || setenv(SUDO_PW_VAR, sudo_password, 1))) {
		dprintf(fd, "0 0 0 0 0 -1 cannot become " SUDO_SRC ": %s\n", strerror(errno));
		return 0;
	}
	const char *ov[] = {opt, call_scenario == SC_CONNECT_BACK ? "connect_back=true" : NULL, NULL};
	const char *mp[] = {call_scenario == SC_MODULES ? modfwd_modules : chan_modules, NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = call_config,
	                               .log_level = EC_LOG_CRITICAL, .plugin_path = plugin_dir,
	                               .module_path = call_scenario == SC_CHANNEL_TRANSFER ||
	                                                      call_scenario == SC_MODULES
	                                                  ? mp
	                                                  : NULL};
	struct ec_error err = {0};
	ec_master *m = NULL;
	ec_context *ctx = NULL;
	ec_value *res = NULL;
	ec_allocfail_arm(nth);
	int rc = ec_master_new(&mo, &m, &err);
	if (!rc)
		rc = ec_context_connect(m, call_scenario == SC_SSH        ? "hop"
		                           : call_scenario == SC_SUDO     ? "other"
		                           : call_scenario == SC_SUDO_SSH ? "otherfar"
		                                                          : "local",
		                        ov, 30000, &ctx, &err);
	if (!rc && call_scenario == SC_CHANNEL_TRANSFER) {
		rc = channel_echo(ctx, &err);
		if (!rc)
			rc = put_get_both(ctx, 0, &err);
	} else if (!rc && call_scenario == SC_TREE) {
		rc = put_get_both(ctx, 1, &err);
	} else if (!rc && call_scenario == SC_MODULES) {
		rc = forwarded_modules(ctx, &err);
	} else if (!rc && call_scenario == SC_CONNECT_BACK) {
		rc = connected_back_call(ctx, &err);
	} else if (!rc && call_scenario == SC_SSH && (rc = ssh_calls(m, ctx, ov, &err))) {
		/* its error; else json.dumps(7) below, as every other scenario */
	} else if (!rc) {
		ec_value *args = ec_value_new(EC_T_TUPLE);
		if (!args || ec_value_append(args, ec_value_int(7)))
			rc = ec__error_set(&err, EC_ENOMEM, "test", "out of memory");
		else
			rc = ec_context_call(ctx, "json", "dumps", args, NULL, 30000, &res, &err);
		ec_value_free(args);
		if (!rc && (!res || res->type != EC_T_STR || strcmp(res->u.s.data, "7")))
			rc = 1; /* a wrong result */
		ec_value_free(res);
	}
	shutdown_into(ctx, &rc, &err);
	ec_master_free(m);
	ec_allocfail_disarm();
	char where[600];
	int hit_in = ec_allocfail_hit_in(transport_so) ? 1 : ec_allocfail_hit_in(pickle_so) ? 2 : 0;
	dprintf(fd, "%zu %zu %zu %zu %d %d %s\n", ec_allocfail_count(), ec_allocfail_live(),
	        ec_allocfail_count_in(transport_so), ec_allocfail_count_in(pickle_so), hit_in, rc,
	        err.msg);
	if (getenv("EC_ALLOCFAIL_VERBOSE"))
		dprintf(fd, "      failed at %s\n", ec_allocfail_hit_where(where, sizeof(where)));
	/* The plugins' allocations by number: the parent fails each of them as well. */
	size_t nums[128];
	size_t nn = ec_allocfail_numbers_in(transport_so, nums, 42);
	nn += ec_allocfail_numbers_in(pickle_so, nums + nn, 43);
	if (tls_so[0])
		nn += ec_allocfail_numbers_in(tls_so, nums + nn, 43);
	dprintf(fd, "      plugins' allocations:");
	for (size_t i = 0; i < nn; i++)
		dprintf(fd, " %zu", nums[i]);
	dprintf(fd, "\n");
	return 0;
}

/* Run call_child(nth) in a child: 0 and its line in out, or -1 (hung: killed after
 * 120 s; or died, said in out). */
static int call_child_fd(void *arg, int fd)
{
	return call_child(*(size_t *)arg, fd);
}

static int call_run(size_t nth, char *out, size_t cap)
{
	int rfd;
	pid_t pid = ec_test_fork_pipe(call_child_fd, &nth, &rfd);
	if (pid < 0)
		return -1;
	size_t len = 0;
	struct pollfd pf = {.fd = rfd, .events = POLLIN};
	long long until = ec_test_now_ms() + 120000;
	while (len + 1 < cap && ec_test_now_ms() < until) {
		if (poll(&pf, 1, 1000) <= 0)
			continue;
		ssize_t n = read(rfd, out + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	close(rfd);
	int hung = ec_test_now_ms() >= until;
	if (hung)
		kill(pid, SIGKILL);
	int st = 0;
	waitpid(pid, &st, 0);
	if (hung || !WIFEXITED(st) || WEXITSTATUS(st) || !len) {
		snprintf(out, cap, "%s", hung ? "hung (killed after 120 s)"
		                   : WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "no report");
		return -1;
	}
	return 0;
}

/* The bytecode cache of the cache-on pass: XDG_CACHE_HOME=cache_home, its econtext
 * directory (cache_live) put back before each run to what the reference runs left in
 * cache_saved (a core-*.z and a boot-* entry), so that every run takes the read path:
 * a direct boot from the boot entry with the cached core. */
static char cache_root[64], cache_home[128], cache_live[160], cache_saved[160];

/* Remove the regular files of dir (flat); with from, copy its files into dir. 0 or -1. */
static int sync_dir(const char *dir, const char *from)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' || (e->d_name[1] && strcmp(e->d_name, "..")))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	if (!from)
		return 0;
	if (!(d = opendir(from)))
		return -1;
	int rc = 0;
	while (!rc && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char src[512], dst[512];
		snprintf(src, sizeof(src), "%s/%s", from, e->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", dir, e->d_name);
		static char data[1 << 20]; /* an entry is 10-25 KiB */
		FILE *f = fopen(src, "rb");
		size_t len = f ? fread(data, 1, sizeof(data), f) : 0;
		int fd = f ? open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
		rc = fd >= 0 && len < sizeof(data) && write(fd, data, len) == (ssize_t)len ? 0 : -1;
		if (fd >= 0 && close(fd))
			rc = -1;
		if (f)
			fclose(f);
	}
	closedir(d);
	return rc;
}

/* Entries of the cache directory whose names start with prefix. */
static int cache_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, prefix, strlen(prefix));
	if (d)
		closedir(d);
	return n;
}

/* The numbers of the reference's allocations by the plugins, from its report. */
static size_t plugin_numbers(const char *line, size_t *out, size_t max)
{
	const char *p = strstr(line, "plugins' allocations:");
	size_t n = 0;
	for (p = p ? p + strlen("plugins' allocations:") : NULL; p && n < max;) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p)
			break;
		out[n++] = v;
		p = end;
	}
	return n;
}

/* One run's report parsed. */
struct call_report {
	size_t count, live, in_transport, in_pickle;
	int hit_in, rc, off;
};

static int parse_report(const char *line, struct call_report *r)
{
	*r = (struct call_report){.rc = -1};
	return sscanf(line, "%zu %zu %zu %zu %d %d %n", &r->count, &r->live, &r->in_transport,
	              &r->in_pickle, &r->hit_in, &r->rc, &r->off) == 6;
}

/* Put back put/file and back/file with the old bytes, nothing else in either
 * directory. 0 or -1. */
static int xfer_reset(void)
{
	const char *dirs[] = {xfer_put, xfer_back};
	for (int i = 0; i < 2; i++) {
		char path[160];
		snprintf(path, sizeof(path), "%s/file", dirs[i]);
		FILE *f = sync_dir(dirs[i], NULL) ? NULL : fopen(path, "wb");
		if (!f || fwrite(xfer_old, 1, strlen(xfer_old), f) != strlen(xfer_old) || fclose(f))
			return -1;
	}
	return 0;
}

/* After a run: each directory holds only its file, with the old bytes or the new
 * (succeeded: the new in both). NULL, or what is wrong. */
static const char *xfer_check(int succeeded)
{
	static char what[400];
	const char *dirs[] = {xfer_put, xfer_back};
	for (int i = 0; i < 2; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *e;
		while (d && (e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "file")) {
				snprintf(what, sizeof(what), "%s/%s left behind", dirs[i], e->d_name);
				closedir(d);
				return what;
			}
		if (d)
			closedir(d);
		char path[160];
		snprintf(path, sizeof(path), "%s/file", dirs[i]);
		int is_new = file_is(path, xfer_data, XFER_SIZE);
		if (succeeded ? !is_new : !is_new && !file_is(path, xfer_old, strlen(xfer_old))) {
			snprintf(what, sizeof(what), "%s holds neither the old bytes nor the new%s", path,
			         succeeded ? " (the run succeeded)" : "");
			return what;
		}
	}
	return NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

/* What a failed tree run may leave in a tree's copy: directories, links, and files
 * each whole (put or got atomically); never a temporary file. */
static const char *tree_left;
static int tree_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	static char what[400];
	const char *name = path + f->base;
	int whole = !strcmp(name, "file") ? file_is(path, xfer_data, XFER_SIZE)
	            : !strcmp(name, "small") ? file_is(path, tree_small, strlen(tree_small))
	                                     : 1;
	if (strstr(name, ".ec-"))
		snprintf(what, sizeof(what), "%s left behind", path);
	else if (flag == FTW_F && S_ISREG(st->st_mode) && !whole)
		snprintf(what, sizeof(what), "%s is not whole", path);
	else
		return 0;
	tree_left = what;
	return 1;
}

/* Before each run of a transfer scenario: the old files back, no tree. 0 or -1. */
static int scenario_reset(enum call_scenario sc)
{
	if (sc == SC_TREE) {
		char p[160];
		snprintf(p, sizeof(p), "%s/tree", xfer_put);
		nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		snprintf(p, sizeof(p), "%s/tree", xfer_back);
		nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	return sc == SC_CALL ? 0 : xfer_reset();
}

/* After a run: NULL, or what is wrong (xfer_check; for a tree, tree_entry's rules, and
 * both copies whole when it succeeded). */
static const char *scenario_check(enum call_scenario sc, int succeeded)
{
	if (sc != SC_TREE)
		return sc == SC_CHANNEL_TRANSFER ? xfer_check(succeeded) : NULL;
	const char *dirs[] = {xfer_put, xfer_back};
	for (int i = 0; i < 2; i++) {
		char p[160];
		snprintf(p, sizeof(p), "%s/tree", dirs[i]);
		tree_left = NULL;
		if (nftw(p, tree_entry, 16, FTW_PHYS) > 0 && tree_left)
			return tree_left;
		if (succeeded && !tree_is(p)) {
			static char what[300];
			snprintf(what, sizeof(what), "%s is not the tree's copy (the run succeeded)", p);
			return what;
		}
		snprintf(p, sizeof(p), "%s/file", dirs[i]);
		if (!file_is(p, xfer_old, strlen(xfer_old)))
			return "a file beside the tree changed";
	}
	return NULL;
}

/* The cache's state at the start of each run of a pass. */
enum cache_mode { CACHE_OFF, CACHE_FILLED, CACHE_EMPTY };

/* The whole call, allocation k failed for k = first, first + stride, ... up to the
 * reference's count (and a few more: it varies a little). */
static void whole_call(const char *label, enum cache_mode cache, enum call_scenario sc)
{
	call_scenario = sc;
	transport_so = sc == SC_SSH                      ? ssh_so
	               : sc == SC_SUDO || sc == SC_SUDO_SSH ? sudo_so
	                                                    : local_so;
	if (!call_python[0]) {
		printf("\n  SKIP: no Python 3 found");
		return;
	}
	FILE *cf = fopen(call_config, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cf);
	fprintf(cf, "code_cache: %s\n", cache != CACHE_OFF ? "true" : "false");
	if (sc == SC_SSH) {
		/* hop through far: two sessions on the one sshd, the second in a direct-tcpip
		 * channel of the first. */
		const char *user = sshd.pw_user[0] ? sshd.pw_user : sshd.user;
		for (int i = 0; i < 2; i++)
			fprintf(cf,
			        "%s  %s:\n    transport: ssh\n    hostname: 127.0.0.1\n    port: %s\n"
			        "    username: %s\n    agent: false\n    identity_file: %s\n"
			        "    known_hosts: %s\n    global_known_hosts: ''\n    ssh_config: ''\n%s",
			        i ? "" : "contexts:\n", i ? "hop" : "far", sshd.port, user, sshd.key,
			        sshd.known_hosts, i ? "    via: far\n" : "");
	}
	if (sc == SC_SUDO)
		fprintf(cf, "contexts:\n  other:\n    transport: sudo\n    username: " SUDO_TARGET
		            "\n    password_env: " SUDO_PW_VAR "\n    connect_timeout: 20\n");
	if (sc == SC_SUDO_SSH)
		fprintf(cf,
		        "contexts:\n  web:\n    transport: ssh\n    hostname: 127.0.0.1\n    port: %s\n"
		        "    username: " SUDO_SSH_USER "\n    agent: false\n    identity_file: %s\n"
		        "    known_hosts: %s\n    global_known_hosts: ''\n    ssh_config: ''\n"
		        "  otherfar:\n    transport: sudo\n    via: web\n    username: " SUDO_TARGET
		        "\n    password_env: " SUDO_PW_VAR "\n    connect_timeout: 20\n",
		        sshd.port, sshd.key, sshd.known_hosts);
	fclose(cf);
	CU_ASSERT_EQUAL(chmod(call_config, 0644), 0); /* the sudo scenario's master reads it */
	CU_ASSERT_EQUAL_FATAL(sync_dir(cache_live, NULL), 0);
	char line[2048];
	struct call_report r;
	if (cache == CACHE_FILLED) {
		/* The first run fills the entries, the second reads them: its count is the
		 * reference. */
		CU_ASSERT_EQUAL_FATAL(call_run(0, line, sizeof(line)), 0);
		CU_ASSERT_FATAL(parse_report(line, &r) && r.rc == 0);
		int core = cache_entries(cache_live, "core-"), boot = cache_entries(cache_live, "boot-");
		printf("\n  cache filled in %s: %d core entry, %d boot entry; %zu allocations, %zu "
		       "blocks left", cache_live, core, boot, r.count, r.live);
		CU_ASSERT_FATAL(core == 1 && boot == 1);
		CU_ASSERT_EQUAL(r.live, 0);
		CU_ASSERT_EQUAL_FATAL(sync_dir(cache_saved, cache_live), 0);
	}
	CU_ASSERT_EQUAL_FATAL(scenario_reset(sc), 0);
	CU_ASSERT_EQUAL_FATAL(call_run(0, line, sizeof(line)), 0);
	CU_ASSERT_FATAL(parse_report(line, &r));
	CU_ASSERT_PTR_NULL(scenario_check(sc, r.rc == 0));
	if (cache == CACHE_EMPTY) /* the run filled it */
		CU_ASSERT(cache_entries(cache_live, "core-") == 1 && cache_entries(cache_live, "boot-") == 1);
	size_t n = r.count;
	printf("\n  %s, reference: %zu allocations (%zu by %s, %zu by %s), %zu blocks left, %s", label,
	       n, r.in_transport, transport_so, r.in_pickle, pickle_so, r.live, ec_err_name(r.rc));
	CU_ASSERT_EQUAL(r.rc, 0);
	CU_ASSERT_EQUAL(r.live, 0);
	/* These copies were loaded, and their allocations are counted. */
	CU_ASSERT(r.in_transport > 0);
	CU_ASSERT(r.in_pickle > 0);
	/* Threads make the order vary a little from run to run; each run is judged alone.
	 * EC_ALLOCFAIL_CALL_STRIDE=1 fails every one (by hand: a minute or more). */
	const char *st = getenv("EC_ALLOCFAIL_CALL_STRIDE");
	size_t stride = st && atol(st) > 0 ? (size_t)atol(st) : (n + 39) / 40;
	struct totals t = {0};
	size_t failed_in[3] = {0};
	/* EC_ALLOCFAIL_CALL_FIRST=K starts there, EC_ALLOCFAIL_CALL_LAST=K ends there (by
	 * hand, to look at one run). */
	const char *first = getenv("EC_ALLOCFAIL_CALL_FIRST"), *last = getenv("EC_ALLOCFAIL_CALL_LAST");
	size_t k0 = first && atol(first) > 0 ? (size_t)atol(first) : 1;
	size_t k1 = last && atol(last) > 0 ? (size_t)atol(last) : n + 20;
	/* Every k0 + i * stride, and each allocation the reference's plugins made (within
	 * k0..k1): make check fails all of theirs, whatever the stride. */
	static unsigned char run_k[1 << 16];
	memset(run_k, 0, sizeof(run_k));
	if (k1 >= sizeof(run_k))
		k1 = sizeof(run_k) - 1;
	for (size_t k = k0; k <= k1; k += stride)
		run_k[k] = 1;
	size_t extra[128];
	size_t nextra = plugin_numbers(line, extra, sizeof(extra) / sizeof(extra[0]));
	for (size_t i = 0; i < nextra; i++)
		if (extra[i] >= k0 && extra[i] <= k1)
			run_k[extra[i]] = 1;
	for (size_t k = k0; k <= k1; k++) {
		if (!run_k[k])
			continue;
		if (cache != CACHE_OFF)
			CU_ASSERT_EQUAL_FATAL(
			    sync_dir(cache_live, cache == CACHE_FILLED ? cache_saved : NULL), 0);
		CU_ASSERT_EQUAL_FATAL(scenario_reset(sc), 0);
		int ok = call_run(k, line, sizeof(line)) == 0 && parse_report(line, &r);
		/* An interrupted transfer leaves the old file and no temporary file. */
		const char *left = scenario_check(sc, ok && r.rc == 0);
		const char *msg = ok ? line + r.off : line;
		int clear = ok && r.rc == EC_ENOMEM && msg[0] && msg[0] != '\n';
		t.allocs++;
		if (ok)
			failed_in[r.hit_in == 1 || r.hit_in == 2 ? r.hit_in : 0]++;
		if (getenv("EC_ALLOCFAIL_VERBOSE"))
			printf("\n    %zu: %s", k, line);
		line[strcspn(line, "\n")] = '\0'; /* the report's first line: its outcome */
		if (left)
			t.bad++, printf("\n  allocation %zu failed: %s%s%s; %s", k, ok ? ec_err_name(r.rc) : "",
			                ok ? ": " : "", ok ? msg : line, left);
		else if (ok && r.rc == 0 && !r.live && (!r.in_transport || !r.in_pickle))
			t.bad++, printf("\n  allocation %zu failed: the call succeeded without the "
			                "plugins in %s", k, plugin_dir);
		else if (ok && r.rc == 0 && !r.live)
			t.recovered++;
		else if (clear && !r.live)
			t.errors++;
		else {
			t.bad++;
			printf("\n  allocation %zu failed: %s%s%s; %zu blocks left", k,
			       ok ? ec_err_name(r.rc) : "", ok ? ": " : "", msg, ok ? r.live : 0);
		}
	}
	printf("\n  %s: %zu of its ~%zu allocations failed (one in %zu; %zu of them the transport's, %zu "
	       "pickle's): %zu clear errors, %zu runs that still succeeded, %zu bad",
	       label, t.allocs, n, stride, failed_in[1], failed_in[2], t.errors, t.recovered, t.bad);
	CU_ASSERT_EQUAL(t.bad, 0);
	all.allocs += t.allocs;
	all.errors += t.errors;
	all.recovered += t.recovered;
	all.bad += t.bad;
}

static void test_whole_call(void)
{
	whole_call("bytecode cache off", CACHE_OFF, SC_CALL);
}

/* Each run boots directly from the boot entry with the cached core; one whose read
 * fails boots from source and fills the entries again. */
static void test_whole_call_cached(void)
{
	whole_call("bytecode cache on, filled", CACHE_FILLED, SC_CALL);
}

/* Each run boots from source and fills both entries (the core's bytecode comes back
 * as a bytes reply of ~100 KiB: the pickle codec's decode_buf takes the receive buffer). */
static void test_whole_call_filling(void)
{
	whole_call("bytecode cache on, empty", CACHE_EMPTY, SC_CALL);
}

/* A channel echoed, a file put and got back (cache off). */
static void test_channel_transfer(void)
{
	whole_call("channel and file transfer", CACHE_OFF, SC_CHANNEL_TRANSFER);
}

/* A tree put and got back (cache off): directories, a link, files of one and two
 * chunks. */
static void test_tree_transfer(void)
{
	whole_call("tree transfer", CACHE_OFF, SC_TREE);
}

/* Forwarded modules on a local context (cache off): a package and its children served,
 * names the master cannot serve refused. */
static void test_modules(void)
{
	whole_call("forwarded modules", CACHE_OFF, SC_MODULES);
}

/* A local context connected back over TLS (the tls transport's copy): the listener, the
 * handshake, the token, the switch; then a call over the connection. */
static void test_connect_back(void)
{
	if (!tls_so[0]) {
		printf("\n  SKIP: the tls plugin is not built (configure --disable-tls)");
		return;
	}
	whole_call("connected back", CACHE_OFF, SC_CONNECT_BACK);
}

/* Copy the file at from to to, mode 0644. 0 or -1. */
static int copy_file(const char *from, const char *to)
{
	char buf[4096];
	FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
	size_t n, bad = !in || !out;
	while (!bad && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		bad = fwrite(buf, 1, n, out) != n;
	if (in)
		fclose(in);
	if (out && fclose(out))
		bad = 1;
	return bad || chmod(to, 0644) ? -1 : 0;
}

/* The fixture's key authorized for user on the private sshd. 0 or -1. */
static int authorize(const char *user)
{
	char from[600], to[700];
	snprintf(from, sizeof(from), "%s.pub", sshd.key);
	snprintf(to, sizeof(to), "%s/authorized_keys/%s", sshd_dir, user);
	return copy_file(from, to);
}

/* The private sshd, started once (by the first scenario that needs it): NULL, or why
 * there is none (a skip). */
static const char *sshd_up(void)
{
	if (!ssh_so[0])
		return "the ssh plugin is not built (configure --disable-ssh)";
	if (sshd_dir[0])
		return NULL;
	snprintf(sshd_dir, sizeof(sshd_dir), "/tmp/ec-allocfail-sshd.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(sshd_dir));
	int st = ec_test_sshd_fixture("start", sshd_dir);
	if (st == 77) {
		rmdir(sshd_dir);
		sshd_dir[0] = '\0';
		return "no sshd on this machine (install openssh-server)";
	}
	CU_ASSERT_EQUAL_FATAL(st, 0);
	ec_test_sshd_env(sshd_dir, &sshd);
	/* sshd reads a user's authorized_keys as that user. */
	char to[700];
	snprintf(to, sizeof(to), "%s/authorized_keys", sshd_dir);
	CU_ASSERT_FATAL(chmod(sshd_dir, 0711) == 0 && chmod(to, 0755) == 0);
	if (sshd.pw_user[0])
		CU_ASSERT_EQUAL_FATAL(authorize(sshd.pw_user), 0);
	return NULL;
}

/* The sudo fixture's users, set up once: NULL, or why not (a skip). */
static const char *sudo_up(void)
{
	const char *missing = !sudo_so[0]          ? "the sudo plugin is not built"
	                      : geteuid() != 0     ? "not root (it creates test users)"
	                      : access("/usr/bin/python3", X_OK) ? "/usr/bin/python3 is missing"
	                                                         : ec_test_sudo_missing();
	if (missing || sudo_set_up)
		return missing;
	CU_ASSERT_EQUAL_FATAL(ec_test_sudo_lock(), 0);
	char wrong[64];
	CU_ASSERT_EQUAL_FATAL(ec_test_passwords("EcAf", sudo_password, sizeof(sudo_password),
	                                        "EcAfW", wrong, sizeof(wrong)),
	                      0);
	sudo_set_up = 1;
	CU_ASSERT_EQUAL_FATAL(ec_test_sudo_fixture("setup", sudo_password), 0);
	return NULL;
}

/* A context over ssh through a jump host (the ssh transport's copy: the plugin, libssh2
 * through the plugin's allocator, the session, the tunnel, authentication, the channel),
 * json.dumps(7) on it. Its own sshd on 127.0.0.1; as root, logged in as the fixture's
 * other user (root's shell start-up here runs pyenv's, ~170 ms a login). */
static void test_ssh(void)
{
	const char *why = sshd_up();
	if (why) {
		printf("\n  SKIP: %s", why);
		return;
	}
	whole_call("over ssh through a jump host", CACHE_OFF, SC_SSH);
}

/* A context as another user through sudo, which asks for the password (the sudo
 * transport's copy: the prompt, the answer, the boot through sudo), json.dumps(7) on
 * it. The master runs as the sudo fixture's user (root is never asked); the fixture's
 * users are shared with test_sudo: one of them runs at a time (its lock). */
static void test_sudo(void)
{
	const char *why = sudo_up();
	if (why) {
		printf("\n  SKIP: %s", why);
		return;
	}
	if (!ec_test_user_access(SUDO_SRC, sudo_so, R_OK)) {
		printf("\n  SKIP: " SUDO_SRC " cannot read %s (the build tree must be readable by "
		       "other users)", sudo_so);
		return;
	}
	whole_call("as another user through sudo", CACHE_OFF, SC_SUDO);
}

/* sudo stacked on ssh: the fixture's ecsudo_ssh logs in (the master as root), and sudo
 * on the far side asks for its password (sudo_below.c: the prompt over the ssh
 * channel), then json.dumps(7) as ecsudo_pw. */
static void test_sudo_ssh(void)
{
	const char *why = sshd_up();
	why = why ? why : sudo_up();
	if (why) {
		printf("\n  SKIP: %s", why);
		return;
	}
	CU_ASSERT_EQUAL_FATAL(authorize(SUDO_SSH_USER), 0);
	whole_call("through sudo via ssh", CACHE_OFF, SC_SUDO_SSH);
}

/* The plugin copies and a private cache home, set up before the threads of any run. */
static int call_setup(void)
{
	char rel[PATH_MAX];
	snprintf(rel, sizeof(rel), "%s/tests/allocfail-plugins/.libs", ec_test_builddir());
	if (!realpath(rel, plugin_dir)) {
		fprintf(stderr, "test_allocfail: %s: %s (make check builds it)\n", rel, strerror(errno));
		return -1;
	}
	snprintf(local_so, sizeof(local_so), "%s/local.so", plugin_dir);
	snprintf(pickle_so, sizeof(pickle_so), "%s/pickle.so", plugin_dir);
	snprintf(tls_so, sizeof(tls_so), "%s/tls.so", plugin_dir);
	if (access(tls_so, R_OK) != 0)
		tls_so[0] = '\0';
	snprintf(ssh_so, sizeof(ssh_so), "%s/ssh.so", plugin_dir);
	if (access(ssh_so, R_OK) != 0)
		ssh_so[0] = '\0';
	snprintf(sudo_so, sizeof(sudo_so), "%s/sudo.so", plugin_dir);
	if (access(sudo_so, R_OK) != 0)
		sudo_so[0] = '\0';
	snprintf(call_config, sizeof(call_config), "/tmp/ec-allocfail.%d.yaml", (int)getpid());
	snprintf(cache_root, sizeof(cache_root), "/tmp/ec-allocfail.XXXXXX");
	if (!mkdtemp(cache_root))
		return -1;
	snprintf(cache_home, sizeof(cache_home), "%s/home", cache_root);
	snprintf(cache_live, sizeof(cache_live), "%s/econtext", cache_home);
	snprintf(cache_saved, sizeof(cache_saved), "%s/saved", cache_root);
	if (mkdir(cache_home, 0700) || mkdir(cache_live, 0700) || mkdir(cache_saved, 0700))
		return -1;
	snprintf(chan_modules, sizeof(chan_modules), "%s/tests/data/chan", ec_test_srcdir());
	snprintf(modfwd_modules, sizeof(modfwd_modules), "%s/tests/data/modfwd", ec_test_srcdir());
	snprintf(xfer_root, sizeof(xfer_root), "/tmp/ec-allocfail-xfer.XXXXXX");
	if (!mkdtemp(xfer_root))
		return -1;
	snprintf(xfer_src, sizeof(xfer_src), "%s/src", xfer_root);
	snprintf(xfer_put, sizeof(xfer_put), "%s/put", xfer_root);
	snprintf(xfer_back, sizeof(xfer_back), "%s/back", xfer_root);
	for (size_t i = 0; i < XFER_SIZE; i++)
		xfer_data[i] = (unsigned char)(i * 2654435761u >> 13);
	FILE *f = fopen(xfer_src, "wb");
	if (!f || fwrite(xfer_data, 1, XFER_SIZE, f) != XFER_SIZE || fclose(f) ||
	    mkdir(xfer_put, 0700) || mkdir(xfer_back, 0700))
		return -1;
	char p[192];
	snprintf(tree_src, sizeof(tree_src), "%s/tree", xfer_root);
	snprintf(p, sizeof(p), "%s/sub", tree_src);
	if (mkdir(tree_src, 0755) || mkdir(p, 0750))
		return -1;
	snprintf(p, sizeof(p), "%s/sub/file", tree_src);
	f = fopen(p, "wb");
	if (!f || fwrite(xfer_data, 1, XFER_SIZE, f) != XFER_SIZE || fclose(f))
		return -1;
	snprintf(p, sizeof(p), "%s/sub/small", tree_src);
	f = fopen(p, "wb");
	if (!f || fputs(tree_small, f) == EOF || fclose(f))
		return -1;
	snprintf(p, sizeof(p), "%s/empty", tree_src);
	if (mkdir(p, 0700))
		return -1;
	snprintf(p, sizeof(p), "%s/link", tree_src);
	if (symlink("sub/file", p))
		return -1;
	/* No run reads or fills the user's own cache. */
	setenv("XDG_CACHE_HOME", cache_home, 1);
	return 0;
}

static void call_cleanup(void)
{
	if (sshd_dir[0])
		ec_test_sshd_fixture("stop", sshd_dir);
	if (sudo_set_up)
		ec_test_sudo_fixture("teardown", sudo_password);
	if (!cache_root[0])
		return;
	sync_dir(cache_live, NULL);
	sync_dir(cache_saved, NULL);
	rmdir(cache_live);
	rmdir(cache_home);
	rmdir(cache_saved);
	rmdir(cache_root);
	unlink(call_config);
	if (!xfer_root[0])
		return;
	scenario_reset(SC_TREE);
	if (tree_src[0])
		nftw(tree_src, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	sync_dir(xfer_put, NULL);
	sync_dir(xfer_back, NULL);
	rmdir(xfer_put);
	rmdir(xfer_back);
	unlink(xfer_src);
	rmdir(xfer_root);
}

int main(void)
{
	const struct ec_plugin *p = ec_plugin_pickle_describe();
	struct ec_error err = {0};
	if (p->load(ec__host_get(), &pickle_state, &err)) {
		fprintf(stderr, "pickle: %s\n", err.msg);
		return 1;
	}
	pickle_ops = p->ops;
	struct ec_test_python all_py[16];
	size_t npy = ec_test_pythons(all_py, sizeof(all_py) / sizeof(all_py[0]));
	for (size_t i = npy; i-- > 0;)
		if (all_py[i].path[0] && all_py[i].version[0] == '3')
			snprintf(call_python, sizeof(call_python), "%s", all_py[i].path);
	CU_initialize_registry();
	CU_pSuite s = CU_add_suite("every allocation failed in turn", NULL, NULL);
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
	    {"configuration: load, overrides, validation", test_config},
	    {"JSON values: parse, copy, write", test_json},
	    {"pickle: decode, encode, decode", test_pickle},
	    {"frames: encode, decode", test_frame},
	    {"a whole local call: connect, call, shutdown", test_whole_call},
	    {"the same from a filled bytecode cache", test_whole_call_cached},
	    {"the same filling an empty bytecode cache", test_whole_call_filling},
	    {"a channel echoed, a file put and got back", test_channel_transfer},
	    {"a tree put and got back", test_tree_transfer},
	    {"forwarded modules: a package and its children, names refused", test_modules},
	    {"a local context connected back over TLS, a call over it", test_connect_back},
	    {"a context over ssh through a jump host, a call on it", test_ssh},
	    {"a context as another user through sudo (a password asked), a call on it", test_sudo},
	    {"sudo via ssh (the password asked on the far side), a call on it", test_sudo_ssh},
	};
	/* EC_ALLOCFAIL_ONLY=WORD (by hand): only the tests whose names hold it. */
	const char *only = getenv("EC_ALLOCFAIL_ONLY");
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!only || strstr(tests[i].name, only))
			CU_add_test(s, tests[i].name, tests[i].fn);
	if (call_setup()) {
		fprintf(stderr, "test_allocfail: cannot set up the whole call\n");
		return 1;
	}
	int rc = ec_test_run();
	call_cleanup();
	printf("allocation failure: %zu allocations failed one at a time; %zu clear errors, %zu "
	       "runs with the same result, %zu bad\n",
	       all.allocs, all.errors, all.recovered, all.bad);
	if (p->unload)
		p->unload(pickle_state);
	return rc;
}
