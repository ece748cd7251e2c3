/* valueforms.c: the forms of the value model's named tuples and tagged values
 * (docs/values.md), checked by every codec in both directions: the texts of the tags
 * (ISO 8601 times and durations, decimals, UUIDs...) and a named tuple's spec. Plain
 * functions of their arguments: compiled into each codec plugin that needs them. */
#include "ecbuild.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valueforms.h"

#define VF_MAX_SPEC ((size_t)65536) /* a named tuple's spec text */
#define VF_MAX_DIGITS ((size_t)160000) /* a decimal's digits (as the pickle codec's INT text) */

/* ---- the forms of the tags' texts ----------------------------------------------- */

struct scan {
	const char *s, *end;
};

static int digits(struct scan *c, size_t min, size_t max)
{
	size_t n = 0;
	while (c->s < c->end && n < max && *c->s >= '0' && *c->s <= '9')
		c->s++, n++;
	return n >= min;
}

static int lit(struct scan *c, char ch)
{
	if (c->s < c->end && *c->s == ch) {
		c->s++;
		return 1;
	}
	return 0;
}

/* Two digits no greater than max. */
static int num2(struct scan *c, int max)
{
	if (c->end - c->s < 2 || !digits(c, 2, 2))
		return 0;
	return (c->s[-2] - '0') * 10 + (c->s[-1] - '0') <= max;
}

/* HH:MM:SS[.ffffff], as isoformat writes it. */
static int clock(struct scan *c)
{
	if (!num2(c, 23) || !lit(c, ':') || !num2(c, 59) || !lit(c, ':') || !num2(c, 59))
		return 0;
	return !lit(c, '.') || digits(c, 6, 6);
}

/* [+-]HH:MM[:SS[.ffffff]] or nothing. */
static int offset(struct scan *c)
{
	if (!lit(c, '+') && !lit(c, '-'))
		return 1;
	if (!num2(c, 23) || !lit(c, ':') || !num2(c, 59))
		return 0;
	if (!lit(c, ':'))
		return 1;
	if (!num2(c, 59))
		return 0;
	return !lit(c, '.') || digits(c, 6, 6);
}

static int date(struct scan *c)
{
	const char *d = c->s;
	if (!digits(c, 4, 4) || !lit(c, '-') || !num2(c, 12) || !lit(c, '-') || !num2(c, 31))
		return 0;
	return memcmp(d, "0000", 4) && memcmp(d + 5, "00", 2) && memcmp(d + 8, "00", 2);
}

/* ISO 8601 duration as the context writes a timedelta: -?P[nD][T[nH][nM][n[.f]S]]. */
static int duration(struct scan *c)
{
	lit(c, '-');
	if (!lit(c, 'P'))
		return 0;
	int any = 0;
	const char *s = c->s;
	if (digits(c, 1, 10)) {
		if (!lit(c, 'D'))
			return 0;
		any = 1;
	}
	if (!lit(c, 'T'))
		return any && c->s > s;
	int t = 0;
	for (const char *u = "HM"; *u; u++) {
		const char *at = c->s;
		if (digits(c, 1, 10) && lit(c, *u))
			t = 1;
		else
			c->s = at;
	}
	if (digits(c, 1, 10)) {
		if (lit(c, '.') && !digits(c, 1, 6))
			return 0;
		if (!lit(c, 'S'))
			return 0;
		t = 1;
	}
	return t;
}

/* A Decimal's str(): -?(digits[.digits][E[+-]digits] | Infinity | [s]NaN[digits]). */
static int decimal(struct scan *c)
{
	lit(c, '-');
	size_t left = (size_t)(c->end - c->s);
	if (left == 8 && memcmp(c->s, "Infinity", 8) == 0) {
		c->s += 8;
		return 1;
	}
	lit(c, 's');
	if (left >= 3 && memcmp(c->s, "NaN", 3) == 0) {
		c->s += 3;
		digits(c, 0, VF_MAX_DIGITS);
		return 1;
	}
	if (!digits(c, 1, VF_MAX_DIGITS))
		return 0;
	if (lit(c, '.') && !digits(c, 1, VF_MAX_DIGITS))
		return 0;
	if (lit(c, 'E')) {
		if (!lit(c, '+'))
			lit(c, '-');
		return digits(c, 1, 20);
	}
	return 1;
}

static int uuid(struct scan *c)
{
	static const char form[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	if ((size_t)(c->end - c->s) != sizeof(form) - 1)
		return 0;
	for (size_t i = 0; i < sizeof(form) - 1; i++, c->s++) {
		char ch = *c->s;
		if (form[i] == '-' ? ch != '-' : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return 0;
	}
	return 1;
}

/* 1 when payload is the form tag says (why says what is wrong otherwise). */
int vf__tagged_valid(const char *tag, size_t taglen, const ec_value *p, const char **why)
{
	static const char *const tags[] = {EC_TAG_DATETIME, EC_TAG_DATE,    EC_TAG_TIME,
	                                   EC_TAG_TIMEDELTA, EC_TAG_DECIMAL, EC_TAG_UUID,
	                                   EC_TAG_PATH,      EC_TAG_ENUM,    EC_TAG_CHANNEL};
	size_t k = 0;
	while (k < sizeof(tags) / sizeof(tags[0]) &&
	       !(strlen(tags[k]) == taglen && memcmp(tags[k], tag, taglen) == 0))
		k++;
	if (k == sizeof(tags) / sizeof(tags[0])) {
		*why = "an unknown tag";
		return 0;
	}
	if (k == 8) { /* channel: its handle */
		*why = "a channel that is not a handle";
		return p->type == EC_T_INT && p->u.i > 0 && p->u.i <= 0xffffffffLL;
	}
	if (k == 7) { /* enum: (class, member, value) */
		ec_value *const *a = p->u.seq.items;
		*why = "an enum that is not (class, member, value) with a class and a member name";
		return p->type == EC_T_TUPLE && p->u.seq.len == 3 && a[0]->type == EC_T_STR &&
		       a[0]->u.s.len && !memchr(a[0]->u.s.data, '\0', a[0]->u.s.len) &&
		       a[1]->type == EC_T_STR && a[1]->u.s.len &&
		       !memchr(a[1]->u.s.data, '\0', a[1]->u.s.len);
	}
	*why = "a payload that is not text";
	if (p->type != EC_T_STR)
		return 0;
	struct scan c = {p->u.s.data, p->u.s.data + p->u.s.len};
	int ok;
	switch (k) {
	case 0: ok = date(&c) && lit(&c, 'T') && clock(&c) && offset(&c); break;
	case 1: ok = date(&c); break;
	case 2: ok = clock(&c) && offset(&c); break;
	case 3: ok = duration(&c); break;
	case 4: ok = decimal(&c); break;
	case 5: ok = uuid(&c); break;
	default: ok = !memchr(c.s, '\0', p->u.s.len); c.s = c.end; break; /* path */
	}
	*why = "a malformed text for its tag";
	return ok && c.s == c.end;
}

/* ---- the named tuple's spec ------------------------------------------------------ */

/* Number of words of spec (the type, then the fields), 0 if malformed: words are
 * non-empty, separated by one space, without control characters. */
size_t vf__spec_words(const char *s, size_t n)
{
	size_t words = 1;
	if (!n || n > VF_MAX_SPEC || s[0] == ' ' || s[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f || (ch == ' ' && s[i + 1] == ' '))
			return 0;
		words += ch == ' ';
	}
	return words;
}

/* ---- the path to a refused value ------------------------------------------------ */

void vf__path_prepend(char *path, size_t cap, const char *fmt, ...)
{
	char seg[80];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(seg, sizeof(seg), fmt, ap);
	va_end(ap);
	size_t sl = n < 0 ? 0 : (size_t)n < sizeof(seg) ? (size_t)n : sizeof(seg) - 1;
	size_t pl = strlen(path);
	if (sl + pl >= cap)
		return; /* keep the innermost part */
	memmove(path + sl, path, pl + 1);
	memcpy(path, seg, sl);
}
