/* tls_listen.c: the master's side of connect-back before a connection belongs to a
 * context: the ephemeral key and self-signed certificate (made per master), the
 * listeners (one per address, non-blocking, on the broker), and the connections in
 * their handshake or token, each with a deadline. A connection is handed to the
 * instance whose token it sends; anything else is refused and logged with its peer. */
#include "ecbuild.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "econtext.h"
#include "tls_int.h"

/* epoll's data: a listener or a connection (told apart by the low bit). */
#define TAG_LISTENER 1u

long long tls_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *ssl_why(void)
{
	static __thread char buf[256];
	unsigned long e = ERR_get_error();
	if (!e)
		return "no detail";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* An EC P-256 key and a self-signed certificate for it, valid from a day ago for ten
 * years (the context pins it; dates are not what it checks). */
static int make_cert(EVP_PKEY **pkey_out, X509 **x_out)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	int ok = kc && EVP_PKEY_keygen_init(kc) > 0 &&
	         EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kc, NID_X9_62_prime256v1) > 0 &&
	         EVP_PKEY_keygen(kc, &pkey) > 0;
	EVP_PKEY_CTX_free(kc);
	unsigned char serial[16];
	ok = ok && (x = X509_new()) && X509_set_version(x, 2) &&
	     RAND_bytes(serial, sizeof(serial)) == 1;
	if (ok) {
		serial[0] &= 0x7f;
		BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
		ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
		BN_free(bn);
	}
	ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), -86400) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) && X509_set_pubkey(x, pkey);
	X509_NAME *nm = ok ? X509_get_subject_name(x) : NULL;
	ok = ok && nm &&
	     X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	                                (const unsigned char *)"econtext master", -1, -1, 0) &&
	     X509_set_issuer_name(x, nm) && X509_sign(x, pkey, EVP_sha256()) > 0;
	if (!ok) {
		X509_free(x);
		EVP_PKEY_free(pkey);
		return -1;
	}
	*pkey_out = pkey;
	*x_out = x;
	return 0;
}

/* A server context with the policy: TLS 1.3, or 1.2 with ECDHE and an AEAD cipher;
 * nothing older, no tickets, no renegotiation. NULL when out of memory. */
static SSL_CTX *server_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:"
	                                  "ECDHE-ECDSA-AES256-GCM-SHA384:"
	                                  "ECDHE-ECDSA-CHACHA20-POLY1305:"
	                                  "ECDHE-RSA-AES128-GCM-SHA256:"
	                                  "ECDHE-RSA-AES256-GCM-SHA384:"
	                                  "ECDHE-RSA-CHACHA20-POLY1305")) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Not SSL_OP_IGNORE_UNEXPECTED_EOF: a close_notify says the context left because its
	 * launcher's stream ended; a bare end, that it exited or the connection was cut. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                          SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

/* The SHA-256 of ctx's certificate (DER), in hex. 0, or -1. */
static int ctx_fingerprint(SSL_CTX *ctx, char fp[TLS_FP_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	X509 *x = SSL_CTX_get0_certificate(ctx);
	if (!x || !X509_digest(x, EVP_sha256(), md, &mdlen) || mdlen != TLS_FP_HEX / 2)
		return -1;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(fp + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* The socket BIO writes with write(2): a peer gone (a context SIGKILLed, a client
 * that hung up in its handshake) would raise SIGPIPE, whose default kills the master,
 * and the library leaves signal dispositions to the application (core/master.c). */
static int nosig_write(BIO *b, const char *buf, int len)
{
	int fd = -1;
	BIO_get_fd(b, &fd);
	ssize_t n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
	BIO_clear_retry_flags(b);
	if (n < 0 && BIO_sock_should_retry((int)n))
		BIO_set_retry_write(b);
	return (int)n;
}

/* BIO_s_socket with nosig_write; NULL when out of memory. */
static BIO_METHOD *nosig_method(void)
{
	const BIO_METHOD *s = BIO_s_socket();
	BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOCKET, "socket, send(MSG_NOSIGNAL)");
	if (m && BIO_meth_set_write(m, nosig_write) && BIO_meth_set_read(m, BIO_meth_get_read(s)) &&
	    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(s)) &&
	    BIO_meth_set_create(m, BIO_meth_get_create(s)) &&
	    BIO_meth_set_destroy(m, BIO_meth_get_destroy(s)))
		return m;
	BIO_meth_free(m);
	return NULL;
}

int tls_state_init(struct tls_state *st, const struct ec_host *host, struct ec_error *err)
{
	memset(st, 0, sizeof(*st));
	st->host = host;
	st->epfd = -1;
	if (!(st->bio_method = nosig_method()))
		return host->error_set(err, EC_ENOMEM, "plugin tls", "cannot make its BIO: %s",
		                       ssl_why());
	return 0;
}

/* The master's own key, certificate and server context, made on first need (a context's
 * boot words, an invitation, a connection): after the first such context was spawned,
 * while its interpreter starts, not on its path (OpenSSL's set-up, the key and the
 * signature cost the master 1-3 ms). Once per master. */
static int own_ctx(struct tls_state *st, const char *who, struct ec_error *err)
{
	if (st->ctx)
		return 0;
	const struct ec_host *host = st->host;
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	if (make_cert(&pkey, &x))
		return host->error_set(err, EC_ESYS, who,
		                       "context '%s': cannot make the master's key and certificate: %s",
		                       who, ssl_why());
	SSL_CTX *ctx = server_ctx();
	int ok = ctx && SSL_CTX_use_certificate(ctx, x) == 1 &&
	         SSL_CTX_use_PrivateKey(ctx, pkey) == 1 && SSL_CTX_check_private_key(ctx) == 1 &&
	         ctx_fingerprint(ctx, st->fingerprint) == 0;
	X509_free(x);
	EVP_PKEY_free(pkey);
	if (!ok) {
		SSL_CTX_free(ctx);
		return host->error_set(err, EC_ESYS, who,
		                       "context '%s': cannot set up the master's TLS context: %s", who,
		                       ssl_why());
	}
	st->ctx = ctx;
	return 0;
}

int tls_listener_ready(struct tls_state *st, struct tls_listener *l, const char *who,
                       struct ec_error *err)
{
	if (l->ctx)
		return 0;
	int rc = own_ctx(st, who, err);
	if (rc)
		return rc;
	SSL_CTX_up_ref(st->ctx);
	l->ctx = st->ctx;
	memcpy(l->fingerprint, st->fingerprint, TLS_FP_HEX + 1);
	st->host->log(st->host, EC_LOG_DEBUG, "port %d: the master's own certificate, sha256 %s",
	              l->port, l->fingerprint);
	return 0;
}

/* The server context of a listener with a configured certificate and key (the
 * master's own comes later: tls_listener_ready). NULL with err filled. */
static SSL_CTX *listener_ctx(struct tls_state *st, const char *cert, const char *key,
                             char fp[TLS_FP_HEX + 1], const char *who, struct ec_error *err)
{
	SSL_CTX *ctx = server_ctx();
	ERR_clear_error();
	if (ctx && SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 &&
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1 && ctx_fingerprint(ctx, fp) == 0)
		return ctx;
	st->host->error_set(err, EC_ECONFIG, who,
	                    "context '%s': connect_back_cert %s, connect_back_key %s: %s", who,
	                    cert, key, ssl_why());
	SSL_CTX_free(ctx);
	return NULL;
}

static void conn_free(struct tls_conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	OPENSSL_cleanse(c->token, sizeof(c->token));
	free(c);
}

static void listener_free(struct tls_listener *l)
{
	close(l->fd);
	SSL_CTX_free(l->ctx);
	free(l->address);
	free(l->cert);
	free(l->key);
	free(l);
}

void tls_state_free(struct tls_state *st)
{
	while (st->pending) {
		struct tls_conn *c = st->pending;
		st->pending = c->next;
		conn_free(c);
	}
	while (st->listeners) {
		struct tls_listener *l = st->listeners;
		st->listeners = l->next;
		listener_free(l);
	}
	if (st->epfd >= 0)
		close(st->epfd);
	SSL_CTX_free(st->ctx);
	st->ctx = NULL;
	BIO_meth_free(st->bio_method); /* after every SSL: their BIOs use it */
	st->bio_method = NULL;
}

int tls_listener_get(struct tls_state *st, const char *address, const char *what,
                     const char *cert, const char *key, struct tls_listener **out,
                     const char *who, struct ec_error *err)
{
	const struct ec_host *h = st->host;
	for (struct tls_listener *l = st->listeners; l; l = l->next)
		if (!strcmp(l->address, address) && !l->cert == !cert &&
		    (!cert || (!strcmp(l->cert, cert) && !strcmp(l->key, key)))) {
			*out = l;
			return 0;
		}
	char fp[TLS_FP_HEX + 1] = "";
	SSL_CTX *ctx = cert ? listener_ctx(st, cert, key, fp, who, err) : NULL;
	if (cert && !ctx)
		return err ? err->code : EC_ECONFIG;
	if (st->epfd < 0 && (st->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return h->error_set(err, EC_ESYS, who, "epoll_create1: %s", strerror(errno));
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE,
	                         .ai_socktype = SOCK_STREAM}, *ai = NULL;
	int g = getaddrinfo(address, "0", &hints, &ai);
	if (g)
		return h->error_set(err, EC_ECONFIG, who,
		                    "context '%s': %s '%s' is not a numeric address (%s)", who,
		                    what, address, gai_strerror(g));
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, e = 0;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 1024))
		e = errno;
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (!e && getsockname(fd, (struct sockaddr *)&ss, &sl))
		e = errno;
	struct tls_listener *l = e ? NULL : calloc(1, sizeof(*l));
	if (!e && !l)
		e = ENOMEM;
	if (l && (!(l->address = strdup(address)) ||
	          (cert && (!(l->cert = strdup(cert)) || !(l->key = strdup(key)))))) {
		free(l->address);
		free(l->cert);
		free(l);
		l = NULL;
		e = ENOMEM;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = (char *)l + TAG_LISTENER};
	if (l && epoll_ctl(st->epfd, EPOLL_CTL_ADD, fd, &ev))
		e = errno;
	if (e) {
		if (fd >= 0)
			close(fd);
		if (l) {
			free(l->address);
			free(l->cert);
			free(l->key);
		}
		free(l);
		SSL_CTX_free(ctx);
		return h->error_set(err, e == ENOMEM ? EC_ENOMEM : EC_ESYS, who,
		                    "context '%s': cannot listen for its connection back on %s "
		                    "(%s): %s", who, address, what, strerror(e));
	}
	l->fd = fd;
	l->ctx = ctx;
	memcpy(l->fingerprint, fp, sizeof(fp));
	l->timeout_ms = 10000;
	l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                          : ((struct sockaddr_in *)&ss)->sin_port);
	l->next = st->listeners;
	st->listeners = l;
	if (cert)
		h->log(h, EC_LOG_DEBUG, "listening for contexts that connect back on %s port %d "
		       "(certificate %s, sha256 %s)", address, l->port, cert, l->fingerprint);
	else
		h->log(h, EC_LOG_DEBUG, "listening for contexts that connect back on %s port %d "
		       "(the master's own certificate)", address, l->port);
	*out = l;
	return 0;
}

static void peer_name(const struct sockaddr_storage *ss, char out[TLS_PEER_LEN])
{
	char a[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = ntohs(s4->sin_port);
		snprintf(out, TLS_PEER_LEN, "%s:%d", a, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		port = ntohs(s6->sin6_port);
		snprintf(out, TLS_PEER_LEN, "[%s]:%d", a, port);
	} else {
		snprintf(out, TLS_PEER_LEN, "?");
	}
}

static void unlink_conn(struct tls_state *st, struct tls_conn *c)
{
	for (struct tls_conn **pp = &st->pending; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			st->npending--;
			return;
		}
}

static void refuse_at(struct tls_state *st, struct tls_conn *c, int level, const char *why)
{
	st->host->log(st->host, level, "refused the connection from %s: %s", c->peer, why);
	unlink_conn(st, c);
	conn_free(c); /* closing the fd takes it out of the epoll set */
}

static void refuse(struct tls_state *st, struct tls_conn *c, const char *why)
{
	st->host->log(st->host, EC_LOG_WARNING, "refused the connection from %s: %s",
	              c->peer, why);
	unlink_conn(st, c);
	conn_free(c); /* closing the fd takes it out of the epoll set */
}

void tls_listener_put(struct tls_state *st, struct tls_listener *l)
{
	if (!l || --l->users)
		return;
	for (struct tls_conn *c = st->pending, *next; c; c = next) {
		next = c->next;
		if (c->lis == l)
			refuse(st, c, "no context waits on this listener any more");
	}
	for (struct tls_listener **pp = &st->listeners; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	st->host->log(st->host, EC_LOG_DEBUG, "closed the listener on %s port %d: no context "
	              "uses it", l->address, l->port);
	listener_free(l); /* closing its descriptor takes it out of the epoll set */
}

static void accept_all(struct tls_state *st, struct tls_listener *l)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				st->host->log(st->host, EC_LOG_WARNING,
				              "accept on port %d: %s; not accepting for 1 s", l->port,
				              strerror(errno));
				epoll_ctl(st->epfd, EPOLL_CTL_DEL, l->fd, NULL);
				l->paused_until = tls_now_ms() + 1000;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
				st->host->log(st->host, EC_LOG_WARNING, "accept on port %d: %s",
				              l->port, strerror(errno));
			}
			return;
		}
		char peer[TLS_PEER_LEN];
		peer_name(&ss, peer);
		/* No Nagle: a small frame after a large one must not wait for a delayed ACK. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		tls_conn_add(st, l, fd, peer);
	}
}

void tls_conn_add(struct tls_state *st, struct tls_listener *l, int fd, const char *peer)
{
	if (st->npending >= TLS_MAX_PENDING) {
		st->host->log(st->host, EC_LOG_WARNING,
		              "refused the connection from %s: %d connections are "
		              "already in their handshake", peer, TLS_MAX_PENDING);
		close(fd);
		return;
	}
	struct tls_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		st->host->log(st->host, EC_LOG_WARNING, "refused the connection from %s: out of "
		              "memory", peer);
		l->nomem_ms = tls_now_ms();
		close(fd);
		return;
	}
	c->fd = fd;
	c->lis = l;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->deadline = tls_now_ms() + l->timeout_ms;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	/* Made with the first context's words: a connection before them came from no
	 * context, but is refused on its token as any other. */
	struct ec_error e = {0};
	if (!l->ctx && tls_listener_ready(st, l, peer, &e))
		st->host->log(st->host, EC_LOG_WARNING, "%s", e.msg);
	BIO *bio = l->ctx && (c->ssl = SSL_new(l->ctx)) ? BIO_new(st->bio_method) : NULL;
	if (bio) {
		BIO_set_fd(bio, fd, BIO_NOCLOSE); /* conn_free, or the instance, closes it */
		SSL_set_bio(c->ssl, bio, bio);
	}
	if (!bio || epoll_ctl(st->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int nomem = !bio || errno == ENOMEM;
		st->host->log(st->host, EC_LOG_WARNING, "refused the connection from %s: "
		              "cannot set it up%s", peer, nomem ? " (out of memory)" : "");
		if (nomem)
			l->nomem_ms = tls_now_ms();
		conn_free(c);
		return;
	}
	SSL_set_accept_state(c->ssl);
	c->next = st->pending;
	st->pending = c;
	st->npending++;
	st->host->log(st->host, EC_LOG_DEBUG, "connection from %s on port %d", peer, l->port);
}

static void watch(struct tls_state *st, struct tls_conn *c, int want_write)
{
	struct epoll_event ev = {.events = want_write ? EPOLLOUT : EPOLLIN, .data.ptr = c};
	epoll_ctl(st->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static int hexval(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* The instance waiting for this token, or NULL. Every waiting token is compared, in
 * constant time each. */
static struct tls *owner_of(struct tls_state *st, const char *token)
{
	struct tls *found = NULL;
	for (struct tls *t = st->waiting; t; t = t->next_waiting)
		if (!CRYPTO_memcmp(t->token, token, TLS_TOKEN_HEX))
			found = t;
	return found;
}

static void hand_over(struct tls_state *st, struct tls_conn *c, struct tls *t,
                      unsigned long long up_count)
{
	unlink_conn(st, c);
	epoll_ctl(st->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	for (struct tls **pp = &st->waiting; *pp; pp = &(*pp)->next_waiting)
		if (*pp == t) {
			*pp = t->next_waiting;
			break;
		}
	t->waiting = 0;
	OPENSSL_cleanse(t->token, sizeof(t->token)); /* used: a replay finds no owner */
	t->ssl = c->ssl;
	t->fd = c->fd;
	/* A context's stream reads its records 64 KiB at a time, not header then body: a
	 * quarter of the recv calls of bulk (the buffer still released once empty). Not
	 * before the token: a client that stalls in its handshake holds the small buffer. */
	SSL_set_read_ahead(t->ssl, 1);
	SSL_set_default_read_buffer_len(t->ssl, 64 * 1024);
	memcpy(t->peer, c->peer, sizeof(t->peer));
	st->host->log(st->host, EC_LOG_DEBUG, "context %s connected back from %s (%s, %s)",
	              t->name, t->peer, SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
	c->ssl = NULL;
	c->fd = -1;
	conn_free(c);
	tls_switch(t, up_count);
}

/* Whether a failed SSL op (SSL_get_error's e) met the peer's end: its close_notify, or
 * a bare end of the connection (OpenSSL 3 reports that as an error of its own, before
 * it an SSL_ERROR_SYSCALL with nothing queued). The error is left queued. */
static int peer_closed(int e)
{
	unsigned long first = ERR_peek_error();
	return e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !first) ||
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
	       (e == SSL_ERROR_SSL && ERR_GET_LIB(first) == ERR_LIB_SSL &&
	        ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING) ||
#endif
	       0;
}

/* Move c on: its handshake, then its token. */
static void advance(struct tls_state *st, struct tls_conn *c)
{
	if (!c->handshaken) {
		ERR_clear_error();
		int r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				watch(st, c, e == SSL_ERROR_WANT_WRITE);
				return;
			}
			char why[320];
			int closed = peer_closed(e);
			snprintf(why, sizeof(why), "TLS handshake failed: %s",
			         closed ? "the peer closed it" : ssl_why());
			ERR_clear_error();
			/* A context shut down during its set-up (the lazy switch: one that ends
			 * right after its first call) ends its connection so: not a warning. */
			refuse_at(st, c, closed ? EC_LOG_DEBUG : EC_LOG_WARNING, why);
			return;
		}
		c->handshaken = 1;
		watch(st, c, 0);
	}
	/* The token comes first; nothing else is read before it is checked. A launched
	 * context's token is followed by U, its bytes sent over its transport (docs/tls.md,
	 * the lazy switch); an invited context sends the token alone. */
	struct tls *t = NULL;
	for (;;) {
		size_t want = TLS_TOKEN_HEX;
		if (c->have >= TLS_TOKEN_HEX) {
			if (!(t = owner_of(st, c->token))) {
				refuse(st, c, "wrong, used or expired token");
				return;
			}
			if (t->below)
				want += TLS_COUNT_HEX;
			if (c->have >= want)
				break;
		}
		ERR_clear_error();
		int r = SSL_read(c->ssl, c->token + c->have, (int)(want - c->have));
		if (r <= 0) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				watch(st, c, e == SSL_ERROR_WANT_WRITE);
				return;
			}
			char why[320];
			int quiet = peer_closed(e) && !c->have; /* as above */
			if (peer_closed(e) && c->have < TLS_TOKEN_HEX)
				snprintf(why, sizeof(why), "it closed the connection before sending a "
				         "whole token (%zu of %d bytes)", c->have, TLS_TOKEN_HEX);
			else if (peer_closed(e))
				snprintf(why, sizeof(why), "it closed the connection before sending "
				         "its byte count");
			else
				snprintf(why, sizeof(why), "reading its token failed: %s", ssl_why());
			ERR_clear_error();
			refuse_at(st, c, quiet ? EC_LOG_DEBUG : EC_LOG_WARNING, why);
			return;
		}
		c->have += (size_t)r;
	}
	unsigned long long up = 0;
	for (size_t i = TLS_TOKEN_HEX; i < c->have; i++) {
		int x = hexval(c->token[i]);
		if (x < 0) {
			refuse(st, c, "its byte count is not 16 hex digits");
			return;
		}
		up = up << 4 | (unsigned)x;
	}
	hand_over(st, c, t, up);
}

void tls_serve(struct tls_state *st)
{
	if (st->epfd < 0)
		return;
	struct epoll_event evs[64];
	for (int round = 0; round < 16; round++) {
		int n = epoll_wait(st->epfd, evs, 64, 0);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			uintptr_t p = (uintptr_t)evs[i].data.ptr;
			if (p & TAG_LISTENER)
				accept_all(st, (struct tls_listener *)(p - TAG_LISTENER));
		}
		for (int i = 0; i < n; i++) {
			uintptr_t p = (uintptr_t)evs[i].data.ptr;
			if (p & TAG_LISTENER)
				continue;
			/* still pending? (an earlier one in this batch cannot free it: each
			 * event is its own connection) */
			advance(st, (struct tls_conn *)evs[i].data.ptr);
		}
		if (n < 64)
			break;
	}
	long long now = tls_now_ms();
	for (struct tls_listener *l = st->listeners; l; l = l->next)
		if (l->paused_until && now >= l->paused_until) {
			struct epoll_event ev = {.events = EPOLLIN,
			                         .data.ptr = (char *)l + TAG_LISTENER};
			if (!epoll_ctl(st->epfd, EPOLL_CTL_ADD, l->fd, &ev))
				l->paused_until = 0;
		}
	for (struct tls_conn *c = st->pending, *next; c; c = next) {
		next = c->next;
		if (now >= c->deadline) {
			char why[128];
			snprintf(why, sizeof(why), "%s not finished in time",
			         c->handshaken ? "no whole token: its token was" : "its TLS handshake was");
			refuse(st, c, why);
		}
	}
}

void tls_serve_pollset(struct tls_state *st, struct ec_pollset *ps)
{
	if (st->epfd < 0)
		return;
	ec_pollset_add(ps, st->epfd, EC_POLL_IN);
	long long next = 0;
	for (struct tls_conn *c = st->pending; c; c = c->next)
		if (!next || c->deadline < next)
			next = c->deadline;
	for (struct tls_listener *l = st->listeners; l; l = l->next)
		if (l->paused_until && (!next || l->paused_until < next))
			next = l->paused_until;
	if (next) {
		long long ms = next - tls_now_ms();
		ec_pollset_timer(ps, ms < 1 ? 1 : ms > 1000000 ? 1000000 : (int)ms);
	}
}
