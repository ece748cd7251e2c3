/* fuzz_tlslisten.c: libFuzzer target for the tls plugin's listener (plugins/tls/
 * tls_listen.c): what a party that connects to it sends first, and what the listener
 * does with it (handshake, token, hand-over or refusal). One end of a non-blocking
 * socketpair goes to the listener as an accepted connection (tls_conn_add, tls_int.h);
 * the target plays the other end on the same thread, turning the listener's state
 * machine with tls_serve between its steps, as the broker would. One master (its key
 * and certificate) serves every input; each input gets a listener of its own (no bound
 * socket) and two instances waiting with known tokens: a context's and an invited one's.
 * The listener's deadlines are set beyond any run, so no verdict depends on the clock.
 *
 * The input: a flags byte, a chunk byte, then the bytes the client sends (at most 4096).
 *   flags & 1: 0, the bytes go raw (garbage, a plain TCP client, a broken ClientHello);
 *              1, a real TLS client (OpenSSL, verifying nothing) does its handshake with
 *              the listener, then sends the bytes: a token, then what follows.
 *   flags >> 1 & 3: how the client ends: 0 it stays open; 1 close_notify (raw: as 2);
 *              2 shutdown(SHUT_WR); 3 close_notify then close.
 *   flags & 8: the TLS client goes no higher than TLS 1.2.
 *   flags & 16: then a second client, from another peer, sends the same bytes the
 *              same way (a replayed token).
 *   chunk: the first 128 bytes go in writes (TLS records) of that many bytes, the
 *          listener turned after each, the rest in one; 0, all in one write.
 * What must hold: raw bytes are refused, with a logged reason naming the peer; a TLS
 * client is handed to the instance whose token its first 64 bytes are, exactly when
 * they are one (a launched context's followed by U, 16 lowercase hex digits: the
 * context's instance has a layer below, the invited one none), and the bytes after
 * them are left for that instance's stream, every one (the listener never reads past
 * the token and U); anything else is refused with its
 * reason logged; a connection left waiting for its token is refused when its listener
 * goes; a token is taken once (the same bytes again are refused, the first connection
 * left alone); no token is ever logged. A crash, a leak or a broken rule aborts. */
#include "ecbuild.h"

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "econtext.h"
#include "host.h"
#include "tls_int.h"

#define PEER "198.51.100.7:40007"
#define PEER2 "203.0.113.9:40009"
#define MAX_SEND 4096
#define CHUNKED 128 /* bytes sent in chunks; the rest in one write */

/* The known tokens (64 hex digits, as tls_create makes them). */
static const char token_ctx[] = "0f1e2d3c4b5a69788796a5b4c3d2e1f00123456789abcdeffedcba9876543210";
static const char token_inv[] = "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5";

static struct tls_state st;
static struct ec_host host;
static SSL_CTX *client_ctx;
static struct tls inst_ctx, inst_inv;
static char name_ctx[] = "ctx", name_inv[] = "invited";
static char logbuf[16384];
static size_t loglen;
static int show_log; /* FUZZ_TLSLISTEN_LOG set: each input's log on stderr */

static void fail(const char *what, const uint8_t *d, size_t n)
{
	fprintf(stderr, "fuzz_tlslisten: %s (input of %zu bytes, flags 0x%02x)\nlog:\n%s\n", what,
	        n, n ? d[0] : 0, logbuf);
	abort();
}

static void capture_log(const struct ec_host *h, int level, const char *fmt, ...)
{
	(void)h;
	(void)level;
	if (loglen >= sizeof(logbuf) - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(logbuf + loglen, sizeof(logbuf) - loglen - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	loglen += (size_t)n < sizeof(logbuf) - loglen - 1 ? (size_t)n : sizeof(logbuf) - loglen - 1;
	logbuf[loglen++] = '\n';
	logbuf[loglen] = '\0';
}

static void init(void)
{
	show_log = getenv("FUZZ_TLSLISTEN_LOG") != NULL;
	signal(SIGPIPE, SIG_IGN); /* as the master: a write to a closed peer is EPIPE */
	host = *ec__host_get();
	host.log = capture_log;
	struct ec_error err = {0};
	if (tls_state_init(&st, &host, &err)) {
		fprintf(stderr, "fuzz_tlslisten: %s\n", err.msg);
		abort();
	}
	if ((st.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		abort();
	client_ctx = SSL_CTX_new(TLS_client_method());
	if (!client_ctx)
		abort();
	SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(client_ctx, SSL_SESS_CACHE_OFF);
	inst_ctx.name = name_ctx;
	inst_inv.name = name_inv;
}

/* The listener of one input: the master's certificate, no socket of its own. */
static struct tls_listener *listener_new(void)
{
	struct tls_listener *l = calloc(1, sizeof(*l));
	if (!l || !(l->address = strdup("192.0.2.1")))
		abort();
	l->fd = -1;
	l->port = 40000;
	l->timeout_ms = 1L << 40; /* no deadline within a run */
	l->users = 1;
	l->next = st.listeners;
	st.listeners = l;
	return l;
}

/* A launched context's layer below (only its name is used: the context's side sends
 * U after its token, docs/tls.md). */
static struct ec_transport launcher = {.name = "local"};

static void wait_on(struct tls *t, const char *token)
{
	const char *name = t->name;
	memset(t, 0, sizeof(*t));
	t->name = (char *)name;
	t->below = t == &inst_ctx ? &launcher : NULL;
	t->st = &st;
	t->host = &host;
	t->fd = -1;
	t->ssl = NULL;
	t->switched = 0;
	memcpy(t->token, token, TLS_TOKEN_HEX);
	t->waiting = 1;
	t->next_waiting = st.waiting;
	st.waiting = t;
}

/* The instance's connection after the switch: every byte it reads (until it would
 * wait, or the end) into got. */
static size_t stream_read(struct tls *t, uint8_t *got, size_t cap)
{
	size_t have = 0;
	for (int i = 0; i < 1000 && have < cap; i++) {
		ERR_clear_error();
		int r = SSL_read(t->ssl, got + have, (int)(cap - have));
		if (r <= 0)
			break;
		have += (size_t)r;
	}
	ERR_clear_error();
	return have;
}

static void release(struct tls *t)
{
	if (t->ssl)
		SSL_free(t->ssl);
	if (t->fd >= 0)
		close(t->fd);
	t->ssl = NULL;
	t->fd = -1;
	t->waiting = 0;
	t->next_waiting = NULL;
}

static void serve(int times)
{
	for (int i = 0; i < times; i++)
		tls_serve(&st);
}

/* The client's side: raw writes, or through its SSL. 0 while the peer takes them. */
static int client_send(SSL *ssl, int fd, const uint8_t *p, size_t n)
{
	if (!ssl) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		return w == (ssize_t)n ? 0 : -1;
	}
	ERR_clear_error();
	int r = SSL_write(ssl, p, (int)n);
	ERR_clear_error();
	return r == (int)n ? 0 : -1;
}

/* The bytes the listener wrote to the client, drained (a raw client never reads). */
static void drain(int fd)
{
	char junk[4096];
	while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
}

/* One client of the listener, its end of the socketpair: raw, or through its SSL. */
struct client {
	SSL *ssl;
	int fd;
};

static const uint8_t *in_data;
static size_t in_size;
#define FAIL(what) fail(what, in_data, in_size)

/* A client connects from peer, sends n bytes of p in chunks, ends as told, and the
 * listener is turned until it has seen all of it. */
static void client_run(struct client *c, const char *peer, int tls, int tls12, int end,
                       const uint8_t *p, size_t n, size_t chunk)
{
	struct tls_listener *l = st.listeners;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		abort();
	size_t before = st.npending;
	tls_conn_add(&st, l, sv[0], peer);
	if (st.npending != before + 1)
		FAIL("the connection is not pending");
	c->ssl = NULL;
	c->fd = sv[1];
	if (tls) {
		if (!(c->ssl = SSL_new(client_ctx)) || !SSL_set_fd(c->ssl, c->fd))
			abort();
		SSL_set_max_proto_version(c->ssl, tls12 ? TLS1_2_VERSION : 0);
		SSL_set_connect_state(c->ssl);
		int done = 0;
		for (int i = 0; i < 64 && !done; i++) {
			ERR_clear_error();
			int r = SSL_do_handshake(c->ssl);
			if (r == 1) {
				done = 1;
				break;
			}
			int e = SSL_get_error(c->ssl, r);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				break;
			serve(1);
		}
		ERR_clear_error();
		if (!done)
			FAIL("a TLS client's handshake with the listener did not complete");
	}
	int open = 1; /* the listener still takes bytes */
	for (size_t off = 0, k; off < n && open; off += k) {
		k = off >= CHUNKED ? n - off : n - off < chunk ? n - off : chunk;
		if (client_send(c->ssl, c->fd, p + off, k))
			open = 0;
		if (!c->ssl)
			drain(c->fd);
		serve(1);
	}
	if (end == 1 && c->ssl) {
		SSL_shutdown(c->ssl);
	} else if (end == 1 || end == 2) {
		shutdown(c->fd, SHUT_WR);
	} else if (end == 3) {
		if (c->ssl)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
		close(c->fd);
		c->fd = -1;
	}
	serve(4);
	if (c->fd >= 0 && !c->ssl)
		drain(c->fd);
}

static void client_free(struct client *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		init();
		ready = 1;
	}
	if (size < 2)
		return 0;
	in_data = data;
	in_size = size;
	int tls = data[0] & 1, end = data[0] >> 1 & 3, tls12 = data[0] & 8, again = data[0] & 16;
	size_t chunk = data[1];
	const uint8_t *p = data + 2;
	size_t n = size - 2 > MAX_SEND ? MAX_SEND : size - 2;
	if (!chunk)
		chunk = n ? n : 1;
	loglen = 0;
	logbuf[0] = '\0';
	ERR_clear_error();

	struct tls_listener *l = listener_new();
	wait_on(&inst_inv, token_inv);
	wait_on(&inst_ctx, token_ctx);
	struct client c1, c2 = {NULL, -1};
	client_run(&c1, PEER, tls, tls12, end, p, n, chunk);

	/* The verdict. */
	/* The context's token must be followed by U, 16 lowercase hex digits. */
	struct tls *owner = NULL;
	size_t head = TLS_TOKEN_HEX;
	int count_ok = n >= TLS_TOKEN_HEX + TLS_COUNT_HEX;
	for (size_t i = TLS_TOKEN_HEX; count_ok && i < TLS_TOKEN_HEX + TLS_COUNT_HEX; i++)
		count_ok = (p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f');
	if (tls && n >= TLS_TOKEN_HEX) {
		if (!memcmp(p, token_ctx, TLS_TOKEN_HEX) && count_ok) {
			owner = &inst_ctx;
			head += TLS_COUNT_HEX;
		} else if (!memcmp(p, token_inv, TLS_TOKEN_HEX)) {
			owner = &inst_inv;
		}
	}
	struct tls *other = owner == &inst_ctx ? &inst_inv : &inst_ctx;
	if (other->switched || (!owner && inst_inv.switched))
		FAIL("a connection went to an instance whose token it did not send");
	if (owner) {
		if (!owner->switched || owner->waiting || st.npending)
			FAIL("the connection with a waiting token was not handed over");
		if (!other->waiting ||
		    memcmp(other->token, other == &inst_ctx ? token_ctx : token_inv, TLS_TOKEN_HEX))
			FAIL("the other instance stopped waiting");
		static uint8_t got[MAX_SEND + 1];
		size_t rest = n - head, have = stream_read(owner, got, sizeof(got));
		if (have != rest || memcmp(got, p + head, rest))
			FAIL("the bytes after the token did not all reach the instance's stream, "
			     "or others did");
		char said[160];
		snprintf(said, sizeof(said), "context %s connected back from %s", owner->name, PEER);
		if (!strstr(logbuf, said))
			FAIL("the hand-over was not logged with its peer");
	} else {
		if (!inst_ctx.waiting || !inst_inv.waiting)
			FAIL("an instance stopped waiting without a connection");
		/* Still pending: it waits for the rest of its handshake or token (its client
		 * is silent and open); its listener's end refuses it. */
		int ctx_short = tls && n >= TLS_TOKEN_HEX && !memcmp(p, token_ctx, TLS_TOKEN_HEX) &&
		                n < TLS_TOKEN_HEX + TLS_COUNT_HEX;
		if (st.npending && (end != 0 || (tls && n >= TLS_TOKEN_HEX && !ctx_short)))
			FAIL("a connection whose client ended is still pending");
		/* A TLS client that ends before its whole token, cleanly or not, is told
		 * apart from one whose token cannot be read. */
		if (tls && n < TLS_TOKEN_HEX && end != 0 &&
		    !strstr(logbuf, "refused the connection from " PEER ": it closed the "
		                    "connection before sending a whole token"))
			FAIL("a client that ended before its whole token was not refused for that");
	}
	if (again) {
		/* The same bytes again from another peer: a token is spent once used (and a
		 * refused one stays refused); the first connection is left alone. */
		SSL *first = owner ? owner->ssl : NULL;
		client_run(&c2, PEER2, tls, tls12, end, p, n, chunk);
		if (inst_ctx.switched + inst_inv.switched != (owner != NULL) ||
		    (owner && owner->ssl != first))
			FAIL("the same bytes from a second peer were taken, or disturbed the first");
		if (owner && !strstr(logbuf, "refused the connection from " PEER2 ": wrong, used "
		                             "or expired token"))
			FAIL("a used token was not refused as one");
	}
	l->users = 1;
	tls_listener_put(&st, l);
	if (st.npending || st.pending)
		FAIL("a connection outlived its listener");
	if (!owner && !strstr(logbuf, "refused the connection from " PEER ": "))
		FAIL("a connection was not refused with a reason naming its peer");
	if (again && !strstr(logbuf, "refused the connection from " PEER2 ": "))
		FAIL("the second connection was not refused with a reason naming its peer");
	if (strstr(logbuf, token_ctx) || strstr(logbuf, token_inv))
		FAIL("a token was logged");

	if (show_log)
		fprintf(stderr, "flags 0x%02x chunk %zu, %zu bytes:\n%s", data[0], chunk, n, logbuf);
	release(&inst_ctx);
	release(&inst_inv);
	st.waiting = NULL;
	client_free(&c1);
	client_free(&c2);
	ERR_clear_error();
	return 0;
}
