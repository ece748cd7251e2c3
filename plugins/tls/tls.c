/* tls.c: the `tls` transport: connect-back (docs/tls.md). A filter the core stacks on
 * a context's transport when its section says `connect_back: true`. Until the context
 * connects back it passes everything to the layer below (the boot: payload out, boot
 * output in); its boot words give the context the listener's address and port, the
 * certificate's SHA-256 and a per-context token. Once a connection on the listener
 * sends that token (tls_listen.c), the frames move to it; the layer below is then only
 * watched for its end, which ends the context as the connection's end does. */
#include "ecbuild.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "econtext.h"
#include "econtext/protocol.h"
#include "tls_int.h"

static int tls_load(const struct ec_host *host, void **state, struct ec_error *err)
{
	struct tls_state *st = calloc(1, sizeof(*st));
	if (!st)
		return host->error_set(err, EC_ENOMEM, "plugin tls", "out of memory");
	int rc = tls_state_init(st, host, err);
	if (rc) {
		free(st);
		return rc;
	}
	*state = st;
	return 0;
}

static void tls_unload(void *state)
{
	struct tls_state *st = state;
	if (!st)
		return;
	tls_state_free(st);
	free(st);
}

static const char *cfg_text(const struct ec_host *h, const struct ec_cfg *cfg, const char *key)
{
	const char *v = NULL;
	h->cfg_str(cfg, key, &v);
	return v && *v ? v : NULL;
}

static int has_local_address(const struct ec_transport_ops *o)
{
	return o->size >= offsetof(struct ec_transport_ops, local_address) +
	                       sizeof(o->local_address) &&
	       o->local_address;
}

/* The layer below that can say the master's address as its machine sees it (ssh,
 * under sudo or not), or NULL: the context runs here (local, sudo), loopback. */
static struct ec_transport *address_layer(struct ec_transport *below)
{
	for (struct ec_transport *b = below; b; b = b->below)
		if (has_local_address(b->ops))
			return b;
	return NULL;
}

/* t->lis, on addr (bound) for the context's configured certificate or the master's. */
static int get_listener(struct tls *t, const char *addr, const char *what, struct ec_error *err)
{
	int rc = tls_listener_get(t->st, addr, what, t->cert, t->key, &t->lis, t->name, err);
	if (rc)
		return rc;
	if (t->timeout_ms > 0 && t->timeout_ms < t->lis->timeout_ms)
		t->lis->timeout_ms = t->timeout_ms;
	t->lis->users++;
	return 0;
}

static void tls_free(struct tls *t)
{
	OPENSSL_cleanse(t->token, sizeof(t->token));
	free(t->cert);
	free(t->key);
	free(t->name);
	free(t);
}

static int tls_create(void *state, const struct ec_cfg *cfg, const struct ec_transport_info *info,
                      void **inst, struct ec_error *err)
{
	struct tls_state *st = state;
	const struct ec_host *h = st->host;
	if (info->below && info->below->name && !strcmp(info->below->name, "tls"))
		return h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, "connect_back"),
		                    "context '%s': a tls context (invited) cannot connect back "
		                    "again", info->context_name);
	/* Advertised: connect_back_address, else derived (boot_words); bound:
	 * connect_back_listen, else the advertised address. */
	const char *address = cfg_text(h, cfg, "connect_back_address");
	const char *listen = cfg_text(h, cfg, "connect_back_listen");
	if (address && strlen(address) >= TLS_ADDR_LEN)
		return h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, "connect_back_address"),
		                    "context '%s': connect_back_address is too long for an address",
		                    info->context_name);
	long timeout_ms = 10000;
	h->cfg_ms(cfg, "connect_back_timeout", &timeout_ms);
	const char *cert = cfg_text(h, cfg, "connect_back_cert");
	const char *key = cfg_text(h, cfg, "connect_back_key");
	if (!cert != !key)
		return h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, cert ? "connect_back_cert"
		                                                            : "connect_back_key"),
		                    "context '%s': connect_back_cert and connect_back_key go "
		                    "together", info->context_name);
	struct tls *t = calloc(1, sizeof(*t));
	if (!t || !(t->name = strdup(info->context_name)) || (cert && !(t->cert = strdup(cert))) ||
	    (key && !(t->key = strdup(key)))) {
		if (t)
			tls_free(t);
		return h->error_set(err, EC_ENOMEM, info->context_name, "out of memory");
	}
	t->st = st;
	t->host = h;
	t->below = info->below;
	t->fd = -1;
	t->timeout_ms = timeout_ms;
	if (address)
		snprintf(t->advertise, sizeof(t->advertise), "%s", address);
	else if (!address_layer(t->below))
		snprintf(t->advertise, sizeof(t->advertise), "127.0.0.1");
	unsigned char raw[TLS_TOKEN_LEN];
	/* The kernel's CSPRNG, as the core's key: OpenSSL's DRBG would cost ~2 ms of set-up
	 * before the spawn, for the same quality. */
	int rc = getrandom(raw, sizeof(raw), 0) == (ssize_t)sizeof(raw) ||
	                 RAND_bytes(raw, sizeof(raw)) == 1
	             ? 0
	             : h->error_set(err, EC_ESYS, t->name,
	                            "context '%s': cannot draw a token (getrandom, RAND_bytes)",
	                            t->name);
	for (int i = 0; !rc && i < TLS_TOKEN_LEN; i++) {
		static const char hex[] = "0123456789abcdef";
		t->token[2 * i] = hex[raw[i] >> 4];
		t->token[2 * i + 1] = hex[raw[i] & 15];
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	/* Bound now when the address is known; else once the layer below has connected. */
	if (!rc && (listen || t->advertise[0]))
		rc = get_listener(t, listen ? listen : t->advertise,
		                  listen    ? "connect_back_listen"
		                  : address ? "connect_back_address"
		                            : "the default connect_back_address",
		                  err);
	t->bind_derived = !listen && !t->advertise[0];
	if (rc) {
		tls_free(t);
		return rc;
	}
	t->waiting = 1;
	t->next_waiting = st->waiting;
	st->waiting = t;
	*inst = t;
	return 0;
}

/* The master's address as the launching layer's machine sees it (ssh's local address),
 * for a context with no connect_back_address; its listener too when it has no
 * connect_back_listen. */
static int derive_address(struct tls *t, struct ec_error *err)
{
	const struct ec_host *h = t->host;
	struct ec_transport *b = address_layer(t->below);
	struct ec_error e = {0};
	char addr[TLS_ADDR_LEN] = "";
	int rc = b ? b->ops->local_address(b->inst, addr, sizeof(addr), &e) : EC_ENOTFOUND;
	if (rc == EC_ENOTFOUND)
		return h->error_set(err, EC_ECONFIG, t->name,
		                    "context '%s': no default connect_back_address: %s; set "
		                    "connect_back_address to an address of the master its machine "
		                    "reaches", t->name, e.msg[0] ? e.msg : "its transport says none");
	if (rc || !addr[0])
		return h->error_set(err, rc ? rc : EC_EINVAL, t->name,
		                    "context '%s': cannot tell the master's address as %s sees it: %s",
		                    t->name, b->name, e.msg[0] ? e.msg : "no address");
	addr[sizeof(addr) - 1] = '\0';
	memcpy(t->advertise, addr, sizeof(addr));
	h->log(h, EC_LOG_DEBUG, "context %s connects back to %s (the master's address as %s "
	       "sees it)", t->name, t->advertise, b->name);
	return t->bind_derived ? get_listener(t, t->advertise, "the master's address as its "
	                                      "transport sees it", err)
	                       : 0;
}

/* "ADDRESS PORT FINGERPRINT TOKEN": where to connect, what to pin, what to send. None
 * for an invited context: it came over the connection already. Called once the stack
 * below has started (its connection to the context's machine is open). */
static int tls_boot_words(void *inst, char *buf, size_t cap, struct ec_error *err)
{
	struct tls *t = inst;
	if (!t->below) {
		buf[0] = '\0';
		return 0;
	}
	if (!t->advertise[0]) {
		int rc = derive_address(t, err);
		if (rc)
			return rc;
	}
	int rc = tls_listener_ready(t->st, t->lis, t->name, err);
	if (rc)
		return rc;
	int n = snprintf(buf, cap, "%s %d %s %.*s", t->advertise, t->lis->port,
	                 t->lis->fingerprint, TLS_TOKEN_HEX, t->token);
	if (n < 0 || (size_t)n >= cap)
		return t->host->error_set(err, EC_EINVAL, t->name,
		                          "context '%s': connect-back words too long", t->name);
	return 0;
}

static void unwait(struct tls *t)
{
	if (!t->waiting)
		return;
	for (struct tls **pp = &t->st->waiting; *pp; pp = &(*pp)->next_waiting)
		if (*pp == t) {
			*pp = t->next_waiting;
			break;
		}
	t->waiting = 0;
	OPENSSL_cleanse(t->token, sizeof(t->token));
}

static int tls_invitation_op(void *inst, const struct ec_argv *argv, char *buf, size_t cap,
                             struct ec_error *err)
{
	struct tls *t = inst;
	if (t->below)
		return EC_ENOTFOUND;
	int rc = tls_listener_ready(t->st, t->lis, t->name, err);
	return rc ? rc : tls_invitation(t, argv, buf, cap, err);
}

/* An invited context runs nothing: its stream opens when it connects. */
static int tls_start(void *inst, const struct ec_argv *argv, struct ec_pollset *ps,
                     struct ec_error *err)
{
	struct tls *t = inst;
	return t->below ? t->below->ops->start(t->below->inst, argv, ps, err) : 0;
}

static int tls_adopt(void *inst, pid_t pid, int fd, struct ec_error *err)
{
	struct tls *t = inst;
	const struct ec_transport_ops *o = t->below ? t->below->ops : NULL;
	if (!o || o->size < offsetof(struct ec_transport_ops, adopt) + sizeof(o->adopt) ||
	    !o->adopt)
		return t->host->error_set(err, EC_EINVAL, t->name,
		                          "context '%s': its transport cannot adopt a direct boot",
		                          t->name);
	t->direct = 1; /* frames from the first byte sent (docs/protocol.md 1) */
	return o->adopt(t->below->inst, pid, fd, err);
}

static int tls_on_boot_output(void *inst, const char *line, size_t len, struct ec_error *err)
{
	struct tls *t = inst;
	const struct ec_transport_ops *o = t->below ? t->below->ops : NULL;
	return o && o->on_boot_output ? o->on_boot_output(t->below->inst, line, len, err) : 0;
}

/* A failed SSL op: EC_EAGAIN with what it waits for noted, 0 at a clean end, or an
 * error naming the context and its peer. */
static ssize_t ssl_result(struct tls *t, int r, int reading, struct ec_error *err)
{
	int e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		if (reading)
			t->read_wants_write = e == SSL_ERROR_WANT_WRITE;
		else
			t->write_wants_read = e == SSL_ERROR_WANT_READ;
		return EC_EAGAIN;
	}
	if (e == SSL_ERROR_ZERO_RETURN && t->below) {
		/* The context's close_notify: it goes because its launcher's stream ended. */
		int rc = t->host->error_set(err, EC_ECLOSED, t->name,
		                            "context '%s': the stream of its transport (%s) ended; "
		                            "its life is tied to it (it said so on its TLS "
		                            "connection)", t->name, t->below->name);
		return reading ? 0 : rc;
	}
	unsigned long first = ERR_peek_error();
	int eof = e == SSL_ERROR_ZERO_RETURN ||
	          (e == SSL_ERROR_SYSCALL && !first &&
	           (r == 0 || errno == ECONNRESET || errno == EPIPE)) ||
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
	          (e == SSL_ERROR_SSL && ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING) ||
#endif
	          0;
	if (eof) {
		ERR_clear_error();
		int rc = t->host->error_set(err, EC_ECLOSED, t->name,
		                            "context '%s': its TLS connection from %s ended (the "
		                            "context exited, or the connection was cut)",
		                            t->name, t->peer);
		return reading ? 0 : rc;
	}
	unsigned long ssl_err = ERR_get_error();
	char why[256] = "";
	if (ssl_err)
		ERR_error_string_n(ssl_err, why, sizeof(why));
	ERR_clear_error();
	return t->host->error_set(err, EC_ECLOSED, t->name,
	                          "context '%s': its TLS connection from %s failed: %s", t->name,
	                          t->peer, ssl_err ? why : strerror(errno));
}

/* After the switch: the launcher's stream only ties lifetimes. 0 while it is open,
 * 1 at its end (or failure). What it still says is boot output nobody reads now. */
static int below_ended(struct tls *t, struct ec_error *err)
{
	if (!t->below)
		return 0;
	char buf[4096];
	struct ec_pollset ps = {.cap = EC_POLLSET_CAP};
	struct ec_error e = {0};
	for (int i = 0; i < 16; i++) {
		ps.n = 0;
		ps.timeout_ms = 0;
		ssize_t n = t->below->ops->recv(t->below->inst, buf, sizeof(buf), &ps, &e);
		if (n == EC_EAGAIN)
			return 0;
		if (n <= 0) {
			t->host->error_set(err, EC_ECLOSED, t->name,
			                   "context '%s': the stream of its transport (%s) ended%s%s; "
			                   "its life is tied to it", t->name, t->below->name,
			                   n < 0 ? ": " : "", n < 0 ? e.msg : "");
			return 1;
		}
		t->host->log(t->host, EC_LOG_DEBUG, "context %s: its launcher said: %.*s",
		             t->name, (int)n, buf);
	}
	return 0;
}

/* ---- the lazy switch (docs/tls.md) ----------------------------------------------
 * Until the context's connection is up, its frames go over the layer below; the layer
 * counts what it sends there after the boot payload (D) and what comes from there from
 * ECREADY on. The context sends U, its own count of the latter, after its token; the
 * master answers with D, first thing on the connection, and sends on it from then on;
 * it reads from below until U bytes came, then from the connection. */

/* Bytes sent through below: the first 10 are the payload's length (a first-stage boot). */
static void count_sent(struct tls *t, const char *p, size_t n)
{
	for (size_t i = 0; !t->direct && t->sent + i < 10 && i < n; i++)
		t->boot_head[t->sent + i] = p[i];
	int had = t->sent >= 10;
	t->sent += n;
	if (!t->direct && !had && t->sent >= 10) {
		unsigned long long len = 0;
		for (int i = 0; i < 10; i++)
			len = len * 10 + (unsigned)(t->boot_head[i] >= '0' && t->boot_head[i] <= '9'
			                                ? t->boot_head[i] - '0' : 0);
		t->boot_len = 10 + len;
	}
}

/* Whether the boot payload has gone whole: ECREADY can only follow it. */
static int payload_sent(const struct tls *t)
{
	return t->direct || (t->sent >= 10 && t->sent >= t->boot_len);
}

/* What below delivered: ECREADY found as the core finds it, then counted from its
 * first byte (the context's relay counts from there too: its first bytes upstream). */
static void count_rcvd(struct tls *t, const char *p, size_t n)
{
	if (t->ready) {
		t->rcvd += n;
		return;
	}
	if (!payload_sent(t))
		return;
	for (size_t i = 0; i < n; i++) {
		size_t m = t->marker;
		while (m && EC_MARKER_READY[m] != p[i])
			m = m == 4 ? 1 : 0; /* "ECRE": its last E may begin the marker again */
		if (EC_MARKER_READY[m] == p[i])
			m++;
		t->marker = m;
		if (m == EC_MARKER_READY_LEN) {
			t->ready = 1;
			t->ready_ms = tls_now_ms();
			t->rcvd = EC_MARKER_READY_LEN + (n - i - 1);
			return;
		}
	}
}

/* D written on the connection: 0, EC_EAGAIN, or an error. */
static int flush_d(struct tls *t, struct ec_error *err);

void tls_switch(struct tls *t, unsigned long long up_count)
{
	t->switched = 1;
	if (!t->below) { /* invited: the connection carries everything */
		t->rd_switched = 1;
		return;
	}
	t->up_count = up_count;
	unsigned long long d = t->sent - (t->direct ? 0 : t->boot_len);
	char tmp[TLS_COUNT_HEX + 1];
	snprintf(tmp, sizeof(tmp), "%016llx", d);
	memcpy(t->d_head, tmp, TLS_COUNT_HEX);
	t->d_left = TLS_COUNT_HEX;
	if (t->ready && t->rcvd == up_count)
		t->rd_switched = 1;
	t->host->log(t->host, EC_LOG_DEBUG, "context %s: switched to its connection after %llu "
	             "bytes sent and %llu received over %s", t->name, d, up_count,
	             t->below->name);
	struct ec_error e = {0};
	flush_d(t, &e); /* a fresh connection takes 16 bytes; else the next op retries */
}

static int flush_d(struct tls *t, struct ec_error *err)
{
	if (!t->d_left)
		return 0;
	ERR_clear_error();
	int r = SSL_write(t->ssl, t->d_head + TLS_COUNT_HEX - t->d_left, t->d_left);
	if (r > 0) {
		t->write_wants_read = 0;
		t->d_left -= r;
		return t->d_left ? EC_EAGAIN : 0;
	}
	ssize_t rc = ssl_result(t, r, 0, err);
	return rc == EC_EAGAIN ? EC_EAGAIN : rc ? (int)rc : EC_ECLOSED;
}

/* When the listener refused a connection for want of memory since this context was
 * ready, before it connected back, that is why its transport ended or failed (the
 * context gave up and exited), whatever the transport said (why, kept in the message;
 * NULL for an end): err says so, EC_ENOMEM, and 1. Else 0, err untouched. */
static int refused_for_memory(const struct tls *t, struct ec_error *err, const char *why)
{
	if (!t->ready || t->ssl || !t->lis || !t->lis->nomem_ms || t->lis->nomem_ms < t->ready_ms)
		return 0;
	char was[sizeof(err->msg)];
	snprintf(was, sizeof(was), "%s", why ? why : "");
	t->host->error_set(err, EC_ENOMEM, t->name,
	                   "context '%s': out of memory: the master refused a connection back on "
	                   "%s port %d for want of memory, and the context's transport (%s) %s "
	                   "before it connected back%s%s%s", t->name, t->advertise, t->lis->port,
	                   t->below->name, why ? "failed" : "ended", why ? " (" : "", was,
	                   why ? ")" : "");
	return 1;
}

static ssize_t tls_send(void *inst, const void *buf, size_t len, struct ec_pollset *ps,
                        struct ec_error *err)
{
	struct tls *t = inst;
	if (!t->switched && !t->below) { /* invited: the payload waits for the connection */
		tls_serve(t->st);
		if (!t->switched)
			return EC_EAGAIN;
	}
	if (!t->switched) {
		ssize_t n = t->below->ops->send(t->below->inst, buf, len, ps, err);
		if (n > 0)
			count_sent(t, buf, (size_t)n);
		else if (n < 0 && n != EC_EAGAIN && refused_for_memory(t, err, err->msg))
			return EC_ENOMEM;
		return n;
	}
	int rc = flush_d(t, err);
	if (rc)
		return rc;
	if (!len)
		return 0;
	ERR_clear_error();
	int r = SSL_write(t->ssl, buf, len > (1u << 30) ? (1 << 30) : (int)len);
	if (r > 0) {
		t->write_wants_read = 0;
		return r;
	}
	return ssl_result(t, r, 0, err);
}

/* Before the read side switched: from below, at most what is left of U once the
 * connection said it; connect_back_timeout from ECREADY for the connection to come. */
static ssize_t recv_below(struct tls *t, void *buf, size_t len, struct ec_pollset *ps,
                          struct ec_error *err)
{
	const struct ec_host *h = t->host;
	if (t->ssl && t->ready && t->rcvd > t->up_count)
		return h->error_set(err, EC_EPROTO, t->name,
		                    "context '%s': it says it sent %llu bytes over its transport "
		                    "(%s) before its connection, %llu came", t->name, t->up_count,
		                    t->below->name, t->rcvd);
	if (!t->ssl && t->ready && t->timeout_ms > 0 &&
	    tls_now_ms() - t->ready_ms >= t->timeout_ms)
		return h->error_set(err, EC_ETIMEDOUT, t->name,
		                    "context '%s' did not connect back to the master at %s port %d "
		                    "within %.1f s (connect_back_timeout; it ran over its transport, "
		                    "%s, meanwhile)", t->name, t->advertise, t->lis ? t->lis->port : 0,
		                    (double)t->timeout_ms / 1000.0, t->below->name);
	if (t->ssl && t->ready && len > t->up_count - t->rcvd)
		len = (size_t)(t->up_count - t->rcvd);
	ssize_t n = t->below->ops->recv(t->below->inst, buf, len, ps, err);
	if (n > 0) {
		count_rcvd(t, buf, (size_t)n);
		if (t->ssl && t->ready && t->rcvd == t->up_count)
			t->rd_switched = 1;
	} else if (n == 0 && t->ready && !err->code && t->ssl) {
		h->error_set(err, EC_ECLOSED, t->name,
		             "context '%s': the stream of its transport (%s) ended after %llu of "
		             "the %llu bytes it sent there before its connection", t->name,
		             t->below->name, t->rcvd, t->up_count);
	} else if (n == 0 && !err->code && refused_for_memory(t, err, NULL)) {
		/* its own words follow */
	} else if (n == 0 && t->ready && !err->code) {
		h->error_set(err, EC_ECLOSED, t->name,
		             "context '%s': the stream of its transport (%s) ended before the "
		             "context connected back to the master at %s port %d", t->name,
		             t->below->name, t->advertise, t->lis ? t->lis->port : 0);
	}
	return n;
}

static ssize_t tls_recv(void *inst, void *buf, size_t len, struct ec_pollset *ps,
                        struct ec_error *err)
{
	struct tls *t = inst;
	tls_serve(t->st);
	if (t->switched && t->d_left) {
		int rc = flush_d(t, err);
		if (rc && rc != EC_EAGAIN)
			return rc;
	}
	if (!t->rd_switched) {
		if (!t->below)
			return EC_EAGAIN;
		if (!(t->ssl && t->ready && t->rcvd == t->up_count)) {
			ssize_t n = recv_below(t, buf, len, ps, err);
			if (n != 0 || !t->rd_switched)
				return n;
		}
		t->rd_switched = 1;
	}
	/* The connection first: when both ended, its end came first (the launcher's end
	 * comes with a close_notify). */
	size_t got = 0;
	while (got < len) {
		ERR_clear_error();
		size_t want = len - got > (1u << 30) ? (1u << 30) : len - got;
		int r = SSL_read(t->ssl, (char *)buf + got, (int)want);
		if (r > 0) {
			t->read_wants_write = 0;
			got += (size_t)r;
			continue;
		}
		if (got)
			break;
		ssize_t rc = ssl_result(t, r, 1, err);
		if (rc == EC_EAGAIN && below_ended(t, err))
			return 0;
		return rc;
	}
	return (ssize_t)got;
}

static void tls_pollset(void *inst, int want, struct ec_pollset *ps)
{
	struct tls *t = inst;
	tls_serve_pollset(t->st, ps);
	if (!t->switched) {
		if (t->below) {
			t->below->ops->pollset(t->below->inst, want, ps);
			if (t->ready && t->timeout_ms > 0) { /* connect_back_timeout */
				long long ms = t->ready_ms + t->timeout_ms - tls_now_ms();
				ec_pollset_timer(ps, ms < 1 ? 1 : ms > 1000000 ? 1000000 : (int)ms);
			}
		}
		return;
	}
	if (t->below)
		t->below->ops->pollset(t->below->inst, EC_POLL_IN, ps);
	if (!t->rd_switched)
		want &= ~EC_POLL_IN; /* below's bytes first, up to U */
	if (t->d_left)
		want |= EC_POLL_OUT;
	int ev = 0;
	if (want & EC_POLL_IN)
		ev |= t->read_wants_write ? EC_POLL_OUT : EC_POLL_IN;
	if (want & EC_POLL_OUT)
		ev |= t->write_wants_read ? EC_POLL_IN : EC_POLL_OUT;
	if (ev)
		ec_pollset_add(ps, t->fd, ev);
	/* Bytes OpenSSL holds already, or a connection handed over by another instance's
	 * turn: come back at once. */
	if (t->rd_switched && SSL_has_pending(t->ssl))
		ec_pollset_timer(ps, 1);
}

static void tls_close(void *inst, int grace_ms)
{
	struct tls *t = inst;
	(void)grace_ms;
	unwait(t);
	if (t->ssl) {
		SSL_shutdown(t->ssl); /* one try: the close_notify, never a wait */
		SSL_free(t->ssl);
		t->ssl = NULL;
	}
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
	/* The core closes the layers below itself. */
}

static void tls_destroy(void *inst)
{
	struct tls *t = inst;
	if (!t)
		return;
	tls_close(t, 0);
	tls_listener_put(t->st, t->lis);
	tls_free(t);
}

/* plugins/tls/tls_remote.py, stripped (tls_remote.c, generated). */
extern const char tls__remote_source[];

static const struct ec_transport_ops tls_ops = {
	.size = sizeof(struct ec_transport_ops),
	.create = tls_create,
	.start = tls_start,
	.send = tls_send,
	.recv = tls_recv,
	.pollset = tls_pollset,
	.on_boot_output = tls_on_boot_output,
	.close = tls_close,
	.destroy = tls_destroy,
	.adopt = tls_adopt,
	.boot_words = tls_boot_words,
	.invitation = tls_invitation_op,
	.remote_source = tls__remote_source,
};

EC_PLUGIN_DEFINE(tls, .version = "0.1.0", .kind = EC_PLUGIN_TRANSPORT, .params = NULL,
                 .load = tls_load, .unload = tls_unload, .ops = &tls_ops)
