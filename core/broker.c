/* broker.c: the IO thread: one poll() over the waker and every context's stream. */
#include "ecbuild.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "broker.h"
#include "error.h"

struct ec_broker {
	ec_master *m;
	pthread_t thread;
	int wakefd; /* eventfd */
	int stop;
	struct ec_context *contexts; /* attached, under m->lock */
	struct pollfd *pfds;
	struct ec_context **pctx;
	size_t pcap;
};

void ec__broker_wake(struct ec_broker *b)
{
	uint64_t one = 1;
	ssize_t n;
	do
		n = write(b->wakefd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
}

void ec__broker_attach(struct ec_broker *b, struct ec_context *ctx)
{
	ctx->attached = 1;
	ctx->next = b->contexts;
	b->contexts = ctx;
	ec__broker_wake(b);
}

static int grow(struct ec_broker *b, size_t n)
{
	if (n <= b->pcap)
		return 0;
	size_t cap = b->pcap ? b->pcap * 2 : 16;
	while (cap < n)
		cap *= 2;
	struct pollfd *p = realloc(b->pfds, cap * sizeof(*p));
	if (!p)
		return EC_ENOMEM;
	b->pfds = p;
	struct ec_context **c = realloc(b->pctx, cap * sizeof(*c));
	if (!c)
		return EC_ENOMEM;
	b->pctx = c;
	b->pcap = cap;
	return 0;
}

/* Drop contexts that died from the list and tell their waiters. */
static void reap_dead(struct ec_broker *b)
{
	struct ec_context **pp = &b->contexts;
	while (*pp) {
		struct ec_context *c = *pp;
		if (c->state == EC_CTX_DEAD) {
			*pp = c->next;
			c->next = NULL;
			c->attached = 0;
			c->detached = 1;
			pthread_cond_broadcast(&c->cond);
		} else {
			pp = &c->next;
		}
	}
}

static void *broker_main(void *arg)
{
	struct ec_broker *b = arg;
	ec_master *m = b->m;
	pthread_mutex_lock(&m->lock);
	for (;;) {
		reap_dead(b);
		if (b->stop && !b->contexts)
			break;
		size_t n = 1;
		for (struct ec_context *c = b->contexts; c; c = c->next)
			n++;
		if (grow(b, n)) {
			/* Out of memory for the poll set: retry shortly rather than spin. */
			pthread_mutex_unlock(&m->lock);
			poll(NULL, 0, 10);
			pthread_mutex_lock(&m->lock);
			continue;
		}
		long long now = ec__now_ms(), next = 0;
		b->pfds[0] = (struct pollfd){.fd = b->wakefd, .events = POLLIN};
		size_t np = 1;
		for (struct ec_context *c = b->contexts; c; c = c->next) {
			struct ec_pollset ps = {.fd = -1};
			ec__context_prepare(c, now, &ps, &next);
			if (c->state == EC_CTX_DEAD || ps.fd < 0)
				continue;
			b->pfds[np] = (struct pollfd){
				.fd = ps.fd,
				.events = (short)(((ps.events & EC_POLL_IN) ? POLLIN : 0) |
				                  ((ps.events & EC_POLL_OUT) ? POLLOUT : 0)),
			};
			b->pctx[np++] = c;
		}
		/* prepare() may have killed some: drop them before sleeping. */
		int any_dead = 0;
		for (struct ec_context *c = b->contexts; c; c = c->next)
			any_dead |= c->state == EC_CTX_DEAD;
		if (any_dead)
			continue;
		int timeout = -1;
		if (next) {
			long long d = next - now;
			timeout = d < 0 ? 0 : d > 60000 ? 60000 : (int)d;
		}
		pthread_mutex_unlock(&m->lock);
		int rc = poll(b->pfds, np, timeout);
		pthread_mutex_lock(&m->lock);
		if (rc < 0)
			continue; /* EINTR */
		if (b->pfds[0].revents) {
			uint64_t v;
			ssize_t r = read(b->wakefd, &v, sizeof(v));
			(void)r;
		}
		for (size_t i = 1; i < np; i++) {
			short re = b->pfds[i].revents;
			if (!re)
				continue;
			int ev = 0;
			if (re & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
				ev |= EC_POLL_IN;
			if (re & (POLLOUT | POLLERR | POLLHUP))
				ev |= EC_POLL_OUT;
			if (b->pctx[i]->state != EC_CTX_DEAD)
				ec__context_on_io(b->pctx[i], ev);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int ec__broker_start(ec_master *m, struct ec_broker **out, struct ec_error *err)
{
	struct ec_broker *b = calloc(1, sizeof(*b));
	if (!b)
		return ec__error_set(err, EC_ENOMEM, NULL, "out of memory");
	b->m = m;
	b->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->wakefd < 0) {
		int rc = ec__error_sys(err, NULL, "eventfd");
		free(b);
		return rc;
	}
	int rc = pthread_create(&b->thread, NULL, broker_main, b);
	if (rc) {
		close(b->wakefd);
		free(b);
		errno = rc;
		return ec__error_sys(err, NULL, "cannot start the broker thread");
	}
	*out = b;
	return 0;
}

void ec__broker_stop(struct ec_broker *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->m->lock);
	b->stop = 1;
	ec__broker_wake(b);
	pthread_mutex_unlock(&b->m->lock);
	pthread_join(b->thread, NULL);
	close(b->wakefd);
	free(b->pfds);
	free(b->pctx);
	free(b);
}
