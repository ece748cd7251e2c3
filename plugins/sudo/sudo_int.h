/* sudo_int.h: what the files of the sudo transport share: the instance (struct sudo)
 * and the functions one file gives another. Private to the plugin: every name here is
 * hidden (-fvisibility=hidden); the only export is ec_plugin_sudo_describe (sudo.c).
 * Shared functions are sudo__<name>. */
#ifndef EC_SUDO_INT_H
#define EC_SUDO_INT_H

#include <stddef.h>
#include <sys/types.h>

#include "econtext/transport.h"

#define PROMPT_TAG "[econtext-sudo:"
#define SCAN_MAX 8192   /* sudo's text before the marker that is kept */
#define PASSWORD_MAX 1024

enum sudo_state {
	S_NEW,      /* start() not called yet */
	S_STARTING, /* the layer below (or our spawn) is starting */
	S_WAITING,  /* for the prompt or the marker */
	S_SECRET,   /* the application is asked for the password (host->password_get) */
	S_ANSWER,   /* sending the password line */
	S_ANSWERED, /* for the marker, "Sorry, try again" or a second prompt */
	S_OPEN,     /* the marker was seen: bytes flow */
	S_FAILED
};

struct sudo {
	const struct ec_host *host;
	char *name; /* the context */
	struct ec_transport *below; /* NULL: we run sudo here */
	char *username, *password_env, *password_file, *where_pw, *sudo_path;
	char **sudo_args; /* NULL-terminated */
	char prompt[64];   /* what we pass to -p: PROMPT_TAG<random> %p@%h] */
	char tag[48];      /* what sudo prints of it before the user: PROMPT_TAG<random> */
	char sudo_host[256], pw_user[256]; /* from the prompt: whose password, where */
	struct ec_password pw_src; /* where the password comes from (host->password_get) */
	long timeout_ms;   /* `timeout`: for the sudo step; 0: none */
	long long deadline; /* monotonic ms; paused while the application is asked */
	enum sudo_state state;
	/* boot output not yet consumed; answered_at: where it stood when we answered */
	char scan[SCAN_MAX + 1];
	size_t scan_len, answered_at;
	char pw[PASSWORD_MAX + 2]; /* the answer "password\n" while it is sent; else zeros */
	size_t pw_len, pw_off;
	unsigned char *extra; /* bytes after the marker, for recv */
	size_t extra_len, extra_off;
	/* our own child, when there is no layer below */
	pid_t pid;
	int fd;
};

/* ---- sudo_below.c: the layer below, or our own child ------------------------------ */

/* The transport contract, on the layer below or on our own child. */
int sudo__low_start(struct sudo *s, const struct ec_argv *argv, struct ec_pollset *ps,
                    struct ec_error *err);
ssize_t sudo__low_send(struct sudo *s, const void *buf, size_t len, struct ec_pollset *ps,
                       struct ec_error *err);
ssize_t sudo__low_recv(struct sudo *s, void *buf, size_t len, struct ec_pollset *ps,
                       struct ec_error *err);
/* Close our own child's stream and reap it (no layer below). */
void sudo__own_close(struct sudo *s, int grace_ms);

/* ---- sudo_prompt.c: the boot, answering sudo's prompt ----------------------------- */

/* The transport's start op. */
int sudo__start(void *inst, const struct ec_argv *argv, struct ec_pollset *ps,
                struct ec_error *err);

#endif
