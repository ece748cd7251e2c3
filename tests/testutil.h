/* testutil.h: the fixtures shared by the CUnit programs: running the registry with a
 * correct exit code, temp files, the Python interpreters to test, log capture, calls,
 * the fixture scripts (sshd, sudo users), files and logs counted, process scans. */
#ifndef EC_TESTUTIL_H
#define EC_TESTUTIL_H

#include <CUnit/Basic.h>
#include <stddef.h>
#include <sys/types.h>

#include "econtext.h"

/* Run every registered suite verbosely; exit status 0 only if nothing failed (77 if
 * nothing ran). */
int ec_test_run(void);
/* Start the registry with the suites of a table; 0, or -1 (said on stderr). */
int ec_test_register(CU_SuiteInfo suites[]);
/* Write text to a new temp file; returns a malloc'd path (caller unlinks and frees). */
char *ec_test_tmpfile(const char *text);
/* Build dir (EC_TEST_BUILDDIR or "."), source dir (EC_TEST_SRCDIR or "."). */
const char *ec_test_builddir(void);
const char *ec_test_srcdir(void);
/* CLOCK_MONOTONIC in milliseconds, and in seconds. */
long long ec_test_now_ms(void);
double ec_test_now_s(void);

struct ec_test_python {
	char version[16]; /* "3.11" */
	char full[32];    /* "3.11.7" */
	char path[512];   /* absolute path of the interpreter binary, or "" if absent */
};

/* The interpreter versions econtext supports (2.7, 3.6 ... 3.13), each with the path
 * found on this machine ($EC_TEST_PYTHONS, pyenv's versions, /usr/bin), in order.
 * Returns the count; prints which were found. */
size_t ec_test_pythons(struct ec_test_python *out, size_t max);

/* A log callback (ec_master_options.log_fn) that keeps the records for the checks
 * below (up to 2048; thread-safe). */
void ec_test_log_capture(void *arg, const struct ec_log_record *rec);
/* Forget the kept records. */
void ec_test_log_clear(void);
/* How many kept records come from `logger` (NULL: any) and contain `text`; *level (may
 * be NULL) gets the level of the last one. */
size_t ec_test_log_count(const char *logger, const char *text, int *level);
/* Wait up to 30 s for such a record (it returns as it comes); 1 if it came. */
int ec_test_log_wait(const char *logger, const char *text, int *level);

/* Run `sh SRCDIR/tests/SCRIPT A1 [A2]` (a2 may be NULL), with the environment variable
 * env_name set to env_value when both are given; its exit status (1 if it did not exit). */
int ec_test_script(const char *script, const char *a1, const char *a2, const char *env_name,
                   const char *env_value);

/* Call mod.fn on ctx with one argument (arg, taken over) or none (NULL), waiting up to
 * timeout_ms; *rc gets the result (a failure is also said on stderr). Returns the value
 * (the caller frees it; NULL if none came). */
ec_value *ec_test_call(ec_context *ctx, const char *mod, const char *fn, ec_value *arg,
                       int timeout_ms, int *rc);

/* What tests/sshd-fixture.sh start wrote to DIR/env.sh (empty where it wrote nothing). */
struct ec_test_sshd {
	char port[16], user[64], key[512], key_other[512], key_rsa[512], known_hosts[512],
		pw_user[64], pw_password[64], log[512], pam_port[16];
};
void ec_test_sshd_env(const char *dir, struct ec_test_sshd *fx);
/* sh tests/sshd-fixture.sh what DIR: 0, 77 (no sshd here) or another failure. */
int ec_test_sshd_fixture(const char *what, const char *dir);

/* The sudo fixture (tests/sudo_fixture.sh): its users are shared by every test that uses
 * them. Why it cannot run here (sudo, useradd or visudo missing), or NULL. */
const char *ec_test_sudo_missing(void);
/* Take the lock that lets one such test at a time run (held until exit); 0 or -1. */
int ec_test_sudo_lock(void);
/* sh tests/sudo_fixture.sh what (setup, teardown), the source users' password given. */
int ec_test_sudo_fixture(const char *what, const char *password);
/* A random password "PREFIX-<12 hex>-ok" and a wrong one "WPREFIX-<12 hex>"; 0 or -1. */
int ec_test_passwords(const char *prefix, char *pw, size_t pwcap, const char *wprefix,
                      char *wrong, size_t wcap);

/* Lines of the file at path that hold text, from byte offset on (an sshd log since
 * ec_test_file_size); -1 if it cannot be read. */
int ec_test_file_count(const char *path, const char *text, long offset);
/* Its size in bytes; 0 if it cannot be read. */
long ec_test_file_size(const char *path);
/* 1 if the file at path holds one of secrets (NULL-terminated). */
int ec_test_file_holds(const char *path, const char *const secrets[]);

/* Every /proc/PID/cmdline and environ of the machine that holds one of secrets: how
 * many, their paths appended to where (a string of cap bytes). */
int ec_test_proc_scan(const char *const secrets[], char *where, size_t cap);
/* Run fn(arg, fd) in a child process whose exit status is its return, fd the write end
 * of a pipe (close-on-exec: what the child starts does not hold it open); the read end
 * in *rfd. The child's pid, or -1. */
int ec_test_fork_pipe(int (*fn)(void *arg, int fd), void *arg, int *rfd);
/* A port on 127.0.0.1 where nothing listens (bound, then closed): for a server to
 * start on, or a connection to be refused. */
int ec_test_unused_port(void);
/* How many processes (zombies aside) have real uid uid. */
int ec_test_procs_of(long uid);
/* 1 if process pid is gone from the process table, or a zombie nobody reaped. */
int ec_test_process_gone(long pid);
/* The state letter of process pid in /proc/PID/stat ('R', 'S', 'T', 'Z', ...); 0 if gone. */
char ec_test_proc_state(long pid);
/* The parent of process pid (zombies too); -1 if it is gone. */
long ec_test_ppid_of(long pid);
/* Children of this process still there (zombies count: nobody reaped them). */
int ec_test_children_left(void);
/* A child of ppid whose argv[0] starts with "econtext:" (a context), or 0. */
pid_t ec_test_find_context_of(pid_t ppid);

/* 1 if `user` (no supplementary groups) may access(path, mode), checked in a child. */
int ec_test_user_access(const char *user, const char *path, int mode);
/* 1 if `user` may read this build tree's sudo plugin, search dir and run python. */
int ec_test_user_can_sudo_from(const char *user, const char *dir, const char *python);
/* The uid of user; -2 if there is no such user. */
long ec_test_uid_of(const char *user);

/* Say why `what` is skipped (stdout and stderr) and return 77, the skip status. */
int ec_test_skip(const char *what, const char *why);
/* Unless active: mark suite s inactive (its tests count as skipped) and say why on
 * stderr as "SKIP: what: why". */
void ec_test_suite_skip_unless(CU_pSuite s, int active, const char *what, const char *why);
/* One suite of tests per interpreter ec_test_pythons finds ("WHAT, python 3.11"), its
 * init given that interpreter; absent ones are skipped visibly. How many can run. */
/* A master (config /dev/null, records captured at info and above, module path
 * SRCDIR/moddir unless NULL) and a local context `name` on py: 0, or 1 (said on
 * stderr, nothing left). The free shuts both down. For a suite's init and clean. */
int ec_test_master_and_context(const struct ec_test_python *py, const char *moddir,
                               const char *name, ec_master **m, ec_context **ctx);
/* The same with one more override (NULL: none), such as "codec=json". */
int ec_test_master_and_context_with(const struct ec_test_python *py, const char *moddir,
                                    const char *name, const char *extra, ec_master **m,
                                    ec_context **ctx);
void ec_test_master_and_context_free(ec_master **m, ec_context **ctx);
size_t ec_test_python_suites(const char *what, int (*init)(const struct ec_test_python *py),
                             int (*clean)(void), const CU_TestInfo *tests);

/* Become user for good (groups, gid, uid; HOME, USER, LOGNAME) and chdir to dir. */
int ec_test_become(const char *user, const char *dir);

#endif
