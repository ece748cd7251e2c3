/* econtext_values.c: Python objects to and from the C value tree (ec_value), directly:
 * nothing is pickled on the master (docs/values.md has the kinds of value, docs/python.md
 * the mapping). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <string.h>

#include "pyecontext.h"

#define EC_PY_MAX_DEPTH 200

/* Lazily imported attributes: module.name, kept for the interpreter's lifetime. */
static PyObject *lazy_attr(PyObject **slot, const char *module, const char *name)
{
	if (*slot)
		return *slot;
	PyObject *mod = PyImport_ImportModule(module);
	if (!mod)
		return NULL;
	*slot = PyObject_GetAttrString(mod, name);
	Py_DECREF(mod);
	return *slot;
}

static PyObject *py_datetime, *py_date, *py_time, *py_timedelta, *py_decimal, *py_uuid,
	*py_purepath, *py_pureposixpath, *py_enum, *py_namedtuple;
static PyObject *named_types; /* "os.stat_result" -> a class, or a namedtuple made here */

/* isinstance(o, module.name), without importing a module the program never loaded (no
 * value of its types can exist then). 1, 0, or -1 with an exception. */
static int is_instance_of(PyObject *o, PyObject **slot, const char *module, const char *name)
{
	if (!*slot) {
		PyObject *mods = PyImport_GetModuleDict();
		if (!PyDict_GetItemString(mods, module))
			return 0;
		if (!lazy_attr(slot, module, name))
			return -1;
	}
	return PyObject_IsInstance(o, *slot);
}

/* "module.qualname" of a type, new reference. */
static PyObject *type_name(PyObject *t)
{
	PyObject *mod = PyObject_GetAttrString(t, "__module__");
	if (!mod)
		return NULL;
	PyObject *qual = PyObject_GetAttrString(t, "__qualname__");
	if (!qual) {
		Py_DECREF(mod);
		return NULL;
	}
	PyObject *r = PyUnicode_FromFormat("%S.%S", mod, qual);
	Py_DECREF(mod);
	Py_DECREF(qual);
	return r;
}

static ec_value *nomem(void)
{
	PyErr_NoMemory();
	return NULL;
}

static ec_value *str_value(PyObject *s)
{
	Py_ssize_t len;
	const char *u = PyUnicode_AsUTF8AndSize(s, &len);
	if (u) {
		ec_value *v = ec_value_str(u, (size_t)len);
		return v ? v : nomem();
	}
	/* lone surrogates (from surrogateescape'd file names) cross as such */
	PyErr_Clear();
	PyObject *b = PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass");
	if (!b)
		return NULL;
	ec_value *v = ec_value_str(PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
	Py_DECREF(b);
	if (!v)
		PyErr_SetString(ecpy_codec_error(), "text that is not UTF-8 cannot be sent");
	return v;
}

/* The text of str(o), as a tagged value. */
static ec_value *tagged_text(const char *tag, PyObject *o, const char *method)
{
	PyObject *s = method ? PyObject_CallMethod(o, method, NULL) : PyObject_Str(o);
	if (!s)
		return NULL;
	ec_value *payload = str_value(s);
	Py_DECREF(s);
	if (!payload)
		return NULL;
	ec_value *v = ec_value_tagged(tag, payload);
	return v ? v : nomem();
}

/* ISO 8601 duration of a timedelta, as payload/values.py writes it. */
static ec_value *duration_value(PyObject *td)
{
	PyObject *neg = NULL;
	int sign = 0;
	PyObject *days = PyObject_GetAttrString(td, "days");
	if (!days)
		return NULL;
	long d = PyLong_AsLong(days);
	Py_DECREF(days);
	if (d < 0) {
		neg = PyNumber_Negative(td);
		if (!neg)
			return NULL;
		td = neg;
		sign = 1;
	}
	long f[3];
	const char *names[3] = {"days", "seconds", "microseconds"};
	for (int i = 0; i < 3; i++) {
		PyObject *x = PyObject_GetAttrString(td, names[i]);
		f[i] = x ? PyLong_AsLong(x) : -1;
		Py_XDECREF(x);
		if (!x) {
			Py_XDECREF(neg);
			return NULL;
		}
	}
	Py_XDECREF(neg);
	long h = f[1] / 3600, m = f[1] / 60 % 60, s = f[1] % 60, us = f[2];
	char t[96] = "", out[160];
	size_t n = 0;
	if (h)
		n += (size_t)snprintf(t + n, sizeof t - n, "%ldH", h);
	if (m)
		n += (size_t)snprintf(t + n, sizeof t - n, "%ldM", m);
	if (s || us || !(f[0] || n)) {
		char sec[40];
		snprintf(sec, sizeof sec, "%ld.%06ld", s, us);
		size_t l = strlen(sec);
		while (sec[l - 1] == '0')
			sec[--l] = 0;
		if (sec[l - 1] == '.')
			sec[--l] = 0;
		snprintf(t + n, sizeof t - n, "%sS", sec);
	}
	char dd[32] = "";
	if (f[0])
		snprintf(dd, sizeof dd, "%ldD", f[0]);
	snprintf(out, sizeof out, "%sP%s%s%s", sign ? "-" : "", dd, t[0] ? "T" : "", t);
	ec_value *v = ec_value_tagged(EC_TAG_TIMEDELTA, ec_value_cstr(out));
	return v ? v : nomem();
}

static ec_value *seq_value(enum ec_type type, PyObject *o, int depth)
{
	ec_value *v = ec_value_new(type);
	if (!v)
		return nomem();
	PyObject *fast = PySequence_Fast(o, "a sequence");
	if (!fast) {
		ec_value_free(v);
		return NULL;
	}
	Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
	for (Py_ssize_t i = 0; i < n; i++) {
		ec_value *item = ecpy_to_value(PySequence_Fast_GET_ITEM(fast, i), depth + 1);
		if (!item || ec_value_append(v, item)) {
			Py_DECREF(fast);
			ec_value_free(v);
			return item ? nomem() : NULL;
		}
	}
	Py_DECREF(fast);
	return v;
}

static ec_value *set_value(PyObject *o, int depth)
{
	ec_value *v = ec_value_new(EC_T_SET);
	PyObject *it = v ? PyObject_GetIter(o) : NULL;
	if (!it) {
		ec_value_free(v);
		return v ? NULL : nomem();
	}
	PyObject *x;
	while ((x = PyIter_Next(it))) {
		ec_value *item = ecpy_to_value(x, depth + 1);
		Py_DECREF(x);
		if (!item || ec_value_append(v, item)) {
			Py_DECREF(it);
			ec_value_free(v);
			return item ? nomem() : NULL;
		}
	}
	Py_DECREF(it);
	if (PyErr_Occurred()) {
		ec_value_free(v);
		return NULL;
	}
	return v;
}

static ec_value *dict_value(PyObject *o, int depth)
{
	ec_value *v = ec_value_new(EC_T_DICT);
	if (!v)
		return nomem();
	PyObject *k, *x;
	Py_ssize_t pos = 0;
	while (PyDict_Next(o, &pos, &k, &x)) {
		ec_value *ek = ecpy_to_value(k, depth + 1);
		ec_value *ex = ek ? ecpy_to_value(x, depth + 1) : NULL;
		if (!ex) {
			ec_value_free(ek);
			ec_value_free(v);
			return NULL;
		}
		if (ec_value_dict_set(v, ek, ex)) {
			ec_value_free(v);
			return nomem();
		}
	}
	return v;
}

/* A namedtuple: its fields by name, with the type's name. */
static ec_value *named_value(PyObject *o, PyObject *fields, int depth)
{
	PyObject *tn = type_name((PyObject *)Py_TYPE(o));
	if (!tn)
		return NULL;
	const char *tname = PyUnicode_AsUTF8(tn);
	ec_value *v = tname ? ec_value_named(tname) : NULL;
	Py_DECREF(tn);
	if (!v)
		return tname ? nomem() : NULL;
	PyObject *names = PySequence_Fast(fields, "_fields");
	if (!names) {
		ec_value_free(v);
		return NULL;
	}
	Py_ssize_t n = PySequence_Fast_GET_SIZE(names);
	for (Py_ssize_t i = 0; i < n && i < PyTuple_GET_SIZE(o); i++) {
		const char *name = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(names, i));
		ec_value *item = name ? ecpy_to_value(PyTuple_GET_ITEM(o, i), depth + 1) : NULL;
		if (!item || ec_value_named_add(v, name, item)) {
			Py_DECREF(names);
			ec_value_free(v);
			return item ? nomem() : NULL;
		}
	}
	Py_DECREF(names);
	return v;
}

/* The library types a value may be (docs/values.md): tagged values, or NULL with no
 * exception when o is none of them. */
static ec_value *library_value(PyObject *o, int depth)
{
	int r;
	if ((r = is_instance_of(o, &py_datetime, "datetime", "datetime")) != 0)
		return r < 0 ? NULL : tagged_text(EC_TAG_DATETIME, o, "isoformat");
	if ((r = is_instance_of(o, &py_date, "datetime", "date")) != 0)
		return r < 0 ? NULL : tagged_text(EC_TAG_DATE, o, "isoformat");
	if ((r = is_instance_of(o, &py_time, "datetime", "time")) != 0)
		return r < 0 ? NULL : tagged_text(EC_TAG_TIME, o, "isoformat");
	if ((r = is_instance_of(o, &py_timedelta, "datetime", "timedelta")) != 0)
		return r < 0 ? NULL : duration_value(o);
	if ((r = is_instance_of(o, &py_decimal, "decimal", "Decimal")) != 0)
		return r < 0 ? NULL : tagged_text(EC_TAG_DECIMAL, o, NULL);
	if ((r = is_instance_of(o, &py_uuid, "uuid", "UUID")) != 0)
		return r < 0 ? NULL : tagged_text(EC_TAG_UUID, o, NULL);
	if ((r = is_instance_of(o, &py_purepath, "pathlib", "PurePath")) != 0)
		return r < 0 ? NULL : tagged_text(EC_TAG_PATH, o, NULL);
	if ((r = is_instance_of(o, &py_enum, "enum", "Enum")) != 0) {
		if (r < 0)
			return NULL;
		PyObject *tn = type_name((PyObject *)Py_TYPE(o));
		PyObject *name = tn ? PyObject_GetAttrString(o, "name") : NULL;
		PyObject *val = name ? PyObject_GetAttrString(o, "value") : NULL;
		PyObject *t = val ? PyTuple_Pack(3, tn, name, val) : NULL;
		Py_XDECREF(tn);
		Py_XDECREF(name);
		Py_XDECREF(val);
		if (!t)
			return NULL;
		ec_value *payload = seq_value(EC_T_TUPLE, t, depth);
		Py_DECREF(t);
		if (!payload)
			return NULL;
		ec_value *v = ec_value_tagged(EC_TAG_ENUM, payload);
		return v ? v : nomem();
	}
	return NULL;
}

ec_value *ecpy_to_value(PyObject *o, int depth)
{
	if (depth > EC_PY_MAX_DEPTH) {
		PyErr_Format(ecpy_codec_error(), "value nested deeper than %d levels", EC_PY_MAX_DEPTH);
		return NULL;
	}
	ec_value *v = NULL;
	PyTypeObject *t = Py_TYPE(o);
	if (o == Py_None)
		v = ec_value_none();
	else if (PyBool_Check(o))
		v = ec_value_bool(o == Py_True);
	else if (t == &PyLong_Type) {
		int overflow = 0;
		long long i = PyLong_AsLongLongAndOverflow(o, &overflow);
		if (!overflow) {
			v = ec_value_int(i);
		} else {
			PyObject *s = PyObject_Str(o);
			if (!s)
				return NULL;
			v = ec_value_bigint(PyUnicode_AsUTF8(s));
			Py_DECREF(s);
		}
	} else if (t == &PyFloat_Type)
		v = ec_value_float(PyFloat_AS_DOUBLE(o));
	else if (t == &PyUnicode_Type)
		return str_value(o);
	else if (t == &PyBytes_Type)
		v = ec_value_bytes(PyBytes_AS_STRING(o), (size_t)PyBytes_GET_SIZE(o));
	else if (t == &PyList_Type)
		return seq_value(EC_T_LIST, o, depth);
	else if (t == &PyTuple_Type)
		return seq_value(EC_T_TUPLE, o, depth);
	else if (t == &PyDict_Type)
		return dict_value(o, depth);
	else if (t == &PySet_Type || t == &PyFrozenSet_Type)
		return set_value(o, depth);
	else if (PyObject_TypeCheck(o, &ecpy_channel_type)) {
		if (!((ecpy_channel *)o)->ch) {
			PyErr_SetString(ecpy_codec_error(), "a channel freed with its context cannot be sent");
			return NULL;
		}
		v = ec_value_channel(((ecpy_channel *)o)->ch);
	}
	else if (PyByteArray_Check(o))
		v = ec_value_bytes(PyByteArray_AS_STRING(o), (size_t)PyByteArray_GET_SIZE(o));
	else {
		/* subclasses and library types: enums first (an IntEnum is an int too) */
		v = library_value(o, depth);
		if (v || PyErr_Occurred())
			return v;
		if (PyTuple_Check(o)) {
			PyObject *fields = PyObject_GetAttrString(o, "_fields");
			if (fields) {
				v = named_value(o, fields, depth);
				Py_DECREF(fields);
				return v;
			}
			PyErr_Clear();
			return seq_value(EC_T_TUPLE, o, depth);
		}
		if (PyLong_Check(o)) {
			PyObject *i = PyNumber_Index(o);
			if (!i)
				return NULL;
			v = ecpy_to_value(i, depth);
			Py_DECREF(i);
			return v;
		}
		if (PyFloat_Check(o))
			v = ec_value_float(PyFloat_AsDouble(o));
		else if (PyUnicode_Check(o))
			return str_value(o);
		else if (PyBytes_Check(o))
			v = ec_value_bytes(PyBytes_AS_STRING(o), (size_t)PyBytes_GET_SIZE(o));
		else if (PyList_Check(o))
			return seq_value(EC_T_LIST, o, depth);
		else if (PyDict_Check(o))
			return dict_value(o, depth);
		else if (PyAnySet_Check(o))
			return set_value(o, depth);
		else {
			PyObject *tn = type_name((PyObject *)t);
			if (tn) {
				PyErr_Format(ecpy_codec_error(),
				             "a value of type %S cannot be sent to a context (docs/values.md "
				             "lists the kinds of value that cross)", tn);
				Py_DECREF(tn);
			}
			return NULL;
		}
	}
	return v ? v : nomem();
}

/* ---- from the value tree ----------------------------------------------------------- */

static PyObject *text_object(const ec_value *v)
{
	return PyUnicode_DecodeUTF8(v->u.s.data, (Py_ssize_t)v->u.s.len, "surrogatepass");
}

/* A class from its dotted name ("os.stat_result", "socket.AddressFamily"), importing
 * its module; NULL with no exception when it cannot be found. */
static PyObject *find_class(const char *dotted)
{
	const char *dot = strchr(dotted, '.');
	if (!dot)
		return NULL;
	PyObject *obj = NULL;
	/* the module is the longest importable prefix */
	for (const char *end = strrchr(dotted, '.'); end && !obj; ) {
		PyObject *modname = PyUnicode_FromStringAndSize(dotted, end - dotted);
		PyObject *mod = modname ? PyImport_Import(modname) : NULL;
		Py_XDECREF(modname);
		if (mod) {
			obj = mod;
			const char *p = end + 1;
			while (obj && *p) {
				const char *q = strchr(p, '.');
				size_t l = q ? (size_t)(q - p) : strlen(p);
				PyObject *name = PyUnicode_FromStringAndSize(p, (Py_ssize_t)l);
				PyObject *next = name ? PyObject_GetAttr(obj, name) : NULL;
				Py_XDECREF(name);
				Py_DECREF(obj);
				obj = next;
				p += l + (q ? 1 : 0);
			}
			if (!obj)
				PyErr_Clear();
			break;
		}
		PyErr_Clear();
		const char *prev = end;
		end = NULL;
		for (const char *s = dotted; s < prev; s++)
			if (*s == '.')
				end = s;
	}
	if (obj && !PyType_Check(obj)) {
		Py_DECREF(obj);
		obj = NULL;
	}
	return obj;
}

/* A named tuple: the remote type itself when this interpreter has it and it takes the
 * values (a namedtuple, a struct sequence such as os.stat_result), else a namedtuple
 * class of that name made here, once per type. */
static PyObject *named_object(const ec_value *v)
{
	size_t n = v->u.seq.len / 2;
	PyObject *names = PyTuple_New((Py_ssize_t)n), *vals = PyTuple_New((Py_ssize_t)n);
	if (!names || !vals)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		PyObject *k = ecpy_from_value(v->u.seq.items[2 * i]);
		if (!k)
			goto fail;
		PyTuple_SET_ITEM(names, (Py_ssize_t)i, k);
		PyObject *x = ecpy_from_value(v->u.seq.items[2 * i + 1]);
		if (!x)
			goto fail;
		PyTuple_SET_ITEM(vals, (Py_ssize_t)i, x);
	}
	const char *tname = v->u.seq.type ? v->u.seq.type : "econtext.Named";
	if (!named_types && !(named_types = PyDict_New()))
		goto fail;
	PyObject *cls = PyDict_GetItemString(named_types, tname); /* borrowed */
	if (cls) {
		Py_INCREF(cls);
	} else {
		cls = find_class(tname);
		if (!cls) {
			const char *base = strrchr(tname, '.');
			if (!lazy_attr(&py_namedtuple, "collections", "namedtuple"))
				goto fail;
			PyObject *kw = Py_BuildValue("{s:O}", "rename", Py_True);
			PyObject *a = kw ? Py_BuildValue("(sO)", base ? base + 1 : tname, names) : NULL;
			cls = a ? PyObject_Call(py_namedtuple, a, kw) : NULL;
			Py_XDECREF(a);
			Py_XDECREF(kw);
			if (!cls)
				goto fail;
		}
		if (PyDict_SetItemString(named_types, tname, cls)) {
			Py_DECREF(cls);
			goto fail;
		}
	}
	PyObject *r;
	if (PyObject_HasAttrString(cls, "_fields"))
		r = PyObject_CallObject(cls, vals);
	else
		r = PyObject_CallFunctionObjArgs(cls, vals, NULL); /* struct sequence */
	Py_DECREF(cls);
	if (!r) {
		/* the local type differs from the remote one: a plain tuple */
		PyErr_Clear();
		r = vals;
		vals = NULL;
	}
	Py_DECREF(names);
	Py_XDECREF(vals);
	return r;
fail:
	Py_XDECREF(names);
	Py_XDECREF(vals);
	return NULL;
}

/* ISO 8601 duration to a timedelta. */
static PyObject *duration_object(const char *s)
{
	int neg = *s == '-';
	s += neg;
	if (*s++ != 'P')
		goto bad;
	long long d = 0, h = 0, m = 0, sec = 0, us = 0;
	int in_t = 0;
	while (*s) {
		if (*s == 'T') {
			in_t = 1;
			s++;
			continue;
		}
		char *end;
		long long n = strtoll(s, &end, 10);
		if (end == s)
			goto bad;
		s = end;
		if (*s == '.') {
			char frac[7] = "000000";
			s++;
			for (int i = 0; *s >= '0' && *s <= '9'; s++, i++)
				if (i < 6)
					frac[i] = *s;
			us = atoll(frac);
		}
		switch (*s++) {
		case 'D': d = n; break;
		case 'H': if (!in_t) goto bad; h = n; break;
		case 'M': if (!in_t) goto bad; m = n; break;
		case 'S': if (!in_t) goto bad; sec = n; break;
		default: goto bad;
		}
	}
	if (!lazy_attr(&py_timedelta, "datetime", "timedelta"))
		return NULL;
	/* timedelta(days, seconds, microseconds, milliseconds, minutes, hours) */
	PyObject *td = PyObject_CallFunction(py_timedelta, "LLLLLL", d, sec, us, 0LL, m, h);
	if (td && neg) {
		PyObject *n2 = PyNumber_Negative(td);
		Py_DECREF(td);
		td = n2;
	}
	return td;
bad:
	PyErr_Format(ecpy_codec_error(), "malformed duration from a context: %s", s);
	return NULL;
}

static PyObject *tagged_object(const ec_value *v)
{
	const ec_value *p = NULL;
	const char *tag = ec_value_tag(v, &p);
	if (!tag || !p) {
		PyErr_SetString(ecpy_codec_error(), "a tagged value without its payload");
		return NULL;
	}
	if (strcmp(tag, EC_TAG_ENUM) == 0 && p->type == EC_T_TUPLE && p->u.seq.len == 3 &&
	    p->u.seq.items[0]->type == EC_T_STR && p->u.seq.items[1]->type == EC_T_STR) {
		PyObject *cls = find_class(p->u.seq.items[0]->u.s.data);
		if (cls) {
			PyObject *m = PyObject_GetAttrString(cls, p->u.seq.items[1]->u.s.data);
			Py_DECREF(cls);
			if (m)
				return m;
			PyErr_Clear();
		}
		/* the master lacks the enum: its value */
		return ecpy_from_value(p->u.seq.items[2]);
	}
	if (strcmp(tag, EC_TAG_CHANNEL) == 0)
		return ecpy_from_value(p);
	if (p->type != EC_T_STR) {
		PyErr_Format(ecpy_codec_error(), "tagged value '%s' with a payload that is no text", tag);
		return NULL;
	}
	const char *s = p->u.s.data;
	if (strcmp(tag, EC_TAG_TIMEDELTA) == 0)
		return duration_object(s);
	PyObject *cls = NULL;
	const char *method = NULL;
	if (strcmp(tag, EC_TAG_DATETIME) == 0)
		cls = lazy_attr(&py_datetime, "datetime", "datetime"), method = "fromisoformat";
	else if (strcmp(tag, EC_TAG_DATE) == 0)
		cls = lazy_attr(&py_date, "datetime", "date"), method = "fromisoformat";
	else if (strcmp(tag, EC_TAG_TIME) == 0)
		cls = lazy_attr(&py_time, "datetime", "time"), method = "fromisoformat";
	else if (strcmp(tag, EC_TAG_DECIMAL) == 0)
		cls = lazy_attr(&py_decimal, "decimal", "Decimal");
	else if (strcmp(tag, EC_TAG_UUID) == 0)
		cls = lazy_attr(&py_uuid, "uuid", "UUID");
	else if (strcmp(tag, EC_TAG_PATH) == 0)
		cls = lazy_attr(&py_pureposixpath, "pathlib", "PurePosixPath");
	else {
		PyErr_Format(ecpy_codec_error(), "unknown tagged value '%s' from a context", tag);
		return NULL;
	}
	if (!cls)
		return NULL;
	return method ? PyObject_CallMethod(cls, method, "s", s) : PyObject_CallFunction(cls, "s", s);
}

PyObject *ecpy_from_value(const ec_value *v)
{
	PyObject *r;
	switch (v->type) {
	case EC_T_NONE:
		Py_RETURN_NONE;
	case EC_T_BOOL:
		return PyBool_FromLong(v->u.b);
	case EC_T_INT:
		return PyLong_FromLongLong(v->u.i);
	case EC_T_BIGINT:
		return PyLong_FromString(v->u.s.data, NULL, 10);
	case EC_T_FLOAT:
		return PyFloat_FromDouble(v->u.f);
	case EC_T_BYTES:
		return PyBytes_FromStringAndSize(v->u.s.data, (Py_ssize_t)v->u.s.len);
	case EC_T_STR:
		return text_object(v);
	case EC_T_LIST:
	case EC_T_TUPLE:
		r = v->type == EC_T_LIST ? PyList_New((Py_ssize_t)v->u.seq.len)
		                         : PyTuple_New((Py_ssize_t)v->u.seq.len);
		if (!r)
			return NULL;
		for (size_t i = 0; i < v->u.seq.len; i++) {
			PyObject *x = ecpy_from_value(v->u.seq.items[i]);
			if (!x) {
				Py_DECREF(r);
				return NULL;
			}
			if (v->type == EC_T_LIST)
				PyList_SET_ITEM(r, (Py_ssize_t)i, x);
			else
				PyTuple_SET_ITEM(r, (Py_ssize_t)i, x);
		}
		return r;
	case EC_T_DICT:
		if (!(r = PyDict_New()))
			return NULL;
		for (size_t i = 0; i + 1 < v->u.seq.len; i += 2) {
			PyObject *k = ecpy_from_value(v->u.seq.items[i]);
			PyObject *x = k ? ecpy_from_value(v->u.seq.items[i + 1]) : NULL;
			int bad = !x || PyDict_SetItem(r, k, x);
			Py_XDECREF(k);
			Py_XDECREF(x);
			if (bad) {
				Py_DECREF(r);
				return NULL;
			}
		}
		return r;
	case EC_T_SET:
		if (!(r = PySet_New(NULL)))
			return NULL;
		for (size_t i = 0; i < v->u.seq.len; i++) {
			PyObject *x = ecpy_from_value(v->u.seq.items[i]);
			int bad = !x || PySet_Add(r, x);
			Py_XDECREF(x);
			if (bad) {
				Py_DECREF(r);
				return NULL;
			}
		}
		return r;
	case EC_T_NAMED:
		return named_object(v);
	case EC_T_TAGGED:
		return tagged_object(v);
	case EC_T_ERROR:
		return ecpy_remote_error(v, NULL);
	}
	PyErr_Format(ecpy_codec_error(), "unknown value type %d", (int)v->type);
	return NULL;
}
