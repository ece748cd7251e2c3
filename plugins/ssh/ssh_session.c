/* ssh_session.c: one SSH connection (struct sess) of the ssh transport, shared by
 * every context on it: the registry, and the state machine that takes it from the name
 * lookup and connect() through the handshake, the host key and authentication to
 * S_READY; its timer (connect deadline, then keepalives). */
#include "ecbuild.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "ssh_int.h"

long long ssh__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *ssh__sess_errmsg(LIBSSH2_SESSION *s)
{
	char *m = NULL;
	if (!s)
		return "?";
	libssh2_session_last_error(s, &m, NULL, 0);
	return m && *m ? m : "unknown error";
}

void ssh__timer_set(struct sess *s, long long at_ms)
{
	if (s->timerfd < 0)
		return;
	struct itimerspec its = {{0, 0}, {0, 0}};
	if (at_ms > 0) {
		long long d = at_ms - ssh__now_ms();
		if (d < 1)
			d = 1;
		its.it_value.tv_sec = d / 1000;
		its.it_value.tv_nsec = (d % 1000) * 1000000;
	}
	timerfd_settime(s->timerfd, 0, &its, NULL);
}

void ssh__timer_drain(struct sess *s)
{
	uint64_t v;
	if (s->timerfd >= 0 && read(s->timerfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
}

static void sess_unlink(struct sess *s)
{
	for (struct sess **pp = &s->ps->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->next = NULL;
}

int ssh__sess_fail(struct sess *s, int code, const char *fmt, ...)
{
	char msg[sizeof(s->fail.msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->lib_nomem && code != EC_ENOMEM) {
		code = EC_ENOMEM;
		s->ps->host->error_set(&s->fail, code, s->cfg.hostname, "out of memory in libssh2: %s",
		                       msg);
	} else {
		s->ps->host->error_set(&s->fail, code, s->cfg.hostname, "%s", msg);
	}
	s->lib_nomem = 0;
	s->state = S_FAILED;
	ssh__wipe_free(s->password);
	s->password = NULL;
	ssh__timer_set(s, 0);
	sess_unlink(s); /* a later context starts afresh */
	ssh__sess_wake_all(s, NULL);
	return code;
}

int ssh__lib_error(struct sess *s, struct ec_error *err, int code, const char *fmt, ...)
{
	/* A refusal of memory has failed the session already (ssh__after_call, after the
	 * call that failed): its reason is the one to give. */
	if (s->state == S_FAILED)
		return s->ps->host->error_set(err, s->fail.code, s->fail.where, "%s", s->fail.msg);
	char msg[sizeof(err->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return s->ps->host->error_set(err, code, s->cfg.hostname, "%s: %s", msg,
	                              ssh__sess_errmsg(s->s));
}

void ssh__sess_teardown(struct sess *s)
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
		size_t lost = ssh__lib_blocks_free(s);
		if (lost)
			h->log(h, EC_LOG_DEBUG, "ssh: %s: %zu blocks libssh2 never freed, freed now",
			       s->label, lost);
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
		ssh__resolver_put(s->res); /* the thread frees it when it is done */
	ssh__wipe_free(s->password);
	free(s->methods);
	ssh__conn_cfg_free(&s->cfg);
	struct sess *via = s->via;
	if (s->tun) {
		/* The tunnel's channel is closed on the session below, as a context's is. */
		if (via && (s->tun->ch || s->tun->opening))
			ssh__chan_abandon(via, s->tun, s->tun->ch, 1);
		if (s->tun->sv[0] >= 0)
			close(s->tun->sv[0]);
		if (s->tun->sv[1] >= 0)
			close(s->tun->sv[1]);
		free(s->tun);
	}
	free(s);
	if (via)
		ssh__sess_release(via);
}

void ssh__sess_release(struct sess *s)
{
	if (--s->refs <= 0)
		ssh__sess_teardown(s);
}

/* The session for cfg reached through via (NULL: directly), shared when one exists.
 * Takes over the caller's reference to via. */
struct sess *ssh__sess_get(struct plugin_state *ps, const struct conn_cfg *cfg,
                           struct sess *via, struct ec_error *err)
{
	for (struct sess *s = ps->sessions; s; s = s->next)
		if (s->state != S_FAILED && s->cfg.port == cfg->port && s->via == via &&
		    strcmp(s->cfg.hostname, cfg->hostname) == 0 &&
		    strcmp(s->cfg.username, cfg->username) == 0) {
			s->refs++;
			if (via)
				ssh__sess_release(via); /* s holds one already */
			return s;
		}
	struct sess *s = calloc(1, sizeof(*s));
	if (!s || ssh__conn_cfg_copy(&s->cfg, cfg)) {
		free(s);
		if (via)
			ssh__sess_release(via);
		ps->host->error_set(err, EC_ENOMEM, cfg->hostname, "out of memory");
		return NULL;
	}
	s->via = via;
	s->ps = ps;
	s->refs = 1;
	s->fd = -1;
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->pw = (struct ec_password){.size = sizeof(s->pw), .env = s->cfg.password_env,
	                             .file = s->cfg.password_file, .deadline_ms = &s->deadline_ms};
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

/* Close a socket that failed to connect (the next pollset no longer names it). */
static void sess_close_fd(struct sess *s)
{
	close(s->fd);
	s->fd = -1;
}

/* getaddrinfo's answer as OpenSSH words it. A name server that cannot be reached
 * (EAI_AGAIN) is no proof that the name does not exist: the context could not be
 * started, rather than a configuration error. */
static int resolve_fail(struct sess *s, int rc, int sys_errno)
{
	const char *why = !rc                 ? "no address"
	                  : rc == EAI_SYSTEM ? strerror(sys_errno)
	                                     : gai_strerror(rc);
	return ssh__sess_fail(s, rc == EAI_AGAIN ? EC_ECLOSED : EC_ENOTFOUND,
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
			s->deadline_ms = ssh__now_ms() + s->cfg.connect_ms;
			ssh__timer_set(s, s->deadline_ms);
		}
		if (s->res) {
			char c;
			if (read(s->res->pipe[0], &c, 1) != 1)
				return EC_EAGAIN;
			/* Done: take the result; the next pollset no longer names the pipe. */
			pthread_mutex_lock(&s->res->lock);
			rc = s->res->rc;
			sys_errno = s->res->sys_errno;
			s->ai = s->res->ai;
			s->res->ai = NULL;
			pthread_mutex_unlock(&s->res->lock);
			ssh__resolver_put(s->res);
			s->res = NULL;
				} else {
			/* An address (or nothing to look up) costs nothing; a name goes to a
			 * thread, unless none can be started. */
			struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
			                         .ai_flags = AI_NUMERICHOST};
			snprintf(port, sizeof(port), "%d", s->cfg.port);
			rc = getaddrinfo(s->cfg.hostname, port, &hints, &s->ai);
			if (rc == EAI_NONAME) {
				if ((s->res = ssh__resolver_start(s->cfg.hostname, s->cfg.port)))
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
				return ssh__sess_fail(s, EC_ECLOSED, "cannot connect to %s port %d: %s",
				                      s->cfg.hostname, s->cfg.port, strerror(soerr));
			continue;
		}
		struct addrinfo *a = s->ai_cur;
		s->fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		               a->ai_protocol);
		if (s->fd < 0)
			return ssh__sess_fail(s, EC_ESYS, "socket: %s", strerror(errno));
		if (connect(s->fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS)
			return EC_EAGAIN;
		int e = errno;
		sess_close_fd(s);
		s->ai_cur = a->ai_next;
		if (!s->ai_cur)
			return ssh__sess_fail(s, EC_ECLOSED, "cannot connect to %s port %d: %s",
			                      s->cfg.hostname, s->cfg.port, strerror(e));
	}
	int one = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	s->state = S_HANDSHAKE;
	return 0;
}

/* libssh2 reads the socket through this: what came last from the server is when the
 * keepalives' silence counts from (ssh__keepalive). As libssh2's own: -errno on error. */
static LIBSSH2_RECV_FUNC(sess_recv)
{
	struct sess *s = *abstract;
	ssize_t n = recv(socket, buffer, length, flags);
	if (n < 0)
		return -errno;
	if (n > 0)
		s->last_recv_ms = ssh__now_ms();
	return n;
}

/* Drive the session towards S_READY. 0 when ready, EC_EAGAIN, or its failure. */
int ssh__sess_step(struct sess *s)
{
	const struct ec_host *h = s->ps->host;
	if (s->state == S_FAILED)
		return s->fail.code;
	if (s->state == S_READY)
		return 0;
	if (s->deadline_ms && !s->pw.asked_since && ssh__now_ms() >= s->deadline_ms) {
		const char *phase = s->state == S_CONNECT && s->via ? "connecting"
		                    : s->state == S_CONNECT && !s->ai ? "resolving the host name"
		                    : s->state == S_CONNECT     ? "connecting"
		                    : s->state == S_HANDSHAKE ? "during the SSH handshake"
		                                              : "during authentication";
		return ssh__sess_fail(s, EC_ETIMEDOUT, "connection to %s port %d%s%s timed out %s "
		                      "(connect_timeout %.3g s)", s->cfg.hostname, s->cfg.port,
		                      s->via ? " via " : "", s->via ? s->via->label : "", phase,
		                      (double)s->cfg.connect_ms_given / 1000.0);
	}
	int rc;
	for (;;) {
		switch (s->state) {
		case S_CONNECT:
			rc = s->via ? ssh__tun_connect(s) : try_connect(s);
			if (rc)
				return rc;
			break;
		case S_HANDSHAKE:
			if (!s->s) {
				s->s = libssh2_session_init_ex(ssh__alloc, ssh__free, ssh__realloc, s);
				if (!s->s)
					return ssh__sess_fail(s, EC_ENOMEM, "out of memory (libssh2 session)");
				libssh2_session_set_blocking(s->s, 0);
				libssh2_session_callback_set(s->s, LIBSSH2_CALLBACK_RECV, (void *)sess_recv);
				ssh__set_hostkey_pref(s);
			}
			rc = libssh2_session_handshake(s->s, s->fd);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return EC_EAGAIN;
			if (rc)
				return ssh__sess_fail(s, EC_EPROTO, "SSH handshake with %s port %d failed: %s",
				                      s->cfg.hostname, s->cfg.port, ssh__sess_errmsg(s->s));
			h->log(h, EC_LOG_DEBUG, "ssh: %s: kex %s, host key %s, cipher %s, mac %s",
			       s->label, libssh2_session_methods(s->s, LIBSSH2_METHOD_KEX),
			       libssh2_session_methods(s->s, LIBSSH2_METHOD_HOSTKEY),
			       libssh2_session_methods(s->s, LIBSSH2_METHOD_CRYPT_CS),
			       libssh2_session_methods(s->s, LIBSSH2_METHOD_MAC_CS));
			s->state = S_HOSTKEY;
			break;
		case S_HOSTKEY:
			rc = ssh__check_hostkey(s);
			if (rc)
				return rc;
			break;
		case S_AUTHLIST: {
			char *list = libssh2_userauth_list(s->s, s->cfg.username,
			                                   (unsigned)strlen(s->cfg.username));
			if (!list) {
				if (libssh2_userauth_authenticated(s->s))
					return ssh__auth_done(s);
				if (libssh2_session_last_errno(s->s) == LIBSSH2_ERROR_EAGAIN)
					return EC_EAGAIN;
				return ssh__sess_fail(s, EC_EAUTH,
				                      "cannot list the authentication methods of %s: %s",
				                      s->label, ssh__sess_errmsg(s->s));
			}
			s->methods = strdup(list);
			if (!s->methods)
				return ssh__sess_fail(s, EC_ENOMEM, "out of memory");
			s->state = S_AUTH;
			break;
		}
		case S_AUTH:
			return ssh__auth_step(s);
		case S_READY:
			return 0;
		case S_FAILED:
			return s->fail.code;
		}
	}
}

/* Every keepalive_interval while ready: a keepalive (want_reply: the server answers).
 * A tick with nothing from the server since the previous one is silent; after
 * keepalive_count_max silent ticks in a row the connection is lost, and every context
 * on it fails with the reason (a blackholed TCP connection would otherwise wait for
 * the kernel's retransmissions, about 15 minutes). */
void ssh__keepalive(struct sess *s)
{
	if (s->state != S_READY || s->cfg.keepalive_s <= 0)
		return;
	long long t = ssh__now_ms();
	if (t < s->next_keepalive_ms)
		return;
	if (s->owner || s->orphan_owner) { /* a packet is half sent: a little later */
		ssh__timer_set(s, t + 50);
		return;
	}
	s->keepalive_silent = s->last_recv_ms < s->keepalive_at_ms ? s->keepalive_silent + 1 : 0;
	s->keepalive_at_ms = t;
	if (s->cfg.keepalive_max > 0 && s->keepalive_silent >= s->cfg.keepalive_max) {
		s->ps->host->log(s->ps->host, EC_LOG_WARNING,
		                 "ssh: %s: no answer to %ld keepalives, the connection is lost",
		                 s->label, s->keepalive_silent);
		ssh__sess_fail(s, EC_ECLOSED,
		               "connection to %s lost: nothing came from the server for %.1f s, "
		               "%ld keepalives unanswered (keepalive_interval %ld s, "
		               "keepalive_count_max %ld)",
		               s->label, (double)(t - s->last_recv_ms) / 1000.0, s->keepalive_silent,
		               s->cfg.keepalive_s, s->cfg.keepalive_max);
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
	ssh__timer_set(s, s->next_keepalive_ms);
}
