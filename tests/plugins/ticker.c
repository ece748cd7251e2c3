/* ticker.c: a transport that runs its command as the master's child and, once the
 * stream is open, polls no descriptor at all: it waits on its pollset's timer alone
 * (1 ms), so a context on it works only if the core honours a pollset's timer for the
 * open stream's ops too. It also notes the threads its ops run on: create, start and
 * destroy must all run on the broker's. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "econtext/transport.h"

struct ticker {
	const struct ec_host *h;
	pid_t pid;
	int fd;
	pthread_t create_thread;
	int elsewhere; /* start or destroy ran on another thread than create */
};

static int ticker_load(const struct ec_host *host, void **state, struct ec_error *err)
{
	(void)err;
	*state = (void *)host;
	return 0;
}

static int ticker_create(void *state, const struct ec_cfg *cfg,
                         const struct ec_transport_info *info, void **inst,
                         struct ec_error *err)
{
	(void)cfg;
	const struct ec_host *h = state;
	struct ticker *t = calloc(1, sizeof(*t));
	if (!t)
		return h->error_set(err, EC_ENOMEM, info->context_name, "out of memory");
	t->h = h;
	t->pid = -1;
	t->fd = -1;
	t->create_thread = pthread_self();
	h->log(h, EC_LOG_WARNING, "ticker: create on thread %lu", (unsigned long)pthread_self());
	*inst = t;
	return 0;
}

static int ticker_start(void *inst, const struct ec_argv *argv, struct ec_pollset *ps,
                        struct ec_error *err)
{
	(void)ps;
	struct ticker *t = inst;
	t->elsewhere |= !pthread_equal(pthread_self(), t->create_thread);
	return t->h->child_spawn("ticker", argv->argv, NULL, &t->pid, &t->fd, err);
}

static ssize_t ticker_send(void *inst, const void *buf, size_t len, struct ec_pollset *ps,
                           struct ec_error *err)
{
	struct ticker *t = inst;
	return t->h->child_send(t->fd, buf, len, ps, "ticker", err);
}

static ssize_t ticker_recv(void *inst, void *buf, size_t len, struct ec_pollset *ps,
                           struct ec_error *err)
{
	struct ticker *t = inst;
	return t->h->child_recv(t->fd, buf, len, ps, "ticker", err);
}

static void ticker_pollset(void *inst, int want, struct ec_pollset *ps)
{
	(void)inst, (void)want;
	ec_pollset_timer(ps, 1); /* no descriptor: the timer alone */
}

static void ticker_close(void *inst, int grace_ms)
{
	struct ticker *t = inst;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->pid > 0)
		t->h->child_reap(t->pid, grace_ms, -1);
	t->pid = -1;
}

static void ticker_destroy(void *inst)
{
	struct ticker *t = inst;
	if (!t)
		return;
	t->elsewhere |= !pthread_equal(pthread_self(), t->create_thread);
	t->h->log(t->h, EC_LOG_WARNING, "ticker: start and destroy on create's thread: %s",
	          t->elsewhere ? "no" : "yes");
	ticker_close(t, 0);
	free(t);
}

static const struct ec_transport_ops ticker_ops = {
	.size = sizeof(struct ec_transport_ops),
	.create = ticker_create,
	.start = ticker_start,
	.send = ticker_send,
	.recv = ticker_recv,
	.pollset = ticker_pollset,
	.close = ticker_close,
	.destroy = ticker_destroy,
};

EC_PLUGIN_DEFINE(ticker, .version = "0", .kind = EC_PLUGIN_TRANSPORT, .load = ticker_load,
                 .ops = &ticker_ops)
