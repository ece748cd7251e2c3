/* ssh_owner.c: sharing one libssh2 session between its channels. A call that returned
 * EAGAIN with a packet half sent holds the session until it is retried (ssh__may_call,
 * and ssh__after_call to track it); a channel whose context is gone hands what it still
 * has in flight to the session (an orphan), which finishes it and then closes it. */
#include "ecbuild.h"

#include <stdlib.h>

#include "ssh_int.h"

/* A call by `who` (an instance or a tunnel) returned; rc its result. Track who holds
 * the session. */
void ssh__after_call(struct sess *s, const void *who, enum op op, long rc)
{
	if (rc == LIBSSH2_ERROR_EAGAIN && (op == OP_OPEN || ssh__sess_wants_out(s))) {
		s->owner = who;
		s->owner_op = op;
	} else if (s->owner == who && s->owner_op == op) {
		s->owner = NULL;
		s->owner_op = OP_NONE;
		ssh__sess_wake_all(s, NULL);
	}
	/* libssh2 1.10 refused memory may have dropped a packet, of any channel on the
	 * connection (read as part of this call): each context on it fails now, saying
	 * why, rather than later on a stream with bytes missing (a corrupt frame, or a
	 * call that waits for ever). */
	if (s->lib_nomem && s->state != S_FAILED)
		ssh__sess_fail(s, EC_ENOMEM,
		               "out of memory in libssh2 on %s: the connection is closed (a packet "
		               "may be lost): %s",
		               s->label, ssh__sess_errmsg(s->s));
}

/* May `who` make a call of kind op now? */
int ssh__may_call(const struct sess *s, const void *who, enum op op)
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
void ssh__service_orphans(struct sess *s)
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
			if (o->op == OP_OPEN || (o->op != OP_NONE && ssh__sess_wants_out(s)))
				s->orphan_owner = o;
			else if (s->orphan_owner == o)
				s->orphan_owner = NULL;
			pp = &o->next;
			continue;
		}
		if (s->orphan_owner == o) {
			s->orphan_owner = NULL;
			ssh__sess_wake_all(s, NULL);
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
void ssh__chan_abandon(struct sess *s, const void *who, LIBSSH2_CHANNEL *ch, int direct)
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
	ssh__sess_wake_all(s, NULL);
}
