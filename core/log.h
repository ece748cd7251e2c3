/* log.h: the master's log. Records go to the callback set in ec_master_options, or to
 * stderr in the command's format. Forwarded records from contexts arrive here too. */
#ifndef EC_CORE_LOG_H
#define EC_CORE_LOG_H

#include "econtext.h"

struct ec_logger {
	int level; /* threshold: records below it are dropped */
	ec_log_fn fn;
	void *arg;
};

/* Emit a record if level >= the threshold. context may be NULL. */
void ec__log(const struct ec_logger *lg, int level, const char *logger, const char *context,
             const char *fmt, ...) EC_PRINTF(5, 6);
void ec__log_record(const struct ec_logger *lg, const struct ec_log_record *rec);

#endif
