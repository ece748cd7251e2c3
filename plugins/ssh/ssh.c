/* ssh.c: the `ssh` transport: the boot command on an exec channel of an SSH connection
 * (libssh2 >= 1.10), all of it non-blocking on the broker thread.
 *
 * One connection (struct sess) per (hostname, port, username) is shared by every
 * context on it; each context (struct inst) has its own exec channel. A libssh2 session
 * is one state machine, so the plugin keeps these rules (docs/ssh.md):
 * - When a call returns EAGAIN with an outbound packet half sent, only the retry of
 *   that same call may touch the session: the session records its owner, and every
 *   other instance waits (EAGAIN) until the owner's call completes.
 * - Opening a channel uses session-wide state: one instance at a time.
 * - A read for one channel moves every queued packet off the socket, so after each
 *   call the instances whose channel has data queued inside libssh2 are woken by
 *   their eventfd: each instance polls an epoll fd that holds the socket, its own
 *   eventfd and the session's timer (connect deadline, then keepalives).
 * All plugin state is touched under the master lock (create/destroy on application
 * threads, the rest on the broker thread), so the registry needs no lock of its own. */
#include "ecbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <libssh2.h>

#include "econtext/transport.h"
#include "ssh_config.h"

#define CHUNK 32768                  /* at most one SSH packet per write */
#define WINDOW (4 * 1024 * 1024)     /* the receive window we offer per channel */
#define READ_MAX (1024 * 1024)       /* at most this much per channel read (the window) */
#define READY_MARKER "ECREADY\n"     /* the core's marker: stderr is merged before it */
#define READY_LEN 8
#define HOSTKEY_DEFAULT_PREF                                                            \
	"ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,ssh-rsa"

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
/* What an instance's epoll set holds besides its eventfd. */
#define MAX_REG (3 * (MAX_HOPS + 1))
struct epreg {
	int fd, ev;
};

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

static void resolver_put(struct resolver *r)
{
	pthread_mutex_lock(&r->lock);
	int n = --r->refs;
	pthread_mutex_unlock(&r->lock);
	if (n)
		return;
	if (r->ai)
		freeaddrinfo(r->ai);
	close(r->pipe[0]);
	close(r->pipe[1]);
	free(r->host);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static void *resolver_main(void *arg)
{
	struct resolver *r = arg;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(r->host, r->port, &hints, &ai);
	int e = errno;
	pthread_mutex_lock(&r->lock);
	r->rc = rc;
	r->sys_errno = e;
	r->ai = ai;
	pthread_mutex_unlock(&r->lock);
	ssize_t w;
	do
		w = write(r->pipe[1], "", 1);
	while (w < 0 && errno == EINTR);
	resolver_put(r);
	return NULL;
}

/* Start a lookup; NULL if no thread could be started. */
static struct resolver *resolver_start(const char *host, int port)
{
	struct resolver *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	if (pipe2(r->pipe, O_CLOEXEC | O_NONBLOCK) || !(r->host = strdup(host))) {
		if (r->pipe[0] > 0) {
			close(r->pipe[0]);
			close(r->pipe[1]);
		}
		free(r);
		return NULL;
	}
	snprintf(r->port, sizeof(r->port), "%d", port);
	pthread_mutex_init(&r->lock, NULL);
	r->refs = 2;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* the thread takes no signals */
	pthread_t t;
	int rc = pthread_create(&t, &a, resolver_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (rc) {
		r->refs = 1;
		resolver_put(r);
		return NULL;
	}
	return r;
}

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
	int pw_asked;   /* password came from the application (host->secret_get) */
	int pw_refused; /* ... and the server refused it: no second method with it */
	long long prompt_since; /* the application is asked: the deadline is paused */
	int kbd_rounds;
	void *kbd_answer[8]; /* password copies handed to libssh2, wiped when it frees them */
	char tried[400];
	/* serialisation */
	const void *owner; /* holds the session (an instance or a tunnel): a half-sent
	                    * packet or a channel open */
	enum op owner_op;
	struct orphan *orphans;
	struct orphan *orphan_owner; /* an orphan holding the session */
	struct inst *insts;          /* instances attached */
	long long next_keepalive_ms;
};

struct plugin_state {
	const struct ec_host *host;
	struct sess *sessions;
	int libssh2_ok;
	unsigned fd_gen; /* bumped when an fd that epoll sets may hold is closed */
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
	int epfd, evfd;
	struct epreg reg[MAX_REG]; /* what the epoll set holds besides evfd */
	size_t nreg;
	unsigned reg_gen;
	struct inst *via;    /* the layer below (a jump host), a tunnel only */
	int tunnel_only;     /* this instance is the layer below another: it runs nothing */
	int owns_via;        /* via is ours (a ProxyJump hop of ~/.ssh/config) */
	LIBSSH2_CHANNEL *ch;
	char *cmd;
	size_t marker; /* bytes of READY_MARKER matched at the end of stdout so far */
	int ready_seen, eof_note_done, eof_sent;
	char note[256]; /* a last line handed to the core before EOF (exit status) */
	size_t note_len, note_off;
};

/* ---- small helpers ------------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wipe_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

static const char *sess_errmsg(LIBSSH2_SESSION *s)
{
	char *m = NULL;
	if (!s)
		return "?";
	libssh2_session_last_error(s, &m, NULL, 0);
	return m && *m ? m : "unknown error";
}

static char *expand_home(const char *p)
{
	if (!p)
		return NULL;
	if (p[0] == '~' && (p[1] == '/' || !p[1])) {
		const char *home = getenv("HOME");
		char pwbuf[1024];
		struct passwd pw, *res = NULL;
		if ((!home || !*home) && getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 &&
		    res)
			home = pw.pw_dir;
		if (!home)
			home = "/";
		size_t n = strlen(home) + strlen(p) + 1;
		char *out = malloc(n);
		if (out)
			snprintf(out, n, "%s%s", home, p + 1);
		return out;
	}
	return strdup(p);
}

static void conn_cfg_free(struct conn_cfg *c)
{
	free(c->hostname);
	free(c->username);
	free(c->known_hosts);
	free(c->global_known_hosts);
	for (size_t i = 0; i < c->n_identity; i++)
		free(c->identity_files[i]);
	free(c->identity_files);
	free(c->password_env);
	free(c->password_file);
	memset(c, 0, sizeof(*c));
}

static int conn_cfg_copy(struct conn_cfg *dst, const struct conn_cfg *src)
{
	memset(dst, 0, sizeof(*dst));
	*dst = *src;
	dst->hostname = strdup(src->hostname);
	dst->username = strdup(src->username);
	dst->known_hosts = strdup(src->known_hosts);
	dst->global_known_hosts = strdup(src->global_known_hosts ? src->global_known_hosts : "");
	dst->password_env = src->password_env ? strdup(src->password_env) : NULL;
	dst->password_file = src->password_file ? strdup(src->password_file) : NULL;
	dst->identity_files = calloc(src->n_identity + 1, sizeof(char *));
	int bad = !dst->hostname || !dst->username || !dst->known_hosts ||
	          !dst->global_known_hosts || !dst->identity_files ||
	          (src->password_env && !dst->password_env) ||
	          (src->password_file && !dst->password_file);
	for (size_t i = 0; dst->identity_files && i < src->n_identity; i++)
		if (!(dst->identity_files[i] = strdup(src->identity_files[i])))
			bad = 1;
	if (bad) {
		dst->n_identity = dst->identity_files ? src->n_identity : 0;
		conn_cfg_free(dst);
		return EC_ENOMEM;
	}
	return 0;
}

/* Shell-quote argv into one command line for the remote login shell. */
static char *shell_join(const struct ec_argv *argv)
{
	size_t n = 1;
	for (size_t i = 0; i < argv->argc; i++) {
		n += 3;
		for (const char *p = argv->argv[i]; *p; p++)
			n += *p == '\'' ? 4 : 1;
	}
	char *out = malloc(n), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < argv->argc; i++) {
		if (i)
			*o++ = ' ';
		*o++ = '\'';
		for (const char *p = argv->argv[i]; *p; p++) {
			if (*p == '\'') {
				memcpy(o, "'\\''", 4);
				o += 4;
			} else {
				*o++ = *p;
			}
		}
		*o++ = '\'';
	}
	*o = '\0';
	return out;
}

static void b64(const unsigned char *in, size_t n, char *out, size_t outlen)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < outlen; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = tab[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = tab[v & 63];
	}
	out[o] = '\0'; /* no padding, as OpenSSH prints SHA256 fingerprints */
}

/* ---- wakeups ------------------------------------------------------------------- */

static void inst_wake(struct inst *in)
{
	uint64_t one = 1;
	if (in->evfd >= 0 && write(in->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		in->host->log(in->host, EC_LOG_DEBUG, "ssh: eventfd write: %s", strerror(errno));
}

static void inst_drain_wake(struct inst *in)
{
	uint64_t v;
	if (in->evfd >= 0 && read(in->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		in->host->log(in->host, EC_LOG_DEBUG, "ssh: eventfd read: %s", strerror(errno));
}

/* Wake the instances of s, and those of every session that goes through s. */
static void sess_wake_all(struct sess *s, const struct inst *except)
{
	for (struct inst *in = s->insts; in; in = in->snext)
		if (in != except)
			inst_wake(in);
	for (struct sess *t = s->ps->sessions; t; t = t->next)
		if (t->via == s)
			sess_wake_all(t, except);
}

/* After a call that may have read the socket: wake every instance (the caller too:
 * the core stops reading after a short read) whose channel has data or an end of
 * stream queued inside libssh2, where no socket readiness will announce it; and the
 * instances above every tunnel whose channel has (and whose pump has room). */
static void sess_wake_pending(struct sess *s, const struct inst *self)
{
	(void)self;
	for (struct inst *in = s->insts; in; in = in->snext) {
		if (!in->ch || in->state != I_RUN)
			continue;
		unsigned long avail = 0;
		libssh2_channel_window_read_ex(in->ch, &avail, NULL);
		if (avail || libssh2_channel_eof(in->ch))
			inst_wake(in);
	}
	for (struct sess *t = s->ps->sessions; t; t = t->next) {
		if (t->via != s || !t->tun || !t->tun->ch || t->tun->down_eof ||
		    t->tun->down_off < t->tun->down_len)
			continue;
		unsigned long avail = 0;
		libssh2_channel_window_read_ex(t->tun->ch, &avail, NULL);
		if (avail || libssh2_channel_eof(t->tun->ch))
			sess_wake_all(t, NULL);
	}
}

/* What the session waits for after an EAGAIN: 1 if it wants the socket writable. */
static int sess_wants_out(const struct sess *s)
{
	if (s->state == S_CONNECT)
		return s->fd >= 0 && !s->via;
	if (!s->s)
		return 0;
	return (libssh2_session_block_directions(s->s) & LIBSSH2_SESSION_BLOCK_OUTBOUND) != 0;
}

static void reg_want(struct epreg *w, size_t *n, int fd, int ev)
{
	if (fd < 0 || !ev || *n >= MAX_REG)
		return;
	w[*n].fd = fd;
	w[*n].ev = ev;
	(*n)++;
}

/* Keep the instance's epoll set in step with what its session waits for (its socket,
 * or the pipe of the name lookup before that, its timer) and, for a session that goes
 * via jump hosts, what every hop and tunnel below it waits for. */
static void inst_arm(struct inst *in)
{
	struct sess *s = in->sess;
	if (!s)
		return;
	struct epreg w[MAX_REG];
	size_t n = 0;
	const struct sess *above = NULL;
	for (struct sess *x = s; x; above = x, x = x->via) {
		int fd = x->fd >= 0 ? x->fd : x->res ? x->res->pipe[0] : -1;
		int ev = EPOLLIN;
		if (above && above->tun && above->tun->ch && above->tun->down_off < above->tun->down_len &&
		    above->tun->up_off == above->tun->up_len)
			ev = 0; /* the tunnel above cannot take more: its socketpair wakes us */
		if (x->fd >= 0 && sess_wants_out(x))
			ev |= EPOLLOUT;
		if (x->prompt_since)
			ev = 0; /* nothing to do until the answer (the core calls start then) */
		reg_want(w, &n, fd, ev);
		reg_want(w, &n, x->timerfd, EPOLLIN);
		struct tunnel *t = x->tun;
		if (t && t->ch) {
			int tev = (t->up_off == t->up_len && !t->up_eof ? EPOLLIN : 0) |
			          (t->down_off < t->down_len ? EPOLLOUT : 0);
			reg_want(w, &n, t->sv[1], tev);
		}
	}
	int full = in->reg_gen != in->ps->fd_gen;
	in->reg_gen = in->ps->fd_gen;
	/* Drop what is no longer wanted. */
	for (size_t i = 0; i < in->nreg;) {
		size_t j = 0;
		while (j < n && w[j].fd != in->reg[i].fd)
			j++;
		if (j == n) {
			epoll_ctl(in->epfd, EPOLL_CTL_DEL, in->reg[i].fd, NULL);
			in->reg[i] = in->reg[--in->nreg];
		} else {
			i++;
		}
	}
	/* Add or change the rest; after an fd was closed somewhere, check every one (a
	 * new fd may have the number of a closed one). */
	for (size_t j = 0; j < n; j++) {
		size_t i = 0;
		while (i < in->nreg && in->reg[i].fd != w[j].fd)
			i++;
		struct epoll_event e = {.events = (uint32_t)w[j].ev, .data.fd = w[j].fd};
		if (i < in->nreg && in->reg[i].ev == w[j].ev && !full)
			continue;
		int rc = -1;
		if (i < in->nreg)
			rc = epoll_ctl(in->epfd, EPOLL_CTL_MOD, w[j].fd, &e);
		if (rc)
			rc = epoll_ctl(in->epfd, EPOLL_CTL_ADD, w[j].fd, &e);
		if (rc && errno == EEXIST)
			rc = epoll_ctl(in->epfd, EPOLL_CTL_MOD, w[j].fd, &e);
		if (rc)
			continue;
		if (i == in->nreg)
			in->nreg++;
		in->reg[i] = w[j];
	}
}

/* Empty the instance's epoll set (but its eventfd). */
static void inst_disarm(struct inst *in)
{
	for (size_t i = 0; i < in->nreg; i++)
		epoll_ctl(in->epfd, EPOLL_CTL_DEL, in->reg[i].fd, NULL);
	in->nreg = 0;
}

static void timer_set(struct sess *s, long long at_ms)
{
	if (s->timerfd < 0)
		return;
	struct itimerspec its = {{0, 0}, {0, 0}};
	if (at_ms > 0) {
		long long d = at_ms - now_ms();
		if (d < 1)
			d = 1;
		its.it_value.tv_sec = d / 1000;
		its.it_value.tv_nsec = (d % 1000) * 1000000;
	}
	timerfd_settime(s->timerfd, 0, &its, NULL);
}

static void timer_drain(struct sess *s)
{
	uint64_t v;
	if (s->timerfd >= 0 && read(s->timerfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
}

/* ---- the session registry ------------------------------------------------------- */

static void sess_unlink(struct sess *s)
{
	for (struct sess **pp = &s->ps->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->next = NULL;
}

static int sess_fail(struct sess *s, int code, const char *fmt, ...) EC_PRINTF(3, 4);
static int sess_fail(struct sess *s, int code, const char *fmt, ...)
{
	char msg[sizeof(s->fail.msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->ps->host->error_set(&s->fail, code, s->cfg.hostname, "%s", msg);
	s->state = S_FAILED;
	wipe_free(s->password);
	s->password = NULL;
	timer_set(s, 0);
	sess_unlink(s); /* a later context starts afresh */
	sess_wake_all(s, NULL);
	return code;
}

static void chan_abandon(struct sess *s, const void *who, LIBSSH2_CHANNEL *ch, int direct);
static void sess_release(struct sess *s);

static void sess_teardown(struct sess *s)
{
	const struct ec_host *h = s->ps->host;
	h->log(h, EC_LOG_DEBUG, "ssh: closing the connection to %s", s->label);
	sess_unlink(s);
	if (s->s) {
		if (s->state == S_READY && !s->owner && !s->orphan_owner)
			libssh2_session_disconnect(s->s, "econtext: done"); /* one try */
		/* Nothing more may wait on the peer: a shut-down socket makes every pending
		 * close fail at once, and libssh2 then frees without blocking. */
		if (s->fd >= 0)
			shutdown(s->fd, SHUT_RDWR);
		for (struct orphan *o = s->orphans; o;) {
			struct orphan *next = o->next;
			if (o->ch)
				libssh2_channel_free(o->ch);
			free(o);
			o = next;
		}
		s->orphans = NULL;
		if (s->agent) {
			libssh2_agent_disconnect(s->agent);
			libssh2_agent_free(s->agent);
		}
		libssh2_session_free(s->s);
	} else {
		for (struct orphan *o = s->orphans; o;) {
			struct orphan *next = o->next;
			free(o);
			o = next;
		}
	}
	if (s->fd >= 0)
		close(s->fd);
	if (s->timerfd >= 0)
		close(s->timerfd);
	if (s->ai)
		freeaddrinfo(s->ai);
	if (s->res)
		resolver_put(s->res); /* the thread frees it when it is done */
	wipe_free(s->password);
	free(s->methods);
	conn_cfg_free(&s->cfg);
	struct sess *via = s->via;
	if (s->tun) {
		/* The tunnel's channel is closed on the session below, as a context's is. */
		if (via && (s->tun->ch || s->tun->opening))
			chan_abandon(via, s->tun, s->tun->ch, 1);
		if (s->tun->sv[0] >= 0)
			close(s->tun->sv[0]);
		if (s->tun->sv[1] >= 0)
			close(s->tun->sv[1]);
		free(s->tun);
	}
	s->ps->fd_gen++;
	free(s);
	if (via)
		sess_release(via);
}

static void sess_release(struct sess *s)
{
	if (--s->refs <= 0)
		sess_teardown(s);
}

/* The session for cfg reached through via (NULL: directly), shared when one exists.
 * Takes over the caller's reference to via. */
static struct sess *sess_get(struct plugin_state *ps, const struct conn_cfg *cfg,
                             struct sess *via, struct ec_error *err)
{
	for (struct sess *s = ps->sessions; s; s = s->next)
		if (s->state != S_FAILED && s->cfg.port == cfg->port && s->via == via &&
		    strcmp(s->cfg.hostname, cfg->hostname) == 0 &&
		    strcmp(s->cfg.username, cfg->username) == 0) {
			s->refs++;
			if (via)
				sess_release(via); /* s holds one already */
			return s;
		}
	struct sess *s = calloc(1, sizeof(*s));
	if (!s || conn_cfg_copy(&s->cfg, cfg)) {
		free(s);
		if (via)
			sess_release(via);
		ps->host->error_set(err, EC_ENOMEM, cfg->hostname, "out of memory");
		return NULL;
	}
	s->via = via;
	s->ps = ps;
	s->refs = 1;
	s->fd = -1;
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (via)
		snprintf(s->label, sizeof(s->label), "%s@%s port %d (via %s@%s)", cfg->username,
		         cfg->hostname, cfg->port, via->cfg.username, via->cfg.hostname);
	else
		snprintf(s->label, sizeof(s->label), "%s@%s port %d", cfg->username, cfg->hostname,
		         cfg->port);
	s->next = ps->sessions;
	ps->sessions = s;
	return s;
}

/* ---- the session's own steps: connect, handshake, host key, authentication ------- */

/* Close a socket that failed to connect; the epoll sets forget it with the close, and
 * a new socket may get its number. */
static void sess_close_fd(struct sess *s)
{
	close(s->fd);
	s->fd = -1;
	s->ps->fd_gen++;
}

/* getaddrinfo's answer as OpenSSH words it. A name server that cannot be reached
 * (EAI_AGAIN) is no proof that the name does not exist: the context could not be
 * started, rather than a configuration error. */
static int resolve_fail(struct sess *s, int rc, int sys_errno)
{
	const char *why = !rc                 ? "no address"
	                  : rc == EAI_SYSTEM ? strerror(sys_errno)
	                                     : gai_strerror(rc);
	return sess_fail(s, rc == EAI_AGAIN ? EC_ECLOSED : EC_ENOTFOUND,
	                 "ssh: could not resolve hostname %s: %s%s", s->cfg.hostname, why,
	                 rc == EAI_AGAIN ? " (no name server answered: check the network and "
	                                   "/etc/resolv.conf)"
	                                 : "");
}

static int try_connect(struct sess *s)
{
	const struct ec_host *h = s->ps->host;
	char port[16];
	if (!s->ai) {
		int rc, sys_errno = 0;
		if (!s->deadline_ms) {
			s->deadline_ms = now_ms() + s->cfg.connect_ms;
			timer_set(s, s->deadline_ms);
		}
		if (s->res) {
			char c;
			if (read(s->res->pipe[0], &c, 1) != 1)
				return EC_EAGAIN;
			/* Done: take the result; the epoll sets forget the pipe (which the
			 * thread may still hold open) at their next arming. */
			pthread_mutex_lock(&s->res->lock);
			rc = s->res->rc;
			sys_errno = s->res->sys_errno;
			s->ai = s->res->ai;
			s->res->ai = NULL;
			pthread_mutex_unlock(&s->res->lock);
			resolver_put(s->res);
			s->res = NULL;
			s->ps->fd_gen++;
		} else {
			/* An address (or nothing to look up) costs nothing; a name goes to a
			 * thread, unless none can be started. */
			struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
			                         .ai_flags = AI_NUMERICHOST};
			snprintf(port, sizeof(port), "%d", s->cfg.port);
			rc = getaddrinfo(s->cfg.hostname, port, &hints, &s->ai);
			if (rc == EAI_NONAME) {
				if ((s->res = resolver_start(s->cfg.hostname, s->cfg.port)))
					return EC_EAGAIN;
				hints.ai_flags = 0;
				rc = getaddrinfo(s->cfg.hostname, port, &hints, &s->ai);
				sys_errno = errno;
			}
		}
		if (rc || !s->ai)
			return resolve_fail(s, rc, sys_errno);
		s->ai_cur = s->ai;
	}
	for (;;) {
		if (s->fd >= 0) {
			/* A connect in flight: done once the socket is writable. */
			struct pollfd p = {.fd = s->fd, .events = POLLOUT};
			if (poll(&p, 1, 0) == 0)
				return EC_EAGAIN;
			int soerr = 0;
			socklen_t sl = sizeof(soerr);
			getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			if (!soerr)
				break;
			h->log(h, EC_LOG_DEBUG, "ssh: connect to %s: %s", s->label, strerror(soerr));
			sess_close_fd(s);
			s->ai_cur = s->ai_cur->ai_next;
			if (!s->ai_cur)
				return sess_fail(s, EC_ECLOSED, "cannot connect to %s port %d: %s",
				                 s->cfg.hostname, s->cfg.port, strerror(soerr));
			continue;
		}
		struct addrinfo *a = s->ai_cur;
		s->fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		               a->ai_protocol);
		if (s->fd < 0)
			return sess_fail(s, EC_ESYS, "socket: %s", strerror(errno));
		if (connect(s->fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS)
			return EC_EAGAIN;
		int e = errno;
		sess_close_fd(s);
		s->ai_cur = a->ai_next;
		if (!s->ai_cur)
			return sess_fail(s, EC_ECLOSED, "cannot connect to %s port %d: %s",
			                 s->cfg.hostname, s->cfg.port, strerror(e));
	}
	int one = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	s->state = S_HANDSHAKE;
	return 0;
}

static int kh_type(int hostkey_type)
{
	switch (hostkey_type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
#ifdef LIBSSH2_HOSTKEY_TYPE_ED25519
	case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
#endif
	}
	return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
}

/* As OpenSSH names key types in its messages. */
static const char *key_type_name(int hostkey_type)
{
	switch (hostkey_type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA: return "RSA";
	case LIBSSH2_HOSTKEY_TYPE_DSS: return "DSA";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ECDSA";
	case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ED25519";
	}
	return "unknown";
}

/* known_hosts, read a line at a time (libssh2's readfile stops at the first line it
 * cannot parse). line_of[i] is the file line of the i-th entry. */
struct khfile {
	LIBSSH2_KNOWNHOSTS *kh;
	int *line_of;
	size_t n;
	int missing;
};

static int kh_load(struct sess *s, const char *path, struct khfile *k)
{
	memset(k, 0, sizeof(*k));
	k->kh = libssh2_knownhost_init(s->s);
	if (!k->kh)
		return EC_ENOMEM;
	FILE *f = path && *path ? fopen(path, "re") : NULL;
	if (!f) {
		k->missing = 1;
		return 0;
	}
	char *line = NULL;
	size_t cap = 0, cap_lines = 0;
	ssize_t len;
	int lineno = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#' || *p == '\n' || *p == '@')
			continue; /* @cert-authority / @revoked: not understood by libssh2 1.10 */
		if (libssh2_knownhost_readline(k->kh, line, (size_t)len,
		                               LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
			continue;
		if (k->n == cap_lines) {
			size_t nc = cap_lines ? cap_lines * 2 : 64;
			int *nl = realloc(k->line_of, nc * sizeof(int));
			if (!nl)
				break;
			k->line_of = nl;
			cap_lines = nc;
		}
		k->line_of[k->n++] = lineno;
	}
	free(line);
	fclose(f);
	return 0;
}

static void kh_free(struct khfile *k)
{
	if (k->kh)
		libssh2_knownhost_free(k->kh);
	free(k->line_of);
}

static int kh_line_of(struct khfile *k, struct libssh2_knownhost *found)
{
	struct libssh2_knownhost *e = NULL, *prev = NULL;
	size_t i = 0;
	while (libssh2_knownhost_get(k->kh, &e, prev) == 0) {
		if (e == found)
			return i < k->n ? k->line_of[i] : 0;
		prev = e;
		i++;
	}
	return 0;
}

/* Before the handshake: prefer the host key types known_hosts holds for this host,
 * as OpenSSH does (libssh2 1.10 would otherwise pick ECDSA and find NOTFOUND). */
static void set_hostkey_pref(struct sess *s)
{
	static const struct {
		int kt;
		const char *alg;
	} types[] = {
		{LIBSSH2_KNOWNHOST_KEY_ED25519, "ssh-ed25519"},
		{LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256"},
		{LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384"},
		{LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521"},
		{LIBSSH2_KNOWNHOST_KEY_SSHRSA, "ssh-rsa"},
	};
	char pref[256] = "";
	const char *files[2] = {s->cfg.known_hosts, s->cfg.global_known_hosts};
	for (int fi = 0; fi < 2; fi++) {
		struct khfile k;
		if (kh_load(s, files[fi], &k) != 0 || k.missing) {
			kh_free(&k);
			continue;
		}
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			struct libssh2_knownhost *found = NULL;
			/* A dummy key: MISMATCH means "has a key of this type". */
			int rc = libssh2_knownhost_checkp(k.kh, s->cfg.hostname, s->cfg.port, "x", 1,
			                                  LIBSSH2_KNOWNHOST_TYPE_PLAIN |
			                                      LIBSSH2_KNOWNHOST_KEYENC_RAW | types[i].kt,
			                                  &found);
			if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH && !strstr(pref, types[i].alg)) {
				size_t l = strlen(pref);
				snprintf(pref + l, sizeof(pref) - l, "%s%s", l ? "," : "", types[i].alg);
			}
		}
		kh_free(&k);
	}
	/* Then the rest, so that an unknown host still negotiates (and is refused with its
	 * fingerprint, or accepted by accept-new). */
	char all[] = HOSTKEY_DEFAULT_PREF;
	char *save = NULL;
	for (char *t = strtok_r(all, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strstr(pref, t))
			continue;
		size_t l = strlen(pref);
		snprintf(pref + l, sizeof(pref) - l, "%s%s", l ? "," : "", t);
	}
	if (libssh2_session_method_pref(s->s, LIBSSH2_METHOD_HOSTKEY, pref))
		s->ps->host->log(s->ps->host, EC_LOG_DEBUG, "ssh: host key preference '%s' refused: %s",
		                 pref, sess_errmsg(s->s));
}

static int append_known_host(struct sess *s, struct khfile *k, const char *key, size_t keylen,
                             int type)
{
	char name[300];
	if (s->cfg.port == 22)
		snprintf(name, sizeof(name), "%s", s->cfg.hostname);
	else
		snprintf(name, sizeof(name), "[%s]:%d", s->cfg.hostname, s->cfg.port);
	struct libssh2_knownhost *e = NULL;
	if (libssh2_knownhost_addc(k->kh, name, NULL, key, keylen, NULL, 0,
	                           LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
	                               kh_type(type), &e))
		return sess_fail(s, EC_ESYS, "cannot record the host key of %s: %s", name,
		                 sess_errmsg(s->s));
	char line[4096];
	size_t n = 0;
	if (libssh2_knownhost_writeline(k->kh, e, line, sizeof(line), &n,
	                                LIBSSH2_KNOWNHOST_FILE_OPENSSH))
		return sess_fail(s, EC_ESYS, "cannot format the host key of %s: %s", name,
		                 sess_errmsg(s->s));
	/* ~/.ssh may not exist yet (OpenSSH creates it the same way). */
	char *dir = strdup(s->cfg.known_hosts), *slash = dir ? strrchr(dir, '/') : NULL;
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0700);
	}
	free(dir);
	/* Append one line; never rewrite the file (libssh2's writefile would drop what it
	 * did not parse). */
	int fd = open(s->cfg.known_hosts, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return sess_fail(s, EC_ESYS, "cannot add the host key of %s to %s: %s", name,
		                 s->cfg.known_hosts, strerror(errno));
	flock(fd, LOCK_EX);
	int rc = 0;
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		/* Make sure the last line ended. */
		int rfd = open(s->cfg.known_hosts, O_RDONLY | O_CLOEXEC);
		char last = '\n';
		if (rfd >= 0) {
			if (pread(rfd, &last, 1, st.st_size - 1) != 1)
				last = '\n';
			close(rfd);
		}
		if (last != '\n' && write(fd, "\n", 1) != 1)
			rc = -1;
	}
	if (!rc && write(fd, line, n) != (ssize_t)n)
		rc = -1;
	int e2 = errno;
	flock(fd, LOCK_UN);
	close(fd);
	if (rc)
		return sess_fail(s, EC_ESYS, "cannot add the host key of %s to %s: %s", name,
		                 s->cfg.known_hosts, strerror(e2));
	s->ps->host->log(s->ps->host, EC_LOG_WARNING,
	                 "ssh: permanently added '%s' (%s) to the list of known hosts (%s)", name,
	                 key_type_name(type), s->cfg.known_hosts);
	return 0;
}

static int check_hostkey(struct sess *s)
{
	size_t len = 0;
	int type = 0;
	const char *key = libssh2_session_hostkey(s->s, &len, &type);
	if (!key)
		return sess_fail(s, EC_EPROTO, "%s sent no host key", s->cfg.hostname);
	char fp[64] = "?";
	const char *hash = libssh2_hostkey_hash(s->s, LIBSSH2_HOSTKEY_HASH_SHA256);
	if (hash)
		b64((const unsigned char *)hash, 32, fp, sizeof(fp));
	char name[300];
	if (s->cfg.port == 22)
		snprintf(name, sizeof(name), "%s", s->cfg.hostname);
	else
		snprintf(name, sizeof(name), "[%s]:%d", s->cfg.hostname, s->cfg.port);
	/* The user's file, then the system's (/etc/ssh/ssh_known_hosts), as OpenSSH: a
	 * match in either is enough; else a key of that type in either is a change. */
	const char *files[2] = {s->cfg.known_hosts, s->cfg.global_known_hosts};
	struct khfile k[2];
	int rcs[2];
	struct libssh2_knownhost *found[2] = {NULL, NULL};
	for (int i = 0; i < 2; i++) {
		if (kh_load(s, files[i], &k[i])) {
			kh_free(&k[0]);
			if (i)
				kh_free(&k[1]);
			return sess_fail(s, EC_ENOMEM, "out of memory");
		}
		rcs[i] = libssh2_knownhost_checkp(k[i].kh, s->cfg.hostname, s->cfg.port, key, len,
		                                  LIBSSH2_KNOWNHOST_TYPE_PLAIN |
		                                      LIBSSH2_KNOWNHOST_KEYENC_RAW | kh_type(type),
		                                  &found[i]);
	}
	int which = rcs[0] == LIBSSH2_KNOWNHOST_CHECK_MATCH ? 0
	            : rcs[1] == LIBSSH2_KNOWNHOST_CHECK_MATCH ? 1
	            : rcs[0] == LIBSSH2_KNOWNHOST_CHECK_MISMATCH ? 0
	            : rcs[1] == LIBSSH2_KNOWNHOST_CHECK_MISMATCH ? 1
	            : rcs[0] == LIBSSH2_KNOWNHOST_CHECK_FAILURE ? 0
	                                                         : 1;
	int rc = rcs[which];
	const char *file = files[which];
	const struct ec_host *h = s->ps->host;
	int ret = 0;
	if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH) {
		h->log(h, EC_LOG_DEBUG, "ssh: host '%s' is known and matches the %s host key (SHA256:%s, "
		       "%s)", name, key_type_name(type), fp, file);
	} else if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) {
		int line = kh_line_of(&k[which], found[which]);
		if (s->cfg.hkc == HKC_OFF) {
			h->log(h, EC_LOG_WARNING,
			       "ssh: the %s host key for %s has changed (SHA256:%s, not the key in "
			       "%s:%d); host_key_checking is off, connecting anyway",
			       key_type_name(type), name, fp, file, line);
		} else {
			ret = sess_fail(s, EC_EAUTH,
			                "REMOTE HOST IDENTIFICATION HAS CHANGED: the %s host key for %s "
			                "is SHA256:%s, which is not the key in %s:%d; someone could be "
			                "eavesdropping (man-in-the-middle), or the host key has just "
			                "been changed. Host key verification failed.",
			                key_type_name(type), name, fp, file, line);
		}
	} else if (rc == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND) {
		if (s->cfg.hkc == HKC_ACCEPT_NEW)
			ret = append_known_host(s, &k[0], key, len, type); /* the user's file only */
		else if (s->cfg.hkc == HKC_OFF)
			h->log(h, EC_LOG_WARNING,
			       "ssh: no %s host key is known for %s (SHA256:%s); host_key_checking is "
			       "off, connecting anyway", key_type_name(type), name, fp);
		else
			ret = sess_fail(s, EC_EAUTH,
			                "No %s host key is known for %s and you have requested strict "
			                "checking (%s key fingerprint is SHA256:%s; known hosts file %s%s%s%s). "
			                "Host key verification failed.",
			                key_type_name(type), name, key_type_name(type), fp,
			                s->cfg.known_hosts, k[0].missing ? ", which does not exist" : "",
			                k[1].missing ? "" : ", and ", k[1].missing ? "" : files[1]);
	} else {
		ret = sess_fail(s, EC_EAUTH, "cannot check the host key of %s against %s: %s", name,
		                file, sess_errmsg(s->s));
	}
	kh_free(&k[0]);
	kh_free(&k[1]);
	if (!ret)
		s->state = S_AUTHLIST;
	return ret;
}

static void tried_add(struct sess *s, const char *fmt, ...) EC_PRINTF(2, 3);
static void tried_add(struct sess *s, const char *fmt, ...)
{
	size_t l = strlen(s->tried);
	if (l && l + 2 < sizeof(s->tried)) {
		memcpy(s->tried + l, "; ", 3);
		l += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->tried + l, sizeof(s->tried) - l, fmt, ap);
	va_end(ap);
}

/* libssh2 before 1.11 signs only with ssh-rsa (SHA-1), which OpenSSH 8.8 and newer
 * refuse by default. */
#define RSA_MSG "libssh2 1.10 cannot use RSA keys with OpenSSH 8.8 or newer; use an ed25519 or ECDSA key"

static int rsa_unsupported(void)
{
	return libssh2_version(0x010b00) == NULL;
}

/* An SSH wire-format blob (a public key) whose type string is "ssh-rsa". */
static int blob_is_rsa(const unsigned char *b, size_t n)
{
	if (n < 4)
		return 0;
	size_t l = (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
	return l == 7 && n >= 11 && memcmp(b + 4, "ssh-rsa", 7) == 0;
}

/* Is the private key file an RSA key? PEM ("BEGIN RSA PRIVATE KEY") or the OpenSSH
 * format (the type of the public key it holds: it is not encrypted). */
static int key_file_is_rsa(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
	char text[16384];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	if (strstr(text, "-----BEGIN RSA PRIVATE KEY-----"))
		return 1;
	const char *p = strstr(text, begin);
	if (!p)
		return 0;
	p += sizeof(begin) - 1;
	/* Enough base64 for the header and the public key's type. */
	unsigned char bin[512];
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (; *p && *p != '-' && o < sizeof(bin); p++) {
		const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		const char *c = *p ? strchr(tab, *p) : NULL;
		if (!c)
			continue; /* whitespace, padding */
		acc = acc << 6 | (unsigned)(c - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			bin[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* "openssh-key-v1\0", string cipher, string kdf, string kdfoptions, uint32 count,
	 * string publickey */
	size_t at = 15;
	if (o < at || memcmp(bin, "openssh-key-v1", 15) != 0)
		return 0;
	for (int i = 0; i < 3; i++) {
		if (at + 4 > o)
			return 0;
		size_t l = (size_t)bin[at] << 24 | (size_t)bin[at + 1] << 16 | (size_t)bin[at + 2] << 8 |
		           bin[at + 3];
		if (l > o)
			return 0;
		at += 4 + l;
	}
	at += 4; /* the key count */
	if (at + 4 > o)
		return 0;
	return blob_is_rsa(bin + at + 4, o - at - 4);
}

static int method_offered(const struct sess *s, const char *m)
{
	const char *p = s->methods;
	size_t ml = strlen(m);
	while (p && *p) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		if (l == ml && strncmp(p, m, l) == 0)
			return 1;
		p = c ? c + 1 : NULL;
	}
	return 0;
}

/* libssh2's allocator for a session: plain malloc, except that the copies of the
 * password given as keyboard-interactive answers are wiped before they are freed
 * (libssh2 frees them with this function, not knowing what they hold). */
static LIBSSH2_ALLOC_FUNC(ssh_alloc)
{
	(void)abstract;
	return malloc(count);
}

static LIBSSH2_REALLOC_FUNC(ssh_realloc)
{
	(void)abstract;
	return realloc(ptr, count);
}

static LIBSSH2_FREE_FUNC(ssh_free)
{
	struct sess *s = abstract ? *abstract : NULL;
	size_t slots = sizeof(s->kbd_answer) / sizeof(s->kbd_answer[0]);
	for (size_t i = 0; s && ptr && i < slots; i++) {
		if (s->kbd_answer[i] == ptr) {
			explicit_bzero(ptr, strlen(ptr));
			s->kbd_answer[i] = NULL;
		}
	}
	free(ptr);
}

static LIBSSH2_USERAUTH_KBDINT_RESPONSE_FUNC(kbd_cb)
{
	(void)name;
	(void)name_len;
	(void)instruction;
	(void)instruction_len;
	struct sess *s = *abstract;
	s->kbd_rounds++;
	for (int i = 0; i < num_prompts; i++) {
		/* Every prompt gets the password: "Password:" is the one PAM asks. */
		(void)prompts;
		responses[i].text = s->password ? strdup(s->password) : NULL;
		responses[i].length = responses[i].text ? (unsigned)strlen(responses[i].text) : 0;
		size_t slots = sizeof(s->kbd_answer) / sizeof(s->kbd_answer[0]);
		for (size_t j = 0; responses[i].text && j < slots; j++) {
			if (!s->kbd_answer[j]) {
				s->kbd_answer[j] = responses[i].text;
				break;
			}
		}
	}
}

static int load_password(struct sess *s)
{
	if (s->password)
		return 0;
	if (s->cfg.password_env) {
		const char *v = getenv(s->cfg.password_env);
		if (!v)
			return sess_fail(s, EC_EAUTH,
			                 "password_env names %s, which is not set in the environment",
			                 s->cfg.password_env);
		s->password = strdup(v);
	} else if (s->cfg.password_file) {
		FILE *f = fopen(s->cfg.password_file, "re");
		if (!f)
			return sess_fail(s, EC_EAUTH, "cannot read password_file %s: %s",
			                 s->cfg.password_file, strerror(errno));
		char buf[1024];
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		buf[strcspn(buf, "\r\n")] = '\0';
		s->password = strdup(buf);
		explicit_bzero(buf, sizeof(buf));
	}
	if ((s->cfg.password_env || s->cfg.password_file) && !s->password)
		return sess_fail(s, EC_ENOMEM, "out of memory");
	return 0;
}

/* The key the answer is kept under: shared by every session to that account. */
static void secret_key(const struct sess *s, char *key, size_t cap)
{
	snprintf(key, cap, "ssh:%s@%s:%d", s->cfg.username, s->cfg.hostname, s->cfg.port);
}

/* The password: password_env, password_file or, with neither, the application's answer
 * (the `econtext` command asks on its terminal, once per user, host and port). 0 with
 * s->password set; EC_EAGAIN while it is asked (our deadline is paused meanwhile, as is
 * the core's); EC_ENOTFOUND when there is none to give; or the session's failure. */
static int get_password(struct sess *s)
{
	const struct ec_host *h = s->ps->host;
	if (s->password)
		return 0;
	if (s->cfg.password_env || s->cfg.password_file)
		return load_password(s) ? s->fail.code : 0;
	if (h->size < offsetof(struct ec_host, secret_forget) + sizeof(h->secret_forget) ||
	    !h->secret_get)
		return EC_ENOTFOUND;
	char key[600], prompt[600], buf[1025];
	size_t n = 0;
	struct ec_error e = {0};
	secret_key(s, key, sizeof(key));
	snprintf(prompt, sizeof(prompt), "%s@%s's password: ", s->cfg.username, s->cfg.hostname);
	int rc = h->secret_get(h, key, prompt, buf, sizeof(buf), &n, &e);
	if (rc == EC_EAGAIN) {
		if (!s->prompt_since) {
			s->prompt_since = now_ms();
			timer_set(s, 0);
		}
		return rc;
	}
	if (s->prompt_since) {
		s->deadline_ms += now_ms() - s->prompt_since;
		s->prompt_since = 0;
		timer_set(s, s->deadline_ms);
	}
	if (rc == EC_ENOTFOUND)
		return rc;
	if (rc)
		return sess_fail(s, rc, "authentication to %s: %s", s->label, e.msg);
	s->password = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	if (!s->password)
		return sess_fail(s, EC_ENOMEM, "out of memory");
	s->pw_asked = 1;
	return 0;
}

/* The server refused the password: one from the application is forgotten (the next
 * context asks again) and not tried with another method. */
static void password_refused(struct sess *s, const char *method)
{
	tried_add(s, "%s (refused)", method);
	if (!s->pw_asked)
		return;
	char key[600];
	secret_key(s, key, sizeof(key));
	s->ps->host->secret_forget(s->ps->host, key);
	wipe_free(s->password);
	s->password = NULL;
	s->pw_refused = 1;
}

static int auth_done(struct sess *s)
{
	const struct ec_host *h = s->ps->host;
	wipe_free(s->password);
	s->password = NULL;
	if (s->agent) {
		libssh2_agent_disconnect(s->agent);
		libssh2_agent_free(s->agent);
		s->agent = NULL;
	}
	h->log(h, EC_LOG_DEBUG, "ssh: authenticated to %s%s%s", s->label, s->tried[0] ? " after " : "",
	       s->tried);
	s->state = S_READY;
	timer_set(s, 0);
	if (s->cfg.keepalive_s > 0) {
		libssh2_keepalive_config(s->s, 1, (unsigned)s->cfg.keepalive_s);
		s->next_keepalive_ms = now_ms() + s->cfg.keepalive_s * 1000;
		timer_set(s, s->next_keepalive_ms);
	}
	return 0;
}

static int auth_step(struct sess *s)
{
	const struct ec_host *h = s->ps->host;
	int rc;
	while (s->astep != A_DONE) {
		switch (s->astep) {
		case A_AGENT: {
			const char *sock = getenv("SSH_AUTH_SOCK");
			if (!s->cfg.agent || !sock || !*sock || !method_offered(s, "publickey")) {
				s->astep = A_KEYS;
				break;
			}
			if (!s->agent_started) {
				s->agent_started = 1;
				/* The agent's own socket I/O is blocking and local (short). */
				s->agent = libssh2_agent_init(s->s);
				if (!s->agent || libssh2_agent_connect(s->agent) ||
				    libssh2_agent_list_identities(s->agent)) {
					tried_add(s, "ssh-agent (%s: %s)", sock, sess_errmsg(s->s));
					s->astep = A_KEYS;
					break;
				}
				s->agent_id = NULL;
				if (libssh2_agent_get_identity(s->agent, &s->agent_id, NULL)) {
					tried_add(s, "ssh-agent (no keys)");
					s->astep = A_KEYS;
					break;
				}
			}
			rc = libssh2_agent_userauth(s->agent, s->cfg.username, s->agent_id);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return EC_EAGAIN;
			if (rc == 0)
				return auth_done(s);
			s->agent_tried++;
			if (rsa_unsupported() && blob_is_rsa(s->agent_id->blob, s->agent_id->blob_len))
				s->agent_rsa++;
			struct libssh2_agent_publickey *prev = s->agent_id;
			if (libssh2_agent_get_identity(s->agent, &s->agent_id, prev)) {
				if (s->agent_rsa)
					tried_add(s, "ssh-agent (%d key%s refused, %d of them RSA: " RSA_MSG ")",
					          s->agent_tried, s->agent_tried == 1 ? "" : "s", s->agent_rsa);
				else
					tried_add(s, "ssh-agent (%d key%s refused)", s->agent_tried,
					          s->agent_tried == 1 ? "" : "s");
				s->astep = A_KEYS;
			}
			break;
		}
		case A_KEYS:
			if (s->id_idx >= s->cfg.n_identity || !method_offered(s, "publickey")) {
				s->astep = A_PASSWORD;
				break;
			}
			{
				const char *f = s->cfg.identity_files[s->id_idx];
				if (access(f, R_OK) != 0) {
					tried_add(s, "key %s (%s)", f, strerror(errno));
					s->id_idx++;
					break;
				}
				rc = libssh2_userauth_publickey_fromfile_ex(
					s->s, s->cfg.username, (unsigned)strlen(s->cfg.username), NULL, f, NULL);
				if (rc == LIBSSH2_ERROR_EAGAIN)
					return EC_EAGAIN;
				if (rc == 0)
					return auth_done(s);
				char *m = NULL;
				libssh2_session_last_error(s->s, &m, NULL, 0);
				if (rc == LIBSSH2_ERROR_FILE)
					tried_add(s, "key %s (cannot be read: %s)", f, m ? m : "?");
				else if (rsa_unsupported() && key_file_is_rsa(f))
					tried_add(s, "key %s (refused: it is an RSA key, and " RSA_MSG ")", f);
				else
					tried_add(s, "key %s (refused)", f);
				h->log(h, EC_LOG_DEBUG, "ssh: key %s for %s: %d %s", f, s->label, rc,
				       m ? m : "");
				s->id_idx++;
			}
			break;
		case A_PASSWORD:
			if (!method_offered(s, "password")) {
				s->astep = A_KBDINT;
				break;
			}
			rc = get_password(s);
			if (rc == EC_ENOTFOUND) {
				s->astep = A_KBDINT;
				break;
			}
			if (rc)
				return rc;
			rc = libssh2_userauth_password_ex(s->s, s->cfg.username,
			                                  (unsigned)strlen(s->cfg.username), s->password,
			                                  (unsigned)strlen(s->password), NULL);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return EC_EAGAIN;
			if (rc == 0)
				return auth_done(s);
			password_refused(s, "password");
			s->astep = A_KBDINT;
			break;
		case A_KBDINT:
			if (!s->cfg.kbdint || s->pw_refused || !method_offered(s, "keyboard-interactive")) {
				s->astep = A_DONE;
				break;
			}
			rc = get_password(s);
			if (rc == EC_ENOTFOUND) {
				s->astep = A_DONE;
				break;
			}
			if (rc)
				return rc;
			rc = libssh2_userauth_keyboard_interactive_ex(
				s->s, s->cfg.username, (unsigned)strlen(s->cfg.username), kbd_cb);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return EC_EAGAIN;
			if (rc == 0)
				return auth_done(s);
			password_refused(s, "keyboard-interactive");
			s->astep = A_DONE;
			break;
		case A_DONE:
			break;
		}
	}
	return sess_fail(s, EC_EAUTH,
	                 "authentication failed for %s: %s; the server accepts: %s", s->label,
	                 s->tried[0] ? s->tried : "no method could be tried (no key file, no agent, "
	                                          "no password_env, password_file or "
	                                          "terminal)",
	                 s->methods ? s->methods : "?");
}

static int sess_step(struct sess *s);
static int may_call(const struct sess *s, const void *who, enum op op);
static void after_call(struct sess *s, const void *who, enum op op, long rc);

/* The connect of a session via a jump host: the hop's session first (driven from
 * here: it may have no context of its own), then a direct-tcpip channel on it to our
 * host and port (the hop resolves and connects), then the socketpair our SSH runs on. */
static int tun_connect(struct sess *s)
{
	struct sess *b = s->via;
	if (!s->deadline_ms) {
		s->deadline_ms = now_ms() + s->cfg.connect_ms;
		timer_set(s, s->deadline_ms);
	}
	int rc = sess_step(b);
	if (rc == EC_EAGAIN)
		return rc;
	if (rc)
		return sess_fail(s, b->fail.code, "cannot reach %s port %d via %s: %s", s->cfg.hostname,
		                 s->cfg.port, b->label, b->fail.msg);
	if (!s->tun) {
		if (!(s->tun = calloc(1, sizeof(*s->tun))))
			return sess_fail(s, EC_ENOMEM, "out of memory");
		s->tun->sv[0] = s->tun->sv[1] = -1;
		sess_wake_all(b, NULL); /* the hop is ready: its own contexts may go on */
	}
	struct tunnel *tn = s->tun;
	if (!may_call(b, tn, OP_OPEN))
		return EC_EAGAIN;
	tn->opening = 1;
	tn->ch = libssh2_channel_direct_tcpip_ex(b->s, s->cfg.hostname, s->cfg.port, "127.0.0.1", 22);
	rc = tn->ch ? 0 : libssh2_session_last_errno(b->s);
	after_call(b, tn, OP_OPEN, rc);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return EC_EAGAIN;
	tn->opening = 0;
	if (rc)
		return sess_fail(s, EC_ECLOSED, "cannot connect to %s port %d through %s: %s",
		                 s->cfg.hostname, s->cfg.port, b->label, sess_errmsg(b->s));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, tn->sv))
		return sess_fail(s, EC_ESYS, "socketpair: %s", strerror(errno));
	s->fd = tn->sv[0]; /* the session's now */
	tn->sv[0] = -1;
	s->ps->host->log(s->ps->host, EC_LOG_DEBUG, "ssh: tunnel to %s port %d open through %s",
	                 s->cfg.hostname, s->cfg.port, b->label);
	s->state = S_HANDSHAKE;
	return 0;
}

/* Drive the session towards S_READY. 0 when ready, EC_EAGAIN, or its failure. */
static int sess_step(struct sess *s)
{
	const struct ec_host *h = s->ps->host;
	if (s->state == S_FAILED)
		return s->fail.code;
	if (s->state == S_READY)
		return 0;
	if (s->deadline_ms && !s->prompt_since && now_ms() >= s->deadline_ms) {
		const char *phase = s->state == S_CONNECT && s->via ? "connecting"
		                    : s->state == S_CONNECT && !s->ai ? "resolving the host name"
		                    : s->state == S_CONNECT     ? "connecting"
		                    : s->state == S_HANDSHAKE ? "during the SSH handshake"
		                                              : "during authentication";
		return sess_fail(s, EC_ETIMEDOUT, "connection to %s port %d%s%s timed out %s "
		                 "(connect_timeout %.3g s)", s->cfg.hostname, s->cfg.port,
		                 s->via ? " via " : "", s->via ? s->via->label : "", phase,
		                 (double)s->cfg.connect_ms_given / 1000.0);
	}
	int rc;
	for (;;) {
		switch (s->state) {
		case S_CONNECT:
			rc = s->via ? tun_connect(s) : try_connect(s);
			if (rc)
				return rc;
			break;
		case S_HANDSHAKE:
			if (!s->s) {
				s->s = libssh2_session_init_ex(ssh_alloc, ssh_free, ssh_realloc, s);
				if (!s->s)
					return sess_fail(s, EC_ENOMEM, "out of memory (libssh2 session)");
				libssh2_session_set_blocking(s->s, 0);
				set_hostkey_pref(s);
			}
			rc = libssh2_session_handshake(s->s, s->fd);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return EC_EAGAIN;
			if (rc)
				return sess_fail(s, EC_EPROTO, "SSH handshake with %s port %d failed: %s",
				                 s->cfg.hostname, s->cfg.port, sess_errmsg(s->s));
			h->log(h, EC_LOG_DEBUG, "ssh: %s: kex %s, host key %s, cipher %s, mac %s",
			       s->label, libssh2_session_methods(s->s, LIBSSH2_METHOD_KEX),
			       libssh2_session_methods(s->s, LIBSSH2_METHOD_HOSTKEY),
			       libssh2_session_methods(s->s, LIBSSH2_METHOD_CRYPT_CS),
			       libssh2_session_methods(s->s, LIBSSH2_METHOD_MAC_CS));
			s->state = S_HOSTKEY;
			break;
		case S_HOSTKEY:
			rc = check_hostkey(s);
			if (rc)
				return rc;
			break;
		case S_AUTHLIST: {
			char *list = libssh2_userauth_list(s->s, s->cfg.username,
			                                   (unsigned)strlen(s->cfg.username));
			if (!list) {
				if (libssh2_userauth_authenticated(s->s))
					return auth_done(s);
				if (libssh2_session_last_errno(s->s) == LIBSSH2_ERROR_EAGAIN)
					return EC_EAGAIN;
				return sess_fail(s, EC_EAUTH, "cannot list the authentication methods of %s: %s",
				                 s->label, sess_errmsg(s->s));
			}
			s->methods = strdup(list);
			s->state = S_AUTH;
			break;
		}
		case S_AUTH:
			return auth_step(s);
		case S_READY:
			return 0;
		case S_FAILED:
			return s->fail.code;
		}
	}
}

/* ---- the session's shared bookkeeping around each call --------------------------- */

/* A call by `who` (an instance or a tunnel) returned; rc its result. Track who holds
 * the session. */
static void after_call(struct sess *s, const void *who, enum op op, long rc)
{
	if (rc == LIBSSH2_ERROR_EAGAIN && (op == OP_OPEN || sess_wants_out(s))) {
		s->owner = who;
		s->owner_op = op;
	} else if (s->owner == who && s->owner_op == op) {
		s->owner = NULL;
		s->owner_op = OP_NONE;
		sess_wake_all(s, NULL);
	}
}

/* May `who` make a call of kind op now? */
static int may_call(const struct sess *s, const void *who, enum op op)
{
	if (s->orphan_owner)
		return 0;
	if (!s->owner)
		return 1;
	return s->owner == who && s->owner_op == op;
}

/* Finish what dead channels left in flight; free them when they are done. A call left
 * half sent is retried first (any other call would find libssh2's send buffer taken),
 * then the channel is closed. */
static void service_orphans(struct sess *s)
{
	static char dummy[CHUNK];
	for (struct orphan **pp = &s->orphans; *pp;) {
		struct orphan *o = *pp;
		if (s->orphan_owner && s->orphan_owner != o) {
			pp = &o->next;
			continue;
		}
		if (s->owner) /* a live instance holds the session */
			return;
		long rc = 0;
		switch (o->op) {
		case OP_WRITE: /* the packet is already encrypted: any buffer completes it */
			rc = libssh2_channel_write(o->ch, dummy, 1);
			if (rc >= 0)
				rc = 0;
			break;
		case OP_READ:
			rc = libssh2_channel_read(o->ch, dummy, sizeof(dummy));
			if (rc >= 0)
				rc = 0;
			break;
		case OP_EXEC: /* the request packet is built: the retry sends what is left */
			rc = libssh2_channel_process_startup(o->ch, "exec", 4, "", 0);
			break;
		case OP_EOF:
			rc = libssh2_channel_send_eof(o->ch);
			break;
		case OP_OPEN: {
			/* The open's packet is kept by libssh2: the retry's arguments are unused. */
			LIBSSH2_CHANNEL *ch =
				o->direct ? libssh2_channel_direct_tcpip_ex(s->s, "127.0.0.1", 22, "127.0.0.1", 22)
				          : libssh2_channel_open_ex(s->s, "session", 7, WINDOW, CHUNK, NULL, 0);
			o->ch = ch;
			rc = ch ? 0 : libssh2_session_last_errno(s->s);
			break;
		}
		default:
			rc = o->ch ? libssh2_channel_free(o->ch) : 0;
			if (rc != LIBSSH2_ERROR_EAGAIN)
				o->ch = NULL; /* freed, or failed for good (libssh2 frees it with the
				               * session) */
			break;
		}
		if (rc == LIBSSH2_ERROR_EAGAIN) {
			if (o->op == OP_OPEN || (o->op != OP_NONE && sess_wants_out(s)))
				s->orphan_owner = o;
			else if (s->orphan_owner == o)
				s->orphan_owner = NULL;
			pp = &o->next;
			continue;
		}
		if (s->orphan_owner == o) {
			s->orphan_owner = NULL;
			sess_wake_all(s, NULL);
		}
		if (o->op != OP_NONE && o->ch) { /* the pending call is done: now close it */
			o->op = OP_NONE;
			continue;
		}
		*pp = o->next;
		free(o);
	}
}

static struct orphan *orphan_add(struct sess *s, LIBSSH2_CHANNEL *ch, enum op op, int direct)
{
	struct orphan *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL; /* freed with the session */
	o->ch = ch;
	o->op = op;
	o->direct = direct;
	o->next = s->orphans;
	s->orphans = o;
	return o;
}

/* The owner of ch (an instance or a tunnel) is gone: close ch now if nothing is in
 * flight, else hand it to the session, which finishes the call in flight (a half-sent
 * packet first of all) and then closes it. ch NULL: an open in flight, or nothing. */
static void chan_abandon(struct sess *s, const void *who, LIBSSH2_CHANNEL *ch, int direct)
{
	enum op pending = s->owner == who ? s->owner_op : OP_NONE;
	if (s->owner == who) {
		s->owner = NULL;
		s->owner_op = OP_NONE;
	}
	struct orphan *o = NULL;
	if (!ch) {
		if (pending == OP_OPEN)
			o = orphan_add(s, NULL, OP_OPEN, direct);
	} else if (pending == OP_NONE && !s->owner && !s->orphan_owner && s->state == S_READY) {
		if (libssh2_channel_free(ch) == LIBSSH2_ERROR_EAGAIN)
			orphan_add(s, ch, OP_NONE, direct);
	} else {
		/* OP_OTHER (waiting for the close) sends nothing: the close itself is next. */
		o = orphan_add(s, ch, pending == OP_OTHER ? OP_NONE : pending, direct);
	}
	if (pending != OP_NONE && pending != OP_OTHER && o)
		s->orphan_owner = o; /* it holds the session until done */
	sess_wake_all(s, NULL);
}

/* ---- tunnels: a session's SSH through a direct-tcpip channel of the one below ------ */

/* Move what can be moved between the tunnel of t (on t->via) and t's socketpair.
 * 1 if anything moved. */
static int tun_pump(struct sess *t)
{
	struct tunnel *tn = t->tun;
	struct sess *b = t->via;
	if (!tn || !tn->ch || !b || !b->s)
		return 0;
	int progress = 0;
	for (int round = 0; round < 64; round++) {
		int moved = 0;
		/* Down: the channel to the socketpair. */
		if (tn->down_off < tn->down_len) {
			ssize_t n = send(tn->sv[1], tn->down + tn->down_off, tn->down_len - tn->down_off,
			                 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				tn->down_off += (size_t)n;
				moved = 1;
			} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				tn->down_off = tn->down_len = 0; /* the session above is gone */
				tn->down_eof = 1;
			}
		}
		if (tn->down_off == tn->down_len && !tn->down_eof && may_call(b, tn, OP_READ)) {
			ssize_t n = libssh2_channel_read(tn->ch, tn->down, sizeof(tn->down));
			after_call(b, tn, OP_READ, (long)n);
			if (n > 0) {
				tn->down_off = 0;
				tn->down_len = (size_t)n;
				moved = 1;
			} else if ((n < 0 && n != LIBSSH2_ERROR_EAGAIN) || libssh2_channel_eof(tn->ch)) {
				/* The far end (or the hop's connection) closed: so does the socketpair,
				 * and the session above sees its connection end. */
				t->ps->host->log(t->ps->host, EC_LOG_DEBUG, "ssh: tunnel to %s closed: %s",
				                 t->label, n < 0 ? sess_errmsg(b->s) : "end of stream");
				tn->down_off = tn->down_len = 0;
				tn->down_eof = 1;
				shutdown(tn->sv[1], SHUT_WR);
				moved = 1;
			}
		}
		/* Up: the socketpair to the channel. */
		if (tn->up_off == tn->up_len && !tn->up_eof) {
			ssize_t n = recv(tn->sv[1], tn->up, sizeof(tn->up), MSG_DONTWAIT);
			if (n > 0) {
				tn->up_off = 0;
				tn->up_len = (size_t)n;
				moved = 1;
			} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
				tn->up_eof = 1;
			}
		}
		if (tn->up_off < tn->up_len && may_call(b, tn, OP_WRITE)) {
			/* A retry after a half-sent packet passes the same bytes again. */
			ssize_t n = libssh2_channel_write(tn->ch, tn->up + tn->up_off, tn->up_len - tn->up_off);
			after_call(b, tn, OP_WRITE, (long)n);
			if (n > 0) {
				tn->up_off += (size_t)n;
				moved = 1;
			} else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
				tn->up_off = tn->up_len = 0;
				tn->up_eof = 1;
				shutdown(tn->sv[1], SHUT_RDWR);
				moved = 1;
			}
		}
		if (!moved)
			break;
		progress = 1;
	}
	return progress;
}

static void keepalive(struct sess *s);

/* Drive everything under s: the hops' keepalives and orphans, and every tunnel of
 * the chain, until nothing moves. The core calls only the top layer, so the hops
 * progress here. */
static void chain_drive(struct sess *s)
{
	if (!s->via)
		return;
	for (int round = 0; round < 16; round++) {
		int progress = 0;
		for (struct sess *x = s; x->via; x = x->via) {
			timer_drain(x->via);
			keepalive(x->via);
			service_orphans(x->via);
			progress |= tun_pump(x);
		}
		if (!progress)
			break;
	}
	for (struct sess *x = s; x->via; x = x->via)
		sess_wake_pending(x->via, NULL);
}

static void keepalive(struct sess *s)
{
	if (s->state != S_READY || s->cfg.keepalive_s <= 0)
		return;
	long long t = now_ms();
	if (t < s->next_keepalive_ms)
		return;
	if (s->owner || s->orphan_owner) { /* a packet is half sent: a little later */
		timer_set(s, t + 50);
		return;
	}
	/* libssh2 1.10 builds the keepalive packet on its stack and ignores a partial send:
	 * send it only when the socket can take it whole. */
	struct pollfd p = {.fd = s->fd, .events = POLLOUT};
	if (poll(&p, 1, 0) == 1 && (p.revents & POLLOUT)) {
		int next = 0;
		libssh2_keepalive_send(s->s, &next);
		s->ps->host->log(s->ps->host, EC_LOG_DEBUG, "ssh: keepalive to %s", s->label);
	}
	s->next_keepalive_ms = t + s->cfg.keepalive_s * 1000;
	timer_set(s, s->next_keepalive_ms);
}

/* ---- plugin and instance lifecycle ------------------------------------------------ */

static int ssh_load(const struct ec_host *host, void **state, struct ec_error *err)
{
	struct plugin_state *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return host->error_set(err, EC_ENOMEM, "plugin ssh", "out of memory");
	ps->host = host;
	int rc = libssh2_init(0);
	if (rc) {
		free(ps);
		return host->error_set(err, EC_EPLUGIN, "plugin ssh", "libssh2_init failed (%d)", rc);
	}
	ps->libssh2_ok = 1;
	*state = ps;
	return 0;
}

static void ssh_unload(void *state)
{
	struct plugin_state *ps = state;
	if (!ps)
		return;
	while (ps->sessions) /* none should be left: every instance is gone */
		sess_teardown(ps->sessions);
	if (ps->libssh2_ok)
		libssh2_exit();
	free(ps);
}

static const struct ec_param ssh_params[] = {
	{.key = "hostname", .type = EC_PARAM_STR, .flags = EC_PARAM_REQUIRED,
	 .help = "the host to log in to"},
	{.key = "port", .type = EC_PARAM_INT, .dflt = "22", .min = 1, .max = 65535,
	 .help = "the SSH port"},
	{.key = "username", .type = EC_PARAM_STR, .help = "the user to log in as (default: yours)"},
	{.key = "identity_file", .type = EC_PARAM_STR_LIST,
	 .help = "private key files to try (default: ~/.ssh/id_ed25519, ~/.ssh/id_ecdsa)"},
	{.key = "agent", .type = EC_PARAM_BOOL, .dflt = "true",
	 .help = "use ssh-agent when SSH_AUTH_SOCK is set"},
	{.key = "password_env", .type = EC_PARAM_STR,
	 .help = "environment variable that holds the password"},
	{.key = "password_file", .type = EC_PARAM_STR,
	 .help = "file whose first line is the password"},
	{.key = "keyboard_interactive", .type = EC_PARAM_BOOL, .dflt = "true",
	 .help = "answer keyboard-interactive prompts with the password"},
	{.key = "known_hosts", .type = EC_PARAM_STR, .dflt = "~/.ssh/known_hosts",
	 .help = "the known_hosts file"},
	{.key = "global_known_hosts", .type = EC_PARAM_STR, .dflt = "/etc/ssh/ssh_known_hosts",
	 .help = "the system's known_hosts file, also consulted (never written); empty: none"},
	{.key = "host_key_checking", .type = EC_PARAM_STR, .dflt = "strict",
	 .help = "strict, accept-new or off"},
	{.key = "keepalive_interval", .type = EC_PARAM_DURATION, .dflt = "0",
	 .help = "seconds between keepalive messages (0: none)"},
	{.key = "ssh_config", .type = EC_PARAM_STR, .dflt = "~/.ssh/config",
	 .help = "the OpenSSH client config file read for Host blocks; empty: none"},
	{0},
};

/* ---- ~/.ssh/config (the parser is ssh_config.c) ------------------------------------ */

static void ssh_destroy(void *inst);

static char *local_user(void)
{
	char pwbuf[1024];
	struct passwd pw, *res = NULL;
	if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
		return strdup(pw.pw_name);
	return strdup("root");
}

/* ProxyJump's hops as layers below in, built the way via: is (tunnel only), owned by
 * in. A hop gets its own Host block of the file; user and port in the hop's spec win;
 * the rest (known_hosts, host_key_checking, timeouts, identity files when its block
 * names none) is the target's. */
static int proxyjump_build(struct inst *in, const char *file, const char *pj,
                           struct ec_error *err)
{
	const struct ec_host *h = in->host;
	const char *pos = pj;
	struct inst *below = NULL;
	char *user, *host;
	int port, r, nh = 0;
	while ((r = sshcfg_next_hop(&pos, &user, &host, &port)) == 1) {
		struct inst *hop = calloc(1, sizeof(*hop));
		if (!hop || ++nh > MAX_HOPS || conn_cfg_copy(&hop->cfg, &in->cfg)) {
			free(hop);
			free(user);
			free(host);
			ssh_destroy(below);
			return nh > MAX_HOPS ? h->error_set(err, EC_ECONFIG, file,
			                                    "context '%s': ProxyJump '%s': more than %d "
			                                    "jump hosts", in->name, pj, MAX_HOPS)
			                     : h->error_set(err, EC_ENOMEM, in->name, "out of memory");
		}
		hop->ps = in->ps;
		hop->host = h;
		hop->epfd = hop->evfd = -1;
		hop->state = I_NEW;
		hop->tunnel_only = 1;
		hop->via = below;
		hop->owns_via = below != NULL;
		below = hop;
		struct conn_cfg *c = &hop->cfg;
		free(c->hostname);
		c->hostname = host;
		c->port = port ? port : 22;
		free(c->username);
		c->username = user ? user : local_user();
		free(c->password_env);
		free(c->password_file);
		c->password_env = c->password_file = NULL;
		struct sshcfg_target t = {.hostname = &c->hostname, .port = &c->port,
		                          .username = &c->username,
		                          .identity_files = &c->identity_files,
		                          .n_identity = &c->n_identity, .explicit_port = port != 0,
		                          .explicit_username = user != NULL};
		if (!(hop->name = strdup(in->name)) || !c->username || sshcfg_apply(h, file, &t)) {
			ssh_destroy(below);
			return h->error_set(err, EC_ENOMEM, in->name, "out of memory");
		}
		h->log(h, EC_LOG_DEBUG, "ssh: context '%s': ProxyJump hop %s@%s port %d", in->name,
		       c->username, c->hostname, c->port);
	}
	if (r < 0) {
		ssh_destroy(below);
		return h->error_set(err, EC_ECONFIG, file,
		                    "context '%s': ProxyJump '%s': a hop is not [user@]host[:port]",
		                    in->name, pj);
	}
	in->via = below;
	in->owns_via = below != NULL;
	return 0;
}

/* The context's explicit keys win, then the file's Host blocks for the alias (the
 * context's hostname), then our defaults. ProxyJump is honoured unless via: is given. */
static int sshcfg_create(struct inst *in, const struct ec_cfg *cfg, int has_via,
                         struct ec_error *err)
{
	const struct ec_host *h = in->host;
	struct conn_cfg *c = &in->cfg;
	const char *path = "~/.ssh/config", *v = NULL;
	h->cfg_str(cfg, "ssh_config", &path);
	if (!path || !*path)
		return 0;
	char *file = expand_home(path), *pj = NULL;
	if (!file)
		return h->error_set(err, EC_ENOMEM, in->name, "out of memory");
	const char *const *ids = NULL;
	size_t nids = 0;
	/* A key given (in the section or with -o) has a place of its own; one that only has
	 * the schema's default gives the section's. */
	struct sshcfg_target t = {
		.hostname = &c->hostname, .port = &c->port, .username = &c->username,
		.identity_files = &c->identity_files, .n_identity = &c->n_identity,
		.explicit_port = h->cfg_where(cfg, "port") != h->cfg_where(cfg, NULL),
		.explicit_username = h->cfg_str(cfg, "username", &v) == 0 && v && *v,
		.explicit_identity = h->cfg_list(cfg, "identity_file", &ids, &nids) == 0 && ids,
		.proxy_jump = &pj};
	int rc = 0;
	if (sshcfg_apply(h, file, &t))
		rc = h->error_set(err, EC_ENOMEM, in->name, "out of memory");
	else if (pj && has_via)
		h->log(h, EC_LOG_DEBUG, "ssh: context '%s': via given, ProxyJump %s of %s ignored",
		       in->name, pj, file);
	else if (pj)
		rc = proxyjump_build(in, file, pj, err);
	free(pj);
	free(file);
	return rc;
}

static int ssh_create(void *state, const struct ec_cfg *cfg, const struct ec_transport_info *info,
                      void **out, struct ec_error *err)
{
	struct plugin_state *ps = state;
	const struct ec_host *h = ps->host;
	/* via: a jump host. The layer below must be ssh too (this plugin: its instance is
	 * ours to read); it becomes a tunnel only, a description of the hop: it never runs
	 * anything, and our session reaches its host through the hop's session. */
	struct inst *via = NULL;
	if (info->below) {
		const char *vname = "?";
		h->cfg_str(cfg, "via", &vname);
		if (!info->below->name || strcmp(info->below->name, "ssh") != 0 || !info->below->inst ||
		    ((struct inst *)info->below->inst)->ps != ps)
			return h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, "via"),
			                    "context '%s': the ssh transport can go via an ssh context "
			                    "(a jump host) only, and '%s' uses transport %s",
			                    info->context_name, vname,
			                    info->below->name ? info->below->name : "?");
		via = info->below->inst;
		int depth = 1;
		for (const struct inst *x = via; x->via; x = x->via)
			depth++;
		if (depth > MAX_HOPS)
			return h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, "via"),
			                    "context '%s': more than %d jump hosts", info->context_name,
			                    MAX_HOPS);
	}
	struct inst *in = calloc(1, sizeof(*in));
	if (!in)
		return h->error_set(err, EC_ENOMEM, info->context_name, "out of memory");
	in->ps = ps;
	in->host = h;
	in->epfd = in->evfd = -1;
	in->state = I_NEW;
	int rc = EC_ENOMEM;
	const char *v = NULL;
	long l = 0;
	if (!(in->name = strdup(info->context_name)))
		goto oom;
	struct conn_cfg *c = &in->cfg;
	h->cfg_str(cfg, "hostname", &v);
	if (!v || !*v) {
		rc = h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, "hostname"),
		                  "context '%s': hostname is empty", in->name);
		goto fail;
	}
	if (!(c->hostname = strdup(v)))
		goto oom;
	c->port = h->cfg_int(cfg, "port", &l) == 0 ? (int)l : 22;
	v = NULL;
	if (h->cfg_str(cfg, "username", &v) == 0 && v && *v) {
		c->username = strdup(v);
	} else {
		char pwbuf[1024];
		struct passwd pw, *res = NULL;
		if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
			c->username = strdup(pw.pw_name);
		else {
			rc = h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, NULL),
			                  "context '%s': no username given and the local user has no name",
			                  in->name);
			goto fail;
		}
	}
	if (!c->username)
		goto oom;
	const char *const *ids = NULL;
	size_t nids = 0;
	static const char *const default_ids[] = {"~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", NULL};
	if (h->cfg_list(cfg, "identity_file", &ids, &nids) != 0 || !ids) {
		ids = default_ids;
		nids = 2;
	}
	c->identity_files = calloc(nids + 1, sizeof(char *));
	if (!c->identity_files)
		goto oom;
	for (size_t i = 0; i < nids; i++) {
		if (!(c->identity_files[i] = expand_home(ids[i])))
			goto oom;
		c->n_identity++;
	}
	int b = 1;
	c->agent = h->cfg_bool(cfg, "agent", &b) == 0 ? b : 1;
	b = 1;
	c->kbdint = h->cfg_bool(cfg, "keyboard_interactive", &b) == 0 ? b : 1;
	v = NULL;
	if (h->cfg_str(cfg, "password_env", &v) == 0 && v && *v && !(c->password_env = strdup(v)))
		goto oom;
	v = NULL;
	if (h->cfg_str(cfg, "password_file", &v) == 0 && v && *v &&
	    !(c->password_file = expand_home(v)))
		goto oom;
	if (c->password_env && c->password_file) {
		rc = h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, "password_file"),
		                  "context '%s': give password_env or password_file, not both",
		                  in->name);
		goto fail;
	}
	v = "~/.ssh/known_hosts";
	h->cfg_str(cfg, "known_hosts", &v);
	if (!(c->known_hosts = expand_home(v && *v ? v : "~/.ssh/known_hosts")))
		goto oom;
	v = "/etc/ssh/ssh_known_hosts";
	h->cfg_str(cfg, "global_known_hosts", &v);
	if (!(c->global_known_hosts = expand_home(v ? v : "")))
		goto oom;
	v = "strict";
	h->cfg_str(cfg, "host_key_checking", &v);
	if (!v || !strcmp(v, "strict") || !strcmp(v, "yes"))
		c->hkc = HKC_STRICT;
	else if (!strcmp(v, "accept-new"))
		c->hkc = HKC_ACCEPT_NEW;
	else if (!strcmp(v, "off") || !strcmp(v, "no"))
		c->hkc = HKC_OFF;
	else {
		rc = h->error_set(err, EC_ECONFIG, h->cfg_where(cfg, "host_key_checking"),
		                  "key 'host_key_checking' in context '%s' (transport ssh) must be "
		                  "one of strict, accept-new, off; not '%s'", in->name, v);
		goto fail;
	}
	c->connect_ms = 30000;
	h->cfg_ms(cfg, "connect_timeout", &c->connect_ms);
	c->connect_ms_given = c->connect_ms;
	l = 0;
	h->cfg_ms(cfg, "keepalive_interval", &l);
	c->keepalive_s = l > 0 ? (l + 999) / 1000 : 0;
	if (c->keepalive_s == 1)
		c->keepalive_s = 2; /* libssh2 treats 1 as 2 */

	in->epfd = epoll_create1(EPOLL_CLOEXEC);
	in->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (in->epfd < 0 || in->evfd < 0) {
		rc = h->error_set(err, EC_ESYS, in->name, "epoll/eventfd: %s", strerror(errno));
		goto fail;
	}
	struct epoll_event e = {.events = EPOLLIN, .data.fd = in->evfd};
	if (epoll_ctl(in->epfd, EPOLL_CTL_ADD, in->evfd, &e)) {
		rc = h->error_set(err, EC_ESYS, in->name, "epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	if ((rc = sshcfg_create(in, cfg, via != NULL, err)))
		goto fail;
	if (via) {
		in->via = via;
		via->tunnel_only = 1;
	}
	*out = in;
	return 0;
oom:
	rc = h->error_set(err, EC_ENOMEM, info->context_name, "out of memory");
fail:
	conn_cfg_free(&in->cfg);
	if (in->epfd >= 0)
		close(in->epfd);
	if (in->evfd >= 0)
		close(in->evfd);
	free(in->name);
	free(in);
	return rc;
}

static void inst_detach(struct inst *in)
{
	struct sess *s = in->sess;
	if (!s)
		return;
	for (struct inst **pp = &s->insts; *pp; pp = &(*pp)->snext)
		if (*pp == in) {
			*pp = in->snext;
			break;
		}
	inst_disarm(in);
	in->sess = NULL;
	sess_release(s);
}

static int inst_error(struct inst *in, struct ec_error *err)
{
	struct sess *s = in->sess;
	return in->host->error_set(err, s->fail.code, s->fail.where, "%s", s->fail.msg);
}

/* The session of in, and those of its jump hosts, nearest last. */
static struct sess *sess_get_chain(struct plugin_state *ps, const struct inst *in,
                                   struct ec_error *err)
{
	struct sess *via = NULL;
	if (in->via && !(via = sess_get_chain(ps, in->via, err)))
		return NULL;
	return sess_get(ps, &in->cfg, via, err);
}

static int start_inner(struct inst *in, const struct ec_argv *argv, struct ec_pollset *ps,
                       struct ec_error *err)
{
	const struct ec_host *h = in->host;
	if (in->tunnel_only)
		return h->error_set(err, EC_EINVAL, in->name,
		                    "ssh: a jump host's layer was asked to start a command");
	if (in->state == I_NEW) {
		if (!(in->cmd = shell_join(argv)))
			return h->error_set(err, EC_ENOMEM, in->name, "out of memory");
		/* Our own deadline a little before the core's, so that our message (which
		 * says what was slow) wins. */
		long margin = in->cfg.connect_ms / 20 < 100 ? in->cfg.connect_ms / 20 : 100;
		in->cfg.connect_ms -= margin;
		if (!(in->sess = sess_get_chain(in->ps, in, err)))
			return err ? err->code : EC_ENOMEM;
		in->snext = in->sess->insts;
		in->sess->insts = in;
		in->state = I_WAIT;
	}
	struct sess *s = in->sess;
	inst_drain_wake(in);
	timer_drain(s);
	keepalive(s);
	if (s->state != S_READY) {
		int rc = sess_step(s);
		if (rc == EC_EAGAIN) {
			inst_arm(in);
			ps->fd = in->epfd;
			ps->events = EC_POLL_IN;
			return EC_EAGAIN;
		}
		if (rc)
			return inst_error(in, err);
		sess_wake_all(s, in); /* the others may open their channels now */
	}
	service_orphans(s);
	int rc;
	if (in->state == I_WAIT) {
		if (!may_call(s, in, OP_OPEN))
			goto again;
		in->ch = libssh2_channel_open_ex(s->s, "session", 7, WINDOW, CHUNK, NULL, 0);
		rc = in->ch ? 0 : libssh2_session_last_errno(s->s);
		after_call(s, in, OP_OPEN, rc);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			goto again;
		if (rc)
			return h->error_set(err, EC_ECLOSED, s->cfg.hostname,
			                    "cannot open a channel on %s: %s", s->label, sess_errmsg(s->s));
		in->state = I_EXEC;
	}
	if (in->state == I_EXEC) {
		if (!may_call(s, in, OP_EXEC))
			goto again;
		rc = libssh2_channel_process_startup(in->ch, "exec", 4, in->cmd,
		                                     (unsigned)strlen(in->cmd));
		after_call(s, in, OP_EXEC, rc);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			goto again;
		if (rc)
			return h->error_set(err, EC_EBOOT, s->cfg.hostname,
			                    "%s refused to run the boot command: %s", s->label,
			                    sess_errmsg(s->s));
		h->log(h, EC_LOG_DEBUG, "ssh: context %s: exec channel open on %s", in->name, s->label);
		in->state = I_RUN;
	}
	sess_wake_pending(s, in);
	return 0;
again:
	sess_wake_pending(s, in);
	inst_arm(in);
	ps->fd = in->epfd;
	ps->events = EC_POLL_IN;
	return EC_EAGAIN;
}

/* Around every call of the core on a session via jump hosts: move what the tunnels
 * below hold before (data for us may wait there) and after (what we wrote waits in
 * the socketpair), and re-arm, since what the tunnels wait for has changed. */
static void chain_before(struct inst *in)
{
	if (in->sess && in->sess->via)
		chain_drive(in->sess);
}

static void chain_after(struct inst *in, long rc)
{
	if (in->sess && in->sess->via) {
		chain_drive(in->sess);
		if (rc == EC_EAGAIN)
			inst_arm(in);
	}
}

static int ssh_start(void *inst, const struct ec_argv *argv, struct ec_pollset *ps,
                     struct ec_error *err)
{
	struct inst *in = inst;
	chain_before(in);
	int rc = start_inner(in, argv, ps, err);
	chain_after(in, rc);
	return rc;
}

static ssize_t send_inner(struct inst *in, const void *buf, size_t len, struct ec_pollset *ps,
                          struct ec_error *err)
{
	struct sess *s = in->sess;
	if (!s || in->state != I_RUN)
		return in->host->error_set(err, EC_ECLOSED, in->name, "context '%s': channel closed",
		                           in->name);
	if (s->state == S_FAILED)
		return inst_error(in, err);
	service_orphans(s);
	if (!may_call(s, in, OP_WRITE))
		goto again;
	ssize_t n = libssh2_channel_write(in->ch, buf, len > CHUNK ? CHUNK : len);
	after_call(s, in, OP_WRITE, (long)n);
	sess_wake_pending(s, in);
	if (n > 0)
		return n;
	if (n == 0) /* no window left: an adjustment will come in (readable socket) */
		n = LIBSSH2_ERROR_EAGAIN;
	if (n == LIBSSH2_ERROR_EAGAIN)
		goto again;
	return in->host->error_set(err, EC_ECLOSED, s->cfg.hostname,
	                           "writing to context '%s' on %s: %s", in->name, s->label,
	                           sess_errmsg(s->s));
again:
	inst_arm(in);
	ps->fd = in->epfd;
	ps->events = EC_POLL_IN;
	return EC_EAGAIN;
}

static ssize_t ssh_send(void *inst, const void *buf, size_t len, struct ec_pollset *ps,
                        struct ec_error *err)
{
	struct inst *in = inst;
	chain_before(in);
	ssize_t n = send_inner(in, buf, len, ps, err);
	chain_after(in, (long)n);
	return n;
}

/* Track the core's ready marker in what stdout carried (a small KMP). */
static void track_marker(struct inst *in, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !in->ready_seen; i++) {
		size_t m = in->marker;
		while (m && READY_MARKER[m] != p[i]) {
			/* longest proper border of READY_MARKER[0..m) */
			size_t k = m - 1;
			while (k && memcmp(READY_MARKER, READY_MARKER + m - k, k) != 0)
				k--;
			m = k;
		}
		if (READY_MARKER[m] == p[i])
			m++;
		in->marker = m;
		if (m == READY_LEN)
			in->ready_seen = 1;
	}
}

static ssize_t recv_inner(struct inst *in, void *buf, size_t len, struct ec_pollset *ps,
                          struct ec_error *err)
{
	struct sess *s = in->sess;
	const struct ec_host *h = in->host;
	if (!s || in->state != I_RUN)
		return 0;
	inst_drain_wake(in);
	timer_drain(s);
	if (s->state == S_FAILED)
		return inst_error(in, err);
	if (in->note_off < in->note_len) { /* the exit status line, then EOF */
		size_t n = in->note_len - in->note_off;
		if (n > len)
			n = len;
		memcpy(buf, in->note + in->note_off, n);
		in->note_off += n;
		inst_wake(in); /* come back for the end of stream */
		return (ssize_t)n;
	}
	if (in->eof_note_done)
		return 0;
	service_orphans(s);
	keepalive(s);
	if (!may_call(s, in, OP_READ))
		goto again;
	/* libssh2 1.10 widens the window to (WINDOW + the length asked) on every read: asked
	 * for a whole 16 MiB frame, it let sshd queue 20 MiB ahead of us, and the buffers
	 * that grow on both sides cost more CPU than the bytes (docs/benchmarks.md, SSH).
	 * A short read brings the core back through sess_wake_pending. */
	ssize_t n = libssh2_channel_read(in->ch, buf, len > READ_MAX ? READ_MAX : len);
	after_call(s, in, OP_READ, (long)n);
	if (n > 0) {
		track_marker(in, buf, (size_t)n);
		sess_wake_pending(s, in);
		return n;
	}
	if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
		sess_wake_pending(s, in);
		return h->error_set(err, EC_ECLOSED, s->cfg.hostname,
		                    "connection to %s lost (context '%s'): %s", s->label, in->name,
		                    sess_errmsg(s->s));
	}
	/* Nothing on stdout: stderr. Before the marker it joins the stream (the core shows
	 * it when the boot fails: "python3: not found"); afterwards it is logged. */
	if (may_call(s, in, OP_READ)) {
		char ebuf[4096];
		size_t want = sizeof(ebuf) - 1;
		if (!in->ready_seen && in->marker == 0 && want > len)
			want = len;
		ssize_t e = libssh2_channel_read_stderr(in->ch, ebuf, want);
		after_call(s, in, OP_READ, (long)e);
		if (e > 0) {
			if (!in->ready_seen && in->marker == 0) {
				memcpy(buf, ebuf, (size_t)e);
				sess_wake_pending(s, in);
				return e;
			}
			ebuf[e] = '\0';
			h->log(h, EC_LOG_WARNING, "ssh: stderr of context '%s': %s", in->name, ebuf);
			inst_wake(in);
		}
	}
	sess_wake_pending(s, in);
	if (libssh2_channel_eof(in->ch)) {
		if (in->ready_seen)
			return 0;
		/* Ended before the context was ready: wait for the exit status (sent before
		 * the channel's close) and say it. */
		if (!may_call(s, in, OP_OTHER))
			goto again;
		int rc = libssh2_channel_wait_closed(in->ch);
		after_call(s, in, OP_OTHER, rc);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			goto again;
		int st = libssh2_channel_get_exit_status(in->ch);
		char *sig = NULL;
		libssh2_channel_get_exit_signal(in->ch, &sig, NULL, NULL, NULL, NULL, NULL);
		in->eof_note_done = 1;
		if (sig)
			in->note_len = (size_t)snprintf(in->note, sizeof(in->note),
			                                "\n[killed by signal %s on %s]\n", sig,
			                                s->cfg.hostname);
		else if (st)
			in->note_len = (size_t)snprintf(in->note, sizeof(in->note),
			                                "\n[exit status %d on %s]\n", st,
			                                s->cfg.hostname);
		free(sig);
		if (in->note_len >= sizeof(in->note))
			in->note_len = sizeof(in->note) - 1;
		if (!in->note_len)
			return 0;
		return recv_inner(in, buf, len, ps, err);
	}
again:
	inst_arm(in);
	ps->fd = in->epfd;
	ps->events = EC_POLL_IN;
	return EC_EAGAIN;
}

static ssize_t ssh_recv(void *inst, void *buf, size_t len, struct ec_pollset *ps,
                        struct ec_error *err)
{
	struct inst *in = inst;
	chain_before(in);
	ssize_t n = recv_inner(in, buf, len, ps, err);
	chain_after(in, (long)n);
	return n;
}

static void ssh_pollset(void *inst, struct ec_pollset *ps)
{
	struct inst *in = inst;
	if (in->sess)
		inst_arm(in);
	ps->fd = in->epfd;
	ps->events = EC_POLL_IN;
}

/* close with a grace: the context was told to go, or its stream ended. Send our end
 * of stream and let the exit status come (sshd sends it with the channel's close) for
 * up to grace_ms, driving the session and its hops meanwhile, as local waits for its
 * child; then the channel is dropped. This blocks the broker at most grace_ms (the ops
 * contract), usually one round trip; it gives up at once when another context holds
 * the session (its half-sent packet can only move when the core calls it). */
static void close_wait(struct inst *in, int grace_ms)
{
	struct sess *s = in->sess;
	const struct ec_host *h = in->host;
	if (grace_ms <= 0 || in->state != I_RUN || !in->ch || s->state != S_READY)
		return;
	long long deadline = now_ms() + grace_ms;
	static char dummy[CHUNK];
	for (;;) {
		chain_drive(s);
		service_orphans(s);
		if (s->owner && s->owner != in)
			break;
		long rc;
		if (!in->eof_sent) {
			if (!may_call(s, in, OP_EOF))
				goto wait;
			rc = libssh2_channel_send_eof(in->ch);
			after_call(s, in, OP_EOF, rc);
			if (rc == 0)
				in->eof_sent = 1;
			else if (rc != LIBSSH2_ERROR_EAGAIN)
				break;
			continue;
		}
		if (!libssh2_channel_eof(in->ch)) {
			/* What it still prints goes nowhere; reading it keeps the window open. */
			if (!may_call(s, in, OP_READ))
				goto wait;
			rc = libssh2_channel_read(in->ch, dummy, sizeof(dummy));
			after_call(s, in, OP_READ, rc);
			if (rc == LIBSSH2_ERROR_EAGAIN && may_call(s, in, OP_READ)) {
				rc = libssh2_channel_read_stderr(in->ch, dummy, sizeof(dummy));
				after_call(s, in, OP_READ, rc);
			}
			sess_wake_pending(s, in);
			if (rc > 0 || (rc == 0 && !libssh2_channel_eof(in->ch)))
				continue;
			if (rc < 0 && rc != LIBSSH2_ERROR_EAGAIN)
				break;
			if (libssh2_channel_eof(in->ch))
				continue;
			goto wait;
		}
		if (!may_call(s, in, OP_OTHER))
			goto wait;
		rc = libssh2_channel_wait_closed(in->ch);
		after_call(s, in, OP_OTHER, rc);
		sess_wake_pending(s, in);
		if (rc == 0) {
			char *sig = NULL;
			libssh2_channel_get_exit_signal(in->ch, &sig, NULL, NULL, NULL, NULL, NULL);
			int st = libssh2_channel_get_exit_status(in->ch);
			if (sig)
				h->log(h, EC_LOG_WARNING, "ssh: context '%s' on %s was killed by signal %s",
				       in->name, s->label, sig);
			else
				h->log(h, st ? EC_LOG_WARNING : EC_LOG_DEBUG,
				       "ssh: context '%s' on %s exited with status %d", in->name, s->label, st);
			free(sig);
			break;
		}
		if (rc != LIBSSH2_ERROR_EAGAIN)
			break;
	wait:;
		long long left = deadline - now_ms();
		if (left <= 0) {
			h->log(h, EC_LOG_DEBUG, "ssh: context '%s' on %s did not exit within %d ms; "
			       "closing its channel", in->name, s->label, grace_ms);
			break;
		}
		inst_arm(in);
		struct epoll_event ev[4];
		epoll_wait(in->epfd, ev, 4, (int)left);
		inst_drain_wake(in);
		timer_drain(s);
		keepalive(s);
	}
}

static void ssh_close(void *inst, int grace_ms)
{
	struct inst *in = inst;
	struct sess *s = in->sess;
	if (!s) {
		in->state = I_CLOSED;
		return;
	}
	close_wait(in, grace_ms);
	/* Hand what the channel still has in flight to the session: a half-sent request
	 * is finished before the channel's close. */
	chan_abandon(s, in, in->ch, 0);
	in->ch = NULL;
	in->state = I_CLOSED;
	inst_detach(in);
}

static void ssh_destroy(void *inst)
{
	struct inst *in = inst;
	if (!in)
		return;
	ssh_close(in, 0);
	if (in->epfd >= 0)
		close(in->epfd);
	if (in->evfd >= 0)
		close(in->evfd);
	conn_cfg_free(&in->cfg);
	free(in->cmd);
	free(in->name);
	if (in->owns_via)
		ssh_destroy(in->via);
	free(in);
}

static const struct ec_transport_ops ssh_ops = {
	.size = sizeof(struct ec_transport_ops),
	.create = ssh_create,
	.start = ssh_start,
	.send = ssh_send,
	.recv = ssh_recv,
	.pollset = ssh_pollset,
	.close = ssh_close,
	.destroy = ssh_destroy,
};

EC_PLUGIN_DEFINE(ssh, .version = "0.1.0", .kind = EC_PLUGIN_TRANSPORT, .params = ssh_params,
                 .load = ssh_load, .unload = ssh_unload, .ops = &ssh_ops)
