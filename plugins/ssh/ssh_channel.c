/* ssh_channel.c: a context's exec channel, the transport ops of the ssh transport
 * once a context exists: start (the session, then the channel and the boot command),
 * send, recv (stdout; stderr joins it until the ready marker; the exit status when it
 * ends early), pollset and close (with its grace for the exit status). */
#include "ecbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>

#include "econtext/protocol.h"
#include "ssh_int.h"

#define READ_MAX (1024 * 1024)       /* at most this much per channel read (the window) */

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
	in->sess = NULL;
	ssh__sess_release(s);
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
	return ssh__sess_get(ps, &in->cfg, via, err);
}

static int start_inner(struct inst *in, const struct ec_argv *argv,
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
	ssh__inst_drain_wake(in);
	ssh__timer_drain(s);
	ssh__keepalive(s);
	if (s->state != S_READY) {
		int rc = ssh__sess_step(s);
		if (rc == EC_EAGAIN)
			return EC_EAGAIN; /* the caller adds what to wait for */
		if (rc)
			return inst_error(in, err);
		ssh__sess_wake_all(s, in); /* the others may open their channels now */
	}
	ssh__service_orphans(s);
	int rc;
	if (in->state == I_WAIT) {
		if (!ssh__may_call(s, in, OP_OPEN))
			goto again;
		in->ch = libssh2_channel_open_ex(s->s, "session", 7, WINDOW, CHUNK, NULL, 0);
		rc = in->ch ? 0 : libssh2_session_last_errno(s->s);
		ssh__after_call(s, in, OP_OPEN, rc);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			goto again;
		if (rc)
			return ssh__lib_error(s, err, EC_ECLOSED, "cannot open a channel on %s", s->label);
		in->state = I_EXEC;
	}
	if (in->state == I_EXEC) {
		if (!ssh__may_call(s, in, OP_EXEC))
			goto again;
		rc = libssh2_channel_process_startup(in->ch, "exec", 4, in->cmd,
		                                     (unsigned)strlen(in->cmd));
		ssh__after_call(s, in, OP_EXEC, rc);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			goto again;
		if (rc)
			return ssh__lib_error(s, err, EC_EBOOT, "%s refused to run the boot command",
			                      s->label);
		h->log(h, EC_LOG_DEBUG, "ssh: context %s: exec channel open on %s", in->name, s->label);
		in->state = I_RUN;
	}
	ssh__sess_wake_pending(s);
	return 0;
again:
	ssh__sess_wake_pending(s);
	return EC_EAGAIN; /* the caller adds what to wait for */
}

int ssh__start(void *inst, const struct ec_argv *argv, struct ec_pollset *ps,
               struct ec_error *err)
{
	struct inst *in = inst;
	ssh__chain_before(in);
	int rc = start_inner(in, argv, err);
	ssh__chain_after(in);
	if (rc == EC_EAGAIN)
		ssh__inst_want(in, ps);
	return rc;
}

static ssize_t send_inner(struct inst *in, const void *buf, size_t len,
                          struct ec_error *err)
{
	struct sess *s = in->sess;
	if (!s || in->state != I_RUN)
		return in->host->error_set(err, EC_ECLOSED, in->name, "context '%s': channel closed",
		                           in->name);
	if (s->state == S_FAILED)
		return inst_error(in, err);
	ssh__service_orphans(s);
	if (!ssh__may_call(s, in, OP_WRITE))
		goto again;
	ssize_t n = libssh2_channel_write(in->ch, buf, len > CHUNK ? CHUNK : len);
	ssh__after_call(s, in, OP_WRITE, (long)n);
	ssh__sess_wake_pending(s);
	if (n > 0)
		return n;
	if (n == 0) /* no window left: an adjustment will come in (readable socket) */
		n = LIBSSH2_ERROR_EAGAIN;
	if (n == LIBSSH2_ERROR_EAGAIN)
		goto again;
	return ssh__lib_error(s, err, EC_ECLOSED, "writing to context '%s' on %s", in->name, s->label);
again:
	return EC_EAGAIN; /* the caller adds what to wait for */
}

ssize_t ssh__send(void *inst, const void *buf, size_t len, struct ec_pollset *ps,
                  struct ec_error *err)
{
	struct inst *in = inst;
	ssh__chain_before(in);
	ssize_t n = send_inner(in, buf, len, err);
	ssh__chain_after(in);
	if (n == EC_EAGAIN)
		ssh__inst_want(in, ps);
	return n;
}

/* Track the core's ready marker in what stdout carried (a small KMP). */
static void track_marker(struct inst *in, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !in->ready_seen; i++) {
		size_t m = in->marker;
		while (m && EC_MARKER_READY[m] != p[i]) {
			/* longest proper border of EC_MARKER_READY[0..m) */
			size_t k = m - 1;
			while (k && memcmp(EC_MARKER_READY, EC_MARKER_READY + m - k, k) != 0)
				k--;
			m = k;
		}
		if (EC_MARKER_READY[m] == p[i])
			m++;
		in->marker = m;
		if (m == EC_MARKER_READY_LEN)
			in->ready_seen = 1;
	}
}

static ssize_t recv_inner(struct inst *in, void *buf, size_t len,
                          struct ec_error *err)
{
	struct sess *s = in->sess;
	const struct ec_host *h = in->host;
	if (!s || in->state != I_RUN)
		return 0;
	ssh__inst_drain_wake(in);
	ssh__timer_drain(s);
	if (s->state == S_FAILED)
		return inst_error(in, err);
	if (in->note_off < in->note_len) { /* the exit status line, then EOF */
		size_t n = in->note_len - in->note_off;
		if (n > len)
			n = len;
		memcpy(buf, in->note + in->note_off, n);
		in->note_off += n;
		ssh__inst_wake(in); /* come back for the end of stream */
		return (ssize_t)n;
	}
	if (in->eof_note_done)
		return 0;
	ssh__service_orphans(s);
	ssh__keepalive(s);
	if (s->state == S_FAILED) /* the server stopped answering keepalives */
		return inst_error(in, err);
	if (!ssh__may_call(s, in, OP_READ))
		goto again;
	/* libssh2 1.10 widens the window to (WINDOW + the length asked) on every read: asked
	 * for a whole 16 MiB frame, it let sshd queue 20 MiB ahead of us, and the buffers
	 * that grow on both sides cost more CPU than the bytes (docs/benchmarks.md, SSH).
	 * A short read brings the core back through ssh__sess_wake_pending. */
	ssize_t n = libssh2_channel_read(in->ch, buf, len > READ_MAX ? READ_MAX : len);
	ssh__after_call(s, in, OP_READ, (long)n);
	if (n > 0) {
		track_marker(in, buf, (size_t)n);
		ssh__sess_wake_pending(s);
		return n;
	}
	if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
		ssh__sess_wake_pending(s);
		return ssh__lib_error(s, err, EC_ECLOSED, "connection to %s lost (context '%s')", s->label,
		                      in->name);
	}
	/* Nothing on stdout: stderr. Before the marker it joins the stream (the core shows
	 * it when the boot fails: "python3: not found"); afterwards it is logged. */
	if (ssh__may_call(s, in, OP_READ)) {
		char ebuf[4096];
		size_t want = sizeof(ebuf) - 1;
		if (!in->ready_seen && in->marker == 0 && want > len)
			want = len;
		ssize_t e = libssh2_channel_read_stderr(in->ch, ebuf, want);
		ssh__after_call(s, in, OP_READ, (long)e);
		if (e > 0) {
			if (!in->ready_seen && in->marker == 0) {
				memcpy(buf, ebuf, (size_t)e);
				ssh__sess_wake_pending(s);
				return e;
			}
			ebuf[e] = '\0';
			h->log(h, EC_LOG_WARNING, "ssh: stderr of context '%s': %s", in->name, ebuf);
			ssh__inst_wake(in);
		}
	}
	ssh__sess_wake_pending(s);
	if (libssh2_channel_eof(in->ch)) {
		if (in->ready_seen)
			return 0;
		/* Ended before the context was ready: wait for the exit status (sent before
		 * the channel's close) and say it. */
		if (!ssh__may_call(s, in, OP_OTHER))
			goto again;
		int rc = libssh2_channel_wait_closed(in->ch);
		ssh__after_call(s, in, OP_OTHER, rc);
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
		libssh2_free(s->s, sig);
		if (in->note_len >= sizeof(in->note))
			in->note_len = sizeof(in->note) - 1;
		if (!in->note_len)
			return 0;
		return recv_inner(in, buf, len, err);
	}
again:
	return EC_EAGAIN; /* the caller adds what to wait for */
}

ssize_t ssh__recv(void *inst, void *buf, size_t len, struct ec_pollset *ps,
                  struct ec_error *err)
{
	struct inst *in = inst;
	ssh__chain_before(in);
	ssize_t n = recv_inner(in, buf, len, err);
	ssh__chain_after(in);
	if (n == EC_EAGAIN)
		ssh__inst_want(in, ps);
	return n;
}

void ssh__pollset(void *inst, int want, struct ec_pollset *ps)
{
	(void)want; /* libssh2 says what the session waits for, whatever we want of it */
	ssh__inst_want(inst, ps);
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
	long long deadline = ssh__now_ms() + grace_ms;
	static char dummy[CHUNK];
	for (;;) {
		ssh__chain_drive(s);
		ssh__service_orphans(s);
		if (s->owner && s->owner != in)
			break;
		long rc;
		if (!in->eof_sent) {
			if (!ssh__may_call(s, in, OP_EOF))
				goto wait;
			rc = libssh2_channel_send_eof(in->ch);
			ssh__after_call(s, in, OP_EOF, rc);
			if (rc == 0)
				in->eof_sent = 1;
			else if (rc != LIBSSH2_ERROR_EAGAIN)
				break;
			continue;
		}
		if (!libssh2_channel_eof(in->ch)) {
			/* What it still prints goes nowhere; reading it keeps the window open. */
			if (!ssh__may_call(s, in, OP_READ))
				goto wait;
			rc = libssh2_channel_read(in->ch, dummy, sizeof(dummy));
			ssh__after_call(s, in, OP_READ, rc);
			if (rc == LIBSSH2_ERROR_EAGAIN && ssh__may_call(s, in, OP_READ)) {
				rc = libssh2_channel_read_stderr(in->ch, dummy, sizeof(dummy));
				ssh__after_call(s, in, OP_READ, rc);
			}
			ssh__sess_wake_pending(s);
			if (rc > 0 || (rc == 0 && !libssh2_channel_eof(in->ch)))
				continue;
			if (rc < 0 && rc != LIBSSH2_ERROR_EAGAIN)
				break;
			if (libssh2_channel_eof(in->ch))
				continue;
			goto wait;
		}
		if (!ssh__may_call(s, in, OP_OTHER))
			goto wait;
		rc = libssh2_channel_wait_closed(in->ch);
		ssh__after_call(s, in, OP_OTHER, rc);
		ssh__sess_wake_pending(s);
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
			libssh2_free(s->s, sig);
			break;
		}
		if (rc != LIBSSH2_ERROR_EAGAIN)
			break;
	wait:;
		long long left = deadline - ssh__now_ms();
		if (left <= 0) {
			h->log(h, EC_LOG_DEBUG, "ssh: context '%s' on %s did not exit within %d ms; "
			       "closing its channel", in->name, s->label, grace_ms);
			break;
		}
		struct ec_pollset ps = {.cap = EC_POLLSET_CAP};
		struct pollfd pfd[EC_POLLSET_CAP];
		ssh__inst_want(in, &ps);
		for (unsigned i = 0; i < ps.n; i++)
			pfd[i] = (struct pollfd){
				.fd = ps.fds[i].fd,
				.events = (short)(((ps.fds[i].events & EC_POLL_IN) ? POLLIN : 0) |
				                  ((ps.fds[i].events & EC_POLL_OUT) ? POLLOUT : 0)),
			};
		poll(pfd, ps.n, (int)left);
		ssh__inst_drain_wake(in);
		ssh__timer_drain(s);
		ssh__keepalive(s);
	}
}

void ssh__close(void *inst, int grace_ms)
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
	ssh__chan_abandon(s, in, in->ch, 0);
	in->ch = NULL;
	in->state = I_CLOSED;
	inst_detach(in);
}
