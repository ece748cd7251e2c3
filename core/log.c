/* log.c: formatting and dispatch of log records. */
#include "ecbuild.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "inert.h"
#include "log.h"

static const struct {
	const char *name;
	int level;
} levels[] = {
	{"debug", EC_LOG_DEBUG},     {"info", EC_LOG_INFO},   {"warning", EC_LOG_WARNING},
	{"error", EC_LOG_ERROR},     {"critical", EC_LOG_CRITICAL},
};

int ec_log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(name, levels[i].name) == 0)
			return levels[i].level;
	return -1;
}

const char *ec_log_level_name(int level)
{
	for (size_t i = sizeof(levels) / sizeof(levels[0]); i-- > 0;)
		if (level >= levels[i].level)
			return levels[i].name;
	return "debug";
}

void ec_log_stderr(void *arg, const struct ec_log_record *rec)
{
	(void)arg;
	time_t t = (time_t)rec->time;
	struct tm tm;
	localtime_r(&t, &tm);
	char letter = (char)(ec_log_level_name(rec->level)[0] - 'a' + 'A');
	/* One locked write per record, so lines never interleave; the logger's name and
	 * the message may come from a context: inert. */
	flockfile(stderr);
	fprintf(stderr, "%02d:%02d:%02d %c ", tm.tm_hour, tm.tm_min, tm.tm_sec, letter);
	ec__fputs_inert(rec->logger, stderr);
	fputs(": ", stderr);
	ec__fputs_inert(rec->message, stderr);
	putc_unlocked('\n', stderr);
	funlockfile(stderr);
}

void ec__log_record(const struct ec_logger *lg, const struct ec_log_record *rec)
{
	if (!lg || rec->level < lg->level)
		return;
	if (lg->fn)
		lg->fn(lg->arg, rec);
	else
		ec_log_stderr(NULL, rec);
}

void ec__log(const struct ec_logger *lg, int level, const char *logger, const char *context,
             const char *fmt, ...)
{
	if (!lg || level < lg->level)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct ec_log_record rec = {
		.level = level,
		.logger = logger,
		.context = context,
		.message = msg,
		.time = (double)tv.tv_sec + tv.tv_usec / 1e6,
	};
	ec__log_record(lg, &rec);
}
