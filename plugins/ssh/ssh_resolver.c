/* ssh_resolver.c: a host name lookup on its own thread for the ssh transport:
 * getaddrinfo blocks, and the broker thread must not. */
#include "ecbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssh_int.h"

void ssh__resolver_put(struct resolver *r)
{
	pthread_mutex_lock(&r->lock);
	int n = --r->refs;
	pthread_mutex_unlock(&r->lock);
	if (n)
		return;
	if (r->ai)
		freeaddrinfo(r->ai);
	close(r->pipe[0]);
	close(r->pipe[1]);
	free(r->host);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static void *resolver_main(void *arg)
{
	struct resolver *r = arg;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(r->host, r->port, &hints, &ai);
	int e = errno;
	pthread_mutex_lock(&r->lock);
	r->rc = rc;
	r->sys_errno = e;
	r->ai = ai;
	pthread_mutex_unlock(&r->lock);
	ssize_t w;
	do
		w = write(r->pipe[1], "", 1);
	while (w < 0 && errno == EINTR);
	ssh__resolver_put(r);
	return NULL;
}

/* Start a lookup; NULL if no thread could be started. */
struct resolver *ssh__resolver_start(const char *host, int port)
{
	struct resolver *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	if (pipe2(r->pipe, O_CLOEXEC | O_NONBLOCK) || !(r->host = strdup(host))) {
		if (r->pipe[0] > 0) {
			close(r->pipe[0]);
			close(r->pipe[1]);
		}
		free(r);
		return NULL;
	}
	snprintf(r->port, sizeof(r->port), "%d", port);
	pthread_mutex_init(&r->lock, NULL);
	r->refs = 2;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* the thread takes no signals */
	pthread_t t;
	int rc = pthread_create(&t, &a, resolver_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (rc) {
		r->refs = 1;
		ssh__resolver_put(r);
		return NULL;
	}
	return r;
}
