/* test_value.c: ec_value constructors, copies, comparison, JSON in and out. */
#include "ecbuild.h"

#include <stdlib.h>
#include <string.h>

#include "econtext.h"
#include "testutil.h"

static char *json_of(const ec_value *v)
{
	char *s = NULL;
	CU_ASSERT_EQUAL(ec_value_to_json(v, &s, NULL), 0);
	return s;
}

static void check_json_roundtrip(const char *in, const char *expect)
{
	ec_value *v = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL_FATAL(ec_value_from_json(in, &v, &err), 0);
	char *s = json_of(v);
	CU_ASSERT_STRING_EQUAL(s, expect);
	free(s);
	ec_value_free(v);
}

static void test_json(void)
{
	check_json_roundtrip("null", "null");
	check_json_roundtrip("[1, -2, 3.5, true, false, \"x\\ny\"]", "[1, -2, 3.5, true, false, \"x\\ny\"]");
	check_json_roundtrip("{\"a\": {\"b\": []}}", "{\"a\": {\"b\": []}}");
	check_json_roundtrip("123456789012345678901234567890", "123456789012345678901234567890");
	check_json_roundtrip("-98765432109876543210", "-98765432109876543210");
	check_json_roundtrip("\"h\\u00e9llo \\ud83d\\ude00\"", "\"h\xc3\xa9llo \xf0\x9f\x98\x80\"");
	check_json_roundtrip("1.0", "1.0");
	ec_value *v = NULL;
	struct ec_error err = {0};
	CU_ASSERT_EQUAL(ec_value_from_json("[1,", &v, &err), EC_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "invalid JSON"));
}

static void test_bytes_and_errors_print(void)
{
	ec_value *b = ec_value_bytes("\xff\x00\x01", 3);
	char *s = json_of(b);
	CU_ASSERT_STRING_EQUAL(s, "{\"$bytes\": \"/wAB\"}");
	free(s);
	ec_value_free(b);
	b = ec_value_bytes("text", 4);
	s = json_of(b);
	CU_ASSERT_STRING_EQUAL(s, "\"text\"");
	free(s);
	ec_value_free(b);
	ec_value *d = ec_value_new(EC_T_DICT);
	ec_value_dict_set(d, ec_value_int(1), ec_value_new(EC_T_TUPLE));
	s = json_of(d);
	CU_ASSERT_STRING_EQUAL(s, "{\"1\": []}");
	free(s);
	ec_value_free(d);
}

static void test_construct_dup_equal(void)
{
	CU_ASSERT_PTR_NULL(ec_value_bigint("12a"));
	CU_ASSERT_PTR_NULL(ec_value_bigint("-"));
	CU_ASSERT_PTR_NULL(ec_value_str("\xc3\x28", 2));     /* bad continuation */
	CU_ASSERT_PTR_NULL(ec_value_str("\xc0\xaf", 2));     /* overlong */
	CU_ASSERT_PTR_NULL(ec_value_str("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	ec_value *s = ec_value_str("\xed\xa0\x80", 3); /* lone surrogate, as surrogatepass */
	CU_ASSERT_PTR_NOT_NULL(s);
	ec_value_free(s);
	ec_value *l = ec_value_new(EC_T_LIST);
	ec_value_append(l, ec_value_int(1));
	ec_value_append(l, ec_value_error("builtins.ValueError", "bad", "Traceback..."));
	ec_value *d = ec_value_new(EC_T_DICT);
	ec_value_dict_set(d, ec_value_cstr("k"), l);
	ec_value *c = ec_value_dup(d);
	CU_ASSERT_TRUE(ec_value_equal(c, d));
	CU_ASSERT_PTR_NOT_NULL(ec_value_dict_get(c, "k"));
	CU_ASSERT_PTR_NULL(ec_value_dict_get(c, "missing"));
	ec_value_append(l, ec_value_none());
	CU_ASSERT_FALSE(ec_value_equal(c, d));
	CU_ASSERT_EQUAL(ec_value_append(d, ec_value_none()), EC_EINVAL); /* dicts take pairs */
	ec_value_free(c);
	ec_value_free(d);
}

/* Named tuples and tagged values (docs/values.md): built, read by name, copied,
 * compared and printed. */
static void test_named_tagged(void)
{
	ec_value *st = ec_value_named("os.stat_result");
	CU_ASSERT_EQUAL(ec_value_named_add(st, "st_mode", ec_value_int(33188)), 0);
	CU_ASSERT_EQUAL(ec_value_named_add(st, "st_size", ec_value_int(1234)), 0);
	CU_ASSERT_EQUAL(ec_value_named_add(st, "st_mtime", ec_value_float(1.5)), 0);
	CU_ASSERT_EQUAL(ec_value_named_add(st, "\xff", ec_value_int(0)), EC_EINVAL);
	CU_ASSERT_EQUAL(ec_value_append(st, ec_value_int(0)), EC_EINVAL);
	CU_ASSERT_EQUAL(st->u.seq.len, 6);
	CU_ASSERT_STRING_EQUAL(st->u.seq.type, "os.stat_result");
	const ec_value *size = ec_value_dict_get(st, "st_size");
	CU_ASSERT(size && size->type == EC_T_INT && size->u.i == 1234);
	char *s = json_of(st);
	CU_ASSERT_STRING_EQUAL(s, "{\"st_mode\": 33188, \"st_size\": 1234, \"st_mtime\": 1.5}");
	free(s);
	ec_value *c = ec_value_dup(st);
	CU_ASSERT_TRUE(ec_value_equal(c, st));
	free(c->u.seq.type);
	c->u.seq.type = strdup("other.type");
	CU_ASSERT_FALSE(ec_value_equal(c, st)); /* the type is part of the value */
	ec_value_free(c);

	static const char *const texts[][3] = {
		{EC_TAG_DATETIME, "2024-05-01T12:30:00+02:00", "\"2024-05-01T12:30:00+02:00\""},
		{EC_TAG_TIMEDELTA, "P1DT2H", "\"P1DT2H\""},
		{EC_TAG_DECIMAL, "1.10", "\"1.10\""},
		{EC_TAG_PATH, "/etc", "\"/etc\""},
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		ec_value *t = ec_value_tagged(texts[i][0], ec_value_cstr(texts[i][1]));
		const ec_value *p = NULL;
		CU_ASSERT_STRING_EQUAL(ec_value_tag(t, &p), texts[i][0]);
		CU_ASSERT(p && p->type == EC_T_STR && strcmp(p->u.s.data, texts[i][1]) == 0);
		s = json_of(t);
		CU_ASSERT_STRING_EQUAL(s, texts[i][2]);
		free(s);
		ec_value *d = ec_value_dup(t);
		CU_ASSERT_TRUE(ec_value_equal(d, t));
		ec_value_free(d);
		ec_value_free(t);
	}
	ec_value *payload = ec_value_new(EC_T_TUPLE);
	ec_value_append(payload, ec_value_cstr("socket.AddressFamily"));
	ec_value_append(payload, ec_value_cstr("AF_INET"));
	ec_value_append(payload, ec_value_int(2));
	ec_value *e = ec_value_tagged(EC_TAG_ENUM, payload);
	ec_value_named_add(st, "family", e);
	s = json_of(st);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"family\": \"AddressFamily.AF_INET\"}"));
	free(s);
	CU_ASSERT_PTR_NULL(ec_value_tag(st, NULL));
	CU_ASSERT_PTR_NULL(ec_value_tagged(EC_TAG_DATE, NULL));
	ec_value_free(st);
}

static void test_errors(void)
{
	CU_ASSERT_STRING_EQUAL(ec_err_name(EC_ETIMEDOUT), "ETIMEDOUT");
	CU_ASSERT_STRING_EQUAL(ec_strerror(EC_EPROTO), "corrupt or forged frame");
	CU_ASSERT_STRING_EQUAL(ec_err_name(12345), "EUNKNOWN");
	CU_ASSERT_EQUAL(ec_log_level_parse("WARNING"), EC_LOG_WARNING);
	CU_ASSERT_EQUAL(ec_log_level_parse("loud"), -1);
}

int main(void)
{
	CU_initialize_registry();
	CU_pSuite s = CU_add_suite("value", NULL, NULL);
	CU_add_test(s, "JSON round trips incl. big ints and unicode", test_json);
	CU_add_test(s, "bytes, non-text keys print as JSON", test_bytes_and_errors_print);
	CU_add_test(s, "constructors validate; dup and equal", test_construct_dup_equal);
	CU_add_test(s, "named tuples and tagged values", test_named_tagged);
	CU_add_test(s, "error and level names", test_errors);
	return ec_test_run();
}
