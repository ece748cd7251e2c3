/* ssh_wake.c: what a context of the ssh transport polls, and who wakes it. Each
 * instance's pollset holds its eventfd and what its session (and every hop and tunnel
 * below it) waits for; after a call that may have read the socket, the instances whose
 * data libssh2 now holds are woken through their eventfd. */
#include "ecbuild.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ssh_int.h"

void ssh__inst_wake(struct inst *in)
{
	uint64_t one = 1;
	if (in->evfd >= 0 && write(in->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		in->host->log(in->host, EC_LOG_DEBUG, "ssh: eventfd write: %s", strerror(errno));
}

void ssh__inst_drain_wake(struct inst *in)
{
	uint64_t v;
	if (in->evfd >= 0 && read(in->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		in->host->log(in->host, EC_LOG_DEBUG, "ssh: eventfd read: %s", strerror(errno));
}

/* Wake the instances of s, and those of every session that goes through s. */
void ssh__sess_wake_all(struct sess *s, const struct inst *except)
{
	for (struct inst *in = s->insts; in; in = in->snext)
		if (in != except)
			ssh__inst_wake(in);
	for (struct sess *t = s->ps->sessions; t; t = t->next)
		if (t->via == s)
			ssh__sess_wake_all(t, except);
}

/* After a call that may have read the socket: wake every instance (the caller too:
 * the core stops reading after a short read) whose channel has data or an end of
 * stream queued inside libssh2, where no socket readiness will announce it; and the
 * instances above every tunnel whose channel has (and whose pump has room). */
void ssh__sess_wake_pending(struct sess *s)
{
	for (struct inst *in = s->insts; in; in = in->snext) {
		if (!in->ch || in->state != I_RUN)
			continue;
		unsigned long avail = 0;
		libssh2_channel_window_read_ex(in->ch, &avail, NULL);
		if (avail || libssh2_channel_eof(in->ch))
			ssh__inst_wake(in);
	}
	for (struct sess *t = s->ps->sessions; t; t = t->next) {
		if (t->via != s || !t->tun || !t->tun->ch || t->tun->down_eof ||
		    t->tun->down_off < t->tun->down_len)
			continue;
		unsigned long avail = 0;
		libssh2_channel_window_read_ex(t->tun->ch, &avail, NULL);
		if (avail || libssh2_channel_eof(t->tun->ch))
			ssh__sess_wake_all(t, NULL);
	}
}

/* What the session waits for after an EAGAIN: 1 if it wants the socket writable. */
int ssh__sess_wants_out(const struct sess *s)
{
	if (s->state == S_CONNECT)
		return s->fd >= 0 && !s->via;
	if (!s->s)
		return 0;
	return (libssh2_session_block_directions(s->s) & LIBSSH2_SESSION_BLOCK_OUTBOUND) != 0;
}

/* What the instance waits for, into ps: its eventfd, what its session waits for (its
 * socket, or the pipe of the name lookup before that, its timer) and, for a session
 * that goes via jump hosts, what every hop and tunnel below it waits for. */
void ssh__inst_want(struct inst *in, struct ec_pollset *ps)
{
	ec_pollset_add(ps, in->evfd, EC_POLL_IN);
	const struct sess *above = NULL;
	for (struct sess *x = in->sess; x; above = x, x = x->via) {
		int fd = x->fd >= 0 ? x->fd : x->res ? x->res->pipe[0] : -1;
		int ev = EC_POLL_IN;
		if (above && above->tun && above->tun->ch && above->tun->down_off < above->tun->down_len &&
		    above->tun->up_off == above->tun->up_len)
			ev = 0; /* the tunnel above cannot take more: its socketpair wakes us */
		if (x->fd >= 0 && ssh__sess_wants_out(x))
			ev |= EC_POLL_OUT;
		if (x->pw.asked_since)
			ev = 0; /* nothing to do until the answer (the core calls start then) */
		ec_pollset_add(ps, fd, ev);
		ec_pollset_add(ps, x->timerfd, EC_POLL_IN);
		struct tunnel *t = x->tun;
		if (t && t->ch) {
			int tev = (t->up_off == t->up_len && !t->up_eof ? EC_POLL_IN : 0) |
			          (t->down_off < t->down_len ? EC_POLL_OUT : 0);
			ec_pollset_add(ps, t->sv[1], tev);
		}
	}
}
