/* mockhost.h: a host table without a master, for unit tests of a plugin's ops
 * (docs/plugin-guide.md, "Testing a plugin"). It is the core's own table (core/host.c:
 * error_set, the values, the config lookups and the child processes are the real ones)
 * with three differences: its log records are kept here for the test to check, its
 * secrets come from a table the test fills, and the config sections handed to the
 * plugin's create are made from YAML text by the core's config code. */
#ifndef EC_TEST_MOCKHOST_H
#define EC_TEST_MOCKHOST_H

#include <pthread.h>
#include <stddef.h>

#include "host.h"
#include "log.h"

#define EC_MOCKHOST_RECORDS 256
#define EC_MOCKHOST_SECRETS 8
#define EC_MOCKHOST_CONFIGS 16

struct ec_config;

struct ec_mockhost {
	struct ec__host core; /* first: the plugin's host pointer converts back */
	const struct ec_host *host; /* &core.pub: what the plugin's load() gets */
	char plugin[64];
	struct ec_logger logger;
	pthread_mutex_t lock; /* plugins may log from any thread */
	struct {
		int level;
		char logger[80];
		char message[512];
	} log[EC_MOCKHOST_RECORDS];
	size_t nlog;
	struct {
		char key[128];
		char answer[128];
		int asked, forgotten; /* secret_get calls; secret_forget called */
	} secrets[EC_MOCKHOST_SECRETS];
	size_t nsecrets;
	struct ec_config *configs[EC_MOCKHOST_CONFIGS];
	size_t nconfigs;
};

/* A mock host for the plugin `plugin`: its records say "econtext.<plugin>". NULL when
 * out of memory. */
struct ec_mockhost *ec_mockhost_new(const char *plugin);
void ec_mockhost_free(struct ec_mockhost *mh);

/* The section of context `context` in yaml (a whole configuration file's text, read as
 * "<mock>"), validated against the plugin's params (may be NULL) as the master does:
 * its defaults resolve, and an unknown key or a wrong type is an error here. *out lives
 * as long as mh. */
int ec_mockhost_cfg(struct ec_mockhost *mh, const char *yaml, const char *context,
                    const struct ec_param *params, const struct ec_cfg **out,
                    struct ec_error *err);

/* secret_get answers key with answer from now on (until secret_forget); other keys get
 * EC_ENOTFOUND, as from an application that takes no questions. Returns the entry's
 * index in secrets[] (to check asked and forgotten), or -1 if the table is full. */
int ec_mockhost_secret(struct ec_mockhost *mh, const char *key, const char *answer);

/* How many kept records contain text (all of them for NULL); *level (may be NULL) gets
 * the level of the last one. */
size_t ec_mockhost_log_count(struct ec_mockhost *mh, const char *text, int *level);
void ec_mockhost_log_clear(struct ec_mockhost *mh);

#endif
