/* test_values.c: the value model end to end (docs/values.md), on every Python
 * interpreter found, with each codec (pickle, the default; json, docs/codecs.md): the
 * standard-library calls of tests/data/values/valuecases.py, each result compared
 * with what that interpreter computes locally (the same file run directly, printing
 * the command's JSON for each); the refusals and their messages; every type sent as an
 * argument and back; and the json codec's own edges, refusals and forged replies. */
#include "ecbuild.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "econtext.h"
#include "testutil.h"

static const struct ec_test_python *cur;
static ec_master *master;
static ec_context *ctx;

static int use_json; /* the suite runs with codec=json */

/* The suite's name says the codec (CUnit sets the current suite before its init). */
static int suite_init(const struct ec_test_python *py)
{
	cur = py;
	CU_pSuite s = CU_get_current_suite();
	use_json = s && strstr(s->pName, "codec json") != NULL;
	return ec_test_master_and_context_with(py, "tests/data/values", "local",
	                                       use_json ? "codec=json" : NULL, &master, &ctx);
}

static int suite_clean(void)
{
	ec_test_master_and_context_free(&master, &ctx);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

static const char *text(const ec_value *v)
{
	return v && (v->type == EC_T_STR || v->type == EC_T_BYTES) ? v->u.s.data : "";
}

/* Same JSON types, same keys, same lengths: values that change between two calls. */
static int same_shape(const ec_value *a, const ec_value *b)
{
	if (a->type != b->type)
		return (a->type == EC_T_INT || a->type == EC_T_FLOAT) &&
		       (b->type == EC_T_INT || b->type == EC_T_FLOAT);
	if (a->type != EC_T_LIST && a->type != EC_T_DICT)
		return 1;
	if (a->u.seq.len != b->u.seq.len)
		return 0;
	for (size_t i = 0; i < a->u.seq.len; i++) {
		if (a->type == EC_T_DICT && i % 2 == 0) {
			const ec_value *bv = ec_value_dict_get(b, text(a->u.seq.items[i]));
			if (!bv || !same_shape(a->u.seq.items[i + 1], bv))
				return 0;
			i++;
		} else if (a->type == EC_T_LIST && !same_shape(a->u.seq.items[i], b->u.seq.items[i])) {
			return 0;
		}
	}
	return 1;
}

static ec_value *call(const char *mod, const char *fn, const ec_value *args, int *rc)
{
	ec_value *res = NULL;
	struct ec_error err = {0};
	*rc = ec_context_call(ctx, mod, fn, args, NULL, 30000, &res, &err);
	if (*rc && *rc != EC_EREMOTE)
		fprintf(stderr, "%s.%s: %s\n", mod, fn, err.msg);
	return res;
}

/* The JSON text (outside its strings) holds an integer beyond INT64_MAX. */
static int beyond_64_bits(const char *json)
{
	for (const char *p = json; *p; p++) {
		if (*p == '"') { /* a string: skipped */
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (!*p)
				break;
			continue;
		}
		size_t n = strspn(p, "0123456789");
		if (n > 19 || (n == 19 && strncmp(p, "9223372036854775807", 19) > 0))
			return 1;
		p += n ? n - 1 : 0;
	}
	return 0;
}

/* One line of valuecases.py's output: call the case in the context, compare. */
static int run_case(const char *line, int *checked)
{
	ec_value *c = NULL, *want = NULL, *got = NULL;
	char *json = NULL;
	int ok = 0, rc;
	if (ec_value_from_json(line, &c, NULL)) {
		fprintf(stderr, "bad line from valuecases.py: %s\n", line);
		return 0;
	}
	const char *mod = text(ec_value_dict_get(c, "module")),
		   *fn = text(ec_value_dict_get(c, "qualname")),
		   *mode = text(ec_value_dict_get(c, "mode"));
	if (strcmp(mode, "absent") == 0) {
		ec_value_free(c);
		return 1;
	}
	ec_value *res = call(mod, fn, ec_value_dict_get(c, "args"), &rc);
	if (use_json && beyond_64_bits(text(ec_value_dict_get(c, "json")))) {
		/* The json codec refuses what needs more than 64 bits (docs/codecs.md). */
		ok = rc == EC_EREMOTE && res && res->type == EC_T_ERROR &&
		     strstr(res->u.err.message, "cannot carry an integer beyond 64 bits");
		if (!ok)
			fprintf(stderr, "python %s: %s.%s: wanted the json codec's refusal of a big int\n",
			        cur->version, mod, fn);
	} else if (strcmp(mode, "refuse") == 0) {
		const char *msg = text(ec_value_dict_get(c, "message"));
		ok = rc == EC_EREMOTE && res && res->type == EC_T_ERROR &&
		     strcmp(res->u.err.type, "econtext.SerializationError") == 0 &&
		     strcmp(res->u.err.message, msg) == 0;
		if (!ok)
			fprintf(stderr, "python %s: %s.%s: wanted the refusal \"%s\", got %s: %s\n",
			        cur->version, mod, fn, msg, res && res->type == EC_T_ERROR ? res->u.err.type : "a value",
			        res && res->type == EC_T_ERROR ? res->u.err.message : "");
	} else if (rc == 0 && ec_value_to_json(res, &json, NULL) == 0 &&
	           ec_value_from_json(json, &got, NULL) == 0 &&
	           ec_value_from_json(text(ec_value_dict_get(c, "json")), &want, NULL) == 0) {
		ok = strcmp(mode, "shape") == 0 ? same_shape(got, want) : ec_value_equal(got, want);
		if (!ok)
			fprintf(stderr, "python %s: %s.%s:\n  got  %s\n  want %s\n", cur->version, mod, fn,
			        json, text(ec_value_dict_get(c, "json")));
	} else {
		fprintf(stderr, "python %s: %s.%s: rc %d, %s\n", cur->version, mod, fn, rc,
		        res && res->type == EC_T_ERROR ? res->u.err.message : "no JSON");
	}
	*checked += 1;
	free(json);
	ec_value_free(got);
	ec_value_free(want);
	ec_value_free(res);
	ec_value_free(c);
	return ok;
}

/* ---- tests -------------------------------------------------------------------- */

/* Every case, as the context returns it and as this interpreter computes it. */
static void test_cases(void)
{
	char cmd[1400];
	snprintf(cmd, sizeof(cmd), "'%s' -S '%s/tests/data/values/valuecases.py'", cur->path,
	         ec_test_srcdir());
	FILE *p = popen(cmd, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	char *line = NULL;
	size_t cap = 0;
	int lines = 0, checked = 0, failed = 0;
	while (getline(&line, &cap, p) > 0) {
		lines++;
		if (!run_case(line, &checked))
			failed++;
	}
	free(line);
	CU_ASSERT_EQUAL(pclose(p), 0);
	fprintf(stderr, "python %s: %d cases, %d checked, %d failed\n", cur->version, lines,
	        checked, failed);
	CU_ASSERT(lines >= 70);
	CU_ASSERT(checked >= 50);
	CU_ASSERT_EQUAL(failed, 0);
}

static ec_value *tuple_of(ec_value *a, ec_value *b, ec_value *c)
{
	ec_value *t = ec_value_new(EC_T_TUPLE);
	ec_value_append(t, a);
	if (b)
		ec_value_append(t, b);
	if (c)
		ec_value_append(t, c);
	return t;
}

/* Every type of the value model as an argument: echoed back equal, and rebuilt in the
 * context as the Python type docs/values.md says. */
static void test_arguments(void)
{
	int py2 = cur->version[0] == '2';
	ec_value *st = ec_value_named("os.stat_result");
	ec_value_named_add(st, "st_mode", ec_value_int(33188));
	ec_value_named_add(st, "st_size", ec_value_int(1234));
	ec_value_named_add(st, "st_atime", ec_value_float(1.5));
	static const char *const tags[][3] = {
		{EC_TAG_DATETIME, "2024-05-01T12:30:00.250000+02:00", "datetime.datetime"},
		{EC_TAG_DATETIME, "2024-05-01T12:30:00", "datetime.datetime"},
		{EC_TAG_DATE, "2024-05-01", "datetime.date"},
		{EC_TAG_TIME, "12:30:00.000001", "datetime.time"},
		{EC_TAG_TIMEDELTA, "-P1DT2H3M4.5S", "datetime.timedelta"},
		{EC_TAG_TIMEDELTA, "PT0S", "datetime.timedelta"},
		{EC_TAG_DECIMAL, "-1.10E+5", "decimal.Decimal"},
		{EC_TAG_UUID, "12345678-1234-5678-1234-567812345678", "uuid.UUID"},
		{EC_TAG_PATH, "/etc/passwd", "pathlib.PosixPath"},
	};
	ec_value *values[16];
	const char *types[16];
	size_t n = 0;
	values[n] = st;
	types[n++] = "os.stat_result";
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		if (py2 && strcmp(tags[i][0], EC_TAG_PATH) == 0)
			continue; /* no pathlib: the text */
		if (py2 && strchr(tags[i][1], '+'))
			continue; /* 2.7's fixed offset has no name to compare */
		values[n] = ec_value_tagged(tags[i][0], ec_value_cstr(tags[i][1]));
		types[n++] = tags[i][2];
	}
	if (!py2) {
		values[n] = ec_value_tagged(EC_TAG_ENUM, tuple_of(ec_value_cstr("socket.AddressFamily"),
		                                                  ec_value_cstr("AF_INET"), ec_value_int(2)));
		types[n++] = "socket.AddressFamily";
	}
	for (size_t i = 0; i < n; i++) {
		int rc;
		ec_value *args = tuple_of(ec_value_dup(values[i]), NULL, NULL);
		ec_value *back = call("valuecases", "echo", args, &rc);
		int ok = rc == 0 && ec_value_equal(back, values[i]);
		if (!ok) {
			char *a = NULL, *b = NULL;
			ec_value_to_json(values[i], &a, NULL);
			if (back)
				ec_value_to_json(back, &b, NULL);
			fprintf(stderr, "python %s: echo of %s: sent %s, got %s\n", cur->version, types[i],
			        a, b ? b : "nothing");
			free(a);
			free(b);
		}
		CU_ASSERT(ok);
		ec_value_free(back);
		ec_value *d = call("valuecases", "describe", args, &rc);
		const char *got = d && d->type == EC_T_TUPLE ? text(d->u.seq.items[0]) : "";
		if (strcmp(got, types[i]))
			fprintf(stderr, "python %s: %s arrived as %s\n", cur->version, types[i], got);
		CU_ASSERT_STRING_EQUAL(got, types[i]);
		ec_value_free(d);
		ec_value_free(args);
		ec_value_free(values[i]);
	}
	/* All at once, nested: a list of every type, through the context and back. */
	ec_value *all = ec_value_new(EC_T_LIST);
	ec_value_append(all, ec_value_tagged(EC_TAG_DATE, ec_value_cstr("2024-05-01")));
	ec_value *nt = ec_value_named("collections.P");
	ec_value_named_add(nt, "x", ec_value_tagged(EC_TAG_DECIMAL, ec_value_cstr("1.5")));
	ec_value_named_add(nt, "y", ec_value_new(EC_T_LIST));
	ec_value_append(all, nt);
	int rc;
	ec_value *args = tuple_of(all, NULL, NULL);
	ec_value *back = call("valuecases", "echo", args, &rc);
	CU_ASSERT(rc == 0 && back && ec_value_equal(back, all));
	ec_value_free(back);
	ec_value_free(args);
}

/* ---- the json codec's own cases (docs/codecs.md) ------------------------------- */

/* v (taken) through the context and back: equal. */
static void json_echo(ec_value *v, const char *what)
{
	int rc;
	ec_value *args = tuple_of(v, NULL, NULL);
	ec_value *back = call("valuecases", "echo", args, &rc);
	int ok = rc == 0 && back && ec_value_equal(back, v);
	if (!ok)
		fprintf(stderr, "python %s: json: echo of %s came back %s\n", cur->version, what,
		        back ? "different" : "not at all");
	CU_ASSERT(ok);
	ec_value_free(back);
	ec_value_free(args);
}

/* A call that must fail with code, its message holding want. */
static void json_refused(const char *mod, const char *fn, ec_value *args, int code,
                         const char *want)
{
	ec_value *res = NULL;
	struct ec_error err = {0};
	int rc = ec_context_call(ctx, mod, fn, args, NULL, 30000, &res, &err);
	const char *msg = rc == EC_EREMOTE && res && res->type == EC_T_ERROR ? res->u.err.message
	                                                                        : err.msg;
	int ok = rc == code && strstr(msg, want) != NULL;
	if (!ok)
		fprintf(stderr, "python %s: json: %s.%s: wanted %d \"...%s...\", got %d \"%s\"\n",
		        cur->version, mod, fn, code, want, rc, msg);
	CU_ASSERT(ok);
	ec_value_free(res);
	ec_value_free(args);
}

static ec_value *nested(int depth)
{
	ec_value *v = ec_value_new(EC_T_LIST);
	for (int i = 0; i < depth; i++) {
		ec_value *outer = ec_value_new(EC_T_LIST);
		ec_value_append(outer, v);
		v = outer;
	}
	return v;
}

/* What JSON carries, and the tags, at their edges: sent and echoed back equal. */
static void test_json_values(void)
{
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	json_echo(ec_value_bytes(all, sizeof(all)), "every byte");
	json_echo(ec_value_bytes("", 0), "empty bytes");
	json_echo(ec_value_str("a\0b\xc3\xa9\xf0\x9f\x98\x80", 9), "text with NUL, e-acute, an emoji");
	json_echo(ec_value_int(INT64_MIN), "INT64_MIN");
	json_echo(ec_value_int(INT64_MAX), "INT64_MAX");
	json_echo(ec_value_float(1.0 / 0.0), "inf");
	json_echo(ec_value_float(-1.0 / 0.0), "-inf");
	json_echo(ec_value_float(0.1), "0.1");
	json_echo(ec_value_float(1e308), "1e308");
	/* Keys that look like tags, and keys that are not text. */
	ec_value *d = ec_value_new(EC_T_DICT);
	ec_value_dict_set(d, ec_value_cstr("$bytes"), ec_value_cstr("not base64"));
	json_echo(d, "a dict whose one key is $bytes");
	d = ec_value_new(EC_T_DICT);
	ec_value_dict_set(d, ec_value_cstr("$tuple"), ec_value_int(1));
	ec_value_dict_set(d, ec_value_cstr("plain"), ec_value_int(2));
	json_echo(d, "a dict with $tuple among its keys");
	d = ec_value_new(EC_T_DICT);
	ec_value_dict_set(d, ec_value_int(7), ec_value_cstr("seven"));
	ec_value_dict_set(d, tuple_of(ec_value_int(1), ec_value_cstr("x"), NULL), ec_value_none());
	ec_value_dict_set(d, ec_value_bytes("k", 1), ec_value_bool(1));
	json_echo(d, "a dict with int, tuple and bytes keys");
	ec_value *set = ec_value_new(EC_T_SET);
	ec_value_append(set, ec_value_int(3));
	json_echo(set, "a set");
	ec_value *errs = ec_value_new(EC_T_LIST); /* an error alone would fail the call */
	ec_value_append(errs, ec_value_error("builtins.ValueError", "bad", ""));
	json_echo(errs, "an error in a list");
	json_echo(nested(300), "a list 300 deep");
	/* NaN is not equal to itself: its type and nature. */
	int rc;
	ec_value *args = tuple_of(ec_value_float(0.0 / 0.0), NULL, NULL);
	ec_value *back = call("valuecases", "echo", args, &rc);
	CU_ASSERT(rc == 0 && back && back->type == EC_T_FLOAT && back->u.f != back->u.f);
	ec_value_free(back);
	ec_value_free(args);
}

/* What the json codec refuses, either side, each with a sentence; the context lives on. */
static void test_json_refusals(void)
{
	json_refused("valuecases", "echo",
	             tuple_of(ec_value_bigint("18446744073709551616"), NULL, NULL), EC_ECODEC,
	             "an integer beyond 64 bits");
	json_refused("valuecases", "echo", tuple_of(nested(600), NULL, NULL), EC_ECODEC,
	             "nesting deeper than 512");
	ec_value *bad = ec_value_new(EC_T_STR); /* a str that is not UTF-8, made by hand */
	bad->u.s.data = strdup("\xff");
	bad->u.s.len = 1;
	json_refused("valuecases", "echo", tuple_of(bad, NULL, NULL), EC_ECODEC, "not valid UTF-8");
	json_refused("operator", "pow", tuple_of(ec_value_int(2), ec_value_int(64), NULL),
	             EC_EREMOTE, "result: cannot carry an integer beyond 64 bits with the json codec");
	/* (a plain call works between refusals) */
	json_refused("operator", "getitem",
	             tuple_of(tuple_of(ec_value_int(1), ec_value_new(EC_T_LIST), NULL),
	                      ec_value_int(0), NULL),
	             0, "");
	if (cur->version[0] != '2') /* 3.x: a str with a lone surrogate (os.fsdecode(b'\xff')) */
		json_refused("os", "fsdecode", tuple_of(ec_value_bytes("\xff", 1), NULL, NULL),
		             EC_EREMOTE, "surrogate");
	int rc;
	ec_value *nest_args = tuple_of(ec_value_int(600), NULL, NULL);
	ec_value *deep = call("valuecases", "nest", nest_args, &rc);
	CU_ASSERT(rc != 0); /* refused (in the context or here), and no crash */
	ec_value_free(deep);
	ec_value_free(nest_args);
	ec_value *ok = call("os", "getpid", NULL, &rc);
	CU_ASSERT(rc == 0 && ok && ok->type == EC_T_INT);
	ec_value_free(ok);
}

/* A context that replies with text of its own, not the codec's: each refused with an
 * error naming the context and what is wrong, and the master carries on. */
static void test_json_forged(void)
{
	static const char *const forged[][2] = {
		{"{bad", "malformed text"},
		{"", "malformed text"},
		{"[1] 2", "malformed text"},
		{"{\"a\": 1, \"a\": 2}", "duplicate"},
		{"123456789012345678901234567890", "too big"},
		{"\"\\udcff\"", "malformed text"},
		{"{\"$bytes\": \"!!!!\"}", "outside base64"},
		{"{\"$bytes\": \"QQ==\", \"x\": 1}", "a tag stands alone"},
		{"{\"$nope\": 1}", "an unknown tag"},
		{"{\"$tagged\": [\"date\", \"May 1st\"]}", "malformed text for its tag"},
		{"{\"$named\": [\"T a b\", [1]]}", "does not name each value"},
		{"{\"$error\": [\"T\", 1, \"\"]}", "not text"},
		{"{\"$float\": \"1.5\"}", "$float"},
	};
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]) + 2; i++) {
		char deep[5000];
		const char *text = i < sizeof(forged) / sizeof(forged[0]) ? forged[i][0] : deep;
		const char *want = i < sizeof(forged) / sizeof(forged[0]) ? forged[i][1] : "deeper";
		if (text == deep) { /* 600 (ours) and 2100 (jansson's limit) deep */
			int n = i == sizeof(forged) / sizeof(forged[0]) ? 600 : 2100;
			memset(deep, '[', (size_t)n);
			memset(deep + n, ']', (size_t)n);
			deep[2 * n] = '\0';
			want = n == 600 ? "nesting deeper than 512" : "depth";
		}
		ec_master *m2 = NULL;
		ec_context *c2 = NULL;
		CU_ASSERT_FATAL(ec_test_master_and_context_with(cur, "tests/data/values", "local",
		                                                "codec=json", &m2, &c2) == 0);
		ec_value *res = NULL, *args = tuple_of(ec_value_bytes(text, strlen(text)), NULL, NULL);
		struct ec_error err = {0};
		int rc = ec_context_call(c2, "valuecases", "forge", args, NULL, 30000, &res, &err);
		int ok = rc == EC_ECODEC && strstr(err.msg, "context 'local'") &&
		         strstr(err.msg, "json: ") && strstr(err.msg, want);
		if (!ok || cur->version[0] == '2') /* the messages, once */
			fprintf(stderr, "python %s: forged reply '%.40s': rc %d: %s\n", cur->version, text,
			        rc, err.msg);
		CU_ASSERT(ok);
		ec_value_free(res);
		ec_value_free(args);
		ec_test_master_and_context_free(&m2, &c2);
	}
	/* 2^23 + 1 values in 16 MiB: refused before it is parsed (docs/codecs.md). */
	size_t n = ((size_t)1 << 23) + 1;
	char *many = malloc(2 * n + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(many);
	many[0] = '[';
	for (size_t i = 0; i < n; i++)
		memcpy(many + 1 + 2 * i, i + 1 < n ? "0," : "0]", 2);
	ec_master *m2 = NULL;
	ec_context *c2 = NULL;
	CU_ASSERT_FATAL(ec_test_master_and_context_with(cur, "tests/data/values", "local",
	                                                "codec=json", &m2, &c2) == 0);
	ec_value *res = NULL, *args = tuple_of(ec_value_bytes(many, 2 * n + 1), NULL, NULL);
	free(many);
	struct ec_error err = {0};
	int rc = ec_context_call(c2, "valuecases", "forge", args, NULL, 60000, &res, &err);
	CU_ASSERT(rc == EC_ECODEC && strstr(err.msg, "more than 8388608 values"));
	if (rc != EC_ECODEC || cur->version[0] == '2')
		fprintf(stderr, "python %s: forged reply of 2^23 + 1 values: rc %d: %s\n", cur->version,
		        rc, err.msg);
	ec_value_free(res);
	ec_value_free(args);
	ec_test_master_and_context_free(&m2, &c2);
}

/* A fresh context's first call imports a forwarded module with no bytes decoded before:
 * on 2.7 the module's answer, decoded on the broker thread while the main thread held
 * the import lock, looked the ascii codec up (an import): the context deadlocked, and
 * outlived its master (the core looks 2.7's codecs up at boot now). */
static void test_json_first_import(void)
{
	ec_master *m2 = NULL;
	ec_context *c2 = NULL;
	CU_ASSERT_FATAL(ec_test_master_and_context_with(cur, "tests/data/values", "local",
	                                                "codec=json", &m2, &c2) == 0);
	ec_value *res = NULL, *args = tuple_of(ec_value_int(7), NULL, NULL);
	struct ec_error err = {0};
	int rc = ec_context_call(c2, "valuecases", "echo", args, NULL, 60000, &res, &err);
	CU_ASSERT(rc == 0 && res && res->type == EC_T_INT && res->u.i == 7);
	if (rc)
		fprintf(stderr, "python %s: json: first import: rc %d: %s\n", cur->version, rc,
		        err.msg);
	ec_value_free(res);
	ec_value_free(args);
	ec_test_master_and_context_free(&m2, &c2);
}

static CU_TestInfo tests[] = {
	{"standard-library results as computed locally; refusals", test_cases},
	{"every type as an argument and back", test_arguments},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo json_tests[] = {
	{"standard-library results as computed locally; refusals", test_cases},
	{"every type as an argument and back", test_arguments},
	{"json: bytes, tag-like keys, other keys, floats and ints at their edges", test_json_values},
	{"json: big ints, deep nesting, non-UTF-8 text refused, either side", test_json_refusals},
	{"json: forged replies refused naming the context", test_json_forged},
	{"json: a forwarded module imported by the first call", test_json_first_import},
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_initialize_registry();
	setenv("ECONTEXT_CONFIG", "/dev/null", 1);
	if (!ec_test_python_suites("values", suite_init, suite_clean, tests))
		fprintf(stderr, "SKIP: no Python interpreter found\n");
	ec_test_python_suites("values, codec json", suite_init, suite_clean, json_tests);
	return ec_test_run();
}
