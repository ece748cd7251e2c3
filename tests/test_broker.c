/* test_broker.c: the loop (core/broker.h) driving test sources (core/source.h): the
 * wake-up on attach, readiness, deadlines, letting go of finished sources once their
 * children are reaped, deferred work after the lock is released, wake-ups from many
 * threads at once, and stop. The tests wait for what the loop does, never for time. */
#include "ecbuild.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "clock.h"
#include "testutil.h"

/* An upper bound so that a missed event fails instead of hanging, never a verdict. */
#define WAIT_MS 10000

/* The lock of the sources' state, as the master's is; changed is broadcast by every op
 * (the loop calls them with lock held). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed;

/* The loop may hold our sources, so that nothing after a missed event can be trusted
 * (not even stopping it): fail the whole program. */
static void give_up(const char *what, int line)
{
	fprintf(stderr, "test_broker.c:%d: still not %s after %d ms\n", line, what, WAIT_MS);
	exit(1);
}

/* Wait, lock held, until expr holds. */
#define WAIT_FOR(expr)                                                                   \
	do {                                                                             \
		long long end_ = ec__now_ms() + WAIT_MS;                                 \
		while (!(expr))                                                          \
			if (ec__cond_wait_until(&changed, &lock, end_) && !(expr))       \
				give_up(#expr, __LINE__);                                \
	} while (0)

struct tsrc {
	struct ec_source src;
	/* What prepare asks for: fd (< 0: none) and events; a timer of timer_ms from its
	 * first prepare; finished set by prepare itself. */
	int fd, events;
	int extra_fd; /* a second descriptor, readable (< 0: none) */
	int timer_ms;
	int finish_in_prepare;
	void (*hook)(struct tsrc *t); /* more for prepare to do */
	/* What the loop did. */
	int prepares, ios, last_events, detached;
	int io_when_finished; /* on_io calls on a finished or detached source */
	long long due;        /* the timer's deadline, once set */
	long long fired_now, fired_clock; /* prepare's now and the clock when it was due */
	pthread_t thread;     /* the loop's, as prepare saw it */
};

static void t_prepare(struct ec_source *s, long long now, struct ec_pollset *ps, long long *next)
{
	struct tsrc *t = container_of(s, struct tsrc, src);
	t->prepares++;
	t->thread = pthread_self();
	if (t->timer_ms && !t->due)
		t->due = now + t->timer_ms;
	if (t->due && !t->fired_now && now >= t->due) {
		t->fired_now = now;
		t->fired_clock = ec__now_ms();
	}
	if (t->due && !t->fired_now && (!*next || t->due < *next))
		*next = t->due;
	if (t->hook)
		t->hook(t);
	if (t->finish_in_prepare)
		s->finished = 1;
	ec_pollset_add(ps, t->fd, t->events);
	ec_pollset_add(ps, t->extra_fd, EC_POLL_IN);
	pthread_cond_broadcast(&changed);
}

/* One event per source is all the tests need: drain it and stop asking. */
static void t_on_io(struct ec_source *s, int events)
{
	struct tsrc *t = container_of(s, struct tsrc, src);
	t->ios++;
	t->last_events = events;
	if (s->finished || t->detached)
		t->io_when_finished++;
	if (events & EC_POLL_IN) {
		char c;
		ssize_t n = read(t->extra_fd >= 0 ? t->extra_fd : t->fd, &c, 1);
		(void)n;
	}
	t->fd = t->extra_fd = -1;
	pthread_cond_broadcast(&changed);
}

static void t_detached(struct ec_source *s)
{
	struct tsrc *t = container_of(s, struct tsrc, src);
	t->detached++;
	pthread_cond_broadcast(&changed);
}

static const struct ec_source_ops tsrc_ops = {
	.prepare = t_prepare, .on_io = t_on_io, .detached = t_detached};

static void tsrc_init(struct tsrc *t)
{
	memset(t, 0, sizeof(*t));
	t->src.ops = &tsrc_ops;
	t->fd = t->extra_fd = -1;
}

static struct ec_broker *start(void)
{
	struct ec_broker *b = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL_FATAL(ec__broker_start(&lock, &b, &err), 0);
	return b;
}

/* Lock held: wake the loop and wait for it to prepare sentinel in a turn that began
 * after this call, so that it saw the sources as they are now. Called twice, the first
 * of those turns has also dispatched its poll's events. */
static void next_turn(struct ec_broker *b, struct tsrc *sentinel)
{
	int seen = sentinel->prepares;
	ec__broker_wake(b);
	WAIT_FOR(sentinel->prepares > seen);
}

/* Lock held: finish t and wait for the loop to let go of it. */
static void finish(struct ec_broker *b, struct tsrc *t)
{
	t->src.finished = 1;
	ec__broker_wake(b);
	WAIT_FOR(t->detached);
	CU_ASSERT_EQUAL(t->detached, 1);
}

static void make_pipe(int p[2])
{
	CU_ASSERT_EQUAL_FATAL(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
}

static void t_attach_wakes(void)
{
	struct ec_broker *b = start();
	struct tsrc s1, s2;
	tsrc_init(&s1);
	tsrc_init(&s2);
	pthread_mutex_lock(&lock);
	ec__broker_attach(b, &s1.src);
	WAIT_FOR(s1.prepares >= 1);
	/* With nothing to wait for but its waker, the loop sleeps: only attach's wake-up
	 * brings it back for s2. */
	ec__broker_attach(b, &s2.src);
	WAIT_FOR(s2.prepares >= 1);
	CU_ASSERT_TRUE(pthread_equal(s1.thread, s2.thread));
	CU_ASSERT_FALSE(pthread_equal(s1.thread, pthread_self()));
	finish(b, &s1);
	finish(b, &s2);
	pthread_mutex_unlock(&lock);
	ec__broker_stop(b);
}

static void *write_byte(void *arg)
{
	int fd = *(int *)arg;
	ssize_t n = write(fd, "x", 1);
	(void)n;
	return NULL;
}

/* A started loop and a source watching one end of a fresh pipe. */
struct pipe_case {
	struct ec_broker *b;
	int p[2];
	struct tsrc t;
};

/* Attach a source watching c->p[end] for events; returns with lock held. */
static void pipe_case_start(struct pipe_case *c, int end, int events)
{
	c->b = start();
	make_pipe(c->p);
	tsrc_init(&c->t);
	c->t.fd = c->p[end];
	c->t.events = events;
	pthread_mutex_lock(&lock);
	ec__broker_attach(c->b, &c->t.src);
}

static void pipe_case_end(struct pipe_case *c)
{
	finish(c->b, &c->t);
	CU_ASSERT_EQUAL(c->t.ios, 1);
	pthread_mutex_unlock(&lock);
	ec__broker_stop(c->b);
	close(c->p[0]);
	close(c->p[1]);
}

static void t_readable(void)
{
	struct pipe_case c;
	pipe_case_start(&c, 0, EC_POLL_IN);
	WAIT_FOR(c.t.prepares >= 1);
	CU_ASSERT_EQUAL(c.t.ios, 0); /* nothing written yet */
	pthread_t w;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&w, NULL, write_byte, &c.p[1]), 0);
	WAIT_FOR(c.t.ios >= 1);
	CU_ASSERT_EQUAL(c.t.last_events, EC_POLL_IN);
	pthread_join(w, NULL);
	pipe_case_end(&c);
}

/* A source waiting on two descriptors (a pollset of several): the second one readable
 * brings one on_io. */
static void t_two_descriptors(void)
{
	struct pipe_case c;
	int q[2];
	make_pipe(q);
	pipe_case_start(&c, 0, EC_POLL_IN);
	c.t.extra_fd = q[0];
	next_turn(c.b, &c.t);
	CU_ASSERT_EQUAL(c.t.ios, 0);
	pthread_t w;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&w, NULL, write_byte, &q[1]), 0);
	WAIT_FOR(c.t.ios >= 1);
	CU_ASSERT_EQUAL(c.t.last_events, EC_POLL_IN);
	pthread_join(w, NULL);
	pipe_case_end(&c);
	close(q[0]);
	close(q[1]);
}

static void t_writable(void)
{
	struct pipe_case c;
	pipe_case_start(&c, 1, EC_POLL_OUT);
	WAIT_FOR(c.t.ios >= 1);
	CU_ASSERT_EQUAL(c.t.last_events, EC_POLL_OUT);
	pipe_case_end(&c);
}

/* No descriptor and nobody waking the loop: only the deadline brings prepare back. */
static void t_deadline(void)
{
	struct ec_broker *b = start();
	struct tsrc t;
	tsrc_init(&t);
	t.timer_ms = 20;
	pthread_mutex_lock(&lock);
	ec__broker_attach(b, &t.src);
	WAIT_FOR(t.fired_now);
	CU_ASSERT(t.due > 0);
	CU_ASSERT(t.fired_now >= t.due);
	CU_ASSERT(t.fired_clock >= t.due);
	finish(b, &t);
	pthread_mutex_unlock(&lock);
	ec__broker_stop(b);
}

/* Lock held: wait for the loop to let go of t, then for two more turns, and check
 * that it never dispatched t's events nor let go of it again. */
static void assert_let_go(struct ec_broker *b, struct tsrc *sentinel, struct tsrc *t)
{
	WAIT_FOR(t->detached);
	next_turn(b, sentinel);
	next_turn(b, sentinel);
	CU_ASSERT_EQUAL(t->detached, 1);
	CU_ASSERT_EQUAL(t->ios, 0);
	CU_ASSERT_EQUAL(t->io_when_finished, 0);
}

/* A finished source stays attached while the reaper waits for its children, is never
 * polled or dispatched meanwhile, and is let go of once, when its count reaches 0. */
static void t_finished_waits_for_reaping(void)
{
	struct ec_broker *b = start();
	int p[2];
	make_pipe(p);
	struct tsrc t, sentinel;
	tsrc_init(&t);
	tsrc_init(&sentinel);
	pthread_mutex_lock(&lock);
	ec__broker_attach(b, &t.src);
	ec__broker_attach(b, &sentinel.src);
	WAIT_FOR(t.prepares >= 1 && sentinel.prepares >= 1);
	/* Readable, finished and with a child left: were it polled, on_io would come. */
	ssize_t n = write(p[1], "x", 1);
	CU_ASSERT_EQUAL(n, 1);
	t.fd = p[0];
	t.events = EC_POLL_IN;
	t.src.reaping = 1;
	t.src.finished = 1;
	next_turn(b, &sentinel);
	next_turn(b, &sentinel);
	CU_ASSERT_EQUAL(t.detached, 0);
	CU_ASSERT_EQUAL(t.ios, 0);
	t.src.reaping = 0;
	ec__broker_wake(b);
	assert_let_go(b, &sentinel, &t);

	/* Finished by its own prepare, with a readable descriptor: let go of at once,
	 * without a wake-up, and not dispatched. */
	struct tsrc self;
	tsrc_init(&self);
	self.fd = p[0];
	self.events = EC_POLL_IN;
	self.finish_in_prepare = 1;
	ec__broker_attach(b, &self.src);
	assert_let_go(b, &sentinel, &self);
	CU_ASSERT_EQUAL(self.prepares, 1);
	finish(b, &sentinel);
	pthread_mutex_unlock(&lock);
	ec__broker_stop(b);
	close(p[0]);
	close(p[1]);
}

/* Deferred work, and what it saw; under dlock, apart from the loop's lock, so that the
 * test thread can wait for it without holding that. */
#define NDEFER 3
static pthread_mutex_t dlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dchanged;
static struct {
	int ran, order[NDEFER], unlocked[NDEFER], on_loop[NDEFER];
	pthread_t loop;
} dstate;

struct tdefer {
	struct ec_deferred d;
	int index;
	int heap; /* run frees it, as the loop allows */
};

static int d_run(struct ec_deferred *d)
{
	struct tdefer *t = container_of(d, struct tdefer, d);
	/* Nobody but the loop takes the lock now: it must have let go of it. */
	int unlocked = pthread_mutex_trylock(&lock) == 0;
	if (unlocked)
		pthread_mutex_unlock(&lock);
	pthread_mutex_lock(&dlock);
	dstate.order[dstate.ran++] = t->index;
	dstate.unlocked[t->index] = unlocked;
	dstate.on_loop[t->index] = pthread_equal(pthread_self(), dstate.loop);
	pthread_cond_broadcast(&dchanged);
	pthread_mutex_unlock(&dlock);
	if (t->heap)
		free(t);
	return 0;
}

static struct tdefer defers[NDEFER - 1];
static struct ec_broker *defer_broker;

static void queue_defers(struct tsrc *t)
{
	if (t->prepares != 1)
		return;
	pthread_mutex_lock(&dlock);
	dstate.loop = pthread_self();
	pthread_mutex_unlock(&dlock);
	for (int i = 0; i < NDEFER; i++) {
		struct tdefer *d = i < NDEFER - 1 ? &defers[i] : calloc(1, sizeof(*d));
		if (!d)
			abort(); /* on the loop's thread: no CUnit jump from here */
		*d = (struct tdefer){.d.run = d_run, .index = i, .heap = i == NDEFER - 1};
		ec__broker_defer(defer_broker, &d->d);
	}
}

static void t_defer(void)
{
	struct ec_broker *b = defer_broker = start();
	memset(&dstate, 0, sizeof(dstate));
	struct tsrc t;
	tsrc_init(&t);
	t.hook = queue_defers;
	pthread_mutex_lock(&lock);
	ec__broker_attach(b, &t.src);
	pthread_mutex_unlock(&lock);

	pthread_mutex_lock(&dlock);
	long long end = ec__now_ms() + WAIT_MS;
	while (dstate.ran < NDEFER && !ec__cond_wait_until(&dchanged, &dlock, end))
		;
	CU_ASSERT_EQUAL(dstate.ran, NDEFER);
	/* Each ran once, on the loop's thread, with the lock released. broker.h promises
	 * no order, and the loop runs them last queued first. */
	int seen[NDEFER] = {0};
	for (int i = 0; i < dstate.ran && i < NDEFER; i++)
		seen[dstate.order[i]]++;
	for (int i = 0; i < NDEFER; i++) {
		CU_ASSERT_EQUAL(seen[i], 1);
		CU_ASSERT_TRUE(dstate.unlocked[i]);
		CU_ASSERT_TRUE(dstate.on_loop[i]);
	}
	pthread_mutex_unlock(&dlock);

	pthread_mutex_lock(&lock);
	if (dstate.ran < NDEFER)
		give_up("every deferred run", __LINE__);
	finish(b, &t);
	pthread_mutex_unlock(&lock);
	ec__broker_stop(b);
}

/* Many threads post work under the lock and wake the loop at once: however their
 * wake-ups coalesce, the loop sees the last of the work. */
#define WAKERS 4
#define WAKES 1000
static struct ec_broker *wake_broker;
static int counter;   /* under lock */
static int saw_final; /* under lock */

static void *waker(void *arg)
{
	(void)arg;
	for (int i = 0; i < WAKES; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
		ec__broker_wake(wake_broker);
	}
	return NULL;
}

static void watch_counter(struct tsrc *t)
{
	(void)t;
	if (counter == WAKERS * WAKES)
		saw_final = 1;
}

static void t_wake_many(void)
{
	struct ec_broker *b = wake_broker = start();
	counter = saw_final = 0;
	struct tsrc t;
	tsrc_init(&t);
	t.hook = watch_counter;
	pthread_mutex_lock(&lock);
	ec__broker_attach(b, &t.src);
	WAIT_FOR(t.prepares >= 1);
	pthread_mutex_unlock(&lock);
	pthread_t th[WAKERS];
	for (int i = 0; i < WAKERS; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, waker, NULL), 0);
	for (int i = 0; i < WAKERS; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_lock(&lock);
	WAIT_FOR(saw_final); /* no fd, no deadline: only a wake-up brings prepare back */
	finish(b, &t);
	pthread_mutex_unlock(&lock);
	ec__broker_stop(b);
}

static void t_stop(void)
{
	ec__broker_stop(NULL);
	/* Stopped before its thread ran a turn, and after one. */
	ec__broker_stop(start());
	struct ec_broker *b = start();
	struct tsrc t;
	tsrc_init(&t);
	pthread_mutex_lock(&lock);
	ec__broker_attach(b, &t.src);
	WAIT_FOR(t.prepares >= 1);
	finish(b, &t);
	pthread_mutex_unlock(&lock);
	ec__broker_stop(b);
	CU_PASS("stop returned");
}

static int suite_init(void)
{
	return ec__cond_init_monotonic(&changed) || ec__cond_init_monotonic(&dchanged);
}

static int suite_cleanup(void)
{
	pthread_cond_destroy(&changed);
	pthread_cond_destroy(&dchanged);
	return 0;
}

static CU_TestInfo broker_tests[] = {
	{"attach wakes the loop for the source's prepare", t_attach_wakes},
	{"a readable descriptor: on_io with EC_POLL_IN", t_readable},
	{"a writable descriptor: on_io with EC_POLL_OUT", t_writable},
	{"two descriptors, the second ready: one on_io", t_two_descriptors},
	{"a deadline brings prepare back, not before it", t_deadline},
	{"a finished source is let go of once its children are reaped", t_finished_waits_for_reaping},
	{"deferred work runs once the lock is released", t_defer},
	{"wake-ups from many threads at once lose none", t_wake_many},
	{"stop with no sources returns", t_stop},
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{"broker", suite_init, suite_cleanup, NULL, NULL, broker_tests},
	CU_SUITE_INFO_NULL,
};

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS || CU_register_suites(suites) != CUE_SUCCESS)
		return 2;
	return ec_test_run();
}
