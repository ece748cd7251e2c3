/* testutil.c: see testutil.h. */
#include "ecbuild.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

int ec_test_register(CU_SuiteInfo suites[])
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return -1;
	if (CU_register_suites(suites) != CUE_SUCCESS) {
		fprintf(stderr, "registering the suites: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return -1;
	}
	return 0;
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

#define MAX_RECORDS 4096
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
		if ((!logger || strcmp(records[r].logger, logger) == 0) &&
		    strstr(records[r].message, text)) {
			n++;
			if (level)
				*level = records[r].level;
		}
	pthread_mutex_unlock(&log_lock);
	return n;
}

int ec_test_log_wait(const char *logger, const char *text, int *level)
{
	for (int i = 0; i < 3000; i++) { /* 30 s: a record that does not come */
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

ec_value *ec_test_call(ec_context *ctx, const char *mod, const char *fn, ec_value *arg,
                       int timeout_ms, int *rc)
{
	struct ec_error err = {0};
	ec_value *args = ec_value_new(EC_T_TUPLE), *res = NULL;
	if (arg)
		ec_value_append(args, arg);
	*rc = ec_context_call(ctx, mod, fn, args, NULL, timeout_ms, &res, &err);
	if (*rc)
		fprintf(stderr, "call %s.%s: %s\n", mod, fn, err.msg);
	ec_value_free(args);
	return res;
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

int ec_test_sshd_fixture(const char *what, const char *dir)
{
	return ec_test_script("sshd-fixture.sh", what, dir, NULL, NULL);
}

const char *ec_test_sudo_missing(void)
{
	if (access("/usr/bin/sudo", X_OK) && system("command -v sudo >/dev/null 2>&1") != 0)
		return "sudo is not installed";
	if (system("command -v useradd >/dev/null && command -v visudo >/dev/null") != 0)
		return "useradd or visudo missing";
	return NULL;
}

int ec_test_sudo_lock(void)
{
	int fd = open("/tmp/ec_test_sudo.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	return fd >= 0 && flock(fd, LOCK_EX) == 0 ? 0 : -1;
}

int ec_test_sudo_fixture(const char *what, const char *password)
{
	return ec_test_script("sudo_fixture.sh", what, NULL, "EC_SUDO_TEST_PASSWORD", password);
}

int ec_test_passwords(const char *prefix, char *pw, size_t pwcap, const char *wprefix,
                      char *wrong, size_t wcap)
{
	unsigned char r[12];
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	snprintf(pw, pwcap, "%s-%02x%02x%02x%02x%02x%02x-ok", prefix, r[0], r[1], r[2], r[3], r[4],
	         r[5]);
	snprintf(wrong, wcap, "%s-%02x%02x%02x%02x%02x%02x", wprefix, r[6], r[7], r[8], r[9], r[10],
	         r[11]);
	return 0;
}

/* ---- files and processes ------------------------------------------------------------ */

int ec_test_file_count(const char *path, const char *text, long offset)
{
	FILE *f = fopen(path, "r");
	char line[8192];
	int n = 0;
	if (!f)
		return -1;
	fseek(f, offset, SEEK_SET);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, text))
			n++;
	fclose(f);
	return n;
}

long ec_test_file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

int ec_test_file_holds(const char *path, const char *const secrets[])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* Read in pieces that overlap by the longest secret, so none is cut in two. */
	static char buf[1 << 20];
	size_t keep = 0;
	for (size_t i = 0; secrets[i]; i++)
		if (strlen(secrets[i]) > keep)
			keep = strlen(secrets[i]);
	size_t len = 0;
	ssize_t n;
	int hit = 0;
	while (!hit && (n = read(fd, buf + len, sizeof(buf) - len)) > 0) {
		len += (size_t)n;
		for (size_t i = 0; secrets[i] && !hit; i++)
			hit = memmem(buf, len, secrets[i], strlen(secrets[i])) != NULL;
		if (len == sizeof(buf)) {
			memmove(buf, buf + len - keep, keep);
			len = keep;
		}
	}
	close(fd);
	return hit;
}

/* Call fn with each process's /proc/PID directory; the sum of what it returns. */
static int each_process(int (*fn)(const char *dir, void *arg), void *arg)
{
	int sum = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char dir[300];
		snprintf(dir, sizeof(dir), "/proc/%s", e->d_name);
		sum += fn(dir, arg);
	}
	if (d)
		closedir(d);
	return sum;
}

struct scan {
	const char *const *secrets;
	char *where;
	size_t cap;
};

static int scan_one(const char *dir, void *arg)
{
	struct scan *sc = arg;
	int hits = 0;
	const char *files[] = {"cmdline", "environ"};
	for (int i = 0; i < 2; i++) {
		char path[320];
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (ec_test_file_holds(path, sc->secrets)) {
			hits++;
			size_t l = strlen(sc->where);
			snprintf(sc->where + l, sc->cap - l, " %s", path);
		}
	}
	return hits;
}

int ec_test_proc_scan(const char *const secrets[], char *where, size_t cap)
{
	struct scan sc = {secrets, where, cap};
	return each_process(scan_one, &sc);
}

/* 1 if the process of dir runs with real uid *arg and is no zombie. */
static int runs_as(const char *dir, void *arg)
{
	char path[320], line[256];
	snprintf(path, sizeof(path), "%s/status", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	int zombie = 0;
	long ruid = -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "State:", 6) == 0 && strchr(line, 'Z'))
			zombie = 1;
		if (strncmp(line, "Uid:", 4) == 0)
			ruid = strtol(line + 4, NULL, 10);
	}
	fclose(f);
	return ruid == *(const long *)arg && !zombie;
}

int ec_test_procs_of(long uid)
{
	return each_process(runs_as, &uid);
}

/* /proc/PID/stat's state letter and parent; 0, or -1 if pid is gone. */
static int stat_of(long pid, char *state, long *ppid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && sscanf(p + 1, " %c %ld", state, ppid) == 2 ? 0 : -1;
}

int ec_test_fork_pipe(int (*fn)(void *arg, int fd), void *arg, int *rfd)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		_exit(fn(arg, p[1]));
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	*rfd = p[0];
	return (int)pid;
}

int ec_test_unused_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	if (fd < 0)
		return 1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &l))
		a.sin_port = htons(1);
	close(fd);
	return ntohs(a.sin_port);
}

int ec_test_process_gone(long pid)
{
	char st;
	long ppid;
	return stat_of(pid, &st, &ppid) || st == 'Z' || st == 'X';
}

char ec_test_proc_state(long pid)
{
	char st;
	long ppid;
	return stat_of(pid, &st, &ppid) ? 0 : st;
}

long ec_test_ppid_of(long pid)
{
	char st;
	long ppid;
	return stat_of(pid, &st, &ppid) ? -1 : ppid;
}

int ec_test_children_left(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		if (atoi(e->d_name) > 0 && ec_test_ppid_of(atoi(e->d_name)) == (long)getpid())
			n++;
	if (d)
		closedir(d);
	return n;
}

/* ---- users -------------------------------------------------------------------------- */

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

int ec_test_user_can_sudo_from(const char *user, const char *dir, const char *python)
{
	char so[1024];
	snprintf(so, sizeof(so), "%s/plugins/sudo/.libs/sudo.so", ec_test_builddir());
	return ec_test_user_access(user, so, R_OK) && ec_test_user_access(user, dir, X_OK) &&
	       ec_test_user_access(user, python, X_OK);
}

long ec_test_uid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);
	return pw ? (long)pw->pw_uid : -2;
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

double ec_test_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- one suite per interpreter ------------------------------------------------------ */

#define PY_SLOTS 12
static struct ec_test_python py_found[PY_SLOTS];
static int (*py_init)(const struct ec_test_python *py);

/* CUnit's init functions take no argument: one trampoline per slot. */
#define PY_SLOT(i) \
	static int py_init##i(void) { return py_init(&py_found[i]); }
PY_SLOT(0) PY_SLOT(1) PY_SLOT(2) PY_SLOT(3) PY_SLOT(4) PY_SLOT(5)
PY_SLOT(6) PY_SLOT(7) PY_SLOT(8) PY_SLOT(9) PY_SLOT(10) PY_SLOT(11)
static int (*const py_inits[PY_SLOTS])(void) = {py_init0, py_init1, py_init2, py_init3,
                                                 py_init4, py_init5, py_init6, py_init7,
                                                 py_init8, py_init9, py_init10, py_init11};

size_t ec_test_python_suites(const char *what, int (*init)(const struct ec_test_python *py),
                             int (*clean)(void), const CU_TestInfo *tests)
{
	py_init = init;
	size_t n = ec_test_pythons(py_found, PY_SLOTS), ran = 0;
	for (size_t i = 0; i < n; i++) {
		char name[160];
		snprintf(name, sizeof(name), "%s, python %.16s%s", what, py_found[i].version,
		         py_found[i].path[0] ? "" : " (ABSENT: skipped)");
		CU_pSuite s = CU_add_suite(name, py_inits[i], clean);
		for (const CU_TestInfo *t = tests; t->pName; t++)
			CU_add_test(s, t->pName, t->pTestFunc);
		ec_test_suite_skip_unless(s, py_found[i].path[0] != '\0', py_found[i].version,
		                          "interpreter absent");
		ran += py_found[i].path[0] != '\0';
	}
	return ran;
}

int ec_test_master_and_context(const struct ec_test_python *py, const char *moddir,
                               const char *name, ec_master **m, ec_context **ctx)
{
	return ec_test_master_and_context_with(py, moddir, name, NULL, m, ctx);
}

int ec_test_master_and_context_with(const struct ec_test_python *py, const char *moddir,
                                    const char *name, const char *extra, ec_master **m,
                                    ec_context **ctx)
{
	char dir[1200], opt[600];
	const char *mp[] = {dir, NULL};
	if (moddir)
		snprintf(dir, sizeof(dir), "%s/%s", ec_test_srcdir(), moddir);
	struct ec_master_options mo = {.size = sizeof(mo), .config_path = "/dev/null",
	                               .log_level = EC_LOG_INFO, .log_fn = ec_test_log_capture,
	                               .module_path = moddir ? mp : NULL};
	snprintf(opt, sizeof(opt), "python=%s", py->path);
	const char *ov[] = {"transport=local", opt, extra, NULL};
	struct ec_error err = {0};
	*m = NULL;
	*ctx = NULL;
	if (ec_master_new(&mo, m, &err) || ec_context_connect(*m, name, ov, 30000, ctx, &err)) {
		fprintf(stderr, "%s: %s: %s\n", py->path, err.where, err.msg);
		ec_master_free(*m);
		*m = NULL;
		return 1;
	}
	return 0;
}

void ec_test_master_and_context_free(ec_master **m, ec_context **ctx)
{
	ec_context_shutdown(*ctx, 3000, NULL);
	*ctx = NULL;
	ec_master_free(*m);
	*m = NULL;
}

/* Children of ppid whose argv[0] starts with "econtext:". */
pid_t ec_test_find_context_of(pid_t ppid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;
	while (d && (e = readdir(d)) && !found) {
		char path[300], buf[512];
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid <= 0 || ec_test_ppid_of(pid) != (long)ppid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		if (strncmp(buf, "econtext:", 9) == 0)
			found = pid;
	}
	if (d)
		closedir(d);
	return found;
}
