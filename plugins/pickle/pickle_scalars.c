/* pickle_scalars.c: the decoder's scalar arguments: integers (two's complement bytes
 * and decimal text), float text, counted text and bytes, and the escaped text forms of
 * protocol 0 (STRING's quoted repr, UNICODE's raw-unicode-escape). Each pushes the
 * value it makes or refuses the argument, naming what is wrong with it. */
#include "ecbuild.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>

#include "pickle_int.h"

/* Little-endian two's complement -> INT, or BIGINT beyond int64. */
int pk__push_long_bytes(struct dec *d, const unsigned char *b, size_t n)
{
	ec_value *v;
	if (n == 0) {
		v = new_scalar(d, EC_T_INT);
		if (v)
			v->u.i = 0;
		return push(d, v, 0);
	}
	int neg = (b[n - 1] & 0x80) != 0;
	size_t m = twos_trim(b, n);
	if (m <= 8) {
		uint64_t u = le_get(b, m);
		if (neg && m < 8)
			u |= ~(uint64_t)0 << (8 * m);
		v = new_scalar(d, EC_T_INT);
		if (v)
			v->u.i = (int64_t)u;
		return push(d, v, 0);
	}
	unsigned char *mag = malloc(m);
	if (!mag)
		return pk__doom(d);
	memcpy(mag, b, m);
	if (neg) { /* magnitude = two's complement negation */
		unsigned carry = 1;
		for (size_t i = 0; i < m; i++) {
			unsigned x = (unsigned)(unsigned char)~mag[i] + carry;
			mag[i] = (unsigned char)x;
			carry = x >> 8;
		}
	}
	BIGNUM *bn = BN_lebin2bn(mag, (int)m, NULL);
	free(mag);
	if (!bn)
		return pk__doom(d);
	if (neg)
		BN_set_negative(bn, 1);
	char *s = BN_bn2dec(bn);
	BN_free(bn);
	if (!s)
		return pk__doom(d);
	v = d->h->value_str(EC_T_BIGINT, s, strlen(s));
	OPENSSL_free(s);
	return push(d, v, 0);
}

/* Decimal text (INT, LONG): optional sign, digits without leading zeros. */
int pk__push_decimal(struct dec *d, const unsigned char *s, size_t n)
{
	size_t i = 0;
	int neg = 0;
	char shown[48];
	if (n && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	const unsigned char *dg = s + i;
	size_t nd = n - i;
	int ok = nd > 0 && !(nd > 1 && dg[0] == '0');
	for (size_t k = 0; ok && k < nd; k++)
		ok = dg[k] >= '0' && dg[k] <= '9';
	if (!ok) {
		pk__printable(shown, sizeof(shown), s, n);
		return pk__dfail(d, "malformed integer '%s' in %s", shown, OPN);
	}
	if (nd > PK_MAX_DIGITS)
		return pk__dfail(d, "integer of %zu digits in %s is too large (limit %zu)", nd, OPN,
		                 PK_MAX_DIGITS);
	if (nd <= 19) {
		uint64_t mag = 0;
		for (size_t k = 0; k < nd; k++)
			mag = mag * 10 + (uint64_t)(dg[k] - '0');
		if (mag <= (uint64_t)INT64_MAX || (neg && mag == (uint64_t)INT64_MAX + 1)) {
			ec_value *v = new_scalar(d, EC_T_INT);
			if (v)
				v->u.i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
			return push(d, v, 0);
		}
	}
	char *t = malloc(nd + 2);
	if (!t)
		return pk__doom(d);
	size_t tl = 0;
	if (neg)
		t[tl++] = '-';
	memcpy(t + tl, dg, nd);
	tl += nd;
	ec_value *v = d->h->value_str(EC_T_BIGINT, t, tl);
	free(t);
	return push(d, v, 0);
}

static int float_text_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	const char *r = (const char *)s + i;
	size_t rn = n - i;
	if ((rn == 3 && (strncasecmp(r, "inf", 3) == 0 || strncasecmp(r, "nan", 3) == 0)) ||
	    (rn == 8 && strncasecmp(r, "infinity", 8) == 0))
		return 1;
	size_t digits = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, digits++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, digits++;
	}
	if (!digits)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t ed = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, ed++;
		if (!ed)
			return 0;
	}
	return i == n;
}

int pk__push_float_text(struct dec *d, const unsigned char *s, size_t n)
{
	char buf[PK_MAX_FLOAT_TEXT + 1];
	if (n > PK_MAX_FLOAT_TEXT || !float_text_ok(s, n)) {
		pk__printable(buf, sizeof(buf), s, n);
		return pk__dfail(d, "malformed float '%s' in FLOAT", buf);
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	ec_value *v = new_scalar(d, EC_T_FLOAT);
	if (v)
		v->u.f = strtod_l(buf, NULL, d->loc);
	return push(d, v, 0);
}

int pk__push_text(struct dec *d, enum ec_type t, const unsigned char *s, size_t n)
{
	if (t == EC_T_STR) {
		size_t ok = pk__utf8_valid_prefix(s, n);
		if (ok != n)
			return pk__dfail(d, "invalid UTF-8 in %s (byte %zu of the text)", OPN, ok);
	}
	return push(d, d->h->value_str(t, s, n), 0);
}

static int hexval(unsigned c)
{
	if (c >= '0' && c <= '9')
		return (int)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (int)(c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (int)(c - 'A' + 10);
	return -1;
}

/* STRING: a quoted repr, decoded as Python's codecs.escape_decode does. */
int pk__push_string_repr(struct dec *d, const unsigned char *s, size_t n)
{
	if (n < 2 || s[0] != s[n - 1] || (s[0] != '\'' && s[0] != '"'))
		return pk__dfail(d, "the STRING argument must be quoted");
	s++;
	n -= 2;
	unsigned char *o = malloc(n + 1);
	if (!o)
		return pk__doom(d);
	size_t j = 0;
	for (size_t i = 0; i < n;) {
		unsigned c = s[i++];
		if (c != '\\') {
			o[j++] = (unsigned char)c;
			continue;
		}
		if (i == n) {
			free(o);
			return pk__dfail(d, "trailing \\ in STRING");
		}
		c = s[i++];
		switch (c) {
		case '\n':
			break;
		case '\\':
		case '\'':
		case '"':
			o[j++] = (unsigned char)c;
			break;
		case 'a': o[j++] = '\a'; break;
		case 'b': o[j++] = '\b'; break;
		case 'f': o[j++] = '\f'; break;
		case 'n': o[j++] = '\n'; break;
		case 'r': o[j++] = '\r'; break;
		case 't': o[j++] = '\t'; break;
		case 'v': o[j++] = '\v'; break;
		case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
			unsigned x = c - '0';
			for (int k = 0; k < 2 && i < n && s[i] >= '0' && s[i] <= '7'; k++)
				x = x * 8 + (unsigned)(s[i++] - '0');
			o[j++] = (unsigned char)x;
			break;
		}
		case 'x':
			if (n - i < 2 || hexval(s[i]) < 0 || hexval(s[i + 1]) < 0) {
				free(o);
				return pk__dfail(d, "invalid \\x escape in STRING");
			}
			o[j++] = (unsigned char)(hexval(s[i]) * 16 + hexval(s[i + 1]));
			i += 2;
			break;
		default: /* unknown escapes stay as they are */
			o[j++] = '\\';
			i--;
			break;
		}
	}
	ec_value *v = d->h->value_str(EC_T_BYTES, o, j);
	free(o);
	return push(d, v, 0);
}

/* Append code point cp (surrogates included) as UTF-8; returns bytes written. */
static size_t utf8_put(unsigned char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	} else if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	} else if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* UNICODE: raw-unicode-escape (latin-1 bytes, \uXXXX and \UXXXXXXXX) -> UTF-8. */
int pk__push_raw_unicode(struct dec *d, const unsigned char *s, size_t n)
{
	if (n > (SIZE_MAX - 1) / 2)
		return pk__doom(d);
	unsigned char *o = malloc(2 * n + 1);
	if (!o)
		return pk__doom(d);
	size_t j = 0;
	for (size_t i = 0; i < n;) {
		unsigned c = s[i++];
		if (c != '\\' || i == n || (s[i] != 'u' && s[i] != 'U')) {
			j += utf8_put(o + j, c);
			if (c == '\\' && i < n) /* a backslash pair is kept as is */
				j += utf8_put(o + j, s[i++]);
			continue;
		}
		size_t count = s[i++] == 'u' ? 4 : 8;
		uint32_t cp = 0;
		for (size_t k = 0; k < count; k++) {
			int h = i < n ? hexval(s[i]) : -1;
			if (h < 0) {
				free(o);
				return pk__dfail(d, "truncated \\%c escape in UNICODE", count == 4 ? 'u' : 'U');
			}
			cp = cp * 16 + (uint32_t)h;
			i++;
		}
		if (cp > 0x10ffff) {
			free(o);
			return pk__dfail(d, "\\U escape out of range in UNICODE");
		}
		j += utf8_put(o + j, cp);
	}
	ec_value *v = d->h->value_str(EC_T_STR, o, j);
	free(o);
	return push(d, v, 0);
}
