/* ssh_wake.c: what a context of the ssh transport polls, and who wakes it. Each
 * instance polls its own epoll fd, which holds its eventfd and what its session (and
 * every hop and tunnel below it) waits for; after a call that may have read the socket,
 * the instances whose data libssh2 now holds are woken through their eventfd. */
#include "ecbuild.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
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
void ssh__inst_arm(struct inst *in)
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
		if (x->fd >= 0 && ssh__sess_wants_out(x))
			ev |= EPOLLOUT;
		if (x->pw.asked_since)
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
void ssh__inst_disarm(struct inst *in)
{
	for (size_t i = 0; i < in->nreg; i++)
		epoll_ctl(in->epfd, EPOLL_CTL_DEL, in->reg[i].fd, NULL);
	in->nreg = 0;
}
