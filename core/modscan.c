/* modscan.c: the import scanner. A tokenizer-lite over Python source (2.7 and 3.x) that
 * finds the modules a source may import: `import a.b`, `from a import b`, `from . import
 * b`, `from ..x import y`, at any depth (inside functions, try blocks, after `;`). It
 * skips comments and strings (with prefixes, triple quotes, escapes) and follows
 * brackets and backslash continuations. It only proposes candidates: false positives
 * are expected (`from m import func` proposes m.func) and the server keeps only what
 * exists on the module path. `import` and `from` are keywords in every Python, so no
 * statement-start check is needed; `raise X from Y` and `yield from Y` are dropped
 * because no `import` follows. */
#include "ecbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modscan.h"
#include "strv.h"

enum tok { T_END, T_NAME, T_DOT, T_COMMA, T_LPAR, T_RPAR, T_STAR, T_EOL, T_OTHER };

struct lexer {
	const char *s, *end;
	int depth; /* open brackets: newlines inside do not end the statement */
	const char *tok;
	size_t len;
};

static int is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c >= 0x80;
}

static void skip_string(struct lexer *L)
{
	char q = *L->s;
	int triple = L->end - L->s >= 3 && L->s[1] == q && L->s[2] == q;
	L->s += triple ? 3 : 1;
	while (L->s < L->end) {
		char c = *L->s;
		if (c == '\\') {
			L->s += L->s + 1 < L->end ? 2 : 1;
			continue;
		}
		if (c == q) {
			if (!triple) {
				L->s++;
				return;
			}
			if (L->end - L->s >= 3 && L->s[1] == q && L->s[2] == q) {
				L->s += 3;
				return;
			}
		} else if (c == '\n' && !triple) {
			return; /* unterminated: resynchronise on the newline */
		}
		L->s++;
	}
}

static enum tok next(struct lexer *L)
{
	for (;;) {
		if (L->s >= L->end)
			return T_END;
		unsigned char c = (unsigned char)*L->s;
		if (c == '#') {
			while (L->s < L->end && *L->s != '\n')
				L->s++;
			continue;
		}
		if (c == '\\' && L->s + 1 < L->end && (L->s[1] == '\n' || L->s[1] == '\r')) {
			L->s += 2;
			if (L->s < L->end && L->s[-1] == '\r' && *L->s == '\n')
				L->s++;
			continue;
		}
		if (c == '\n' || c == ';') {
			L->s++;
			if (c == ';' || L->depth == 0)
				return T_EOL;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
			L->s++;
			continue;
		}
		if (c == '\'' || c == '"') {
			skip_string(L);
			return T_OTHER;
		}
		L->tok = L->s;
		if (is_name_char(c)) {
			while (L->s < L->end && is_name_char((unsigned char)*L->s))
				L->s++;
			L->len = (size_t)(L->s - L->tok);
			/* String prefixes: r'', b"", u'', f'', rb'', Br'' ... */
			if (L->s < L->end && (*L->s == '\'' || *L->s == '"') && L->len <= 2 &&
			    strspn(L->tok, "rRbBuUfF") >= L->len) {
				skip_string(L);
				return T_OTHER;
			}
			if (c >= '0' && c <= '9')
				return T_OTHER;
			return T_NAME;
		}
		L->s++;
		switch (c) {
		case '.':
			return T_DOT;
		case ',':
			return T_COMMA;
		case '*':
			return T_STAR;
		case '(':
		case '[':
		case '{':
			L->depth++;
			return c == '(' ? T_LPAR : T_OTHER;
		case ')':
		case ']':
		case '}':
			if (L->depth > 0)
				L->depth--;
			return c == ')' ? T_RPAR : T_OTHER;
		default:
			return T_OTHER;
		}
	}
}

static int is_kw(const struct lexer *L, const char *kw)
{
	return L->len == strlen(kw) && memcmp(L->tok, kw, L->len) == 0;
}

struct names {
	char **v;
	size_t n, cap;
	int oom;
};

static void add_name(struct names *ns, const char *s, size_t len)
{
	if (!len || ns->oom)
		return;
	for (size_t i = 0; i < ns->n; i++)
		if (strlen(ns->v[i]) == len && memcmp(ns->v[i], s, len) == 0)
			return;
	if (ns->n + 2 > ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 16;
		char **v = realloc(ns->v, cap * sizeof(char *));
		if (!v) {
			ns->oom = 1;
			return;
		}
		ns->v = v;
		ns->cap = cap;
		ns->v[ns->n] = NULL; /* still a vector if the copy below fails */
	}
	char *copy = strndup(s, len);
	if (!copy) {
		ns->oom = 1;
		return;
	}
	ns->v[ns->n++] = copy;
	ns->v[ns->n] = NULL;
}

/* A dotted name into buf (after a prefix already there); returns the token after it. */
static enum tok dotted(struct lexer *L, enum tok t, char *buf, size_t cap, size_t *len)
{
	while (t == T_NAME && !is_kw(L, "import")) {
		if (*len + L->len + 2 < cap) {
			if (*len)
				buf[(*len)++] = '.';
			memcpy(buf + *len, L->tok, L->len);
			*len += L->len;
			buf[*len] = '\0';
		}
		t = next(L);
		if (t != T_DOT)
			return t;
		t = next(L);
	}
	return t;
}

/* Every prefix of a dotted name (a, a.b, a.b.c): parents are imported first anyway. */
static void add_dotted(struct names *ns, const char *name, size_t len)
{
	for (size_t i = 1; i <= len; i++)
		if (i == len || name[i] == '.')
			add_name(ns, name, i);
}

/* `import a.b as c, d`: also pkg.a (Python 2's implicit relative import). */
static void add_absolute(struct names *ns, const char *pkg, const char *name, size_t len)
{
	add_dotted(ns, name, len);
	if (pkg && *pkg) {
		char full[1024];
		int n = snprintf(full, sizeof(full), "%s.%.*s", pkg, (int)len, name);
		if (n > 0 && (size_t)n < sizeof(full))
			add_dotted(ns, full, (size_t)n);
	}
}

int ec__modscan(const char *src, size_t len, const char *pkg, char ***out, size_t *nout)
{
	struct lexer L = {.s = src, .end = src + len};
	struct names ns = {0};
	char buf[1024];
	enum tok t = next(&L);
	while (t != T_END) {
		if (t != T_NAME) {
			t = next(&L);
			continue;
		}
		if (is_kw(&L, "import")) {
			t = next(&L);
			for (;;) {
				size_t n = 0;
				buf[0] = '\0';
				t = dotted(&L, t, buf, sizeof(buf), &n);
				add_absolute(&ns, pkg, buf, n);
				if (t == T_NAME && is_kw(&L, "as")) {
					t = next(&L);
					if (t == T_NAME)
						t = next(&L);
				}
				if (t != T_COMMA)
					break;
				t = next(&L);
			}
			continue;
		}
		if (!is_kw(&L, "from")) {
			t = next(&L);
			continue;
		}
		/* from [.]*[dotted] import names */
		int level = 0, ok = 1;
		t = next(&L);
		while (t == T_DOT) {
			level++;
			t = next(&L);
		}
		size_t n = 0;
		buf[0] = '\0';
		if (level) {
			/* The base: pkg less (level - 1) trailing components. */
			snprintf(buf, sizeof(buf), "%s", pkg ? pkg : "");
			n = strlen(buf);
			for (int i = 1; i < level && n; i++) {
				char *dot = strrchr(buf, '.');
				n = dot ? (size_t)(dot - buf) : 0;
				buf[n] = '\0';
			}
			ok = n > 0; /* no anchor, or beyond the top-level package */
		}
		t = dotted(&L, t, buf, sizeof(buf), &n);
		if (t != T_NAME || !is_kw(&L, "import") || !ok || !n) {
			/* raise X from Y, yield from Y, or nothing to anchor to. */
			while (t != T_EOL && t != T_END)
				t = next(&L);
			continue;
		}
		if (level)
			add_dotted(&ns, buf, n);
		else
			add_absolute(&ns, pkg, buf, n);
		t = next(&L);
		if (t == T_LPAR)
			t = next(&L);
		while (t == T_NAME) {
			char full[1100];
			int fl = snprintf(full, sizeof(full), "%.*s.%.*s", (int)n, buf, (int)L.len, L.tok);
			if (fl > 0 && (size_t)fl < sizeof(full))
				add_name(&ns, full, (size_t)fl);
			t = next(&L);
			if (t == T_NAME && is_kw(&L, "as")) {
				t = next(&L);
				if (t == T_NAME)
					t = next(&L);
			}
			if (t != T_COMMA)
				break;
			t = next(&L);
		}
	}
	if (ns.oom) {
		ec__strv_free(ns.v);
		return EC_ENOMEM;
	}
	if (!ns.v && !(ns.v = calloc(1, sizeof(char *))))
		return EC_ENOMEM;
	*out = ns.v;
	*nout = ns.n;
	return 0;
}
