/* mockhost.c: a host table without a master for plugins' unit tests: the core's table
 * with its log kept in memory, secrets from a table and config sections from YAML. */
#include "ecbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "mockhost.h"

static void capture(void *arg, const struct ec_log_record *rec)
{
	struct ec_mockhost *mh = arg;
	pthread_mutex_lock(&mh->lock);
	if (mh->nlog < EC_MOCKHOST_RECORDS) {
		mh->log[mh->nlog].level = rec->level;
		snprintf(mh->log[mh->nlog].logger, sizeof(mh->log[0].logger), "%s", rec->logger);
		snprintf(mh->log[mh->nlog].message, sizeof(mh->log[0].message), "%s", rec->message);
		mh->nlog++;
	}
	pthread_mutex_unlock(&mh->lock);
}

static int find_secret(const struct ec_mockhost *mh, const char *key)
{
	for (size_t i = 0; i < mh->nsecrets; i++)
		if (strcmp(mh->secrets[i].key, key) == 0)
			return (int)i;
	return -1;
}

static int mock_secret_get(const struct ec_host *h, const char *key, const char *prompt,
                           char *buf, size_t cap, size_t *len, struct ec_error *err)
{
	struct ec_mockhost *mh = (struct ec_mockhost *)h;
	(void)prompt;
	int i = find_secret(mh, key);
	if (i < 0 || mh->secrets[i].forgotten)
		return EC_ENOTFOUND;
	mh->secrets[i].asked++;
	size_t n = strlen(mh->secrets[i].answer);
	if (n >= cap)
		return ec__error_set(err, EC_EINVAL, key, "the answer is too long");
	memcpy(buf, mh->secrets[i].answer, n + 1);
	*len = n;
	return 0;
}

static void mock_secret_forget(const struct ec_host *h, const char *key)
{
	struct ec_mockhost *mh = (struct ec_mockhost *)h;
	int i = find_secret(mh, key);
	if (i >= 0)
		mh->secrets[i].forgotten = 1;
}

struct ec_mockhost *ec_mockhost_new(const char *plugin)
{
	struct ec_mockhost *mh = calloc(1, sizeof(*mh));
	if (!mh)
		return NULL;
	pthread_mutex_init(&mh->lock, NULL);
	mh->logger = (struct ec_logger){.level = EC_LOG_DEBUG, .fn = capture, .arg = mh};
	struct ec__host base;
	ec__host_init(&base, &mh->logger, NULL);
	ec__host_for_plugin(&mh->core, &base.pub, plugin);
	mh->core.pub.secret_get = mock_secret_get;
	mh->core.pub.secret_forget = mock_secret_forget;
	mh->host = &mh->core.pub;
	snprintf(mh->plugin, sizeof(mh->plugin), "%s", plugin);
	return mh;
}

void ec_mockhost_free(struct ec_mockhost *mh)
{
	if (!mh)
		return;
	for (size_t i = 0; i < mh->nconfigs; i++)
		ec__config_free(mh->configs[i]);
	pthread_mutex_destroy(&mh->lock);
	free(mh);
}

int ec_mockhost_cfg(struct ec_mockhost *mh, const char *yaml, const char *context,
                    const struct ec_param *params, const struct ec_cfg **out,
                    struct ec_error *err)
{
	if (mh->nconfigs == EC_MOCKHOST_CONFIGS)
		return ec__error_set(err, EC_ENOMEM, NULL, "mock host: too many configurations");
	struct ec_config *c = NULL;
	int rc = ec__config_load_string("<mock>", yaml, strlen(yaml), &c, err);
	if (rc)
		return rc;
	mh->configs[mh->nconfigs++] = c;
	/* Ours to validate, as the master validates its own file's sections. */
	struct ec_cfg *sect = (struct ec_cfg *)ec__config_context(c, context);
	if (!sect)
		return ec__error_set(err, EC_ENOTFOUND, "<mock>", "no context '%s'", context);
	rc = ec__cfg_validate(sect, params, mh->plugin, err);
	if (!rc)
		*out = sect;
	return rc;
}

int ec_mockhost_secret(struct ec_mockhost *mh, const char *key, const char *answer)
{
	int i = find_secret(mh, key);
	if (i < 0) {
		if (mh->nsecrets == EC_MOCKHOST_SECRETS)
			return -1;
		i = (int)mh->nsecrets++;
	}
	snprintf(mh->secrets[i].key, sizeof(mh->secrets[i].key), "%s", key);
	snprintf(mh->secrets[i].answer, sizeof(mh->secrets[i].answer), "%s", answer);
	mh->secrets[i].forgotten = 0;
	return i;
}

size_t ec_mockhost_log_count(struct ec_mockhost *mh, const char *text, int *level)
{
	size_t n = 0;
	pthread_mutex_lock(&mh->lock);
	for (size_t i = 0; i < mh->nlog; i++) {
		if (text && !strstr(mh->log[i].message, text))
			continue;
		n++;
		if (level)
			*level = mh->log[i].level;
	}
	pthread_mutex_unlock(&mh->lock);
	return n;
}

void ec_mockhost_log_clear(struct ec_mockhost *mh)
{
	pthread_mutex_lock(&mh->lock);
	mh->nlog = 0;
	pthread_mutex_unlock(&mh->lock);
}
