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
	CU_add_test(s, "error and level names", test_errors);
	return ec_test_run();
}
