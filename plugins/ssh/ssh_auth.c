/* ssh_auth.c: authentication for the ssh transport: ssh-agent, key files, password
 * and keyboard-interactive, in that order, as the server offers them; the password (from
 * the host's password service: password_env, password_file or the application); and
 * keeping it secret (wiped when freed; the copies libssh2 frees: ssh_alloc.c). */
#include "ecbuild.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssh_int.h"

void ssh__wipe_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

static void tried_add(struct sess *s, const char *fmt, ...) EC_PRINTF(2, 3);
static void tried_add(struct sess *s, const char *fmt, ...)
{
	size_t l = strlen(s->tried);
	if (l && l + 2 < sizeof(s->tried)) {
		memcpy(s->tried + l, "; ", 3);
		l += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->tried + l, sizeof(s->tried) - l, fmt, ap);
	va_end(ap);
}

/* libssh2 before 1.11 signs only with ssh-rsa (SHA-1), which OpenSSH 8.8 and newer
 * refuse by default. */
#define RSA_MSG "libssh2 1.10 cannot use RSA keys with OpenSSH 8.8 or newer; use an ed25519 or ECDSA key"

static int rsa_unsupported(void)
{
	return libssh2_version(0x010b00) == NULL;
}

/* An SSH wire-format blob (a public key) whose type string is "ssh-rsa". */
static int blob_is_rsa(const unsigned char *b, size_t n)
{
	if (n < 4)
		return 0;
	size_t l = (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
	return l == 7 && n >= 11 && memcmp(b + 4, "ssh-rsa", 7) == 0;
}

/* Is the private key file an RSA key? PEM ("BEGIN RSA PRIVATE KEY") or the OpenSSH
 * format (the type of the public key it holds: it is not encrypted). */
static int key_file_is_rsa(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
	char text[16384];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	if (strstr(text, "-----BEGIN RSA PRIVATE KEY-----"))
		return 1;
	const char *p = strstr(text, begin);
	if (!p)
		return 0;
	p += sizeof(begin) - 1;
	/* Enough base64 for the header and the public key's type. */
	unsigned char bin[512];
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (; *p && *p != '-' && o < sizeof(bin); p++) {
		const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		const char *c = *p ? strchr(tab, *p) : NULL;
		if (!c)
			continue; /* whitespace, padding */
		acc = acc << 6 | (unsigned)(c - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			bin[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* "openssh-key-v1\0", string cipher, string kdf, string kdfoptions, uint32 count,
	 * string publickey */
	size_t at = 15;
	if (o < at || memcmp(bin, "openssh-key-v1", 15) != 0)
		return 0;
	for (int i = 0; i < 3; i++) {
		if (at + 4 > o)
			return 0;
		size_t l = (size_t)bin[at] << 24 | (size_t)bin[at + 1] << 16 | (size_t)bin[at + 2] << 8 |
		           bin[at + 3];
		if (l > o)
			return 0;
		at += 4 + l;
	}
	at += 4; /* the key count */
	if (at + 4 > o)
		return 0;
	return blob_is_rsa(bin + at + 4, o - at - 4);
}

static int method_offered(const struct sess *s, const char *m)
{
	const char *p = s->methods;
	size_t ml = strlen(m);
	while (p && *p) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		if (l == ml && strncmp(p, m, l) == 0)
			return 1;
		p = c ? c + 1 : NULL;
	}
	return 0;
}

static LIBSSH2_USERAUTH_KBDINT_RESPONSE_FUNC(kbd_cb)
{
	(void)name;
	(void)name_len;
	(void)instruction;
	(void)instruction_len;
	struct sess *s = *abstract;
	s->kbd_rounds++;
	for (int i = 0; i < num_prompts; i++) {
		/* Every prompt gets the password: "Password:" is the one PAM asks. */
		(void)prompts;
		/* libssh2 frees it with ssh__free, which wipes it first. */
		responses[i].text = s->password ? ssh__lib_strdup(s, s->password) : NULL;
		responses[i].length = responses[i].text ? (unsigned)strlen(responses[i].text) : 0;
		size_t slots = sizeof(s->kbd_answer) / sizeof(s->kbd_answer[0]);
		for (size_t j = 0; responses[i].text && j < slots; j++) {
			if (!s->kbd_answer[j]) {
				s->kbd_answer[j] = responses[i].text;
				break;
			}
		}
	}
}

/* The key the answer is kept under: shared by every session to that account. */
static void secret_key(const struct sess *s, char *key, size_t cap)
{
	snprintf(key, cap, "ssh:%s@%s:%d", s->cfg.username, s->cfg.hostname, s->cfg.port);
}

/* The password (host->password_get: password_env, password_file or the application's
 * answer, asked once per user, host and port). 0 with s->password set; EC_EAGAIN while
 * it is asked (our deadline is paused meanwhile, as is the core's); EC_ENOTFOUND when
 * there is none to give; or the session's failure. */
static int get_password(struct sess *s)
{
	const struct ec_host *h = s->ps->host;
	if (s->password)
		return 0;
	char key[600], prompt[600], buf[1025];
	size_t n = 0;
	struct ec_error e = {0};
	secret_key(s, key, sizeof(key));
	snprintf(prompt, sizeof(prompt), "%s@%s's password: ", s->cfg.username, s->cfg.hostname);
	int rc = h->password_get(h, &s->pw, key, prompt, buf, sizeof(buf), &n, &e);
	ssh__timer_set(s, rc == EC_EAGAIN ? 0 : s->deadline_ms);
	if (rc == EC_EAGAIN || rc == EC_ENOTFOUND)
		return rc;
	if (rc)
		return ssh__sess_fail(s, rc, "authentication to %s: %s", s->label, e.msg);
	s->password = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	if (!s->password)
		return ssh__sess_fail(s, EC_ENOMEM, "out of memory");
	return 0;
}

/* The server refused the password: one from the application is forgotten (the next
 * context asks again) and not tried with another method. */
static void password_refused(struct sess *s, const char *method)
{
	tried_add(s, "%s (refused)", method);
	if (!s->pw.from_app)
		return;
	char key[600];
	secret_key(s, key, sizeof(key));
	s->ps->host->password_refused(s->ps->host, &s->pw, key);
	ssh__wipe_free(s->password);
	s->password = NULL;
	s->pw_refused = 1;
}

int ssh__auth_done(struct sess *s)
{
	const struct ec_host *h = s->ps->host;
	ssh__wipe_free(s->password);
	s->password = NULL;
	if (s->agent) {
		libssh2_agent_disconnect(s->agent);
		libssh2_agent_free(s->agent);
		s->agent = NULL;
	}
	h->log(h, EC_LOG_DEBUG, "ssh: authenticated to %s%s%s", s->label, s->tried[0] ? " after " : "",
	       s->tried);
	s->state = S_READY;
	ssh__timer_set(s, 0);
	if (s->cfg.keepalive_s > 0) {
		libssh2_keepalive_config(s->s, 1, (unsigned)s->cfg.keepalive_s);
		s->next_keepalive_ms = ssh__now_ms() + s->cfg.keepalive_s * 1000;
		s->keepalive_at_ms = s->last_recv_ms = ssh__now_ms();
		s->keepalive_silent = 0;
		ssh__timer_set(s, s->next_keepalive_ms);
	}
	return 0;
}

int ssh__auth_step(struct sess *s)
{
	const struct ec_host *h = s->ps->host;
	int rc;
	while (s->astep != A_DONE) {
		switch (s->astep) {
		case A_AGENT: {
			const char *sock = getenv("SSH_AUTH_SOCK");
			if (!s->cfg.agent || !sock || !*sock || !method_offered(s, "publickey")) {
				s->astep = A_KEYS;
				break;
			}
			if (!s->agent_started) {
				s->agent_started = 1;
				/* The agent's own socket I/O is blocking and local (short). */
				s->agent = libssh2_agent_init(s->s);
				if (!s->agent || libssh2_agent_connect(s->agent) ||
				    libssh2_agent_list_identities(s->agent)) {
					tried_add(s, "ssh-agent (%s: %s)", sock, ssh__sess_errmsg(s->s));
					s->astep = A_KEYS;
					break;
				}
				s->agent_id = NULL;
				if (libssh2_agent_get_identity(s->agent, &s->agent_id, NULL)) {
					tried_add(s, "ssh-agent (no keys)");
					s->astep = A_KEYS;
					break;
				}
			}
			rc = libssh2_agent_userauth(s->agent, s->cfg.username, s->agent_id);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return EC_EAGAIN;
			if (rc == 0)
				return ssh__auth_done(s);
			s->agent_tried++;
			if (rsa_unsupported() && blob_is_rsa(s->agent_id->blob, s->agent_id->blob_len))
				s->agent_rsa++;
			struct libssh2_agent_publickey *prev = s->agent_id;
			if (libssh2_agent_get_identity(s->agent, &s->agent_id, prev)) {
				if (s->agent_rsa)
					tried_add(s, "ssh-agent (%d key%s refused, %d of them RSA: " RSA_MSG ")",
					          s->agent_tried, s->agent_tried == 1 ? "" : "s", s->agent_rsa);
				else
					tried_add(s, "ssh-agent (%d key%s refused)", s->agent_tried,
					          s->agent_tried == 1 ? "" : "s");
				s->astep = A_KEYS;
			}
			break;
		}
		case A_KEYS:
			if (s->id_idx >= s->cfg.n_identity || !method_offered(s, "publickey")) {
				s->astep = A_PASSWORD;
				break;
			}
			{
				const char *f = s->cfg.identity_files[s->id_idx];
				if (access(f, R_OK) != 0) {
					tried_add(s, "key %s (%s)", f, strerror(errno));
					s->id_idx++;
					break;
				}
				rc = libssh2_userauth_publickey_fromfile_ex(
					s->s, s->cfg.username, (unsigned)strlen(s->cfg.username), NULL, f, NULL);
				if (rc == LIBSSH2_ERROR_EAGAIN)
					return EC_EAGAIN;
				if (rc == 0)
					return ssh__auth_done(s);
				char *m = NULL;
				libssh2_session_last_error(s->s, &m, NULL, 0);
				if (rc == LIBSSH2_ERROR_FILE)
					tried_add(s, "key %s (cannot be read: %s)", f, m ? m : "?");
				else if (rsa_unsupported() && key_file_is_rsa(f))
					tried_add(s, "key %s (refused: it is an RSA key, and " RSA_MSG ")", f);
				else
					tried_add(s, "key %s (refused)", f);
				h->log(h, EC_LOG_DEBUG, "ssh: key %s for %s: %d %s", f, s->label, rc,
				       m ? m : "");
				s->id_idx++;
			}
			break;
		case A_PASSWORD:
		case A_KBDINT: {
			/* The same password, as "password", then as the answer to the
			 * keyboard-interactive prompt (unless the server refused it already). */
			int kbd = s->astep == A_KBDINT;
			enum auth_step next = kbd ? A_DONE : A_KBDINT;
			const char *method = kbd ? "keyboard-interactive" : "password";
			if ((kbd && (!s->cfg.kbdint || s->pw_refused)) || !method_offered(s, method)) {
				s->astep = next;
				break;
			}
			rc = get_password(s);
			if (rc == EC_ENOTFOUND) {
				s->astep = next;
				break;
			}
			if (rc)
				return rc;
			const char *u = s->cfg.username;
			rc = kbd ? libssh2_userauth_keyboard_interactive_ex(s->s, u, (unsigned)strlen(u),
			                                                    kbd_cb)
			         : libssh2_userauth_password_ex(s->s, u, (unsigned)strlen(u), s->password,
			                                        (unsigned)strlen(s->password), NULL);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return EC_EAGAIN;
			if (rc == 0)
				return ssh__auth_done(s);
			password_refused(s, method);
			s->astep = next;
			break;
		}
		case A_DONE:
			break;
		}
	}
	return ssh__sess_fail(s, EC_EAUTH,
	                      "authentication failed for %s: %s; the server accepts: %s", s->label,
	                      s->tried[0] ? s->tried : "no method could be tried (no key file, no agent, "
	                                          "no password_env, password_file or "
	                                          "terminal)",
	                      s->methods ? s->methods : "?");
}
