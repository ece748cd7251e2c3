/* tls_int.h: what the tls plugin's files share: the master's listeners (one per
 * address, on the broker), the connections not yet handed to a context, the contexts
 * waiting for theirs. */
#ifndef EC_PLUGIN_TLS_INT_H
#define EC_PLUGIN_TLS_INT_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "econtext/transport.h"

#define TLS_TOKEN_LEN 32               /* random bytes; sent as 64 hex digits */
#define TLS_TOKEN_HEX (2 * TLS_TOKEN_LEN)
#define TLS_FP_HEX 64                  /* SHA-256 of the certificate, hex */
#define TLS_COUNT_HEX 16               /* a byte count on the connection (U, D), hex */
#define TLS_MAX_PENDING 512            /* connections in handshake at once, per master */
#define TLS_PEER_LEN 64                /* "[addr]:port" */
#define TLS_ADDR_LEN 64                /* a numeric address */

struct tls;

/* A connection accepted but not handed over yet: its handshake, then its token. */
struct tls_conn {
	struct tls_conn *next;
	struct tls_listener *lis; /* accepted on */
	SSL *ssl;
	int fd;
	long long deadline; /* monotonic ms */
	int handshaken;
	size_t have;                       /* token bytes read, then U's */
	char token[TLS_TOKEN_HEX + TLS_COUNT_HEX];
	char peer[TLS_PEER_LEN];
};

struct tls_listener {
	struct tls_listener *next;
	char *address;  /* as configured */
	char *cert;     /* connect_back_cert, or NULL: the master's own */
	char *key;      /* connect_back_key, with cert */
	SSL_CTX *ctx;   /* its certificate's (a reference); the master's own: NULL until needed */
	char fingerprint[TLS_FP_HEX + 1];
	int fd;
	int port;
	/* For a connection's handshake and token: the least connect_back_timeout of the
	 * contexts that used this listener. */
	long timeout_ms;
	/* Out of descriptors: not polled until then (monotonic ms), or the connection
	 * left in the backlog would wake the broker without end. 0: polled. */
	long long paused_until;
	/* When it last refused a connection for want of memory (monotonic ms; 0: never):
	 * a context that ends without its connection after that says so (tls.c). */
	long long nomem_ms;
	unsigned users; /* the instances that use it: closed when none is left */
};

/* The plugin's state: one per master (load). */
struct tls_state {
	const struct ec_host *host;
	SSL_CTX *ctx;
	/* Every connection's BIO: the socket BIO, but writing with send(MSG_NOSIGNAL). */
	BIO_METHOD *bio_method;
	char fingerprint[TLS_FP_HEX + 1];
	int epfd; /* the listeners and the pending connections; instances poll it */
	struct tls_listener *listeners;
	struct tls_conn *pending;
	size_t npending;
	struct tls *waiting; /* instances whose context has not connected back yet */
};

/* One context's layer. */
struct tls {
	struct tls_state *st;
	const struct ec_host *host;
	struct ec_transport *below;
	char *name;
	struct tls_listener *lis; /* NULL until boot_words when its address is derived */
	/* The address the context is told: connect_back_address, or the master's address
	 * as the launching layer's machine sees it (local_address), or loopback. */
	char advertise[TLS_ADDR_LEN];
	int bind_derived; /* no connect_back_listen or _address: bound where advertised */
	char *cert, *key; /* connect_back_cert and _key until the listener is made */
	long timeout_ms;
	char token[TLS_TOKEN_HEX]; /* hex; wiped when used or destroyed */
	int waiting;               /* on st->waiting */
	struct tls *next_waiting;
	/* The connection, once the context connected back with its token. */
	SSL *ssl;
	int fd;
	char peer[TLS_PEER_LEN];
	int switched; /* frames are sent on the connection */
	int read_wants_write, write_wants_read;
	int closed;
	/* The lazy switch (docs/tls.md): a launched context is in use over the layer below
	 * until its connection is up; then its bytes move at a count each way. */
	int direct;                  /* a direct boot: frames from the first byte sent */
	char boot_head[10];          /* the payload's length (docs/protocol.md 1) */
	unsigned long long boot_len; /* 10 + that length, once known; 0 for a direct boot */
	unsigned long long sent;     /* bytes sent through below: D = sent - boot_len */
	size_t marker;               /* of ECREADY matched in what below delivered */
	int ready;                   /* ECREADY seen: rcvd counts from its first byte */
	long long ready_ms;          /* when (monotonic): connect_back_timeout from then */
	unsigned long long rcvd;     /* bytes below delivered since ECREADY, U once switched */
	unsigned long long up_count; /* U, the context's count, once connected */
	char d_head[TLS_COUNT_HEX];  /* D, written first on the connection */
	int d_left;                  /* bytes of d_head not written yet */
	int rd_switched;             /* U bytes delivered: frames are read from the connection */
};

/* tls.c: the connection handed over with the context's count U (0: invited). */
void tls_switch(struct tls *t, unsigned long long up_count);

/* tls_invite.c: the one-line command for an invited context (no layer below). */
int tls_invitation(const struct tls *t, const struct ec_argv *argv, char *buf, size_t cap,
                   struct ec_error *err);

/* tls_listen.c */
long long tls_now_ms(void);
int tls_state_init(struct tls_state *st, const struct ec_host *host, struct ec_error *err);
void tls_state_free(struct tls_state *st);
/* The master's own certificate on l (l->ctx, l->fingerprint), made on first need: before
 * the fingerprint or a connection's handshake is used. 0, or an error on who. */
int tls_listener_ready(struct tls_state *st, struct tls_listener *l, const char *who,
                       struct ec_error *err);
/* The listener on address with that certificate and key (NULL: the master's own),
 * made on first use; what says where address came from, for errors. */
int tls_listener_get(struct tls_state *st, const char *address, const char *what,
                     const char *cert, const char *key, struct tls_listener **out,
                     const char *who, struct ec_error *err);
/* One user fewer for l: with none left, l and the connections it accepted go. */
void tls_listener_put(struct tls_state *st, struct tls_listener *l);
/* A connection accepted on l: fd (non-blocking; owned from here on, closed when refused)
 * from peer ("addr:port", for the log) joins the pending ones, its handshake to come.
 * The second half of accepting (tls_serve's accept), apart so that fuzz/fuzz_tlslisten.c
 * can hand the listener one end of a socketpair. */
void tls_conn_add(struct tls_state *st, struct tls_listener *l, int fd, const char *peer);
/* Accept, advance handshakes, read tokens, hand connections to waiting instances,
 * refuse the rest; broker thread, never blocks. */
void tls_serve(struct tls_state *st);
/* Add the epoll descriptor and the next handshake deadline to ps. */
void tls_serve_pollset(struct tls_state *st, struct ec_pollset *ps);

#endif
