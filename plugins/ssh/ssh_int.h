/* ssh_int.h: what the files of the ssh transport share: the connection (struct sess),
 * the context (struct inst) and their parts, and the functions one file gives another.
 * Private to the plugin: every name here is hidden (-fvisibility=hidden); the only
 * export is ec_plugin_ssh_describe (ssh.c). Shared functions are ssh__<name>. */
#ifndef EC_SSH_INT_H
#define EC_SSH_INT_H

#include <netdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libssh2.h>

#include "econtext/transport.h"

#define CHUNK 32768                  /* at most one SSH packet per write */
#define WINDOW (4 * 1024 * 1024)     /* the receive window we offer per channel */

enum hkc { HKC_STRICT, HKC_ACCEPT_NEW, HKC_OFF };

/* What a connection is set up with: taken from the context that opens it. */
struct conn_cfg {
	char *hostname, *username, *known_hosts;
	char *global_known_hosts; /* "" for none */
	int port;
	char **identity_files;
	size_t n_identity;
	int agent, kbdint;
	char *password_env, *password_file;
	enum hkc hkc;
	long connect_ms, keepalive_s;
	long keepalive_max; /* keepalive intervals without a word from the server: lost */
	long connect_ms_given; /* as configured, for messages */
};

enum sess_state {
	S_CONNECT,   /* resolve, non-blocking connect() */
	S_HANDSHAKE, /* SSH handshake */
	S_HOSTKEY,   /* known_hosts */
	S_AUTHLIST,  /* userauth_list */
	S_AUTH,      /* one method after another */
	S_READY,
	S_FAILED
};

enum auth_step { A_AGENT, A_KEYS, A_PASSWORD, A_KBDINT, A_DONE };

/* What a caller has in flight on the session. OP_EXEC: the exec request (its packet
 * may be half sent, then only its retry may touch the session). */
enum op { OP_NONE, OP_WRITE, OP_READ, OP_OPEN, OP_EXEC, OP_EOF, OP_OTHER };

struct inst;

/* A channel whose context is gone but which still has something to finish with the
 * session (a half-sent packet, an open in flight, its close). direct: the open in
 * flight is a direct-tcpip one (a tunnel's). */
struct orphan {
	LIBSSH2_CHANNEL *ch;
	enum op op;
	int direct;
	long long deadline_ms; /* op OP_NONE with a grace: wait for the close until then */
	struct orphan *next;
};

/* A session that goes via another one (a jump host) talks SSH over a socketpair: its
 * libssh2 session has sv[0]; the pump moves bytes between sv[1] and a direct-tcpip
 * channel on the session below, on the broker thread, whenever an instance of the
 * session (or of one above it) is called. */
struct tunnel {
	LIBSSH2_CHANNEL *ch; /* on sess->via; NULL while the open is in flight */
	int opening;         /* the direct-tcpip open was started */
	int sv[2];
	char up[CHUNK];      /* from sv[1], to the channel */
	size_t up_len, up_off;
	char down[CHUNK];    /* from the channel, to sv[1] */
	size_t down_len, down_off;
	int up_eof, down_eof;
};

#define MAX_HOPS 8
/* An instance's pollset: its eventfd, and each hop's socket, timer and tunnel. */
_Static_assert(EC_POLLSET_CAP >= 1 + 3 * (MAX_HOPS + 1), "a pollset holds an ssh chain");

struct plugin_state;

/* A name lookup on its own thread (getaddrinfo blocks; the broker must not). The
 * thread and the session each hold a reference; the pipe says it is done. */
struct resolver {
	pthread_mutex_t lock;
	int refs;
	int pipe[2];
	char *host;
	char port[16];
	struct addrinfo *ai;
	int rc, sys_errno;
};

struct sess {
	struct plugin_state *ps;
	struct sess *next; /* in the registry */
	struct conn_cfg cfg;
	struct sess *via;    /* the jump host's session (a reference), or NULL */
	struct tunnel *tun;  /* with via: the tunnel through it */
	char label[300]; /* "user@host port N" for messages */
	int refs;
	enum sess_state state;
	struct ec_error fail;
	struct addrinfo *ai, *ai_cur;
	struct resolver *res; /* a name lookup in flight */
	int fd, timerfd;
	LIBSSH2_SESSION *s;
	long long deadline_ms;
	/* authentication */
	char *methods;
	enum auth_step astep;
	size_t id_idx;
	LIBSSH2_AGENT *agent;
	struct libssh2_agent_publickey *agent_id;
	int agent_started, agent_tried, agent_rsa;
	char *password;
	struct ec_password pw; /* where it comes from; pw.asked_since: the deadline is paused */
	int pw_refused; /* the application's answer was refused: no second method with it */
	int kbd_rounds;
	void *kbd_answer[8]; /* password copies handed to libssh2, wiped when it frees them */
	/* libssh2 was refused memory since its last error was reported: its own message
	 * then says what failed ("Unable to exchange encryption keys"), not why. */
	int lib_nomem;
	struct lib_block *lib_blocks; /* what libssh2 holds of ours (ssh_alloc.c) */
	char tried[400];
	/* serialisation */
	const void *owner; /* holds the session (an instance or a tunnel): a half-sent
	                    * packet or a channel open */
	enum op owner_op;
	struct orphan *orphans;
	struct orphan *orphan_owner; /* an orphan holding the session */
	struct inst *insts;          /* instances attached */
	long long next_keepalive_ms;
	long long last_recv_ms;   /* when bytes last came from the server */
	long long keepalive_at_ms; /* when the last keepalive tick was */
	long keepalive_silent;     /* ticks in a row with nothing from the server */
};

struct plugin_state {
	const struct ec_host *host;
	struct sess *sessions;
	int libssh2_ok;
};

enum inst_state { I_NEW, I_WAIT, I_OPEN, I_EXEC, I_RUN, I_CLOSED };

struct inst {
	struct plugin_state *ps;
	const struct ec_host *host;
	char *name;
	struct conn_cfg cfg;
	struct sess *sess;
	struct inst *snext; /* in sess->insts */
	enum inst_state state;
	int evfd; /* woken by whoever reads data of ours off the shared session */
	struct inst *via;    /* the layer below (a jump host), a tunnel only */
	int tunnel_only;     /* this instance is the layer below another: it runs nothing */
	int owns_via;        /* via is ours (a ProxyJump hop of ~/.ssh/config) */
	LIBSSH2_CHANNEL *ch;
	char *cmd;
	size_t marker; /* bytes of EC_MARKER_READY matched at the end of stdout so far */
	int ready_seen, eof_note_done, eof_sent;
	char note[256]; /* a last line handed to the core before EOF (exit status) */
	size_t note_len, note_off;
};

/* ---- ssh.c: the plugin, a context's settings -------------------------------------- */

void ssh__conn_cfg_free(struct conn_cfg *c);
int ssh__conn_cfg_copy(struct conn_cfg *dst, const struct conn_cfg *src);

/* ---- ssh_resolver.c: a name lookup on its own thread ------------------------------ */

/* Start a lookup; NULL if no thread could be started. */
struct resolver *ssh__resolver_start(const char *host, int port);
/* Drop one reference; the last frees it. */
void ssh__resolver_put(struct resolver *r);

/* ---- ssh_session.c: the connection and its state machine -------------------------- */

long long ssh__now_ms(void);
const char *ssh__sess_errmsg(LIBSSH2_SESSION *s);
void ssh__timer_set(struct sess *s, long long at_ms);
void ssh__timer_drain(struct sess *s);
/* Fail the session for good: code and message are every context's on it (EC_ENOMEM,
 * said, when libssh2 was refused memory). Returns the code. */
int ssh__sess_fail(struct sess *s, int code, const char *fmt, ...) EC_PRINTF(3, 4);
/* Set err to libssh2's failure on s (a channel's): fmt, then ": " and libssh2's message,
 * with code; or the session's failure when it failed (libssh2 refused memory fails it
 * in ssh__after_call). Returns the code. */
int ssh__lib_error(struct sess *s, struct ec_error *err, int code, const char *fmt, ...)
    EC_PRINTF(4, 5);
struct sess *ssh__sess_get(struct plugin_state *ps, const struct conn_cfg *cfg,
                           struct sess *via, struct ec_error *err);
void ssh__sess_release(struct sess *s);
void ssh__sess_teardown(struct sess *s);
int ssh__sess_step(struct sess *s);
void ssh__keepalive(struct sess *s);

/* ---- ssh_alloc.c: libssh2's allocator for a session -------------------------------- */

LIBSSH2_ALLOC_FUNC(ssh__alloc);
LIBSSH2_REALLOC_FUNC(ssh__realloc);
LIBSSH2_FREE_FUNC(ssh__free);
/* A copy of str that libssh2 may free (a keyboard-interactive answer), or NULL. */
char *ssh__lib_strdup(struct sess *s, const char *str);
/* After libssh2_session_free: free what libssh2 never freed (1.10 loses blocks on some
 * of its out-of-memory paths); how many. */
size_t ssh__lib_blocks_free(struct sess *s);

/* ---- ssh_hostkey.c: the server's host key against known_hosts --------------------- */

void ssh__set_hostkey_pref(struct sess *s);
int ssh__check_hostkey(struct sess *s);

/* ---- ssh_auth.c: authentication, and the secrets it holds ------------------------- */

void ssh__wipe_free(char *s);
int ssh__auth_done(struct sess *s);
int ssh__auth_step(struct sess *s);

/* ---- ssh_owner.c: one call at a time on a shared session; orphaned channels ------- */

void ssh__after_call(struct sess *s, const void *who, enum op op, long rc);
int ssh__may_call(const struct sess *s, const void *who, enum op op);
void ssh__service_orphans(struct sess *s);
void ssh__chan_abandon(struct sess *s, const void *who, LIBSSH2_CHANNEL *ch, int direct);

/* ---- ssh_wake.c: what an instance polls, and waking the others -------------------- */

void ssh__inst_wake(struct inst *in);
void ssh__inst_drain_wake(struct inst *in);
void ssh__sess_wake_all(struct sess *s, const struct inst *except);
void ssh__sess_wake_pending(struct sess *s);
int ssh__sess_wants_out(const struct sess *s);
void ssh__inst_want(struct inst *in, struct ec_pollset *ps);

/* ---- ssh_tunnel.c: jump hosts --------------------------------------------------- */

int ssh__tun_connect(struct sess *s);
void ssh__chain_drive(struct sess *s);
void ssh__chain_before(struct inst *in);
void ssh__chain_after(struct inst *in);

/* ---- ssh_channel.c: the context's exec channel (the transport ops) --------------- */

int ssh__start(void *inst, const struct ec_argv *argv, struct ec_pollset *ps,
               struct ec_error *err);
ssize_t ssh__send(void *inst, const void *buf, size_t len, struct ec_pollset *ps,
                  struct ec_error *err);
ssize_t ssh__recv(void *inst, void *buf, size_t len, struct ec_pollset *ps,
                  struct ec_error *err);
void ssh__pollset(void *inst, int want, struct ec_pollset *ps);
void ssh__close(void *inst, int grace_ms);

#endif
