/* broker.c: the loop's thread: one poll() over the waker, every source and the reaper's
 * children (see broker.h). */
#include "ecbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "clock.h"
#include "error.h"
#include "reaper.h"

struct ec_broker {
	pthread_mutex_t *lock;
	pthread_t thread;
	/* The waker: a pipe, not an eventfd. A pipe write wakes the broker as a
	 * synchronous wake-up (the writer is about to block), which lets the scheduler
	 * run the broker on the caller's CPU instead of waking an idle one: on a VM a
	 * cross-CPU wake-up of a halted vCPU costs ~15-20 us, a local switch ~5 us. */
	int wakefd[2];
	int wake_pending; /* a byte is in the pipe (atomic) */
	int stop;
	struct ec_source *sources; /* attached, under lock */
	struct ec_reaper reaper;   /* children of closed sources; loop thread */
	struct ec_deferred *wake;  /* to run once the lock is released, under lock */
	struct pollfd *pfds;
	struct ec_source **psrc;
	size_t pcap;
};

void ec__broker_wake(struct ec_broker *b)
{
	/* One byte in the pipe is enough: skip the write while one is pending. */
	if (__atomic_exchange_n(&b->wake_pending, 1, __ATOMIC_ACQ_REL))
		return;
	char one = 1;
	ssize_t n;
	do
		n = write(b->wakefd[1], &one, 1);
	while (n < 0 && errno == EINTR);
}

void ec__broker_defer(struct ec_broker *b, struct ec_deferred *d)
{
	d->next = b->wake;
	b->wake = d;
}

/* Unlock, then run the work deferred while the lock was held. 1 when one of them had a
 * thread spinning for it (core/call.c spin_for_reply). */
static int unlock_and_wake(struct ec_broker *b)
{
	struct ec_deferred *w = b->wake;
	int spun = 0;
	b->wake = NULL;
	pthread_mutex_unlock(b->lock);
	while (w) {
		struct ec_deferred *next = w->next; /* run may free w */
		spun |= w->run(w);
		w = next;
	}
	return spun;
}

/* After handing a reply to a thread that spins for it, watch the waker for up to
 * BROKER_LINGER_US before sleeping in poll(): that thread's next call usually comes
 * within it, and the broker then takes it without a sleep and a wake-up (3.12: 75 ->
 * 48 µs median per local round trip, docs/benchmarks.md). No sched_yield() here, unlike
 * the caller's spin: the context's thread it would let in is only going to sleep
 * (+8 µs median measured). */
#define BROKER_LINGER_US 20
static void linger_for_wake(struct ec_broker *b)
{
	long long end = ec__now_us() + BROKER_LINGER_US;
	while (!__atomic_load_n(&b->wake_pending, __ATOMIC_ACQUIRE) && ec__now_us() < end)
		;
}

void ec__broker_attach(struct ec_broker *b, struct ec_source *s)
{
	s->next = b->sources;
	b->sources = s;
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
	struct ec_source **c = realloc(b->psrc, cap * sizeof(*c));
	if (!c)
		return EC_ENOMEM;
	b->psrc = c;
	b->pcap = cap;
	return 0;
}

/* Let go of the sources that finished, once their children are reaped. */
static void reap_dead(struct ec_broker *b)
{
	struct ec_source **pp = &b->sources;
	while (*pp) {
		struct ec_source *c = *pp;
		if (c->finished && !c->reaping) {
			*pp = c->next;
			c->next = NULL;
			c->ops->detached(c);
		} else {
			pp = &c->next;
		}
	}
}

static void *broker_main(void *arg)
{
	struct ec_broker *b = arg;
	ec__reaper_bind(&b->reaper);
	pthread_mutex_lock(b->lock);
	for (;;) {
		reap_dead(b);
		if (b->stop && !b->sources)
			break;
		/* Room for the waker, the reaper's children and one descriptor a source; a
		 * source with more grows it as it goes. */
		size_t nreap = ec__reaper_count(&b->reaper), n = 1 + nreap;
		for (struct ec_source *c = b->sources; c; c = c->next)
			n++;
		if (grow(b, n)) {
			/* Out of memory for the poll set: retry shortly rather than spin. */
			unlock_and_wake(b);
			poll(NULL, 0, 10);
			pthread_mutex_lock(b->lock);
			continue;
		}
		long long now = ec__now_ms(), next = 0;
		b->pfds[0] = (struct pollfd){.fd = b->wakefd[0], .events = POLLIN};
		size_t np = 1;
		int starved = 0;
		for (struct ec_source *c = b->sources; c; c = c->next) {
			struct ec_pollset ps;
			ec__pollset_clear(&ps);
			c->ops->prepare(c, now, &ps, &next);
			if (c->finished || !ps.n)
				continue;
			if (grow(b, np + ps.n + nreap)) {
				starved = 1; /* its descriptors wait for the next turn */
				continue;
			}
			for (unsigned i = 0; i < ps.n; i++) {
				int ev = ps.fds[i].events;
				b->pfds[np] = (struct pollfd){
					.fd = ps.fds[i].fd,
					.events = (short)(((ev & EC_POLL_IN) ? POLLIN : 0) |
					                  ((ev & EC_POLL_OUT) ? POLLOUT : 0)),
				};
				b->psrc[np++] = c;
			}
		}
		/* prepare() may have finished some: drop them before sleeping. */
		int any_dead = 0;
		for (struct ec_source *c = b->sources; c; c = c->next)
			any_dead |= c->finished && !c->reaping;
		if (any_dead)
			continue;
		size_t nsrc = np;
		np += ec__reaper_pollset(&b->reaper, b->pfds + np, nreap, now, &next);
		if (starved && (!next || next > now + 10))
			next = now + 10;
		int timeout = -1;
		if (next) {
			long long d = next - now;
			timeout = d < 0 ? 0 : d > 60000 ? 60000 : (int)d;
		}
		if (unlock_and_wake(b))
			linger_for_wake(b);
		int rc = poll(b->pfds, np, timeout);
		pthread_mutex_lock(b->lock);
		if (rc < 0)
			continue; /* EINTR */
		if (b->pfds[0].revents) {
			/* Drain, then clear the flag, both under the lock: a wake that saw
			 * the flag still set had queued its work under the lock before this
			 * iteration took it, so this iteration sees that work; a wake after
			 * the clear writes a new byte. */
			char v[64];
			ssize_t r = read(b->wakefd[0], v, sizeof(v));
			(void)r;
			__atomic_store_n(&b->wake_pending, 0, __ATOMIC_RELEASE);
		}
		if (b->reaper.list)
			ec__reaper_run(&b->reaper, b->pfds + nsrc, np - nsrc, ec__now_ms());
		/* One on_io a source, with what any of its descriptors said (its entries are
		 * consecutive). */
		for (size_t i = 1; i < nsrc;) {
			struct ec_source *c = b->psrc[i];
			int ev = 0;
			for (; i < nsrc && b->psrc[i] == c; i++) {
				short re = b->pfds[i].revents;
				if (re & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
					ev |= EC_POLL_IN;
				if (re & (POLLOUT | POLLERR | POLLHUP))
					ev |= EC_POLL_OUT;
			}
			if (ev && !c->finished)
				c->ops->on_io(c, ev);
		}
	}
	ec__reaper_finish(&b->reaper);
	ec__reaper_bind(NULL);
	unlock_and_wake(b);
	return NULL;
}

int ec__broker_start(pthread_mutex_t *lock, struct ec_broker **out, struct ec_error *err)
{
	struct ec_broker *b = calloc(1, sizeof(*b));
	if (!b)
		return ec__error_set(err, EC_ENOMEM, NULL, "out of memory");
	b->lock = lock;
	if (pipe2(b->wakefd, O_CLOEXEC | O_NONBLOCK) < 0) {
		int rc = ec__error_sys(err, NULL, "pipe");
		free(b);
		return rc;
	}
	int rc = pthread_create(&b->thread, NULL, broker_main, b);
	if (rc) {
		close(b->wakefd[0]);
		close(b->wakefd[1]);
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
	pthread_mutex_lock(b->lock);
	b->stop = 1;
	ec__broker_wake(b);
	pthread_mutex_unlock(b->lock);
	pthread_join(b->thread, NULL);
	close(b->wakefd[0]);
	close(b->wakefd[1]);
	free(b->pfds);
	free(b->psrc);
	free(b);
}
