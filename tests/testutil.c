/* testutil.c: see testutil.h. */
#include "ecbuild.h"

#include <errno.h>
#include <glob.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

int ec_test_run(void)
{
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
	                  CU_get_number_of_suites_failed();
	unsigned run = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	if (failed)
		return 1;
	if (run == 0) /* nothing ran: a skip, not a pass */
		return 77;
	return failed ? 1 : 0;
}

char *ec_test_tmpfile(const char *text)
{
	char *path = strdup("/tmp/ectest.XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0) {
		free(path);
		return NULL;
	}
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		free(path);
		return NULL;
	}
	close(fd);
	return path;
}

const char *ec_test_builddir(void)
{
	const char *d = getenv("EC_TEST_BUILDDIR");
	return d ? d : ".";
}

const char *ec_test_srcdir(void)
{
	const char *d = getenv("EC_TEST_SRCDIR");
	return d ? d : ".";
}

/* Ask an interpreter for its version: "3.11.7". */
static int probe(const char *path, char *full, size_t len)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "'%s' -c 'import sys; sys.stdout.write(\"%%d.%%d.%%d\" %% sys.version_info[:3])' 2>/dev/null",
	         path);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = fread(full, 1, len - 1, p);
	full[n] = '\0';
	return pclose(p) == 0 && n > 0 ? 0 : -1;
}

static void consider(struct ec_test_python *out, size_t n, const char *path)
{
	char full[32];
	if (access(path, X_OK) != 0 || probe(path, full, sizeof(full)) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		size_t vl = strlen(out[i].version);
		if (!out[i].path[0] && strncmp(full, out[i].version, vl) == 0 && full[vl] == '.') {
			snprintf(out[i].path, sizeof(out[i].path), "%s", path);
			snprintf(out[i].full, sizeof(out[i].full), "%s", full);
		}
	}
}

size_t ec_test_pythons(struct ec_test_python *out, size_t max)
{
	static const char *const versions[] = {"2.7", "3.6", "3.7", "3.8", "3.9", "3.10",
	                                       "3.11", "3.12", "3.13"};
	size_t n = 0;
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]) && n < max; i++, n++) {
		memset(&out[n], 0, sizeof(out[n]));
		snprintf(out[n].version, sizeof(out[n].version), "%s", versions[i]);
	}
	const char *env = getenv("EC_TEST_PYTHONS");
	if (env && *env) {
		char *copy = strdup(env), *save = NULL;
		for (char *t = strtok_r(copy, " :", &save); t; t = strtok_r(NULL, " :", &save))
			consider(out, n, t);
		free(copy);
		/* A chosen set: the versions not in it are not absent, just not asked for
		 * (unless none of it runs: then all show as absent). */
		size_t kept = 0;
		for (size_t i = 0; i < n; i++)
			if (out[i].path[0])
				out[kept++] = out[i];
		if (kept)
			n = kept;
	} else {
		const char *home = getenv("HOME");
		char pat[512];
		const char *roots[] = {home, "/root", NULL};
		for (size_t r = 0; roots[r]; r++) {
			glob_t g;
			snprintf(pat, sizeof(pat), "%s/.pyenv/versions/*/bin/python", roots[r]);
			if (glob(pat, 0, NULL, &g) == 0) {
				for (size_t i = 0; i < g.gl_pathc; i++)
					consider(out, n, g.gl_pathv[i]);
				globfree(&g);
			}
		}
		const char *sys[] = {"/usr/bin/python2.7", "/usr/bin/python3", "/usr/local/bin/python3",
		                     NULL};
		for (size_t i = 0; sys[i]; i++)
			consider(out, n, sys[i]);
	}
	fprintf(stderr, "python interpreters:");
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %s=%s", out[i].version, out[i].path[0] ? out[i].full : "ABSENT(skipped)");
	fprintf(stderr, "\n");
	return n;
}

/* ---- log capture ---------------------------------------------------------------- */

#define MAX_RECORDS 2048
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int level;
	char logger[128];
	char message[320];
} records[MAX_RECORDS];
static size_t nrecords;

void ec_test_log_capture(void *arg, const struct ec_log_record *rec)
{
	(void)arg;
	pthread_mutex_lock(&log_lock);
	if (nrecords < MAX_RECORDS) {
		records[nrecords].level = rec->level;
		snprintf(records[nrecords].logger, sizeof(records[0].logger), "%s", rec->logger);
		snprintf(records[nrecords].message, sizeof(records[0].message), "%s", rec->message);
		nrecords++;
	}
	pthread_mutex_unlock(&log_lock);
}

void ec_test_log_clear(void)
{
	pthread_mutex_lock(&log_lock);
	nrecords = 0;
	pthread_mutex_unlock(&log_lock);
}

size_t ec_test_log_count(const char *logger, const char *text, int *level)
{
	size_t n = 0;
	pthread_mutex_lock(&log_lock);
	for (size_t r = 0; r < nrecords; r++)
		if (strcmp(records[r].logger, logger) == 0 && strstr(records[r].message, text)) {
			n++;
			if (level)
				*level = records[r].level;
		}
	pthread_mutex_unlock(&log_lock);
	return n;
}

int ec_test_log_wait(const char *logger, const char *text, int *level)
{
	for (int i = 0; i < 500; i++) {
		if (ec_test_log_count(logger, text, level))
			return 1;
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

static int wait_exit(pid_t pid)
{
	int st = 0;
	if (pid < 0)
		return 1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int ec_test_script(const char *script, const char *a1, const char *a2, const char *env_name,
                   const char *env_value)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/%s", ec_test_srcdir(), script);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (env_name && env_value)
			setenv(env_name, env_value, 1);
		execl("/bin/sh", "sh", path, a1, a2, (char *)NULL);
		_exit(127);
	}
	return wait_exit(pid);
}

void ec_test_sshd_env(const char *dir, struct ec_test_sshd *fx)
{
	const struct {
		const char *key;
		char *dst;
		size_t size;
	} vars[] = {
		{"FX_PORT", fx->port, sizeof(fx->port)},
		{"FX_USER", fx->user, sizeof(fx->user)},
		{"FX_KEY", fx->key, sizeof(fx->key)},
		{"FX_KEY_OTHER", fx->key_other, sizeof(fx->key_other)},
		{"FX_KEY_RSA", fx->key_rsa, sizeof(fx->key_rsa)},
		{"FX_KNOWN_HOSTS", fx->known_hosts, sizeof(fx->known_hosts)},
		{"FX_PW_USER", fx->pw_user, sizeof(fx->pw_user)},
		{"FX_PW_PASSWORD", fx->pw_password, sizeof(fx->pw_password)},
		{"FX_LOG", fx->log, sizeof(fx->log)},
		{"FX_PAM_PORT", fx->pam_port, sizeof(fx->pam_port)},
	};
	memset(fx, 0, sizeof(*fx));
	char path[1024], line[1024];
	snprintf(path, sizeof(path), "%s/env.sh", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		char *v = eq + 1;
		v[strcspn(v, "\n")] = '\0';
		if (*v == '\'') {
			v++;
			char *q = strchr(v, '\'');
			if (q)
				*q = '\0';
		}
		for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
			if (!strcmp(line, vars[i].key))
				snprintf(vars[i].dst, vars[i].size, "%s", v);
	}
	fclose(f);
}

int ec_test_user_access(const char *user, const char *path, int mode)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		struct passwd *pw = getpwnam(user);
		if (!pw || setgroups(0, NULL) || setgid(pw->pw_gid) || setuid(pw->pw_uid))
			_exit(2);
		_exit(access(path, mode) == 0 ? 0 : 1);
	}
	return wait_exit(pid) == 0;
}

int ec_test_skip(const char *what, const char *why)
{
	printf("SKIP: %s: %s\n", what, why);
	fprintf(stderr, "SKIP: %s: %s\n", what, why);
	return 77;
}

void ec_test_suite_skip_unless(CU_pSuite s, int active, const char *what, const char *why)
{
	if (active)
		return;
	CU_set_suite_active(s, CU_FALSE);
	fprintf(stderr, "SKIP: %s: %s\n", what, why);
}

int ec_test_become(const char *user, const char *dir)
{
	struct passwd *pw = getpwnam(user);
	if (!pw || initgroups(user, pw->pw_gid) || setgid(pw->pw_gid) || setuid(pw->pw_uid))
		return -1;
	setenv("HOME", pw->pw_dir, 1);
	setenv("USER", user, 1);
	setenv("LOGNAME", user, 1);
	return chdir(dir);
}

long long ec_test_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
