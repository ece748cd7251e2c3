/* cli_allocfail.c: in tests/econtext-allocfail, the `econtext` command linked with the
 * core and tests/allocfail.c's wrappers (its own allocations and the core's; the
 * plugins' too when it loads tests/allocfail-plugins' copies). EC_ALLOCFAIL_NTH=N fails
 * the Nth allocation from the start (0 or unset: none); at exit the count goes to
 * stderr as "allocfail: N allocations", for tests/test_cli_allocfail.sh to know how many
 * there are to fail. */
#include "ecbuild.h"

#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "allocfail.h"

/* A crash: where, on stderr (for addr2line), then the signal as it was. */
static void crashed(int sig)
{
	void *at[64];
	static const char what[] = "econtext-allocfail: crashed here:\n";
	(void)!write(STDERR_FILENO, what, sizeof(what) - 1);
	backtrace_symbols_fd(at, backtrace(at, 64), STDERR_FILENO);
	signal(sig, SIG_DFL);
	raise(sig);
}

__attribute__((constructor)) static void arm(void)
{
	void *warm[1];
	backtrace(warm, 1); /* loads libgcc now, not in the handler */
	signal(SIGSEGV, crashed);
	signal(SIGBUS, crashed);
	signal(SIGABRT, crashed);
	const char *n = getenv("EC_ALLOCFAIL_NTH");
	ec_allocfail_arm(n ? strtoul(n, NULL, 10) : 0);
}

__attribute__((destructor)) static void count(void)
{
	fprintf(stderr, "allocfail: %zu allocations\n", ec_allocfail_count());
}
