/* test_tls.c: connect-back over TLS (docs/tls.md), local contexts on every Python
 * interpreter found: calls, module forwarding and logs over the TLS connection; the
 * lazy switch (calls pipelined and a channel streaming from the first moment across
 * it, every reply and value checked in order; a context frozen before its connect,
 * lost at connect_back_timeout with the reason); the connection cut, the launcher's
 * stream cut, the master killed (the context gone within 5 s, seen on its pidfd). Then hostile clients at the listener: plain TCP
 * garbage, a TLS client with no token, a wrong token, a replayed one, a handshake that
 * never finishes, 200 half-open connections at once: each refused and logged with its
 * peer, while the other contexts carry on and a new one connects back. */
#include "ecbuild.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "econtext.h"
#include "testutil.h"

#define LOGGER "econtext.tls"

static struct ec_test_python pythons[16];
static size_t npythons;
static const struct ec_test_python *cur;
static ec_master *master;
static ec_context *ctx;

static ec_master *new_master(void)
{
	char dir[1200], chan[1200];
	snprintf(dir, sizeof(dir), "%s/tests/data/tls", ec_test_srcdir());
	snprintf(chan, sizeof(chan), "%s/tests/data/chan", ec_test_srcdir()); /* chanfn */
	const char *mp[] = {dir, chan, NULL};
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = "/dev/null",
	                               .log_level = EC_LOG_INFO, .log_fn = ec_test_log_capture,
	                               .module_path = mp};
	struct ec_error err = {0};
	ec_master *m = NULL;
	if (ec_master_new(&mo, &m, &err)) {
		fprintf(stderr, "master: %s: %s\n", err.where, err.msg);
		return NULL;
	}
	return m;
}

/* A local context on py that connects back; extra: one more override or NULL. */
static ec_context *connect_back(ec_master *m, const struct ec_test_python *py, const char *name,
                                const char *extra, struct ec_error *err)
{
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", py->path);
	const char *ov[] = {"transport=local", "connect_back=true", opt, extra, NULL};
	ec_context *c = NULL;
	if (ec_context_connect(m, name, ov, 30000, &c, err)) {
		fprintf(stderr, "connect %s: %s: %s\n", name, err->where, err->msg);
		return NULL;
	}
	return c;
}

static int suite_init(const struct ec_test_python *py)
{
	cur = py;
	struct ec_error err = {0};
	setenv("ECONTEXT_CONFIG", "/dev/null", 1);
	if (!(master = new_master()))
		return 1;
	if (!(ctx = connect_back(master, py, "cb", NULL, &err))) {
		ec_master_free(master);
		master = NULL;
		return 1;
	}
	fprintf(stderr, "python %s: pid %ld, connected back in %.1f ms\n",
	        ec_context_python_version(ctx), ec_context_pid(ctx),
	        ec_context_boot_seconds(ctx) * 1000);
	return 0;
}

static int suite_clean(void)
{
	ec_test_master_and_context_free(&master, &ctx);
	return 0;
}

/* 1 once process pid has exited, within ms: its pidfd polled (an event, not a nap). */
static int gone_within(long pid, int ms)
{
	int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (fd < 0)
		return errno == ESRCH;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;
	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	close(fd);
	return r == 1 || ec_test_process_gone(pid);
}

/* ---- over the TLS connection ---------------------------------------------------- */

static void test_calls(void)
{
	int rc = 0;
	ec_value *v = ec_test_call(ctx, "os", "getpid", NULL, 10000, &rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(v->type, EC_T_INT);
	CU_ASSERT_EQUAL(v->u.i, ec_context_pid(ctx));
	ec_value_free(v);
	/* Usable at once over its transport; switched once its connection is up. */
	v = ec_test_call(ctx, "tlsfn", "wait_switched", NULL, 20000, &rc);
	CU_ASSERT_FATAL(rc == 0 && v && v->type == EC_T_STR);
	CU_ASSERT_STRING_EQUAL(v->u.s.data, "switched");
	ec_value_free(v);
	/* A module of the master's module path (forwarded over the connection) says what
	 * the connection is. */
	v = ec_test_call(ctx, "tlsfn", "info", NULL, 10000, &rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	const ec_value *ver = ec_value_dict_get(v, "version");
	const ec_value *ciph = ec_value_dict_get(v, "cipher");
	CU_ASSERT_FATAL(ver && ver->type == EC_T_STR && ciph && ciph->type == EC_T_STR);
	printf("    %s: %s, %s\n", cur->version, ver->u.s.data, ciph->u.s.data);
	CU_ASSERT(!strcmp(ver->u.s.data, "TLSv1.3") || strstr(ciph->u.s.data, "GCM") ||
	          strstr(ciph->u.s.data, "CHACHA20"));
	ec_value_free(v);
}

static void test_bulk(void)
{
	/* 3 MiB there and back: frames larger than a TLS record, through the relay. */
	size_t n = 3u << 20;
	unsigned char *buf = malloc(n);
	CU_ASSERT_FATAL(buf != NULL);
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)(i * 2654435761u >> 13);
	int rc = 0;
	ec_value *v = ec_test_call(ctx, "tlsfn", "echo", ec_value_bytes(buf, n), 30000, &rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT(v->type == EC_T_BYTES && v->u.s.len == n && !memcmp(v->u.s.data, buf, n));
	ec_value_free(v);
	free(buf);
	/* Switched, the core reads and writes the connection itself: the relay neither
	 * wrote on it nor passed on anything more while 3 MiB went each way. */
	long long up[2] = {-1, -1}, down[2] = {-1, -1};
	for (int i = 0; i < 2; i++) {
		v = ec_test_call(ctx, "tlsfn", "direct", NULL, 20000, &rc);
		CU_ASSERT_FATAL(rc == 0 && v && v->type == EC_T_LIST && v->u.seq.len == 3);
		CU_ASSERT(v->u.seq.items[0]->type == EC_T_BOOL && v->u.seq.items[0]->u.b);
		up[i] = v->u.seq.items[1]->u.i;
		down[i] = v->u.seq.items[2]->u.i;
		ec_value_free(v);
		if (i)
			break;
		v = ec_test_call(ctx, "tlsfn", "blob", ec_value_int((int64_t)n), 30000, &rc);
		CU_ASSERT(rc == 0 && v && v->type == EC_T_BYTES && v->u.s.len == n &&
		          v->u.s.data[0] == 0x5a && v->u.s.data[n - 1] == 0x5a);
		ec_value_free(v);
		unsigned char *big = calloc(1, n);
		CU_ASSERT_FATAL(big != NULL);
		ec_value *args = ec_value_new(EC_T_TUPLE);
		ec_value_append(args, ec_value_bytes(big, n));
		ec_value *res = NULL;
		struct ec_error err = {0};
		CU_ASSERT_EQUAL(ec_context_call(ctx, "zlib", "crc32", args, NULL, 30000, &res, &err), 0);
		CU_ASSERT(res && res->type == EC_T_INT);
		ec_value_free(res);
		ec_value_free(args);
		free(big);
	}
	printf("    the relay wrote %lld bytes on the connection and passed %lld to the core, "
	       "then none\n", up[0], down[0]);
	CU_ASSERT(up[0] >= 0 && up[1] == up[0]);
	CU_ASSERT(down[0] >= 0 && down[1] == down[0]);
}

static void test_logs(void)
{
	char text[64];
	snprintf(text, sizeof(text), "over-tls-%ld", (long)getpid());
	int rc = 0;
	ec_value *v = ec_test_call(ctx, "tlsfn", "log", ec_value_cstr(text), 10000, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	ec_value_free(v);
	CU_ASSERT(ec_test_log_wait("econtext.ctx.cb.tlstest", text, NULL));
	char line[80];
	snprintf(line, sizeof(line), "stderr %s", text);
	CU_ASSERT(ec_test_log_wait(NULL, line, NULL));
}

/* A reply [i, state]: 1 if its i is want, with *state "launcher", "upstream" or
 * "switched" (where the frames went when it ran in the context). */
static int seq_reply(const ec_value *v, int64_t want, const char **state)
{
	if (!v || v->type != EC_T_LIST || v->u.seq.len != 2 ||
	    v->u.seq.items[0]->type != EC_T_INT || v->u.seq.items[1]->type != EC_T_STR)
		return 0;
	*state = v->u.seq.items[1]->u.s.data;
	return v->u.seq.items[0]->u.i == want;
}

#define ROUND 32

/* Right after the connect, rounds of 32 pipelined calls (calls) or of 32 values sent
 * on a channel and echoed back (!calls), each checked in order, until the context has
 * switched (its replies say so) and a few rounds after that: the bytes in flight across
 * the switch are neither lost nor reordered; calls work before, across and after it. */
static void across(int calls_mode)
{
	struct ec_error err = {0};
	ec_context *c = connect_back(master, cur, "across", NULL, &err);
	CU_ASSERT_FATAL(c != NULL);
	ec_channel *ch = NULL;
	ec_call *echo = NULL;
	if (!calls_mode) {
		CU_ASSERT_FATAL(ec_channel_new(c, &ch, &err) == 0);
		ec_value *args = ec_value_new(EC_T_TUPLE);
		ec_value_append(args, ec_value_channel(ch));
		/* tlschan: imported in one round trip, no pause (tests/data/tls) */
		CU_ASSERT_FATAL(ec_context_call_async(c, "tlschan", "echo_states", args, NULL,
		                                      &echo, &err) == 0);
		ec_value_free(args);
	}
	int64_t next = 0;
	int before = 0, after = 0, ok = 1, rounds_after = 0;
	const char *builtins = ec_context_python_version(c)[0] == '2' ? "__builtin__" : "builtins";
	if (calls_mode) { /* the first call, at once: over the launcher's stream */
		int rc = 0;
		ec_value *v = ec_test_call(c, "econtext", "connect_back_state", NULL, 10000, &rc);
		CU_ASSERT(rc == 0 && v && v->type == EC_T_STR);
		before += rc == 0 && v && v->type == EC_T_STR && !strcmp(v->u.s.data, "launcher");
		ec_value_free(v);
	}
	for (int round = 0; ok && round < 5000 && rounds_after < 4; round++) {
		ec_call *calls[ROUND];
		int sent = 0;
		for (int i = 0; i < ROUND && ok; i++, sent++) {
			ec_value *a = ec_value_int(next + i);
			if (calls_mode) {
				/* int(i), but the round's last asks where the frames go: no module
				 * forwarded, so the rounds run from the first moment */
				ec_value *t = ec_value_new(EC_T_TUPLE);
				int last = i == ROUND - 1;
				if (last)
					ec_value_free(a);
				else
					ec_value_append(t, a);
				ok = ec_context_call_async(c, last ? "econtext" : builtins,
				                           last ? "connect_back_state" : "int", t, NULL,
				                           &calls[i], &err) == 0;
				ec_value_free(t);
			} else {
				ok = ec_channel_send(ch, a, 20000, &err) == 0;
				ec_value_free(a);
			}
		}
		int switched = 0;
		for (int i = 0; i < sent; i++) {
			ec_value *v = NULL;
			const char *st = "";
			int got = ok && (calls_mode ? ec_call_wait(calls[i], 20000, &v, &err)
			                            : ec_channel_recv(ch, 20000, &v, &err)) == 0;
			if (calls_mode && i == ROUND - 1) /* connect_back_state */
				got = got && v->type == EC_T_STR && (st = v->u.s.data);
			else if (calls_mode)
				got = got && v->type == EC_T_INT && v->u.i == next + i;
			else
				got = got && seq_reply(v, next + i, &st);
			if (ok && !got)
				printf("    %s %lld: %s\n", calls_mode ? "call" : "value",
				       (long long)(next + i), err.msg);
			ok = got;
			switched = ok && !strcmp(st, "switched");
			before += ok && !strcmp(st, "launcher");
			after += switched;
			ec_value_free(v);
			if (calls_mode)
				ec_call_free(calls[i]);
		}
		next += sent;
		rounds_after += switched;
	}
	printf("    %lld %s in order; %s: %d before the switch, %d after\n", (long long)next,
	       calls_mode ? "pipelined calls" : "channel values",
	       calls_mode ? "rounds" : "values echoed", before, after);
	CU_ASSERT(ok);
	/* The set-up starts once the context has been idle 3 ms after its HELLO: on a
	 * loaded machine the first call may come later than that. */
	if (!before)
		printf("    NOTE: it had switched before the first %s came (a loaded machine); "
		       "nothing ran before the switch this time\n", calls_mode ? "call" : "value");
	CU_ASSERT(after > 0);
	if (!calls_mode) {
		CU_ASSERT_EQUAL(ec_channel_close(ch, &err), 0);
		ec_value *n = NULL;
		CU_ASSERT_EQUAL(ec_call_wait(echo, 20000, &n, &err), 0);
		CU_ASSERT(n && n->type == EC_T_INT && n->u.i == next);
		ec_value_free(n);
		ec_call_free(echo);
		ec_channel_free(ch);
	}
	/* and a call after the switch, on the connection */
	int rc = 0;
	ec_value *v = ec_test_call(c, "tlsfn", "info", NULL, 10000, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	ec_value_free(v);
	ec_context_shutdown(c, 3000, NULL);
}

static void test_calls_across(void)
{
	across(1);
}

static void test_channel_across(void)
{
	across(0);
}

#define DUPLEX_VALUES 48
#define DUPLEX_SIZE (256u << 10)

/* Value i of the duplex test: DUPLEX_SIZE bytes made from i. */
static void duplex_value(unsigned char *p, int i)
{
	for (size_t k = 0; k < DUPLEX_SIZE; k++)
		p[k] = (unsigned char)((k * 2654435761u + (unsigned)i * 40503u) >> 11);
}

struct duplex {
	ec_channel *ch;
	int sent;
};

static void *duplex_send(void *arg)
{
	struct duplex *d = arg;
	unsigned char *p = malloc(DUPLEX_SIZE);
	for (int i = 0; p && i < DUPLEX_VALUES; i++) {
		duplex_value(p, i);
		ec_value *v = ec_value_bytes(p, DUPLEX_SIZE);
		struct ec_error err = {0};
		int rc = ec_channel_send(d->ch, v, 60000, &err);
		ec_value_free(v);
		if (rc)
			break;
		d->sent++;
	}
	free(p);
	return NULL;
}

/* Both ways at once on the connection, once the core reads and writes it itself (the
 * relay's lock between the context's broker reading and its writers writing): 48
 * values of 256 KiB sent by one thread while another takes them back, echoed, with
 * 32 calls' frames sent among them; every value back, in order, byte for byte, and
 * the calls' results once the echo is done. */
static void test_duplex(void)
{
	int rc = 0;
	ec_value *v = ec_test_call(ctx, "tlsfn", "direct", NULL, 20000, &rc);
	CU_ASSERT_FATAL(rc == 0 && v && v->type == EC_T_LIST && v->u.seq.len == 3);
	CU_ASSERT(v->u.seq.items[0]->u.b);
	ec_value_free(v);
	struct ec_error err = {0};
	struct duplex d = {0};
	CU_ASSERT_FATAL(ec_channel_new(ctx, &d.ch, &err) == 0);
	ec_value *args = ec_value_new(EC_T_TUPLE);
	ec_value_append(args, ec_value_channel(d.ch));
	ec_call *echo = NULL;
	CU_ASSERT_FATAL(ec_context_call_async(ctx, "chanfn", "echo", args, NULL, &echo, &err) == 0);
	ec_value_free(args);
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, duplex_send, &d) == 0);
	ec_call *calls[32];
	for (int i = 0; i < 32; i++)
		CU_ASSERT_FATAL(ec_context_call_async(ctx, "os", "getpid", NULL, NULL, &calls[i],
		                                      &err) == 0);
	unsigned char *want = malloc(DUPLEX_SIZE);
	CU_ASSERT_FATAL(want != NULL);
	int same = 0;
	for (int i = 0; i < DUPLEX_VALUES; i++) {
		ec_value *got = NULL;
		if (ec_channel_recv(d.ch, 60000, &got, &err)) {
			printf("    value %d: %s\n", i, err.msg);
			break;
		}
		duplex_value(want, i);
		same += got->type == EC_T_BYTES && got->u.s.len == DUPLEX_SIZE &&
		        !memcmp(got->u.s.data, want, DUPLEX_SIZE);
		ec_value_free(got);
	}
	free(want);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(d.sent, DUPLEX_VALUES);
	CU_ASSERT_EQUAL(same, DUPLEX_VALUES);
	/* The calls wait behind the echo (a context runs one call at a time): their
	 * frames came down among the values; they run once the channel is closed. */
	CU_ASSERT_EQUAL(ec_channel_close(d.ch, &err), 0);
	int pids = 0;
	for (int i = 0; i < 32; i++) {
		ec_value *r = NULL;
		pids += ec_call_wait(calls[i], 30000, &r, &err) == 0 && r && r->type == EC_T_INT &&
		        r->u.i == ec_context_pid(ctx);
		ec_value_free(r);
		ec_call_free(calls[i]);
	}
	CU_ASSERT_EQUAL(pids, 32);
	ec_value *n = NULL;
	CU_ASSERT_EQUAL(ec_call_wait(echo, 30000, &n, &err), 0);
	CU_ASSERT(n && n->type == EC_T_INT && n->u.i == DUPLEX_VALUES);
	ec_value_free(n);
	ec_call_free(echo);
	ec_channel_free(d.ch);
	printf("    %d values of %u KiB each way, all back in order; 32 calls among them\n", same,
	       DUPLEX_SIZE >> 10);
}

/* Whether process pid is stopped (its /proc state 'T' or 't'). */
static int stopped(long pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	return p && (p[2] == 'T' || p[2] == 't');
}

/* Whether process pid holds a TCP socket (its fds' socket inodes in /proc/PID/net/tcp). */
static int has_tcp(long pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
	DIR *d = opendir(path);
	int found = 0;
	for (struct dirent *e; d && !found && (e = readdir(d));) {
		char link[400], target[64];
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		unsigned long ino;
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (sscanf(target, "socket:[%lu]", &ino) != 1)
			continue;
		char tcp[64], line[512];
		snprintf(tcp, sizeof(tcp), "/proc/%ld/net/tcp", pid);
		FILE *f = fopen(tcp, "r");
		while (f && !found && fgets(line, sizeof(line), f)) {
			unsigned long li = 0;
			/* sl local rem st tx:rx tr:when retr uid timeout inode */
			if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %lu", &li) == 1 && li == ino)
				found = 1;
		}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

/* A context that does not connect back within connect_back_timeout (stopped with
 * SIGSTOP while it still runs over its transport, before its TCP connect): lost, with
 * the reason. */
static void test_switch_timeout(void)
{
	struct ec_error err = {0};
	ec_context *c = connect_back(master, cur, "late", "connect_back_timeout=1", &err);
	CU_ASSERT_FATAL(c != NULL);
	long pid = ec_context_pid(c);
	kill((pid_t)pid, SIGSTOP);
	for (int i = 0; i < 3000 && !stopped(pid); i++) { /* the stop taken, within 30 s */
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	CU_ASSERT_FATAL(stopped(pid));
	if (has_tcp(pid)) { /* its set-up had begun its connect: it may have switched */
		printf("    SKIP: it had begun connecting back before it was stopped (a loaded "
		       "machine)\n");
		kill((pid_t)pid, SIGCONT);
		ec_context_shutdown(c, 3000, NULL);
		return;
	}
	ec_value *res = NULL;
	/* Frozen before its connect: the master's own timer ends it (the event the call
	 * waits for). */
	int rc = ec_context_call(c, "os", "getpid", NULL, NULL, 20000, &res, &err);
	ec_value_free(res);
	kill((pid_t)pid, SIGCONT);
	printf("    %s\n", err.msg);
	CU_ASSERT(rc != 0);
	CU_ASSERT(strstr(err.msg, "context 'late' did not connect back to the master at "
	                          "127.0.0.1 port") &&
	          strstr(err.msg, "within 1.0 s (connect_back_timeout"));
	CU_ASSERT(gone_within(pid, 5000));
	ec_context_shutdown(c, 3000, NULL);
}

/* Call tlsfn.fn on a fresh connect-back context, which cuts one of its connections:
 * the call fails with an error holding want, the context is gone within 5 s. */
static void cut(const char *fn, const char *want)
{
	struct ec_error err = {0};
	ec_context *c = connect_back(master, cur, "cut", NULL, &err);
	CU_ASSERT_FATAL(c != NULL);
	long pid = ec_context_pid(c);
	ec_value *res = NULL;
	int rc = 0;
	ec_value_free(ec_test_call(c, "tlsfn", "wait_switched", NULL, 20000, &rc));
	CU_ASSERT_EQUAL(rc, 0);
	rc = ec_context_call(c, "tlsfn", fn, NULL, NULL, 20000, &res, &err);
	ec_value_free(res);
	printf("    %s: %s\n", fn, err.msg);
	CU_ASSERT_EQUAL(rc, EC_ECLOSED);
	CU_ASSERT(strstr(err.msg, want) != NULL);
	CU_ASSERT(gone_within(pid, 5000));
	ec_context_shutdown(c, 3000, NULL);
	/* The other context carries on. */
	ec_value *v = ec_test_call(ctx, "os", "getpid", NULL, 10000, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	ec_value_free(v);
}

static void test_cut_tls(void)
{
	cut("cut_tls", "its TLS connection from 127.0.0.1:");
}

static void test_cut_launcher(void)
{
	cut("cut_launcher", "the stream of its transport (local) ended");
}

static void test_master_killed(void)
{
	/* The econtext command, its context connected back and in a long call, is killed:
	 * the context follows within 5 s. */
	char exe[1024], opt[600];
	snprintf(exe, sizeof(exe), "%s/econtext", ec_test_builddir());
	snprintf(opt, sizeof(opt), "python=%s", cur->path);
	pid_t m = fork();
	if (m == 0) {
		int null = open("/dev/null", 1);
		dup2(null, 1);
		dup2(null, 2);
		execl(exe, exe, "-q", "-o", opt, "-o", "connect_back=true", "call", "local",
		      "time.sleep", "60", (char *)NULL);
		_exit(127);
	}
	CU_ASSERT_FATAL(m > 0);
	pid_t c = 0;
	for (int i = 0; i < 3000 && !c; i++) { /* up to 30 s: the command started */
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
		c = ec_test_find_context_of(m);
	}
	CU_ASSERT_FATAL(c > 0);
	/* Connected back: its TLS socket (a TCP socket) is open. */
	int tcp = 0;
	for (int i = 0; i < 3000 && !tcp; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/net/tcp", (int)c);
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
		tcp = ec_test_file_count(path, " 01 ", 0) > 0; /* ESTABLISHED */
	}
	kill(m, SIGKILL);
	waitpid(m, NULL, 0);
	int gone = gone_within(c, 5000);
	CU_ASSERT_TRUE(gone);
	if (!gone)
		kill(c, SIGKILL);
}


/* ---- hostile clients at the listener -------------------------------------------- */

static int port;          /* the listener's */
static ec_context *other; /* a context that must not notice */

static int hostile_init(void)
{
	const struct ec_test_python *py = NULL;
	for (size_t i = 0; i < npythons && !py; i++)
		if (pythons[i].path[0])
			py = &pythons[i];
	if (!py)
		return 1;
	cur = py;
	struct ec_error err = {0};
	if (!(master = new_master()))
		return 1;
	/* Handshakes and tokens get 2 s. */
	if (!(other = connect_back(master, py, "other", "connect_back_timeout=2", &err)))
		return 1;
	int rc = 0;
	ec_value_free(ec_test_call(other, "tlsfn", "wait_switched", NULL, 20000, &rc));
	ec_value *v = ec_test_call(other, "tlsfn", "info", NULL, 10000, &rc);
	const ec_value *p = v ? ec_value_dict_get(v, "port") : NULL;
	port = p && p->type == EC_T_INT ? (int)p->u.i : 0;
	ec_value_free(v);
	printf("listener on 127.0.0.1 port %d\n", port);
	return port ? 0 : 1;
}

static int hostile_clean(void)
{
	if (other)
		ec_context_shutdown(other, 3000, NULL);
	other = NULL;
	ec_master_free(master);
	master = NULL;
	return 0;
}

/* A TCP connection to the listener; its local port in *me. */
static int dial(int *me)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct sockaddr_in l;
	socklen_t sl = sizeof(l);
	getsockname(fd, (struct sockaddr *)&l, &sl);
	*me = ntohs(l.sin_port);
	struct timeval tv = {20, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Wait for the listener's refusal of our connection from local port me, holding why. */
static int refused(int me, const char *why)
{
	char text[200];
	snprintf(text, sizeof(text), "refused the connection from 127.0.0.1:%d: %s", me, why);
	int ok = ec_test_log_wait(LOGGER, text, NULL);
	if (!ok)
		printf("    no log: %s\n", text);
	return ok;
}

/* Read until the master closes: 1 if it did (end of stream or reset). */
static int closed_by_master(int fd)
{
	char buf[4096];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		if (n < 0)
			return 0;
	}
}

static void still_fine(void)
{
	int rc = 0;
	ec_value *v = ec_test_call(other, "os", "getpid", NULL, 10000, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	ec_value_free(v);
}

static void test_plain_garbage(void)
{
	int me = 0, fd = dial(&me);
	CU_ASSERT_FATAL(fd >= 0);
	static const char junk[] = "GET / HTTP/1.0\r\nHost: x\r\n\r\n\x16\x03\x01\xff\xff garbage";
	CU_ASSERT(write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
	CU_ASSERT(closed_by_master(fd));
	close(fd);
	CU_ASSERT(refused(me, "TLS handshake failed"));
	still_fine();
}

/* A TLS client (no certificate check: it is the master's side under test); the
 * handshake done, then token (may be NULL: none) sent. */
static SSL *tls_dial(SSL_CTX *sc, int *fd, int *me, const char *token)
{
	*fd = dial(me);
	if (*fd < 0)
		return NULL;
	SSL *s = SSL_new(sc);
	SSL_set_fd(s, *fd);
	if (SSL_connect(s) != 1) {
		SSL_free(s);
		return NULL;
	}
	if (token && SSL_write(s, token, (int)strlen(token)) != (int)strlen(token)) {
		SSL_free(s);
		return NULL;
	}
	return s;
}

static SSL_CTX *client_ctx(void)
{
	SSL_CTX *sc = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(sc, SSL_VERIFY_NONE, NULL);
	return sc;
}

/* Read on s until the master ends it: 1 if it did. */
static int tls_closed(SSL *s)
{
	char buf[256];
	for (;;) {
		int r = SSL_read(s, buf, sizeof(buf));
		if (r > 0)
			return 0; /* the master never speaks first */
		int e = SSL_get_error(s, r);
		return e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL;
	}
}

static void token_refused(const char *token, const char *why)
{
	SSL_CTX *sc = client_ctx();
	int fd = -1, me = 0;
	SSL *s = tls_dial(sc, &fd, &me, token);
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT(tls_closed(s));
	CU_ASSERT(refused(me, why));
	SSL_free(s);
	close(fd);
	SSL_CTX_free(sc);
	still_fine();
}

static void test_no_token(void)
{
	token_refused(NULL, "no whole token");
}

static void test_short_token(void)
{
	token_refused("abcdef", "no whole token");
}

static void test_wrong_token(void)
{
	char tok[65];
	memset(tok, 'a', 64);
	tok[64] = '\0';
	token_refused(tok, "wrong, used or expired token");
}

static void test_replayed_token(void)
{
	int rc = 0;
	ec_value *v = ec_test_call(other, "tlsfn", "spent_token", NULL, 10000, &rc);
	CU_ASSERT_FATAL(rc == 0 && v && (v->type == EC_T_STR || v->type == EC_T_BYTES) &&
	                v->u.s.len == 64);
	token_refused(v->u.s.data, "wrong, used or expired token");
	ec_value_free(v);
}

/* A client limited to what the master does not take: its handshake is refused. */
static void old_refused(int max_version, const char *ciphers)
{
	SSL_CTX *sc = client_ctx();
	SSL_CTX_set_security_level(sc, 0); /* let the client offer what it asks */
	SSL_CTX_set_min_proto_version(sc, 0);
	SSL_CTX_set_max_proto_version(sc, max_version);
	if (ciphers)
		CU_ASSERT_FATAL(SSL_CTX_set_cipher_list(sc, ciphers) == 1);
	int me = 0, fd = dial(&me);
	CU_ASSERT_FATAL(fd >= 0);
	SSL *s = SSL_new(sc);
	SSL_set_fd(s, fd);
	CU_ASSERT(SSL_connect(s) != 1);
	CU_ASSERT(refused(me, "TLS handshake failed"));
	SSL_free(s);
	close(fd);
	SSL_CTX_free(sc);
	still_fine();
}

static void test_tls11(void)
{
	old_refused(TLS1_1_VERSION, NULL);
}

static void test_cbc_cipher(void)
{
	old_refused(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA");
}

static void test_stalled_handshake(void)
{
	int me = 0, fd = dial(&me);
	CU_ASSERT_FATAL(fd >= 0);
	/* Half a ClientHello's record header, then nothing. */
	CU_ASSERT(write(fd, "\x16\x03\x01", 3) == 3);
	CU_ASSERT(closed_by_master(fd));
	close(fd);
	CU_ASSERT(refused(me, "its TLS handshake was not finished in time"));
	still_fine();
}

/* A certificate and key made with the openssl command in dir (k.pem, c.pem, and
 * k2.pem: another key); its SHA-256 in fp. 0, or -1 (no openssl command). */
static int make_files(const char *dir, char fp[65])
{
	char cmd[1600];
	snprintf(cmd, sizeof(cmd),
	         "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	         "-keyout k.pem -out c.pem -days 1 -subj /CN=tlstest >/dev/null 2>&1 && "
	         "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out k2.pem "
	         ">/dev/null 2>&1", dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/c.pem", dir);
	FILE *f = fopen(cmd, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	int ok = x && X509_digest(x, EVP_sha256(), md, &n) && n == 32;
	X509_free(x);
	for (unsigned i = 0; ok && i < n; i++)
		snprintf(fp + 2 * i, 3, "%02x", md[i]);
	return ok ? 0 : -1;
}

static void test_configured_cert(void)
{
	char dir[] = "/tmp/ectls-test.XXXXXX", fp[65], cert[200], key[200], key2[200];
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	if (make_files(dir, fp)) {
		printf("    SKIP: no openssl command\n");
		return;
	}
	snprintf(cert, sizeof(cert), "connect_back_cert=%s/c.pem", dir);
	snprintf(key, sizeof(key), "connect_back_key=%s/k.pem", dir);
	snprintf(key2, sizeof(key2), "connect_back_key=%s/k2.pem", dir);
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", cur->path);
	const char *ov[] = {"transport=local", "connect_back=true", opt, cert, key, NULL};
	struct ec_error err = {0};
	ec_context *c = NULL;
	CU_ASSERT_EQUAL(ec_context_connect(master, "ownca", ov, 30000, &c, &err), 0);
	if (c) {
		int rc = 0;
		ec_value_free(ec_test_call(c, "tlsfn", "wait_switched", NULL, 20000, &rc));
		ec_value *v = ec_test_call(c, "tlsfn", "peer_sha256", NULL, 10000, &rc);
		CU_ASSERT(rc == 0 && v && (v->type == EC_T_STR || v->type == EC_T_BYTES) &&
		          !strcmp(v->u.s.data, fp));
		ec_value_free(v);
		ec_context_shutdown(c, 3000, NULL);
	} else {
		printf("    %s\n", err.msg);
	}
	/* A key that is not the certificate's: refused before anything starts. */
	const char *bad[] = {"transport=local", "connect_back=true", opt, cert, key2, NULL};
	c = NULL;
	CU_ASSERT_EQUAL(ec_context_connect(master, "badkey", bad, 30000, &c, &err), EC_ECONFIG);
	printf("    %s\n", err.msg);
	CU_ASSERT(strstr(err.msg, "connect_back_cert") && strstr(err.msg, "k2.pem"));
	if (c)
		ec_context_shutdown(c, 3000, NULL);
	/* One of the two alone is a configuration error. */
	const char *half[] = {"transport=local", "connect_back=true", opt, cert, NULL};
	CU_ASSERT_EQUAL(ec_context_connect(master, "half", half, 30000, &c, &err), EC_ECONFIG);
	CU_ASSERT(strstr(err.msg, "go together") != NULL);
	char rm[300];
	snprintf(rm, sizeof(rm), "rm -rf %s", dir);
	CU_ASSERT(system(rm) == 0);
	still_fine();
}

/* connect_back_listen binds, connect_back_address is what the context is told (a
 * master behind NAT, or on several networks). */
static void test_listen_apart(void)
{
	struct ec_error err = {0};
	/* Bound on every address, told 127.0.0.2: it connects there. */
	ec_context *c = NULL;
	char opt[600];
	snprintf(opt, sizeof(opt), "python=%s", cur->path);
	const char *wide[] = {"transport=local", "connect_back=true", opt,
	                      "connect_back_listen=0.0.0.0", "connect_back_address=127.0.0.2", NULL};
	c = NULL;
	CU_ASSERT_EQUAL(ec_context_connect(master, "wide", wide, 30000, &c, &err), 0);
	if (c) {
		int rc = 0;
		ec_value_free(ec_test_call(c, "tlsfn", "wait_switched", NULL, 20000, &rc));
		ec_value *v = ec_test_call(c, "tlsfn", "info", NULL, 10000, &rc);
		const ec_value *a = rc ? NULL : ec_value_dict_get(v, "address");
		CU_ASSERT(a && a->type == EC_T_STR && !strcmp(a->u.s.data, "127.0.0.2"));
		printf("    bound on 0.0.0.0, told %s: connected\n", a ? a->u.s.data : "?");
		ec_value_free(v);
		ec_context_shutdown(c, 3000, NULL);
	} else {
		printf("    %s\n", err.msg);
	}
	/* Bound on 127.0.0.3 only, told the default (loopback, 127.0.0.1): nothing answers
	 * there. The context is in use over its transport meanwhile (the lazy switch), so
	 * its connect succeeds; then it says why it cannot connect back (a LOG frame, on
	 * its transport) and exits, and the master says it ended before it connected back,
	 * to where. */
	const char *apart[] = {"transport=local", "connect_back=true", opt,
	                       "connect_back_listen=127.0.0.3", "connect_timeout=20", NULL};
	c = NULL;
	CU_ASSERT_EQUAL(ec_context_connect(master, "apart", apart, 30000, &c, &err), 0);
	if (c) {
		ec_value *res = NULL;
		int rc = ec_context_call(c, "tlsfn", "wait_switched", NULL, NULL, 20000, &res, &err);
		ec_value_free(res);
		printf("    bound on 127.0.0.3, told 127.0.0.1: %s\n", err.msg);
		CU_ASSERT_EQUAL(rc, EC_ECLOSED);
		CU_ASSERT(strstr(err.msg, "'apart'") && strstr(err.msg, "127.0.0.1") &&
		          strstr(err.msg, "before the context connected back") &&
		          strstr(err.msg, "it said: context apart: cannot connect back"));
		CU_ASSERT(ec_test_log_wait(NULL, "context apart: cannot connect back to the master "
		                                 "at 127.0.0.1 port", NULL));
		ec_context_shutdown(c, 3000, NULL);
	}
	/* Not an address: said with the key. */
	const char *bad[] = {"transport=local", "connect_back=true", opt,
	                     "connect_back_listen=nowhere.invalid", NULL};
	c = NULL;
	CU_ASSERT_EQUAL(ec_context_connect(master, "badlisten", bad, 30000, &c, &err), EC_ECONFIG);
	printf("    %s\n", err.msg);
	CU_ASSERT(strstr(err.msg, "connect_back_listen") != NULL);
	if (c)
		ec_context_shutdown(c, 3000, NULL);
	still_fine();
}

/* Run the shell command line; its exit status, its stderr in out. */
static int run_line(const char *line, char *out, size_t cap)
{
	int p[2];
	if (pipe(p))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(p[1], 2);
		close(p[0]);
		execl("/bin/sh", "sh", "-c", line, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	size_t n = 0;
	ssize_t r;
	while ((r = read(p[0], out + n, cap - 1 - n)) > 0 || (r < 0 && errno == EINTR))
		n += r > 0 ? (size_t)r : 0;
	out[n] = '\0';
	close(p[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* An invited context (transport: tls, no launcher): its invitation, valid valid_s. */
static ec_connect *invite(const char *name, const char *valid_s, char *line, size_t cap)
{
	char opt[600], valid[64];
	snprintf(opt, sizeof(opt), "python=%s", cur->path);
	snprintf(valid, sizeof(valid), "connect_timeout=%s", valid_s);
	const char *ov[] = {"transport=tls", opt, valid, NULL};
	struct ec_error err = {0};
	ec_connect *c = NULL;
	if (ec_context_connect_async(master, name, ov, 0, &c, &err) ||
	    ec_connect_invitation(c, line, cap, &err)) {
		printf("    invite %s: %s\n", name, err.msg);
		ec_connect_free(c);
		return NULL;
	}
	return c;
}

static char invitation[65536];

static void test_invite_once_twice(void)
{
	ec_connect *c = invite("guest", "30", invitation, sizeof(invitation));
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT(strstr(invitation, "base64") != NULL && !strchr(invitation, '\n'));
	/* Whoever runs it becomes the context: here, in the background. */
	pid_t runner = fork();
	if (runner == 0) {
		char out[4096];
		_exit(run_line(invitation, out, sizeof(out)));
	}
	ec_context *ctx2 = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(ec_connect_wait(c, 0, &ctx2, &err), 0);
	ec_connect_free(c);
	if (ctx2) {
		int rc = 0;
		ec_value *v = ec_test_call(ctx2, "os", "getppid", NULL, 10000, &rc);
		CU_ASSERT(rc == 0 && v && v->type == EC_T_INT);
		ec_value_free(v);
		/* Module forwarding and logs, as for any context. */
		v = ec_test_call(ctx2, "tlsfn", "log", ec_value_cstr("invited-log"), 10000, &rc);
		CU_ASSERT_EQUAL(rc, 0);
		ec_value_free(v);
		CU_ASSERT(ec_test_log_wait("econtext.ctx.guest.tlstest", "invited-log", NULL));
		/* Used twice: refused, said on both sides. */
		char out[4096];
		CU_ASSERT_EQUAL(run_line(invitation, out, sizeof(out)), 1);
		printf("    second use: %s", out);
		CU_ASSERT(strstr(out, "refused this invitation") != NULL);
		CU_ASSERT(ec_test_log_wait(LOGGER, "wrong, used or expired token", NULL));
		CU_ASSERT_EQUAL(ec_context_shutdown(ctx2, 5000, NULL), 0);
	}
	int st = -1;
	waitpid(runner, &st, 0);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	still_fine();
}

static void test_invite_expired(void)
{
	ec_connect *c = invite("late", "1", invitation, sizeof(invitation));
	CU_ASSERT_FATAL(c != NULL);
	ec_context *ctx2 = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(ec_connect_wait(c, 0, &ctx2, &err), EC_ETIMEDOUT);
	printf("    %s\n", err.msg);
	ec_connect_free(c);
	char out[4096];
	ec_test_log_clear();
	CU_ASSERT_EQUAL(run_line(invitation, out, sizeof(out)), 1);
	printf("    run after expiry: %s", out);
	CU_ASSERT(strstr(out, "refused this invitation") != NULL);
	CU_ASSERT(ec_test_log_wait(LOGGER, "wrong, used or expired token", NULL));
	explicit_bzero(invitation, sizeof(invitation));
	still_fine();
}

/* The master out of descriptors: the listener is paused for 1 s, not spun on; a client
 * that came meanwhile is served once there are descriptors again. */
static void test_out_of_fds(void)
{
	struct rlimit old;
	CU_ASSERT_FATAL(getrlimit(RLIMIT_NOFILE, &old) == 0);
	ec_test_log_clear();
	/* Every descriptor number below the limit taken: the gaps filled with /dev/null. */
	int fill[1024], nfill = 0, top = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (atoi(e->d_name) > top)
			top = atoi(e->d_name);
	if (d)
		closedir(d);
	struct rlimit low = old;
	low.rlim_cur = (rlim_t)top + 1;
	CU_ASSERT_FATAL(setrlimit(RLIMIT_NOFILE, &low) == 0);
	while (nfill < 1024 && (fill[nfill] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		nfill++;
	pid_t child = fork();
	if (child == 0) { /* a client with descriptors of its own */
		setrlimit(RLIMIT_NOFILE, &old);
		int me = 0, fd = dial(&me);
		if (fd < 0 || write(fd, "junk\r\n", 6) != 6)
			_exit(2);
		_exit(closed_by_master(fd) ? 0 : 1);
	}
	int paused = child > 0 && ec_test_log_wait(LOGGER, "not accepting for 1 s", NULL);
	while (nfill > 0)
		close(fill[--nfill]);
	setrlimit(RLIMIT_NOFILE, &old);
	CU_ASSERT_FATAL(child > 0);
	CU_ASSERT(paused);
	int st = -1;
	waitpid(child, &st, 0);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CU_ASSERT(ec_test_log_count(LOGGER, "TLS handshake failed", NULL) >= 1);
	still_fine();
}

#define HALF_OPEN 200

static void test_half_open(void)
{
	int fds[HALF_OPEN], mes[HALF_OPEN], n = 0;
	for (int i = 0; i < HALF_OPEN; i++)
		if ((fds[i] = dial(&mes[i])) >= 0)
			n++;
	CU_ASSERT_EQUAL_FATAL(n, HALF_OPEN);
	/* Meanwhile: the connected context answers, and a new one connects back. */
	still_fine();
	struct ec_error err = {0};
	ec_context *c = connect_back(master, cur, "newcomer", NULL, &err);
	CU_ASSERT(c != NULL);
	if (c) {
		int rc = 0;
		ec_value *v = ec_test_call(c, "os", "getpid", NULL, 10000, &rc);
		CU_ASSERT_EQUAL(rc, 0);
		ec_value_free(v);
		ec_context_shutdown(c, 3000, NULL);
	}
	int all = 1;
	for (int i = 0; i < HALF_OPEN; i++) {
		all &= closed_by_master(fds[i]);
		all &= refused(mes[i], "its TLS handshake was not finished in time");
		close(fds[i]);
	}
	CU_ASSERT(all);
	still_fine();
}

static CU_TestInfo tests[] = {
	{"calls and module forwarding over TLS", test_calls},
	{"3 MiB there and back; the core reads and writes the connection itself", test_bulk},
	{"both ways at once on the connection, calls among the values", test_duplex},
	{"calls pipelined across the switch: in order, none lost", test_calls_across},
	{"a channel streaming across the switch: in order, none lost", test_channel_across},
	{"logs and stderr over TLS", test_logs},
	{"the TLS connection cut: the call fails, the context exits", test_cut_tls},
	{"the launcher's stream cut: the call fails, the context exits", test_cut_launcher},
	{"the master killed: the context gone within 5 s", test_master_killed},
	{"not connected back within connect_back_timeout: lost, said why", test_switch_timeout},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo hostile_tests[] = {
	{"plain TCP garbage", test_plain_garbage},
	{"a TLS client with no token", test_no_token},
	{"a TLS client with half a token", test_short_token},
	{"a wrong token", test_wrong_token},
	{"a replayed token", test_replayed_token},
	{"a client of TLS 1.1 at most", test_tls11},
	{"TLS 1.2 with CBC ciphers only (no AEAD)", test_cbc_cipher},
	{"a handshake that never finishes", test_stalled_handshake},
	{"200 half-open connections at once", test_half_open},
	{"the master out of descriptors: the listener paused, then served", test_out_of_fds},
	{"a configured certificate and key, pinned; a wrong key, half a pair", test_configured_cert},
	{"connect_back_listen bound, connect_back_address told", test_listen_apart},
	{"an invitation used once, then twice (refused, said on both sides)", test_invite_once_twice},
	{"an invitation expired: refused, said on both sides", test_invite_expired},
	CU_TEST_INFO_NULL,
};

int main(void)
{
	setenv("ECONTEXT_CONFIG", "/dev/null", 1);
	signal(SIGPIPE, SIG_IGN);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	npythons = ec_test_pythons(pythons, 10);
	ec_test_python_suites("connect-back", suite_init, suite_clean, tests);
	CU_pSuite h = CU_add_suite("hostile clients at the listener", hostile_init, hostile_clean);
	for (const CU_TestInfo *t = hostile_tests; t->pName; t++)
		CU_add_test(h, t->pName, t->pTestFunc);
	return ec_test_run();
}
