/* ssh_tunnel.c: jump hosts for the ssh transport. A session via another one talks
 * SSH over a socketpair, whose other end a pump moves to and from a direct-tcpip channel
 * on the session below; the chain below a context is driven around each call of the
 * core, which calls only the top layer. */
#include "ecbuild.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ssh_int.h"

/* Whether the hop failed for want of memory in libssh2 (it failed its whole
 * connection: a packet may be lost, ssh__after_call). */
static int hop_nomem(const struct sess *hop)
{
	return hop->lib_nomem || (hop->state == S_FAILED && hop->fail.code == EC_ENOMEM);
}

/* A failure of the hop's libssh2 for want of memory, said as the failure of the session
 * through it (what fails next is that session: its connection ends). */
static void nomem_to(struct sess *hop, struct sess *s)
{
	if (hop_nomem(hop)) {
		hop->lib_nomem = 0;
		s->lib_nomem = 1;
	}
}

/* The connect of a session via a jump host: the hop's session first (driven from
 * here: it may have no context of its own), then a direct-tcpip channel on it to our
 * host and port (the hop resolves and connects), then the socketpair our SSH runs on. */
int ssh__tun_connect(struct sess *s)
{
	struct sess *b = s->via;
	if (!s->deadline_ms) {
		s->deadline_ms = ssh__now_ms() + s->cfg.connect_ms;
		ssh__timer_set(s, s->deadline_ms);
	}
	int rc = ssh__sess_step(b);
	if (rc == EC_EAGAIN)
		return rc;
	if (rc)
		return ssh__sess_fail(s, b->fail.code, "cannot reach %s port %d via %s: %s", s->cfg.hostname,
		                      s->cfg.port, b->label, b->fail.msg);
	if (!s->tun) {
		if (!(s->tun = calloc(1, sizeof(*s->tun))))
			return ssh__sess_fail(s, EC_ENOMEM, "out of memory");
		s->tun->sv[0] = s->tun->sv[1] = -1;
		ssh__sess_wake_all(b, NULL); /* the hop is ready: its own contexts may go on */
	}
	struct tunnel *tn = s->tun;
	if (!ssh__may_call(b, tn, OP_OPEN))
		return EC_EAGAIN;
	tn->opening = 1;
	tn->ch = libssh2_channel_direct_tcpip_ex(b->s, s->cfg.hostname, s->cfg.port, "127.0.0.1", 22);
	rc = tn->ch ? 0 : libssh2_session_last_errno(b->s);
	ssh__after_call(b, tn, OP_OPEN, rc);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return EC_EAGAIN;
	tn->opening = 0;
	if (rc) {
		nomem_to(b, s);
		return ssh__sess_fail(s, EC_ECLOSED, "cannot connect to %s port %d through %s: %s",
		                      s->cfg.hostname, s->cfg.port, b->label, ssh__sess_errmsg(b->s));
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, tn->sv))
		return ssh__sess_fail(s, EC_ESYS, "socketpair: %s", strerror(errno));
	s->fd = tn->sv[0]; /* the session's now */
	tn->sv[0] = -1;
	s->ps->host->log(s->ps->host, EC_LOG_DEBUG, "ssh: tunnel to %s port %d open through %s",
	                 s->cfg.hostname, s->cfg.port, b->label);
	s->state = S_HANDSHAKE;
	return 0;
}

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
		if (hop_nomem(b) && !(tn->down_eof && tn->up_eof)) {
			/* libssh2 1.10 drops a packet it cannot store and reads on: what came
			 * through may miss bytes. The tunnel ends; the session through it fails
			 * saying why. */
			nomem_to(b, t);
			tn->down_off = tn->down_len = tn->up_off = tn->up_len = 0;
			tn->down_eof = tn->up_eof = 1;
			shutdown(tn->sv[1], SHUT_RDWR);
			return 1;
		}
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
		if (tn->down_off == tn->down_len && !tn->down_eof && ssh__may_call(b, tn, OP_READ)) {
			ssize_t n = libssh2_channel_read(tn->ch, tn->down, sizeof(tn->down));
			ssh__after_call(b, tn, OP_READ, (long)n);
			if (hop_nomem(b))
				continue; /* the round's start ends the tunnel (this read may have moved
				           * nothing: a dropped packet reads as EAGAIN) */
			if (n > 0) {
				tn->down_off = 0;
				tn->down_len = (size_t)n;
				moved = 1;
			} else if ((n < 0 && n != LIBSSH2_ERROR_EAGAIN) || libssh2_channel_eof(tn->ch)) {
				/* The far end (or the hop's connection) closed: so does the socketpair,
				 * and the session above sees its connection end. */
				t->ps->host->log(t->ps->host, EC_LOG_DEBUG, "ssh: tunnel to %s closed: %s",
				                 t->label, n < 0 ? ssh__sess_errmsg(b->s) : "end of stream");
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
		if (tn->up_off < tn->up_len && ssh__may_call(b, tn, OP_WRITE)) {
			/* A retry after a half-sent packet passes the same bytes again. */
			ssize_t n = libssh2_channel_write(tn->ch, tn->up + tn->up_off, tn->up_len - tn->up_off);
			ssh__after_call(b, tn, OP_WRITE, (long)n);
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

/* Drive everything under s: the hops' keepalives and orphans, and every tunnel of
 * the chain, until nothing moves. The core calls only the top layer, so the hops
 * progress here. */
void ssh__chain_drive(struct sess *s)
{
	if (!s->via)
		return;
	for (int round = 0; round < 16; round++) {
		int progress = 0;
		for (struct sess *x = s; x->via; x = x->via) {
			ssh__timer_drain(x->via);
			ssh__keepalive(x->via);
			ssh__service_orphans(x->via);
			progress |= tun_pump(x);
		}
		if (!progress)
			break;
	}
	for (struct sess *x = s; x->via; x = x->via)
		ssh__sess_wake_pending(x->via);
}

/* Around every call of the core on a session via jump hosts: move what the tunnels
 * below hold before (data for us may wait there) and after (what we wrote waits in
 * the socketpair); what to wait for is taken after it (ssh__inst_want). */
void ssh__chain_before(struct inst *in)
{
	if (in->sess && in->sess->via)
		ssh__chain_drive(in->sess);
}

void ssh__chain_after(struct inst *in)
{
	if (in->sess && in->sess->via)
		ssh__chain_drive(in->sess);
}
