/* econtext.c: the Python module `econtext`, a thin binding of libecontext's C API
 * (<econtext.h>) written against the CPython C API: a Master and its Contexts, calls
 * (blocking and Future-like), channels, select, errors named after the library's codes,
 * context logs into `logging`, password prompts through getpass (docs/python.md).
 *
 * Every wait runs with the GIL released, in slices of EC_PY_SLICE_MS: between slices
 * the thread drains the master's log records into `logging` and checks for signals, so
 * Ctrl-C interrupts it (and cancels the call in its context). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pyecontext.h"

#define EC_PY_SLICE_MS 100
#define EC_PY_MAX_PATH 64

/* Py_IS_TYPE and PyModule_AddObjectRef are newer than Python 3.8. */
#define IS_TYPE(o, t) (Py_TYPE(o) == (t))

static int add_ref(PyObject *m, const char *name, PyObject *o)
{
	Py_INCREF(o);
	if (PyModule_AddObject(m, name, o)) {
		Py_DECREF(o);
		return -1;
	}
	return 0;
}

/* ---- errors --------------------------------------------------------------------- */

static PyObject *Error, *ConnectError, *RemoteErrorCls;
/* One class per EC_E* code, and its subclass that is also a ConnectError. */
#define EC_PY_NCODES 32
static struct {
	int code;
	PyObject *cls, *connect_cls;
} code_classes[EC_PY_NCODES];
static size_t ncode_classes;
static PyObject *remote_classes; /* "builtins.KeyError" -> RemoteError subclass */

PyObject *ecpy_codec_error(void)
{
	for (size_t i = 0; i < ncode_classes; i++)
		if (code_classes[i].code == EC_ECODEC)
			return code_classes[i].cls;
	return Error;
}

static PyObject *class_of(int code, int connecting)
{
	for (size_t i = 0; i < ncode_classes; i++)
		if (code_classes[i].code == code)
			return connecting ? code_classes[i].connect_cls : code_classes[i].cls;
	return connecting ? ConnectError : Error;
}

static int set_attr_str(PyObject *o, const char *name, const char *val)
{
	PyObject *s = PyUnicode_DecodeUTF8(val, (Py_ssize_t)strlen(val), "replace");
	if (!s)
		return -1;
	int rc = PyObject_SetAttrString(o, name, s);
	Py_DECREF(s);
	return rc;
}

/* The RemoteError class for a remote exception type: a subclass of the builtin
 * exception of that name too (so `except KeyError` catches a remote KeyError). */
static PyObject *remote_class(const char *type)
{
	const char *name = NULL;
	if (strncmp(type, "builtins.", 9) == 0)
		name = type + 9;
	else if (strncmp(type, "exceptions.", 11) == 0)
		name = type + 11;
	if (!name || strchr(name, '.'))
		return RemoteErrorCls;
	if (!remote_classes && !(remote_classes = PyDict_New()))
		return NULL;
	PyObject *cls = PyDict_GetItemString(remote_classes, name);
	if (cls)
		return cls;
	PyObject *builtins = PyEval_GetBuiltins(); /* borrowed */
	PyObject *base = builtins ? PyDict_GetItemString(builtins, name) : NULL;
	if (!base || !PyType_Check(base) ||
	    !PyType_IsSubtype((PyTypeObject *)base, (PyTypeObject *)PyExc_Exception))
		return RemoteErrorCls;
	char qual[160];
	snprintf(qual, sizeof qual, "econtext.Remote%s", name);
	PyObject *bases = PyTuple_Pack(2, RemoteErrorCls, base);
	cls = bases ? PyErr_NewException(qual, bases, NULL) : NULL;
	Py_XDECREF(bases);
	if (!cls) {
		/* a layout that cannot be mixed in: RemoteError alone */
		PyErr_Clear();
		return RemoteErrorCls;
	}
	int rc = PyDict_SetItemString(remote_classes, name, cls);
	Py_DECREF(cls);
	return rc ? NULL : cls;
}

PyObject *ecpy_remote_error(const ec_value *v, const char *where)
{
	const char *type = v->u.err.type ? v->u.err.type : "";
	const char *msg = v->u.err.message ? v->u.err.message : "";
	const char *tb = v->u.err.traceback ? v->u.err.traceback : "";
	PyObject *cls = remote_class(type);
	if (!cls)
		return NULL;
	PyObject *text = PyUnicode_FromFormat("%s: %s", type, msg);
	PyObject *e = text ? PyObject_CallFunctionObjArgs(cls, text, NULL) : NULL;
	Py_XDECREF(text);
	if (!e)
		return NULL;
	if (set_attr_str(e, "type_name", type) || set_attr_str(e, "message", msg) ||
	    set_attr_str(e, "traceback", tb) || set_attr_str(e, "where", where ? where : "") ||
	    set_attr_str(e, "name", "EREMOTE")) {
		Py_DECREF(e);
		return NULL;
	}
	PyObject *code = PyLong_FromLong(EC_EREMOTE);
	if (!code || PyObject_SetAttrString(e, "code", code)) {
		Py_XDECREF(code);
		Py_DECREF(e);
		return NULL;
	}
	Py_DECREF(code);
	return e;
}

/* Raise the library's error as its econtext.Error subclass; returns NULL. */
static PyObject *raise_error(const struct ec_error *err, int connecting)
{
	PyObject *cls = class_of(err->code, connecting);
	PyObject *text;
	if (err->where[0])
		text = PyUnicode_FromFormat("%s: %s", err->where, err->msg[0] ? err->msg : ec_strerror(err->code));
	else
		text = PyUnicode_FromString(err->msg[0] ? err->msg : ec_strerror(err->code));
	PyObject *e = text ? PyObject_CallFunctionObjArgs(cls, text, NULL) : NULL;
	Py_XDECREF(text);
	if (!e)
		return NULL;
	PyObject *code = PyLong_FromLong(err->code), *eno = PyLong_FromLong(err->sys_errno);
	if (code && eno && !PyObject_SetAttrString(e, "code", code) &&
	    !PyObject_SetAttrString(e, "sys_errno", eno) &&
	    !set_attr_str(e, "name", ec_err_name(err->code)) && !set_attr_str(e, "where", err->where) &&
	    !set_attr_str(e, "message", err->msg))
		PyErr_SetObject(cls, e);
	Py_XDECREF(code);
	Py_XDECREF(eno);
	Py_DECREF(e);
	return NULL;
}

/* Raise an error of code with a message formatted as PyUnicode_FromFormat does. */
/* ms as seconds for a message: PyUnicode_FromFormat has no %f (it would copy the rest of
 * the format as it is). */
struct seconds_str {
	char s[32];
};
static struct seconds_str seconds_str(long long ms)
{
	struct seconds_str r;
	snprintf(r.s, sizeof r.s, "%.3f", ms / 1000.0);
	return r;
}

static PyObject *raise_code(int code, const char *where, const char *fmt, ...)
{
	struct ec_error err = {.code = code};
	snprintf(err.where, sizeof err.where, "%s", where ? where : "");
	va_list ap;
	va_start(ap, fmt);
	PyObject *msg = PyUnicode_FromFormatV(fmt, ap);
	va_end(ap);
	const char *m = msg ? PyUnicode_AsUTF8(msg) : NULL;
	if (!m) {
		Py_XDECREF(msg);
		return NULL;
	}
	snprintf(err.msg, sizeof err.msg, "%s", m);
	Py_DECREF(msg);
	return raise_error(&err, 0);
}

/* ---- log records: queued by the library's threads, emitted by Python threads --------- */

struct logrec {
	struct logrec *next;
	int level;
	double time;
	char *logger, *context, *message;
};

struct logq {
	pthread_mutex_t lock;
	struct logrec *head, *tail;
	atomic_size_t n;
	size_t dropped;
};

#define EC_PY_LOGQ_MAX 100000

/* One queue for the process: records name their logger and context. */
static struct logq the_logq = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void logq_drain(struct logq *q);

/* Scheduled by the library's threads when the queue fills from empty: the main thread
 * emits the records at its next bytecode, even while no call waits. */
static int pending_drain(void *unused)
{
	logq_drain(&the_logq);
	return 0;
}

static void logq_push(void *arg, const struct ec_log_record *rec)
{
	struct logq *q = arg;
	struct logrec *r = calloc(1, sizeof *r);
	if (!r)
		return;
	r->level = rec->level;
	r->time = rec->time;
	r->logger = strdup(rec->logger ? rec->logger : "econtext");
	r->context = rec->context ? strdup(rec->context) : NULL;
	r->message = strdup(rec->message ? rec->message : "");
	pthread_mutex_lock(&q->lock);
	if (!r->logger || !r->message || atomic_load(&q->n) >= EC_PY_LOGQ_MAX) {
		q->dropped++;
		pthread_mutex_unlock(&q->lock);
		free(r->logger);
		free(r->context);
		free(r->message);
		free(r);
		return;
	}
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	size_t was = atomic_fetch_add(&q->n, 1);
	pthread_mutex_unlock(&q->lock);
	if (was == 0)
		Py_AddPendingCall(pending_drain, NULL); /* full: a wait drains it */
}

static void logrec_free(struct logrec *r)
{
	free(r->logger);
	free(r->context);
	free(r->message);
	free(r);
}

static PyObject *py_getlogger;

/* One record into logging.getLogger(r->logger), with its time and context. */
static void emit(struct logrec *r)
{
	if (!py_getlogger) {
		PyObject *logging = PyImport_ImportModule("logging");
		if (!logging) {
			PyErr_Clear();
			return;
		}
		py_getlogger = PyObject_GetAttrString(logging, "getLogger");
		Py_DECREF(logging);
		if (!py_getlogger) {
			PyErr_Clear();
			return;
		}
	}
	PyObject *logger = PyObject_CallFunction(py_getlogger, "s", r->logger);
	PyObject *on = logger ? PyObject_CallMethod(logger, "isEnabledFor", "i", r->level) : NULL;
	if (on && PyObject_IsTrue(on)) {
		PyObject *msg = PyUnicode_DecodeUTF8(r->message, (Py_ssize_t)strlen(r->message), "replace");
		PyObject *rec = msg ? PyObject_CallMethod(logger, "makeRecord", "sisiOOO", r->logger,
		                                          r->level, r->context ? r->context : "econtext",
		                                          0, msg, Py_None, Py_None) : NULL;
		if (rec) {
			PyObject *created = PyFloat_FromDouble(r->time);
			PyObject *msecs = PyFloat_FromDouble((r->time - (double)(long long)r->time) * 1000.0);
			if (created && msecs) {
				PyObject_SetAttrString(rec, "created", created);
				PyObject_SetAttrString(rec, "msecs", msecs);
			}
			Py_XDECREF(created);
			Py_XDECREF(msecs);
			if (r->context)
				set_attr_str(rec, "context", r->context);
			PyObject *res = PyObject_CallMethod(logger, "handle", "O", rec);
			Py_XDECREF(res);
			Py_DECREF(rec);
		}
		Py_XDECREF(msg);
	}
	Py_XDECREF(on);
	Py_XDECREF(logger);
	if (PyErr_Occurred())
		PyErr_Clear();
}

/* Emit what the queue holds, in order (with the GIL). */
static void logq_drain(struct logq *q)
{
	/* one drainer at a time (under the GIL): a handler that runs bytecode may run the
	 * pending drain, or let another thread drain; records must stay in order */
	static int draining;
	if (!q || draining || atomic_load(&q->n) == 0)
		return;
	draining = 1;
	PyObject *et, *ev, *etb;
	PyErr_Fetch(&et, &ev, &etb);
	for (;;) {
		pthread_mutex_lock(&q->lock);
		struct logrec *r = q->head;
		if (r) {
			q->head = r->next;
			if (!q->head)
				q->tail = NULL;
			atomic_fetch_sub(&q->n, 1);
		}
		pthread_mutex_unlock(&q->lock);
		if (!r)
			break;
		emit(r);
		logrec_free(r);
	}
	draining = 0;
	PyErr_Restore(et, ev, etb);
}

/* ---- objects --------------------------------------------------------------------- */

typedef struct ecpy_master ecpy_master;
typedef struct ecpy_call ecpy_call;
typedef struct ecpy_connect ecpy_connect;

struct ecpy_master {
	PyObject_HEAD
	ec_master *m;
	struct logq *logq;
	PyObject *password; /* callable(prompt, context) -> str, or NULL: getpass */
	PyObject *weakrefs;
	int has_script;
	int holds;   /* GIL-released uses of m (and of its contexts): close() waits for them */
	int closing; /* close() runs: waits end with ClosedError */
	ecpy_context *contexts;
	ecpy_connect *connects;
};

struct ecpy_context {
	PyObject_HEAD
	ec_context *ctx;
	ecpy_master *master;
	PyObject *name;
	ecpy_context *prev, *next;
	ecpy_call *calls;
	ecpy_channel *channels;
	long long call_timeout_ms; /* call()'s deadline, -1: none */
	int holds;   /* GIL-released uses of ctx, its calls and channels: close() waits */
	int closing; /* shutdown runs: waits end with ClosedError, new calls are refused */
	int shutting; /* a thread runs context_close */
};

struct ecpy_call {
	PyObject_HEAD
	ec_call *call;
	ecpy_context *ctx;
	ecpy_call *prev, *next;
	PyObject *mod, *qual; /* what it calls */
	PyObject *what;      /* "module.qualname", for messages: made when first needed */
	PyObject *result;    /* once done: the result, or */
	PyObject *exc;       /* the exception instance it raises */
	int busy, cancelled;
};

struct ecpy_connect {
	PyObject_HEAD
	ec_connect *c;
	ecpy_master *master;
	ecpy_connect *prev, *next;
	PyObject *name;
	PyObject *result; /* the Context, once connected */
	PyObject *exc;
	int busy;
};

static PyTypeObject master_type, context_type, call_type, connect_type;

#define LIST_ADD(head, o)            \
	do {                         \
		(o)->prev = NULL;    \
		(o)->next = (head);  \
		if (head)            \
			(head)->prev = (o); \
		(head) = (o);        \
	} while (0)
#define LIST_DEL(head, o)                        \
	do {                                     \
		if ((o)->prev)                   \
			(o)->prev->next = (o)->next; \
		else if ((head) == (o))          \
			(head) = (o)->next;          \
		if ((o)->next)                   \
			(o)->next->prev = (o)->prev; \
		(o)->prev = (o)->next = NULL;    \
	} while (0)

/* Seconds (None: no deadline) as milliseconds, -1 for none; -2 with an exception. */
static long long timeout_ms_of(PyObject *timeout)
{
	if (!timeout || timeout == Py_None)
		return -1;
	double s = PyFloat_AsDouble(timeout);
	if (s == -1.0 && PyErr_Occurred())
		return -2;
	if (s < 0) {
		PyErr_SetString(PyExc_ValueError, "timeout must be >= 0 seconds or None");
		return -2;
	}
	return (long long)(s * 1000.0);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One slice of a wait, with the GIL released: 0 or an EC_E*; EC_ETIMEDOUT: not yet. */
typedef int (*wait_step)(void *arg, int ms, struct ec_error *err);
/* With the GIL, between slices: nonzero (err filled) once what the wait uses is closing. */
typedef int (*wait_closed)(void *arg, struct ec_error *err);

/* Holds: a thread about to use a context's (or master's) C objects with the GIL released
 * holds them; close() from another thread marks them closing, then waits for the holds to
 * end (a wait notices within a slice) before freeing anything. Counted under the GIL. */
static _Thread_local int my_holds; /* this thread's: it cannot wait for them to end */
#define MASTER_HOLD(mo) ((mo)->holds++, my_holds++)
#define MASTER_UNHOLD(mo) ((mo)->holds--, my_holds--)
#define CTX_HOLD(c) ((c)->holds++, (c)->master->holds++, my_holds++)
#define CTX_UNHOLD(c) ((c)->holds--, (c)->master->holds--, my_holds--)

/* close() from a thread inside a wait (a logging handler or a password callback run by
 * it) would wait for itself: refused. */
static int close_allowed(void)
{
	if (!my_holds)
		return 1;
	PyErr_SetString(PyExc_RuntimeError, "close() or shutdown() from inside a wait of econtext "
	                "on this thread (a logging handler, a password or progress callback): close it "
	                "from another thread, or after the wait");
	return 0;
}

/* A transfer's progress, on the calling thread while it runs with the GIL released:
 * Ctrl-C (a signal handler that raised) is checked every EC_PY_SLICE_MS, and the
 * progress callable, when given, called as bytes go; either one's exception cancels
 * the transfer and is kept here, to be raised once it has ended (nothing left behind). */
struct pyprog {
	PyObject *cb; /* borrowed: the caller's argument; NULL or None: none */
	long long next_check;
	PyObject *t, *v, *tb; /* the exception that cancelled it */
	ec_context *const *ctxs; /* borrowed: the transfer's contexts (n of them) */
	size_t n;
};

/* The transfer whose progress callable runs on this thread, if any: a wait from the
 * callable on one of its contexts would never end (the context waits for this thread's
 * chunks, and the wait has no deadline by default), so it is refused. */
static _Thread_local const struct pyprog *my_prog;

/* 1 (with a RuntimeError) if ctx is one of the contexts of the transfer whose progress
 * callable runs on this thread; what names what was refused. */
static int prog_refuses(ec_context *ctx, PyObject *name, const char *what)
{
	if (!my_prog)
		return 0;
	for (size_t i = 0; i < my_prog->n; i++)
		if (my_prog->ctxs[i] == ctx) {
			PyErr_Format(PyExc_RuntimeError,
			             "context '%U': %s from the progress callable of a transfer to it "
			             "refused: the context waits for this thread's next chunk (use "
			             "another thread, or wait once the transfer has returned)",
			             name, what);
			return 1;
		}
	return 0;
}

/* Sleep with the GIL released until *holds is 0. */
static void wait_unheld(const int *holds)
{
	while (*holds > 0) {
		Py_BEGIN_ALLOW_THREADS
		struct timespec ts = {0, 2 * 1000000};
		nanosleep(&ts, NULL);
		Py_END_ALLOW_THREADS
	}
}

static int closed_err(struct ec_error *err, const char *what, PyObject *name)
{
	err->code = EC_ECLOSED;
	err->sys_errno = 0;
	snprintf(err->where, sizeof err->where, "%s", name ? PyUnicode_AsUTF8(name) : "");
	snprintf(err->msg, sizeof err->msg, "%s was closed by another thread while this one waited",
	         what);
	PyErr_Clear();
	return 1;
}

/* Wait in slices until step gives something else than EC_ETIMEDOUT or timeout_ms
 * (-1: none) passes: its code, EC_ETIMEDOUT at the deadline (err then says what waited),
 * EC_ECLOSED once closed(carg) says what it waits on is being closed, or 1 when a signal
 * handler raised (the exception is set). */
static int wait_loop(struct logq *q, long long timeout_ms, wait_step step, void *arg,
                     struct ec_error *err, wait_closed closed, void *carg)
{
	long long deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;
	for (;;) {
		if (closed && closed(carg, err))
			return EC_ECLOSED;
		long long slice = EC_PY_SLICE_MS;
		if (deadline >= 0) {
			long long left = deadline - now_ms();
			if (left < slice)
				slice = left < 1 ? 1 : left;
		}
		int rc;
		Py_BEGIN_ALLOW_THREADS
		rc = step(arg, (int)slice, err);
		Py_END_ALLOW_THREADS
		logq_drain(q);
		if (rc != EC_ETIMEDOUT)
			return rc;
		if (PyErr_CheckSignals() < 0)
			return 1;
		if (deadline >= 0 && now_ms() >= deadline)
			return EC_ETIMEDOUT;
	}
}

static int master_closed(void *arg, struct ec_error *err);
static int ctx_closed(void *arg, struct ec_error *err);

/* ---- password prompts ---------------------------------------------------------------- */

static int secret_prompt(void *data, const struct ec_secret_request *req, char *buf, size_t cap)
{
	ecpy_master *mo = data;
	int rc = EC_EAUTH;
	PyGILState_STATE g = PyGILState_Ensure();
	my_holds++; /* the connect waits for it: no close() from the callback */
	PyObject *ans;
	if (mo->password) {
		ans = PyObject_CallFunction(mo->password, "ss", req->prompt,
		                            req->context ? req->context : "");
	} else {
		PyObject *gp = PyImport_ImportModule("getpass");
		ans = gp ? PyObject_CallMethod(gp, "getpass", "s", req->prompt) : NULL;
		Py_XDECREF(gp);
	}
	if (ans && PyUnicode_Check(ans)) {
		Py_ssize_t len;
		const char *s = PyUnicode_AsUTF8AndSize(ans, &len);
		if (s && (size_t)len < cap) {
			memcpy(buf, s, (size_t)len);
			buf[len] = 0;
			rc = 0;
		}
	}
	Py_XDECREF(ans);
	if (PyErr_Occurred()) {
		PyErr_WriteUnraisable(mo->password ? mo->password : Py_None);
		PyErr_Clear();
	}
	my_holds--;
	PyGILState_Release(g);
	return rc;
}

/* ---- Master ------------------------------------------------------------------------ */

/* A list of str from a sequence (kept alive in *keep) as a NULL-terminated array. */
static int strv_of(PyObject *seq, const char **v, size_t cap, size_t *n, PyObject *keep)
{
	if (!seq || seq == Py_None)
		return 0;
	PyObject *fast = PySequence_Fast(seq, "a list of directories");
	if (!fast)
		return -1;
	for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(fast) && *n < cap; i++) {
		PyObject *o = PyOS_FSPath(PySequence_Fast_GET_ITEM(fast, i));
		if (!o || PyList_Append(keep, o)) {
			Py_XDECREF(o);
			Py_DECREF(fast);
			return -1;
		}
		Py_DECREF(o);
		if (PyUnicode_Check(o))
			v[(*n)++] = PyUnicode_AsUTF8(o);
	}
	Py_DECREF(fast);
	return 0;
}

/* The master's sys.path, as module directories: its directories except the standard
 * library's (a context has its own, of its own version). */
static PyObject *sys_path_dirs(void)
{
	PyObject *r = NULL, *code = PyUnicode_FromString(
		"import os, sys\n"
		"_lib = os.path.dirname(os.__file__)\n"
		"_std = {os.path.realpath(_lib), os.path.realpath(os.path.join(_lib, 'lib-dynload'))}\n"
		"_r = []\n"
		"for _d in sys.path:\n"
		"    _d = os.path.abspath(_d or os.curdir)\n"
		"    if os.path.isdir(_d) and os.path.realpath(_d) not in _std and _d not in _r:\n"
		"        _r.append(_d)\n");
	if (!code)
		return NULL;
	PyObject *globals = PyDict_New();
	PyObject *builtins = PyEval_GetBuiltins();
	if (globals && !PyDict_SetItemString(globals, "__builtins__", builtins)) {
		PyObject *res = PyRun_String(PyUnicode_AsUTF8(code), Py_file_input, globals, globals);
		if (res) {
			Py_DECREF(res);
			r = PyDict_GetItemString(globals, "_r");
			Py_XINCREF(r);
		}
	}
	Py_XDECREF(globals);
	Py_DECREF(code);
	return r;
}

/* __main__'s file, when it is a Python source file: the script served to contexts. */
static PyObject *main_script(void)
{
	PyObject *mods = PyImport_GetModuleDict();
	PyObject *main = PyDict_GetItemString(mods, "__main__");
	PyObject *file = main ? PyObject_GetAttrString(main, "__file__") : NULL;
	if (!file) {
		PyErr_Clear();
		return NULL;
	}
	const char *f = PyUnicode_Check(file) ? PyUnicode_AsUTF8(file) : NULL;
	size_t l = f ? strlen(f) : 0;
	if (l < 3 || strcmp(f + l - 3, ".py") != 0) {
		PyErr_Clear();
		Py_DECREF(file);
		return NULL;
	}
	return file;
}

static int master_init(ecpy_master *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"config", "module_path", "sys_path", "script", "log_level",
	                         "plugin_path", "password", "leave_malloc", NULL};
	PyObject *config = Py_None, *module_path = Py_None, *script = Py_None, *level = Py_None,
		 *plugin_path = Py_None, *password = Py_None;
	int use_sys_path = 1, leave_malloc = 0;
	if (self->m) {
		PyErr_SetString(PyExc_RuntimeError, "Master already initialised");
		return -1;
	}
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O$OpOOOOp:Master", kwlist, &config, &module_path,
	                                 &use_sys_path, &script, &level, &plugin_path, &password,
	                                 &leave_malloc))
		return -1;
	if (password != Py_None && !PyCallable_Check(password)) {
		PyErr_SetString(PyExc_TypeError, "password must be a callable(prompt, context) -> str");
		return -1;
	}
	struct ec_master_options o = {.size = sizeof o, .leave_malloc = leave_malloc};
	PyObject *keep = PyList_New(0);
	if (!keep)
		return -1;
	const char *dirs[EC_PY_MAX_PATH + 1];
	size_t ndirs = 0;
	int rc = -1;
	PyObject *sysdirs = NULL, *scriptpath = NULL;
	if (config != Py_None) {
		PyObject *p = PyOS_FSPath(config);
		if (!p || PyList_Append(keep, p) || !PyUnicode_Check(p)) {
			if (p && !PyErr_Occurred())
				PyErr_SetString(PyExc_TypeError, "config must be a path");
			Py_XDECREF(p);
			goto out;
		}
		Py_DECREF(p);
		o.config_path = PyUnicode_AsUTF8(p);
	}
	if (strv_of(module_path, dirs, EC_PY_MAX_PATH, &ndirs, keep))
		goto out;
	if (use_sys_path) {
		if (!(sysdirs = sys_path_dirs()) || strv_of(sysdirs, dirs, EC_PY_MAX_PATH, &ndirs, keep))
			goto out;
	}
	dirs[ndirs] = NULL;
	o.module_path = ndirs ? dirs : NULL;
	if (script == Py_None) {
		scriptpath = main_script();
	} else if (script != Py_False) {
		scriptpath = PyOS_FSPath(script);
		if (!scriptpath)
			goto out;
	}
	if (scriptpath) {
		if (!PyUnicode_Check(scriptpath)) {
			PyErr_SetString(PyExc_TypeError, "script must be a path");
			goto out;
		}
		o.script = PyUnicode_AsUTF8(scriptpath);
	}
	if (plugin_path != Py_None) {
		if (!PyUnicode_Check(plugin_path)) {
			PyErr_SetString(PyExc_TypeError, "plugin_path must be a str ('dir:dir')");
			goto out;
		}
		o.plugin_path = PyUnicode_AsUTF8(plugin_path);
	}
	if (level == Py_None && !PyDict_GetItemString(PyImport_GetModuleDict(), "logging")) {
		/* logging not even loaded, so not configured: its default, WARNING, lowered
		 * to INFO (below); imported when the first record comes */
		o.log_level = EC_LOG_INFO;
	} else if (level == Py_None) {
		/* what Python's logging would show of `econtext` */
		PyObject *logging = PyImport_ImportModule("logging");
		PyObject *lg = logging ? PyObject_CallMethod(logging, "getLogger", "s", "econtext") : NULL;
		PyObject *eff = lg ? PyObject_CallMethod(lg, "getEffectiveLevel", NULL) : NULL;
		o.log_level = eff ? (int)PyLong_AsLong(eff) : 0;
		/* a context's output (INFO) reaches logging, which filters it */
		if (o.log_level > EC_LOG_INFO)
			o.log_level = EC_LOG_INFO;
		Py_XDECREF(logging);
		Py_XDECREF(lg);
		Py_XDECREF(eff);
		if (PyErr_Occurred())
			goto out;
	} else if (PyUnicode_Check(level)) {
		o.log_level = ec_log_level_parse(PyUnicode_AsUTF8(level));
		if (o.log_level < 0) {
			PyErr_Format(PyExc_ValueError, "unknown log level %R (debug, info, warning, error, critical)", level);
			goto out;
		}
	} else {
		o.log_level = (int)PyLong_AsLong(level);
		if (PyErr_Occurred())
			goto out;
	}
	if (o.log_level <= 0)
		o.log_level = EC_LOG_DEBUG;
	self->logq = &the_logq;
	o.log_fn = logq_push;
	o.log_arg = self->logq;
	struct ec_error err = {0};
	ec_master *m = NULL;
	int erc;
	Py_BEGIN_ALLOW_THREADS
	erc = ec_master_new(&o, &m, &err);
	Py_END_ALLOW_THREADS
	logq_drain(self->logq);
	if (erc) {
		raise_error(&err, 0);
		goto out;
	}
	self->m = m;
	self->has_script = scriptpath != NULL;
	if (password != Py_None) {
		Py_INCREF(password);
		self->password = password;
	}
	ec_master_set_secret_prompt(m, secret_prompt, self);
	rc = 0;
out:
	Py_XDECREF(sysdirs);
	Py_XDECREF(scriptpath);
	Py_DECREF(keep);
	return rc;
}

static int context_close(ecpy_context *self, int timeout_ms);

static void connect_release(ecpy_connect *self)
{
	if (!self->c)
		return;
	ec_connect *c = self->c;
	self->c = NULL;
	if (self->master)
		LIST_DEL(self->master->connects, self);
	Py_BEGIN_ALLOW_THREADS
	ec_connect_free(c);
	Py_END_ALLOW_THREADS
}

static void master_close(ecpy_master *self)
{
	if (!self->m)
		return;
	if (self->closing) {
		/* another thread closes it: wait until it is done */
		while (self->m) {
			Py_BEGIN_ALLOW_THREADS
			struct timespec ts = {0, 2 * 1000000};
			nanosleep(&ts, NULL);
			Py_END_ALLOW_THREADS
		}
		return;
	}
	self->closing = 1;
	for (ecpy_context *c = self->contexts; c; c = c->next) {
		c->closing = 1;
		for (ecpy_call *k = c->calls; k; k = k->next)
			if (k->call)
				ec_call_cancel(k->call);
	}
	wait_unheld(&self->holds);
	while (self->connects)
		connect_release(self->connects);
	while (self->contexts)
		context_close(self->contexts, 3000);
	wait_unheld(&self->holds); /* a context another thread still shuts down */
	ec_master *m = self->m;
	self->m = NULL;
	Py_BEGIN_ALLOW_THREADS
	ec_master_free(m);
	Py_END_ALLOW_THREADS
	logq_drain(self->logq);
}

static int master_ok(ecpy_master *self)
{
	if (self->m && !self->closing)
		return 1;
	PyErr_SetString(PyExc_RuntimeError, "this Master is closed");
	return 0;
}

/* The gc sees what a Master holds (its password callback), so a cycle through the
 * callback (master -> callback -> master or a context) is collected: tp_clear drops the
 * callback, the contexts go, then the master. */
static int master_traverse(ecpy_master *self, visitproc visit, void *arg)
{
	Py_VISIT(self->password);
	return 0;
}

static int master_clear(ecpy_master *self)
{
	Py_CLEAR(self->password);
	return 0;
}

static void master_dealloc(ecpy_master *self)
{
	PyObject_GC_UnTrack(self);
	if (self->weakrefs)
		PyObject_ClearWeakRefs((PyObject *)self);
	master_close(self);
	Py_CLEAR(self->password);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *master_close_m(ecpy_master *self, PyObject *unused)
{
	if (!close_allowed())
		return NULL;
	master_close(self);
	Py_RETURN_NONE;
}

static PyObject *enter_m(PyObject *self, PyObject *unused)
{
	Py_INCREF(self);
	return self;
}

static PyObject *master_exit_m(ecpy_master *self, PyObject *args)
{
	if (!close_allowed())
		return NULL;
	master_close(self);
	Py_RETURN_FALSE;
}

/* overrides as "key=value" strings: str values as they are, booleans as true/false,
 * numbers as their text. keep holds them. */
static int overrides_of(PyObject *kw, const char ***out, PyObject *keep)
{
	*out = NULL;
	if (!kw || !PyDict_Size(kw))
		return 0;
	Py_ssize_t n = PyDict_Size(kw), i = 0, pos = 0;
	const char **v = PyMem_Calloc((size_t)n + 1, sizeof *v);
	if (!v) {
		PyErr_NoMemory();
		return -1;
	}
	PyObject *k, *x;
	while (PyDict_Next(kw, &pos, &k, &x)) {
		PyObject *s;
		if (x == Py_True || x == Py_False)
			s = PyUnicode_FromFormat("%S=%s", k, x == Py_True ? "true" : "false");
		else {
			PyObject *p = PyUnicode_Check(x) ? (Py_INCREF(x), x) : PyOS_FSPath(x);
			if (!p) {
				PyErr_Clear();
				p = PyObject_Str(x);
			}
			s = p ? PyUnicode_FromFormat("%S=%S", k, p) : NULL;
			Py_XDECREF(p);
		}
		if (!s || PyList_Append(keep, s)) {
			Py_XDECREF(s);
			PyMem_Free(v);
			return -1;
		}
		Py_DECREF(s);
		v[i++] = PyUnicode_AsUTF8(s);
	}
	*out = v;
	return 0;
}

static PyObject *new_connect(ecpy_master *self, PyObject *args, PyObject *kw)
{
	PyObject *name, *timeout = Py_None;
	if (!master_ok(self))
		return NULL;
	if (!PyArg_ParseTuple(args, "U|O:connect", &name, &timeout))
		return NULL;
	PyObject *kwc = kw ? PyDict_Copy(kw) : PyDict_New();
	if (!kwc)
		return NULL;
	PyObject *t = PyDict_GetItemString(kwc, "timeout");
	if (t) {
		timeout = t;
		Py_INCREF(timeout);
		PyDict_DelItemString(kwc, "timeout");
	} else {
		Py_INCREF(timeout);
	}
	ecpy_connect *co = NULL;
	long long ms = timeout_ms_of(timeout);
	PyObject *keep = PyList_New(0);
	const char **ov = NULL;
	if (ms == -2 || !keep || overrides_of(kwc, &ov, keep))
		goto out;
	struct ec_error err = {0};
	ec_connect *c = NULL;
	const char *cname = PyUnicode_AsUTF8(name);
	if (!cname)
		goto out;
	int rc;
	MASTER_HOLD(self);
	Py_BEGIN_ALLOW_THREADS
	rc = ec_context_connect_async(self->m, cname, ov, ms > 0 ? (int)ms : (ms == 0 ? 1 : 0), &c, &err);
	Py_END_ALLOW_THREADS
	MASTER_UNHOLD(self);
	logq_drain(self->logq);
	if (rc) {
		raise_error(&err, 1);
		goto out;
	}
	co = PyObject_GC_New(ecpy_connect, &connect_type);
	if (!co) {
		ec_connect_free(c);
		goto out;
	}
	co->c = c;
	co->master = self;
	Py_INCREF(self);
	co->name = name;
	Py_INCREF(name);
	co->result = co->exc = NULL;
	co->busy = 0;
	co->prev = co->next = NULL;
	LIST_ADD(self->connects, co);
	PyObject_GC_Track(co);
out:
	PyMem_Free(ov);
	Py_XDECREF(keep);
	Py_DECREF(kwc);
	Py_DECREF(timeout);
	return (PyObject *)co;
}

static PyObject *connect_result_m(ecpy_connect *self, PyObject *args, PyObject *kw);

static PyObject *master_connect_m(ecpy_master *self, PyObject *args, PyObject *kw)
{
	ecpy_connect *co = (ecpy_connect *)new_connect(self, args, kw);
	if (!co)
		return NULL;
	PyObject *noargs = PyTuple_New(0);
	PyObject *ctx = noargs ? connect_result_m(co, noargs, NULL) : NULL;
	Py_XDECREF(noargs);
	Py_DECREF(co);
	return ctx;
}

static PyObject *master_expand_m(ecpy_master *self, PyObject *args)
{
	const char *target;
	if (!master_ok(self) || !PyArg_ParseTuple(args, "s:expand", &target))
		return NULL;
	const char **names = NULL;
	struct ec_error err = {0};
	if (ec_master_expand_target(self->m, target, &names, &err))
		return raise_error(&err, 0);
	PyObject *r = PyList_New(0);
	for (size_t i = 0; r && names[i]; i++) {
		PyObject *s = PyUnicode_FromString(names[i]);
		if (!s || PyList_Append(r, s)) {
			Py_CLEAR(r);
		}
		Py_XDECREF(s);
	}
	free(names);
	return r;
}

static PyObject *master_put_many_m(ecpy_master *self, PyObject *args, PyObject *kw);
static PyObject *master_put_tree_m(ecpy_master *self, PyObject *args, PyObject *kw);

static PyMethodDef master_methods[] = {
	{"connect", (PyCFunction)(void (*)(void))master_connect_m, METH_VARARGS | METH_KEYWORDS,
	 "connect(name, timeout=None, **overrides) -> Context\n\n"
	 "Start the context `name` of the configuration and wait until it is up (timeout in\n"
	 "seconds; None: the context's connect_timeout). overrides are applied over its\n"
	 "section as `econtext -o key=value`; a name the configuration lacks is an ad hoc\n"
	 "context when they give a transport: connect('x', transport='local', python='/usr/bin/python3').\n"
	 "Raises a ConnectError subclass (BootError, AuthError, TimeoutError, ...) or NotFoundError."},
	{"connect_async", (PyCFunction)(void (*)(void))new_connect, METH_VARARGS | METH_KEYWORDS,
	 "connect_async(name, timeout=None, **overrides) -> Connect\n\n"
	 "Start connecting and return at once with a pending Connect (wait with its result()\n"
	 "or econtext.select())."},
	{"put_many", (PyCFunction)(void (*)(void))master_put_many_m, METH_VARARGS | METH_KEYWORDS,
	 "put_many(contexts, local, remote, *, mode=None, timeout=None, owner=None, group=None,\n"
	 "         progress=None) -> [dict, ...]\n\n"
	 "Copy one local file to remote in every context at once, the file read once\n"
	 "(ec_context_put_many): one result dict per context, in order. When a context fails,\n"
	 "its error is raised (the first one) with .results: each context's dict or exception.\n"
	 "progress as for Context.put()."},
	{"put_tree", (PyCFunction)(void (*)(void))master_put_tree_m, METH_VARARGS | METH_KEYWORDS,
	 "put_tree(contexts, local_dir, remote_dir, *, mode=None, timeout=None, owner=None,\n"
	 "group=None, progress=None) -> [dict, ...]\n\n"
	 "Copy a local directory tree into every context at once (ec_context_put_tree):\n"
	 "directories, regular files (skipped when the same), symbolic links as links. Results\n"
	 "and errors as put_many()."},
	{"expand", (PyCFunction)master_expand_m, METH_VARARGS,
	 "expand(target) -> list of context names a target (names, groups, globs) stands for."},
	{"close", (PyCFunction)master_close_m, METH_NOARGS,
	 "close()\n\nShut down every context (gracefully, then by force) and the master."},
	{"__enter__", (PyCFunction)enter_m, METH_NOARGS, "Enter: the master itself."},
	{"__exit__", (PyCFunction)master_exit_m, METH_VARARGS, "Exit: close()."},
	{NULL, NULL, 0, NULL}};

static PyObject *master_closed_get(ecpy_master *self, void *unused)
{
	return PyBool_FromLong(self->m == NULL);
}

static PyGetSetDef master_getset[] = {
	{"closed", (getter)master_closed_get, NULL, "True once close() ran.", NULL},
	{NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject master_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "econtext.Master",
	.tp_basicsize = sizeof(ecpy_master),
	.tp_dealloc = (destructor)master_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_traverse = (traverseproc)master_traverse,
	.tp_clear = (inquiry)master_clear,
	.tp_weaklistoffset = offsetof(ecpy_master, weakrefs),
	.tp_doc = "Master(config=None, *, module_path=None, sys_path=True, script=None,\n"
	          "       log_level=None, plugin_path=None, password=None, leave_malloc=False)\n\n"
	          "A master: its configuration (config: a YAML file; None: $ECONTEXT_CONFIG, then\n"
	          "~/.config/econtext/econtext.yaml, the system one, the built-in default), its\n"
	          "plugins and its broker thread. Contexts see the module path: module_path first,\n"
	          "then this interpreter's sys.path (without the standard library) unless\n"
	          "sys_path=False. script: a Python file served as the module of functions of\n"
	          "__main__ (None: __main__'s file; False: none). log_level: what the library\n"
	          "forwards to `logging` (None: the effective level of logger 'econtext', at most\n"
	          "INFO, so that what contexts print arrives).\n"
	          "password(prompt, context) -> str answers transports' password prompts (None:\n"
	          "getpass). A context manager: closing it shuts every context down.",
	.tp_methods = master_methods,
	.tp_getset = master_getset,
	.tp_init = (initproc)master_init,
	.tp_new = PyType_GenericNew,
};

/* ---- Connect ----------------------------------------------------------------------- */

struct sel_one {
	ec_select *sel;
};

static int select_step(void *arg, int ms, struct ec_error *err)
{
	void *tag;
	size_t n = 0;
	return ec_select_wait(((struct sel_one *)arg)->sel, ms, &tag, 1, &n, err);
}

static PyObject *context_new(ecpy_master *mo, ec_context *ctx);

/* Take the connect's result once it is ready (after a select said so). */
static int connect_take(ecpy_connect *self)
{
	struct ec_error err = {0};
	ec_context *ctx = NULL;
	int rc;
	if (!self->c || self->master->closing)
		return 0;
	MASTER_HOLD(self->master);
	Py_BEGIN_ALLOW_THREADS
	rc = ec_connect_wait(self->c, 1, &ctx, &err);
	Py_END_ALLOW_THREADS
	MASTER_UNHOLD(self->master);
	if (rc == EC_ETIMEDOUT)
		return 0;
	logq_drain(self->master->logq);
	if (rc) {
		raise_error(&err, 1);
		PyObject *t, *v, *tb;
		PyErr_Fetch(&t, &v, &tb);
		PyErr_NormalizeException(&t, &v, &tb);
		self->exc = v;
		Py_XDECREF(t);
		Py_XDECREF(tb);
	} else {
		self->result = context_new(self->master, ctx);
		if (!self->result)
			return -1;
	}
	connect_release(self);
	return 1;
}

static PyObject *connect_outcome(ecpy_connect *self)
{
	if (self->exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(self->exc), self->exc);
		return NULL;
	}
	Py_INCREF(self->result);
	return self->result;
}

static PyObject *connect_result_m(ecpy_connect *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"timeout", NULL};
	PyObject *timeout = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:result", kwlist, &timeout))
		return NULL;
	if (self->result || self->exc)
		return connect_outcome(self);
	long long ms = timeout_ms_of(timeout);
	if (ms == -2)
		return NULL;
	if (!self->c) {
		PyErr_SetString(PyExc_RuntimeError, "this connect was freed with its master");
		return NULL;
	}
	struct ec_error err = {0};
	struct sel_one s = {NULL};
	if (ec_select_new(self->master->m, &s.sel, &err) ||
	    ec_select_add_connect(s.sel, self->c, self, &err)) {
		ec_select_free(s.sel);
		return raise_error(&err, 1);
	}
	self->busy++;
	MASTER_HOLD(self->master);
	int rc = wait_loop(self->master->logq, ms, select_step, &s, &err, master_closed, self->master);
	ec_select_free(s.sel);
	MASTER_UNHOLD(self->master);
	self->busy--;
	if (rc == 1)
		return NULL;
	if (rc == EC_ETIMEDOUT)
		return raise_code(EC_ETIMEDOUT, PyUnicode_AsUTF8(self->name),
		                  "context '%U' is not connected yet (waited %lld ms)", self->name, ms);
	if (rc && rc != EC_ENOTFOUND)
		return raise_error(&err, rc == EC_ECLOSED ? 0 : 1);
	if (connect_take(self) < 0)
		return NULL;
	if (!self->result && !self->exc) {
		PyErr_SetString(PyExc_RuntimeError, "connect ready but without a result");
		return NULL;
	}
	return connect_outcome(self);
}

static PyObject *connect_done_m(ecpy_connect *self, PyObject *unused)
{
	if (!self->result && !self->exc && self->c && connect_take(self) < 0)
		return NULL;
	return PyBool_FromLong(self->result || self->exc);
}

static int connect_traverse(ecpy_connect *self, visitproc visit, void *arg)
{
	Py_VISIT(self->master);
	Py_VISIT(self->result);
	Py_VISIT(self->exc);
	return 0;
}

static int connect_clear(ecpy_connect *self)
{
	Py_CLEAR(self->result);
	Py_CLEAR(self->exc);
	return 0;
}

static void connect_dealloc(ecpy_connect *self)
{
	PyObject_GC_UnTrack(self);
	connect_release(self);
	Py_XDECREF(self->result);
	Py_XDECREF(self->exc);
	Py_XDECREF(self->name);
	Py_XDECREF(self->master);
	PyObject_GC_Del(self);
}

static PyMethodDef connect_methods[] = {
	{"result", (PyCFunction)(void (*)(void))connect_result_m, METH_VARARGS | METH_KEYWORDS,
	 "result(timeout=None) -> Context\n\nWait for the context (timeout in seconds; None: until "
	 "the connect's own deadline) and return it, or raise the boot's error (a ConnectError)."},
	{"done", (PyCFunction)connect_done_m, METH_NOARGS, "done() -> True once result() returns at once."},
	{NULL, NULL, 0, NULL}};

static PyObject *connect_name_get(ecpy_connect *self, void *unused)
{
	Py_INCREF(self->name);
	return self->name;
}

static PyGetSetDef connect_getset[] = {
	{"name", (getter)connect_name_get, NULL, "The context's name.", NULL},
	{NULL, NULL, NULL, NULL, NULL}};

static PyObject *connect_repr(ecpy_connect *self)
{
	const char *state = self->exc ? "failed" : self->result ? "connected" : self->c ? "pending" : "dropped";
	return PyUnicode_FromFormat("<econtext.Connect %R: %s>", self->name, state);
}

static PyTypeObject connect_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "econtext.Connect",
	.tp_basicsize = sizeof(ecpy_connect),
	.tp_dealloc = (destructor)connect_dealloc,
	.tp_repr = (reprfunc)connect_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_traverse = (traverseproc)connect_traverse,
	.tp_clear = (inquiry)connect_clear,
	.tp_doc = "A pending connect (Master.connect_async): result(timeout), done(); usable in "
	          "econtext.select().",
	.tp_methods = connect_methods,
	.tp_getset = connect_getset,
};

/* ---- Context ----------------------------------------------------------------------- */

static PyObject *context_new(ecpy_master *mo, ec_context *ctx)
{
	ecpy_context *self = PyObject_GC_New(ecpy_context, &context_type);
	if (!self) {
		ec_context_shutdown(ctx, 1000, NULL);
		return NULL;
	}
	self->ctx = ctx;
	self->master = mo;
	Py_INCREF(mo);
	self->name = PyUnicode_FromString(ec_context_name(ctx));
	self->calls = NULL;
	self->channels = NULL;
	self->call_timeout_ms = -1;
	self->holds = self->closing = self->shutting = 0;
	LIST_ADD(mo->contexts, self);
	PyObject_GC_Track(self);
	if (!self->name) {
		Py_DECREF(self);
		return NULL;
	}
	return (PyObject *)self;
}

static void call_release(ecpy_call *self);
static void channel_release(ecpy_channel *self);

static int context_close(ecpy_context *self, int timeout_ms)
{
	if (!self->ctx)
		return 0;
	if (self->shutting) {
		/* another thread shuts it down: wait until it is done */
		while (self->ctx) {
			Py_BEGIN_ALLOW_THREADS
			struct timespec ts = {0, 2 * 1000000};
			nanosleep(&ts, NULL);
			Py_END_ALLOW_THREADS
		}
		return 0;
	}
	/* calls and channels go first: cancelled, then freed once no thread uses them (a
	 * waiting thread sees `closing` within a slice and raises ClosedError) */
	self->closing = self->shutting = 1;
	for (ecpy_call *c = self->calls; c; c = c->next)
		if (c->call)
			ec_call_cancel(c->call);
	wait_unheld(&self->holds);
	while (self->calls)
		call_release(self->calls);
	while (self->channels)
		channel_release(self->channels);
	ec_context *ctx = self->ctx;
	self->ctx = NULL;
	LIST_DEL(self->master->contexts, self);
	struct ec_error err = {0};
	int rc;
	MASTER_HOLD(self->master);
	Py_BEGIN_ALLOW_THREADS
	rc = ec_context_shutdown(ctx, timeout_ms, &err);
	Py_END_ALLOW_THREADS
	MASTER_UNHOLD(self->master);
	logq_drain(self->master->logq);
	return rc;
}

static int master_closed(void *arg, struct ec_error *err)
{
	ecpy_master *mo = arg;
	return mo->closing ? closed_err(err, "the master", NULL) : 0;
}

static int ctx_closed(void *arg, struct ec_error *err)
{
	ecpy_context *c = arg;
	return c->closing || c->master->closing ? closed_err(err, "the context", c->name) : 0;
}

static int context_ok(ecpy_context *self)
{
	if (self->ctx && !self->closing)
		return 1;
	raise_code(EC_ECLOSED, PyUnicode_AsUTF8(self->name), "context '%U' was shut down", self->name);
	return 0;
}

static int context_traverse(ecpy_context *self, visitproc visit, void *arg)
{
	Py_VISIT(self->master);
	return 0;
}

static void context_dealloc(ecpy_context *self)
{
	PyObject_GC_UnTrack(self);
	context_close(self, 3000);
	Py_XDECREF(self->name);
	Py_XDECREF(self->master);
	PyObject_GC_Del(self);
}

/* module and qualified name of what to call: a 'module.func' or 'module:Class.func'
 * string, or a callable of the program. */
static int resolve(ecpy_context *self, PyObject *func, PyObject **mod, PyObject **qual)
{
	*mod = *qual = NULL;
	if (PyUnicode_Check(func)) {
		Py_ssize_t len = PyUnicode_GET_LENGTH(func);
		Py_ssize_t colon = PyUnicode_FindChar(func, ':', 0, len, 1);
		Py_ssize_t cut = colon >= 0 ? colon : PyUnicode_FindChar(func, '.', 0, len, -1);
		if (cut < 0 && !PyErr_Occurred()) {
			PyErr_Format(PyExc_ValueError, "%R names no module: write 'module.function'", func);
			return -1;
		}
		if (cut < 0)
			return -1;
		*mod = PyUnicode_Substring(func, 0, cut);
		*qual = PyUnicode_Substring(func, cut + 1, len);
	} else if (PyFunction_Check(func)) {
		/* a Python function (the common case): its module and qualified name as
		 * they are, without attribute lookups (nor the AttributeError of __self__) */
		*mod = PyFunction_GET_MODULE(func);
		*qual = ((PyFunctionObject *)func)->func_qualname;
		Py_XINCREF(*mod);
		Py_XINCREF(*qual);
		if (*mod == Py_None) {
			Py_CLEAR(*mod);
			PyErr_Format(PyExc_ValueError, "cannot call %R: it names no module", func);
		}
	} else {
		if (!PyCallable_Check(func)) {
			PyErr_Format(PyExc_TypeError, "cannot call %R: not callable", func);
			return -1;
		}
		PyObject *owner = PyObject_GetAttrString(func, "__self__");
		if (!owner)
			PyErr_Clear();
		if (owner && !PyType_Check(owner) && !PyModule_Check(owner)) {
			Py_DECREF(owner);
			PyErr_Format(PyExc_TypeError, "cannot call %R: a method of an instance (the "
			             "instance stays here); call a function, staticmethod or classmethod",
			             func);
			return -1;
		}
		if (owner && PyType_Check(owner))
			*mod = PyObject_GetAttrString(owner, "__module__");
		else
			*mod = PyObject_GetAttrString(func, "__module__");
		Py_XDECREF(owner);
		if (!*mod)
			goto fail;
		*qual = PyObject_GetAttrString(func, "__qualname__");
		if (!*qual) {
			PyErr_Clear();
			*qual = PyObject_GetAttrString(func, "__name__");
		}
		if (*mod && *mod == Py_None) {
			Py_CLEAR(*mod);
			PyErr_Format(PyExc_ValueError, "cannot call %R: it names no module", func);
		}
	}
	if (!*mod || !*qual || !PyUnicode_Check(*mod) || !PyUnicode_Check(*qual)) {
		if (!PyErr_Occurred())
			PyErr_Format(PyExc_TypeError, "cannot call %R: no module and name", func);
		goto fail;
	}
	if (PyUnicode_FindChar(*qual, '<', 0, PyUnicode_GET_LENGTH(*qual), 1) >= 0) {
		PyErr_Format(PyExc_ValueError, "cannot call %U.%U in a context: a nested function or "
		             "lambda has no name there; define it at module level", *mod, *qual);
		goto fail;
	}
	if (PyUnicode_CompareWithASCIIString(*mod, "__main__") == 0) {
		if (!self->master->has_script) {
			PyErr_Format(PyExc_ValueError, "cannot call %U of __main__: the program has no "
			             "script file to serve (give Master(script=...))", *qual);
			goto fail;
		}
		static PyObject *script_module;
		if (!script_module && !(script_module = PyUnicode_InternFromString("__econtext_script__")))
			goto fail;
		Py_DECREF(*mod);
		*mod = script_module;
		Py_INCREF(*mod);
	}
	return 0;
fail:
	Py_CLEAR(*mod);
	Py_CLEAR(*qual);
	return -1;
}

/* Start a call: (func, *args), **kwargs as given to call()/call_async(). */
static ecpy_call *call_start(ecpy_context *self, PyObject *args, PyObject *kw)
{
	if (!context_ok(self))
		return NULL;
	if (PyTuple_GET_SIZE(args) < 1) {
		PyErr_SetString(PyExc_TypeError, "call() needs the function to call");
		return NULL;
	}
	PyObject *mod, *qual;
	if (resolve(self, PyTuple_GET_ITEM(args, 0), &mod, &qual))
		return NULL;
	ecpy_call *co = NULL;
	PyObject *rest = PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args));
	ec_value *va = rest ? ecpy_to_value(rest, 0) : NULL;
	ec_value *vk = va && kw && PyDict_Size(kw) ? ecpy_to_value(kw, 0) : NULL;
	Py_XDECREF(rest);
	if (!va || (kw && PyDict_Size(kw) && !vk))
		goto out;
	const char *m = PyUnicode_AsUTF8(mod), *q = PyUnicode_AsUTF8(qual);
	if (!m || !q)
		goto out;
	struct ec_error err = {0};
	ec_call *call = NULL;
	/* with the GIL: it only encodes and queues, under the master's lock, which the
	 * library's threads never hold while they call into Python (password prompts) */
	int rc = ec_context_call_async(self->ctx, m, q, va, vk, &call, &err);
	if (rc) {
		raise_error(&err, 0);
		goto out;
	}
	co = PyObject_GC_New(ecpy_call, &call_type);
	if (!co) {
		ec_call_free(call);
		goto out;
	}
	co->call = call;
	co->ctx = self;
	Py_INCREF(self);
	co->mod = mod;
	co->qual = qual;
	mod = qual = NULL;
	co->what = NULL;
	co->result = co->exc = NULL;
	co->busy = co->cancelled = 0;
	LIST_ADD(self->calls, co);
	PyObject_GC_Track(co);
out:
	ec_value_free(va);
	ec_value_free(vk);
	Py_XDECREF(mod);
	Py_XDECREF(qual);
	return co;
}

static PyObject *call_result_ms(ecpy_call *self, long long ms);

static PyObject *context_call_m(ecpy_context *self, PyObject *args, PyObject *kw)
{
	if (self->ctx && prog_refuses(self->ctx, self->name, "call()"))
		return NULL; /* before anything is sent */
	ecpy_call *co = call_start(self, args, kw);
	if (!co)
		return NULL;
	/* at the deadline the Call goes with its last reference: cancelled in the context */
	PyObject *r = call_result_ms(co, self->call_timeout_ms);
	Py_DECREF(co);
	return r;
}

static PyObject *context_call_async_m(ecpy_context *self, PyObject *args, PyObject *kw)
{
	return (PyObject *)call_start(self, args, kw);
}

static PyObject *context_channel_m(ecpy_context *self, PyObject *unused)
{
	if (!context_ok(self))
		return NULL;
	struct ec_error err = {0};
	ec_channel *ch = NULL;
	if (ec_channel_new(self->ctx, &ch, &err))
		return raise_error(&err, 0);
	ecpy_channel *co = PyObject_GC_New(ecpy_channel, &ecpy_channel_type);
	if (!co) {
		ec_channel_free(ch);
		return NULL;
	}
	co->ch = ch;
	co->ctx = self;
	Py_INCREF(self);
	co->busy = co->ended = 0;
	LIST_ADD(self->channels, co);
	PyObject_GC_Track(co);
	return (PyObject *)co;
}

static PyObject *context_shutdown_m(ecpy_context *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"timeout", NULL};
	double timeout = 3.0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|d:shutdown", kwlist, &timeout) || !close_allowed())
		return NULL;
	context_close(self, (int)(timeout * 1000) > 0 ? (int)(timeout * 1000) : 1);
	Py_RETURN_NONE;
}

static PyObject *context_exit_m(ecpy_context *self, PyObject *args)
{
	if (!close_allowed())
		return NULL;
	context_close(self, 3000);
	Py_RETURN_FALSE;
}

static int pyprog_step(void *arg, uint64_t done, uint64_t total)
{
	struct pyprog *p = arg;
	if (p->t) /* cancelled already: it stays so (a tree asks again for other contexts) */
		return 1;
	int call = p->cb && p->cb != Py_None;
	long long now = now_ms();
	if (!call && now < p->next_check)
		return 0; /* the GIL not taken for nothing: other threads run meanwhile */
	p->next_check = now + EC_PY_SLICE_MS;
	PyGILState_STATE g = PyGILState_Ensure();
	int stop = PyErr_CheckSignals() < 0;
	if (!stop && call) {
		const struct pyprog *outer = my_prog;
		my_prog = p;
		PyObject *r = PyObject_CallFunction(p->cb, "KK", (unsigned long long)done,
		                                    (unsigned long long)total);
		my_prog = outer;
		stop = !r;
		Py_XDECREF(r);
	}
	if (stop)
		PyErr_Fetch(&p->t, &p->v, &p->tb);
	PyGILState_Release(g);
	return stop;
}

/* Before a transfer to the n contexts ctxs (kept by the caller until it ends): the
 * progress callable checked and set in o (-1 with an exception). */
static int pyprog_start(struct pyprog *p, PyObject *cb, ec_context *const *ctxs, size_t n,
                        struct ec_transfer_options *o)
{
	*p = (struct pyprog){.cb = cb, .next_check = now_ms() + EC_PY_SLICE_MS, .ctxs = ctxs,
	                     .n = n};
	if (cb != Py_None && !PyCallable_Check(cb)) {
		PyErr_SetString(PyExc_TypeError, "progress must be callable(done, total) or None");
		return -1;
	}
	o->progress = pyprog_step;
	o->progress_arg = p;
	return 0;
}

/* After it: 1 with the exception that cancelled it raised, else 0. */
static int pyprog_raised(struct pyprog *p)
{
	if (!p->t)
		return 0;
	PyErr_Restore(p->t, p->v, p->tb);
	p->t = p->v = p->tb = NULL;
	return 1;
}

static PyObject *transfer_result(const struct ec_transfer_result *res)
{
	return Py_BuildValue("{s:O,s:K,s:K,s:d,s:s}", "changed", res->changed ? Py_True : Py_False,
	                     "size", (unsigned long long)res->size, "bytes",
	                     (unsigned long long)res->bytes, "seconds", res->seconds, "sha256",
	                     res->sha256);
}

/* mode, timeout, owner and group keywords as transfer options (owner and group kept
 * alive by the caller's arguments); -1 with an exception. */
static int transfer_options(PyObject *mode, PyObject *timeout, PyObject *owner, PyObject *group,
                            struct ec_transfer_options *o)
{
	long long ms = timeout_ms_of(timeout);
	if (ms == -2)
		return -1;
	o->timeout_ms = ms > 0 ? (int)ms : 0;
	if (mode != Py_None) {
		o->set_mode = 1;
		o->mode = (unsigned)PyLong_AsUnsignedLong(mode);
		if (PyErr_Occurred())
			return -1;
	}
	PyObject *who[2] = {owner, group};
	const char **to[2] = {&o->owner, &o->group};
	for (int i = 0; i < 2; i++) {
		if (who[i] == Py_None)
			continue;
		if (!PyUnicode_Check(who[i])) {
			PyErr_SetString(PyExc_TypeError, "owner and group are names or numbers as str");
			return -1;
		}
		if (!(*to[i] = PyUnicode_AsUTF8(who[i])))
			return -1;
	}
	return 0;
}

enum { TR_PUT, TR_GET, TR_GET_TREE };

static PyObject *context_transfer(ecpy_context *self, PyObject *args, PyObject *kw, int how)
{
	static char *kwlist[] = {"source", "target", "mode", "timeout", "owner", "group",
	                         "progress", NULL};
	static const char *fmt[] = {"O&O&|$OOOOO:put", "O&O&|$OOOOO:get", "O&O&|$OOOOO:get_tree"};
	PyObject *src, *dst, *mode = Py_None, *timeout = Py_None, *owner = Py_None, *group = Py_None,
		 *progress = Py_None;
	if (!context_ok(self) ||
	    !PyArg_ParseTupleAndKeywords(args, kw, fmt[how], kwlist, PyUnicode_FSConverter, &src,
	                                 PyUnicode_FSConverter, &dst, &mode, &timeout, &owner, &group,
	                                 &progress))
		return NULL;
	struct ec_transfer_options o = {.size = sizeof o};
	struct ec_transfer_result res = {0};
	struct ec_error err = {0};
	struct pyprog prog;
	PyObject *r = NULL;
	static const char *what[] = {"put()", "get()", "get_tree()"};
	if (prog_refuses(self->ctx, self->name, what[how]) ||
	    transfer_options(mode, timeout, owner, group, &o) ||
	    pyprog_start(&prog, progress, &self->ctx, 1, &o))
		goto out;
	const char *a = PyBytes_AS_STRING(src), *b = PyBytes_AS_STRING(dst);
	int rc;
	CTX_HOLD(self);
	Py_BEGIN_ALLOW_THREADS
	rc = how == TR_PUT   ? ec_context_put(self->ctx, a, b, &o, &res, &err)
	   : how == TR_GET   ? ec_context_get(self->ctx, a, b, &o, &res, &err)
	                     : ec_context_get_tree(self->ctx, a, b, &o, &res, &err);
	Py_END_ALLOW_THREADS
	CTX_UNHOLD(self);
	logq_drain(self->master->logq);
	r = pyprog_raised(&prog) ? NULL : rc ? raise_error(&err, 0) : transfer_result(&res);
out:
	Py_DECREF(src);
	Py_DECREF(dst);
	return r;
}

static PyObject *context_get_tree_m(ecpy_context *self, PyObject *args, PyObject *kw)
{
	return context_transfer(self, args, kw, TR_GET_TREE);
}

/* The exception instance for err (a failed transfer in put_many), new reference. */
static PyObject *error_object(const struct ec_error *err)
{
	raise_error(err, 0);
	PyObject *t, *v, *tb;
	PyErr_Fetch(&t, &v, &tb);
	PyErr_NormalizeException(&t, &v, &tb);
	Py_XDECREF(t);
	Py_XDECREF(tb);
	return v;
}

/* Master.put_many / put_tree: one local file or tree to many contexts of this master. */
static PyObject *master_put_n(ecpy_master *self, PyObject *args, PyObject *kw, int tree)
{
	static char *kwlist[] = {"contexts", "source", "target", "mode", "timeout", "owner",
	                         "group", "progress", NULL};
	PyObject *ctxs, *src, *dst, *mode = Py_None, *timeout = Py_None, *owner = Py_None,
		 *group = Py_None, *progress = Py_None;
	if (!master_ok(self) ||
	    !PyArg_ParseTupleAndKeywords(args, kw, tree ? "OO&O&|$OOOOO:put_tree" : "OO&O&|$OOOOO:put_many",
	                                 kwlist, &ctxs, PyUnicode_FSConverter, &src,
	                                 PyUnicode_FSConverter, &dst, &mode, &timeout, &owner, &group,
	                                 &progress))
		return NULL;
	PyObject *r = NULL, *fast = PySequence_Fast(ctxs, "put_many() takes a list of contexts");
	ec_context **cv = NULL;
	struct ec_transfer_result *res = NULL;
	struct ec_error *errs = NULL;
	struct ec_transfer_options o = {.size = sizeof o};
	struct pyprog prog;
	if (!fast || transfer_options(mode, timeout, owner, group, &o) ||
	    pyprog_start(&prog, progress, NULL, 0, &o))
		goto out;
	Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
	cv = PyMem_Calloc((size_t)n + 1, sizeof *cv);
	res = PyMem_Calloc((size_t)n + 1, sizeof *res);
	errs = PyMem_Calloc((size_t)n + 1, sizeof *errs);
	if (!cv || !res || !errs) {
		PyErr_NoMemory();
		goto out;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *c = PySequence_Fast_GET_ITEM(fast, i);
		if (!IS_TYPE(c, &context_type) || ((ecpy_context *)c)->master != self) {
			PyErr_Format(PyExc_TypeError, "put_many() takes contexts of this master, not %R", c);
			goto out;
		}
		if (!context_ok((ecpy_context *)c))
			goto out;
		for (Py_ssize_t j = 0; j < i; j++)
			if (PySequence_Fast_GET_ITEM(fast, j) == c) {
				PyErr_Format(PyExc_ValueError, "context %R given twice", ((ecpy_context *)c)->name);
				goto out;
			}
		cv[i] = ((ecpy_context *)c)->ctx;
		if (prog_refuses(cv[i], ((ecpy_context *)c)->name, tree ? "put_tree()" : "put_many()"))
			goto out;
	}
	prog.ctxs = cv; /* the contexts a wait from its callable is refused on */
	prog.n = (size_t)n;
	const char *a = PyBytes_AS_STRING(src), *b = PyBytes_AS_STRING(dst);
	for (Py_ssize_t i = 0; i < n; i++)
		CTX_HOLD((ecpy_context *)PySequence_Fast_GET_ITEM(fast, i));
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = tree ? ec_context_put_tree(cv, (size_t)n, a, b, &o, res, errs)
	          : ec_context_put_many(cv, (size_t)n, a, b, &o, res, errs);
	Py_END_ALLOW_THREADS
	for (Py_ssize_t i = 0; i < n; i++)
		CTX_UNHOLD((ecpy_context *)PySequence_Fast_GET_ITEM(fast, i));
	logq_drain(self->logq);
	if (pyprog_raised(&prog))
		goto out;
	PyObject *list = PyList_New(n);
	if (!list)
		goto out;
	Py_ssize_t first = -1;
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *item = errs[i].code ? error_object(&errs[i]) : transfer_result(&res[i]);
		if (!item) {
			Py_DECREF(list);
			goto out;
		}
		if (errs[i].code && first < 0)
			first = i;
		PyList_SET_ITEM(list, i, item);
	}
	if (rc && first < 0) {
		/* a failure before any context's own (reading the local file) */
		Py_DECREF(list);
		raise_code(rc, NULL, "%s of %S failed: %s", tree ? "put_tree" : "put_many", src,
		           ec_strerror(rc));
		goto out;
	}
	if (first >= 0) {
		/* the first context's error, raised; .results holds every context's outcome */
		PyObject *e = PyList_GET_ITEM(list, first);
		PyObject_SetAttrString(e, "results", list);
		PyErr_SetObject((PyObject *)Py_TYPE(e), e);
		Py_DECREF(list);
		goto out;
	}
	r = list;
out:
	PyMem_Free(cv);
	PyMem_Free(res);
	PyMem_Free(errs);
	Py_XDECREF(fast);
	Py_DECREF(src);
	Py_DECREF(dst);
	return r;
}

static PyObject *master_put_many_m(ecpy_master *self, PyObject *args, PyObject *kw)
{
	return master_put_n(self, args, kw, 0);
}

static PyObject *master_put_tree_m(ecpy_master *self, PyObject *args, PyObject *kw)
{
	return master_put_n(self, args, kw, 1);
}

static PyObject *context_put_m(ecpy_context *self, PyObject *args, PyObject *kw)
{
	return context_transfer(self, args, kw, TR_PUT);
}

static PyObject *context_get_m(ecpy_context *self, PyObject *args, PyObject *kw)
{
	return context_transfer(self, args, kw, TR_GET);
}

static PyMethodDef context_methods[] = {
	{"call", (PyCFunction)(void (*)(void))context_call_m, METH_VARARGS | METH_KEYWORDS,
	 "call(func, *args, **kwargs) -> result\n\n"
	 "Call func(*args, **kwargs) in the context and return its result. func: a function\n"
	 "of a module (of __main__ too: the script is served), a staticmethod or classmethod,\n"
	 "a builtin such as os.system, or a 'module.function' / 'module:Class.method' string.\n"
	 "A remote exception raises RemoteError (also a subclass of the builtin exception it\n"
	 "was); Ctrl-C cancels the call in the context, and so does the deadline of the\n"
	 "context's `timeout` attribute (TimeoutError)."},
	{"call_async", (PyCFunction)(void (*)(void))context_call_async_m, METH_VARARGS | METH_KEYWORDS,
	 "call_async(func, *args, **kwargs) -> Call\n\n"
	 "Start the call and return at once: a Call (result(timeout), done(), cancel())."},
	{"channel", (PyCFunction)context_channel_m, METH_NOARGS,
	 "channel() -> Channel\n\nOpen a channel on the context; pass it to a function as an argument."},
	{"put", (PyCFunction)(void (*)(void))context_put_m, METH_VARARGS | METH_KEYWORDS,
	 "put(local, remote, *, mode=None, timeout=None, owner=None, group=None, progress=None)\n"
	 "-> dict\n\n"
	 "Copy a local file into the context (docs/api.md, Files): changed, size, bytes, "
	 "seconds, sha256. progress(done, total) is called as bytes go; an exception it raises\n"
	 "(or Ctrl-C) cancels the transfer, leaving the target as it was, and is raised."},
	{"get", (PyCFunction)(void (*)(void))context_get_m, METH_VARARGS | METH_KEYWORDS,
	 "get(remote, local, *, mode=None, timeout=None, owner=None, group=None, progress=None)\n"
	 "-> dict\n\n"
	 "Copy a file of the context here (progress as for put)."},
	{"get_tree", (PyCFunction)(void (*)(void))context_get_tree_m, METH_VARARGS | METH_KEYWORDS,
	 "get_tree(remote_dir, local_dir, *, mode=None, timeout=None, owner=None, group=None,\n"
	 "         progress=None) -> dict\n\n"
	 "Copy the context's directory tree here (docs/api.md, Files: ec_context_get_tree):\n"
	 "directories, regular files, symbolic links as links; the sums of its files."},
	{"shutdown", (PyCFunction)(void (*)(void))context_shutdown_m, METH_VARARGS | METH_KEYWORDS,
	 "shutdown(timeout=3.0)\n\nAsk the context to exit (its pending calls are cancelled), then "
	 "disconnect by force after timeout seconds."},
	{"close", (PyCFunction)(void (*)(void))context_shutdown_m, METH_VARARGS | METH_KEYWORDS,
	 "close(timeout=3.0): shutdown()."},
	{"__enter__", (PyCFunction)enter_m, METH_NOARGS, "Enter: the context itself."},
	{"__exit__", (PyCFunction)context_exit_m, METH_VARARGS, "Exit: shutdown()."},
	{NULL, NULL, 0, NULL}};

static PyObject *context_name_get(ecpy_context *self, void *unused)
{
	Py_INCREF(self->name);
	return self->name;
}

static PyObject *context_version_get(ecpy_context *self, void *unused)
{
	if (!context_ok(self))
		return NULL;
	return PyUnicode_FromString(ec_context_python_version(self->ctx));
}

static PyObject *context_pid_get(ecpy_context *self, void *unused)
{
	if (!context_ok(self))
		return NULL;
	return PyLong_FromLong(ec_context_pid(self->ctx));
}

static PyObject *context_boot_get(ecpy_context *self, void *unused)
{
	if (!context_ok(self))
		return NULL;
	return PyFloat_FromDouble(ec_context_boot_seconds(self->ctx));
}

static PyObject *context_timeout_get(ecpy_context *self, void *unused)
{
	if (self->call_timeout_ms < 0)
		Py_RETURN_NONE;
	return PyFloat_FromDouble(self->call_timeout_ms / 1000.0);
}

static int context_timeout_set(ecpy_context *self, PyObject *v, void *unused)
{
	long long ms = timeout_ms_of(v);
	if (ms == -2)
		return -1;
	self->call_timeout_ms = ms;
	return 0;
}

static PyObject *context_master_get(ecpy_context *self, void *unused)
{
	Py_INCREF(self->master);
	return (PyObject *)self->master;
}

static PyGetSetDef context_getset[] = {
	{"name", (getter)context_name_get, NULL, "The context's name.", NULL},
	{"python_version", (getter)context_version_get, NULL, "The remote interpreter's version.", NULL},
	{"pid", (getter)context_pid_get, NULL, "The context's process id.", NULL},
	{"boot_seconds", (getter)context_boot_get, NULL, "Seconds from spawning to the context's hello.", NULL},
	{"master", (getter)context_master_get, NULL, "Its Master.", NULL},
	{"timeout", (getter)context_timeout_get, (setter)context_timeout_set,
	 "Seconds call() waits (None, the default: no deadline); at the deadline the call is "
	 "cancelled in the context and call() raises econtext.TimeoutError.", NULL},
	{NULL, NULL, NULL, NULL, NULL}};

static PyObject *context_repr(ecpy_context *self)
{
	return PyUnicode_FromFormat("<econtext.Context %R%s>", self->name, self->ctx ? "" : " (shut down)");
}

static PyTypeObject context_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "econtext.Context",
	.tp_basicsize = sizeof(ecpy_context),
	.tp_dealloc = (destructor)context_dealloc,
	.tp_repr = (reprfunc)context_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_traverse = (traverseproc)context_traverse,
	.tp_doc = "A connected context (Master.connect): call(), call_async(), channel(), put(),\n"
	          "get(), shutdown(); a context manager that shuts it down on exit.",
	.tp_methods = context_methods,
	.tp_getset = context_getset,
};

/* ---- Call ---------------------------------------------------------------------------- */

static void call_release(ecpy_call *self)
{
	if (!self->call)
		return;
	ec_call *c = self->call;
	self->call = NULL;
	LIST_DEL(self->ctx->calls, self);
	ec_call_free(c);
}

/* "module.qualname" (borrowed; the module alone if memory runs out). */
static PyObject *call_what(ecpy_call *self)
{
	if (!self->what) {
		PyObject *et, *ev, *etb;
		PyErr_Fetch(&et, &ev, &etb);
		self->what = PyUnicode_FromFormat("%U.%U", self->mod, self->qual);
		PyErr_Restore(et, ev, etb);
	}
	return self->what ? self->what : self->mod;
}

/* Take the outcome of ec_call_wait (rc, res) into result / exc. */
static void call_settle(ecpy_call *self, int rc, ec_value *res, struct ec_error *err)
{
	if (rc == 0) {
		self->result = ecpy_from_value(res);
	} else if (rc == EC_EREMOTE && res && res->type == EC_T_ERROR) {
		self->exc = ecpy_remote_error(res, ec_context_name(self->ctx->ctx));
	} else {
		raise_error(err, 0);
	}
	if (!self->result && !self->exc) {
		PyObject *t, *v, *tb;
		PyErr_Fetch(&t, &v, &tb);
		PyErr_NormalizeException(&t, &v, &tb);
		if (tb)
			PyException_SetTraceback(v, tb);
		self->exc = v;
		Py_XDECREF(t);
		Py_XDECREF(tb);
	}
	ec_value_free(res);
	call_release(self);
}

struct call_wait {
	ecpy_call *self;
	ec_value *res;
};

static int call_wait_step(void *arg, int ms, struct ec_error *err)
{
	struct call_wait *w = arg;
	return ec_call_wait(w->self->call, ms, &w->res, err);
}

static PyObject *call_outcome(ecpy_call *self)
{
	if (self->exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(self->exc), self->exc);
		return NULL;
	}
	Py_INCREF(self->result);
	return self->result;
}

/* Wait for the call (ms: -1 none) and return its result or raise its error. */
static PyObject *call_result_ms(ecpy_call *self, long long ms)
{
	if (self->result || self->exc)
		return call_outcome(self);
	if (!self->call || !self->ctx->ctx || self->ctx->closing)
		return raise_code(EC_ECLOSED, PyUnicode_AsUTF8(self->ctx->name),
		                  "context '%U' was shut down before %U returned", self->ctx->name, call_what(self));
	if (ms && prog_refuses(self->ctx->ctx, self->ctx->name, "a wait for a call"))
		return NULL;
	struct ec_error err = {0};
	struct call_wait w = {self, NULL};
	self->busy++;
	CTX_HOLD(self->ctx);
	int rc = wait_loop(self->ctx->master->logq, ms, call_wait_step, &w, &err, ctx_closed, self->ctx);
	self->busy--;
	if (rc == 1) {
		/* interrupted (Ctrl-C): cancel it in its context, take the cancel's reply */
		PyObject *t, *v, *tb;
		PyErr_Fetch(&t, &v, &tb);
		ec_call_cancel(self->call);
		self->cancelled = 1;
		int rc2;
		Py_BEGIN_ALLOW_THREADS
		rc2 = ec_call_wait(self->call, 5000, &w.res, &err);
		Py_END_ALLOW_THREADS
		CTX_UNHOLD(self->ctx);
		if (rc2 != EC_ETIMEDOUT) {
			call_settle(self, rc2, w.res, &err);
			PyErr_Clear();
		}
		PyErr_Restore(t, v, tb);
		return NULL;
	}
	CTX_UNHOLD(self->ctx);
	if (rc == EC_ETIMEDOUT)
		return raise_code(EC_ETIMEDOUT, PyUnicode_AsUTF8(self->ctx->name),
		                  "context '%U': %U has not returned yet (waited %s s)",
		                  self->ctx->name, call_what(self), seconds_str(ms).s);
	call_settle(self, rc, w.res, &err);
	return call_outcome(self);
}

static PyObject *call_result_m(ecpy_call *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"timeout", NULL};
	PyObject *timeout = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:result", kwlist, &timeout))
		return NULL;
	long long ms = timeout_ms_of(timeout);
	if (ms == -2)
		return NULL;
	return call_result_ms(self, ms);
}

static PyObject *call_done_m(ecpy_call *self, PyObject *unused)
{
	if (self->result || self->exc)
		Py_RETURN_TRUE;
	if (!self->call)
		Py_RETURN_TRUE;
	if (self->ctx->closing)
		Py_RETURN_FALSE;
	struct ec_error err = {0};
	ec_value *res = NULL;
	int rc;
	CTX_HOLD(self->ctx);
	Py_BEGIN_ALLOW_THREADS
	rc = ec_call_wait(self->call, 1, &res, &err);
	Py_END_ALLOW_THREADS
	CTX_UNHOLD(self->ctx);
	if (rc == EC_ETIMEDOUT)
		Py_RETURN_FALSE;
	call_settle(self, rc, res, &err);
	PyErr_Clear();
	Py_RETURN_TRUE;
}

static PyObject *call_cancel_m(ecpy_call *self, PyObject *unused)
{
	if (!self->call || self->result || self->exc)
		Py_RETURN_FALSE;
	ec_call_cancel(self->call);
	self->cancelled = 1;
	Py_RETURN_TRUE;
}

static PyObject *call_exception_m(ecpy_call *self, PyObject *args, PyObject *kw)
{
	PyObject *r = call_result_m(self, args, kw);
	if (r) {
		Py_DECREF(r);
		Py_RETURN_NONE;
	}
	if (self->exc && PyErr_GivenExceptionMatches(PyErr_Occurred(), (PyObject *)Py_TYPE(self->exc))) {
		PyErr_Clear();
		Py_INCREF(self->exc);
		return self->exc;
	}
	return NULL;
}

/* A result or exception may refer back to its Call (a traceback's frame holding it). */
static int call_traverse(ecpy_call *self, visitproc visit, void *arg)
{
	Py_VISIT(self->ctx);
	Py_VISIT(self->result);
	Py_VISIT(self->exc);
	return 0;
}

static int call_clear(ecpy_call *self)
{
	Py_CLEAR(self->result);
	Py_CLEAR(self->exc);
	return 0;
}

static void call_dealloc(ecpy_call *self)
{
	PyObject_GC_UnTrack(self);
	call_release(self);
	Py_XDECREF(self->result);
	Py_XDECREF(self->exc);
	Py_XDECREF(self->what);
	Py_XDECREF(self->mod);
	Py_XDECREF(self->qual);
	Py_XDECREF(self->ctx);
	PyObject_GC_Del(self);
}

static PyMethodDef call_methods[] = {
	{"result", (PyCFunction)(void (*)(void))call_result_m, METH_VARARGS | METH_KEYWORDS,
	 "result(timeout=None) -> the call's result\n\nWait up to timeout seconds (None: no "
	 "deadline); raises its error, or econtext.TimeoutError leaving the call pending."},
	{"exception", (PyCFunction)(void (*)(void))call_exception_m, METH_VARARGS | METH_KEYWORDS,
	 "exception(timeout=None) -> the exception the call raised, or None."},
	{"done", (PyCFunction)call_done_m, METH_NOARGS, "done() -> True once the call has its outcome."},
	{"cancel", (PyCFunction)call_cancel_m, METH_NOARGS,
	 "cancel() -> bool\n\nCancel the call in its context (result() then raises CancelledError, "
	 "or gives the result if it came first). False if it had already finished."},
	{NULL, NULL, 0, NULL}};

static PyObject *call_what_get(ecpy_call *self, void *unused)
{
	PyObject *w = call_what(self);
	Py_INCREF(w);
	return w;
}

static PyObject *call_context_get(ecpy_call *self, void *unused)
{
	Py_INCREF(self->ctx);
	return (PyObject *)self->ctx;
}

static PyGetSetDef call_getset[] = {
	{"function", (getter)call_what_get, NULL, "'module.qualname' called.", NULL},
	{"context", (getter)call_context_get, NULL, "The Context it runs in.", NULL},
	{NULL, NULL, NULL, NULL, NULL}};

static PyObject *call_repr(ecpy_call *self)
{
	const char *state = self->exc ? "raised" : self->result ? "returned" : self->call ? "pending" : "dropped";
	return PyUnicode_FromFormat("<econtext.Call %U in %R: %s>", call_what(self), self->ctx->name, state);
}

static PyTypeObject call_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "econtext.Call",
	.tp_basicsize = sizeof(ecpy_call),
	.tp_dealloc = (destructor)call_dealloc,
	.tp_repr = (reprfunc)call_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_traverse = (traverseproc)call_traverse,
	.tp_clear = (inquiry)call_clear,
	.tp_doc = "A pending call (Context.call_async), future-like: result(timeout), exception(),\n"
	          "done(), cancel(); usable in econtext.select(). Dropping it cancels a call still\n"
	          "pending.",
	.tp_methods = call_methods,
	.tp_getset = call_getset,
};

/* ---- Channel --------------------------------------------------------------------------- */

static void channel_release(ecpy_channel *self)
{
	if (!self->ch)
		return;
	ec_channel *ch = self->ch;
	self->ch = NULL;
	LIST_DEL(self->ctx->channels, self);
	Py_BEGIN_ALLOW_THREADS
	ec_channel_free(ch);
	Py_END_ALLOW_THREADS
}

static int channel_ok(ecpy_channel *self)
{
	if (self->ch && !self->ctx->closing)
		return 1;
	raise_code(EC_ECLOSED, PyUnicode_AsUTF8(self->ctx->name),
	           "this channel of context '%U' was freed with its context", self->ctx->name);
	return 0;
}

struct chan_send {
	ecpy_channel *self;
	const ec_value *v;
};

static int chan_send_step(void *arg, int ms, struct ec_error *err)
{
	struct chan_send *s = arg;
	return ec_channel_send(s->self->ch, s->v, ms, err);
}

static PyObject *channel_send_m(ecpy_channel *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"value", "timeout", NULL};
	PyObject *val, *timeout = Py_None;
	if (!channel_ok(self) || !PyArg_ParseTupleAndKeywords(args, kw, "O|O:send", kwlist, &val, &timeout))
		return NULL;
	long long ms = timeout_ms_of(timeout);
	if (ms == -2)
		return NULL;
	ec_value *v = ecpy_to_value(val, 0);
	if (!v)
		return NULL;
	struct ec_error err = {0};
	struct chan_send s = {self, v};
	self->busy++;
	CTX_HOLD(self->ctx);
	int rc = wait_loop(self->ctx->master->logq, ms, chan_send_step, &s, &err, ctx_closed, self->ctx);
	CTX_UNHOLD(self->ctx);
	self->busy--;
	ec_value_free(v);
	if (rc == 1)
		return NULL;
	if (rc)
		return raise_error(&err, 0);
	Py_RETURN_NONE;
}

struct chan_recv {
	ecpy_channel *self;
	ec_value *v;
};

static int chan_recv_step(void *arg, int ms, struct ec_error *err)
{
	struct chan_recv *r = arg;
	return ec_channel_recv(r->self->ch, ms, &r->v, err);
}

/* The next value; NULL with econtext.EOFError / ClosedError at the end. */
static PyObject *channel_recv(ecpy_channel *self, long long ms)
{
	if (!channel_ok(self))
		return NULL;
	struct ec_error err = {0};
	struct chan_recv r = {self, NULL};
	self->busy++;
	CTX_HOLD(self->ctx);
	int rc = wait_loop(self->ctx->master->logq, ms, chan_recv_step, &r, &err, ctx_closed, self->ctx);
	CTX_UNHOLD(self->ctx);
	self->busy--;
	if (rc == 1)
		return NULL;
	if (rc == EC_ETIMEDOUT)
		return raise_code(EC_ETIMEDOUT, PyUnicode_AsUTF8(self->ctx->name),
		                  "nothing on the channel of context '%U' (waited %s s)", self->ctx->name,
		                  seconds_str(ms).s);
	/* nothing queued, from a transfer's progress callable (the library refuses the wait):
	 * said as the callable's other refusals are */
	if (rc == EC_EINVAL && self->ctx->ctx &&
	    prog_refuses(self->ctx->ctx, self->ctx->name, "a wait on a channel"))
		return NULL;
	if (rc) {
		if (rc == EC_EEOF || rc == EC_ECLOSED)
			self->ended = 1;
		return raise_error(&err, 0);
	}
	PyObject *o = ecpy_from_value(r.v);
	ec_value_free(r.v);
	return o;
}

static PyObject *channel_get_m(ecpy_channel *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"timeout", NULL};
	PyObject *timeout = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:get", kwlist, &timeout))
		return NULL;
	long long ms = timeout_ms_of(timeout);
	if (ms == -2)
		return NULL;
	return channel_recv(self, ms);
}

static PyObject *channel_next(ecpy_channel *self)
{
	PyObject *o = channel_recv(self, -1);
	if (!o && PyErr_ExceptionMatches(class_of(EC_EEOF, 0)))
		PyErr_Clear(); /* the end of the iteration */
	return o;
}

static PyObject *channel_close_m(ecpy_channel *self, PyObject *unused)
{
	if (!self->ch)
		Py_RETURN_NONE;
	struct ec_error err = {0};
	if (ec_channel_close(self->ch, &err))
		return raise_error(&err, 0);
	Py_RETURN_NONE;
}

static int channel_traverse(ecpy_channel *self, visitproc visit, void *arg)
{
	Py_VISIT(self->ctx);
	return 0;
}

static void channel_dealloc(ecpy_channel *self)
{
	PyObject_GC_UnTrack(self);
	channel_release(self);
	Py_XDECREF(self->ctx);
	PyObject_GC_Del(self);
}

static PyObject *channel_exit_m(ecpy_channel *self, PyObject *args)
{
	PyObject *r = channel_close_m(self, NULL);
	if (!r)
		return NULL;
	Py_DECREF(r);
	Py_RETURN_FALSE;
}

static PyMethodDef channel_methods[] = {
	{"send", (PyCFunction)(void (*)(void))channel_send_m, METH_VARARGS | METH_KEYWORDS,
	 "send(value, timeout=None)\n\nSend a value to the function (waits while the 4 MiB "
	 "window is full)."},
	{"get", (PyCFunction)(void (*)(void))channel_get_m, METH_VARARGS | METH_KEYWORDS,
	 "get(timeout=None) -> the next value the function sent\n\nRaises econtext.EOFError "
	 "once it closed the channel (or returned), ClosedError when the context is lost, "
	 "TimeoutError at the deadline."},
	{"close", (PyCFunction)channel_close_m, METH_NOARGS,
	 "close()\n\nNo more from here: the function's is_open() turns false. What it still "
	 "sends can be received."},
	{"__enter__", (PyCFunction)enter_m, METH_NOARGS, "Enter: the channel."},
	{"__exit__", (PyCFunction)channel_exit_m, METH_VARARGS, "Exit: close()."},
	{NULL, NULL, 0, NULL}};

static PyObject *channel_ended_get(ecpy_channel *self, void *unused)
{
	return PyBool_FromLong(self->ended || !self->ch);
}

static PyGetSetDef channel_getset[] = {
	{"ended", (getter)channel_ended_get, NULL, "True once the function's side ended.", NULL},
	{NULL, NULL, NULL, NULL, NULL}};

static PyObject *channel_repr(ecpy_channel *self)
{
	return PyUnicode_FromFormat("<econtext.Channel of %R%s>", self->ctx->name,
	                            self->ended || !self->ch ? " (ended)" : "");
}

PyTypeObject ecpy_channel_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "econtext.Channel",
	.tp_basicsize = sizeof(ecpy_channel),
	.tp_dealloc = (destructor)channel_dealloc,
	.tp_repr = (reprfunc)channel_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_traverse = (traverseproc)channel_traverse,
	.tp_doc = "A channel of a context (Context.channel()): pass it to a function as an\n"
	          "argument; iterate over what it sends (until it closes it or returns), send(),\n"
	          "get(timeout), close(). Usable in econtext.select().",
	.tp_methods = channel_methods,
	.tp_getset = channel_getset,
	.tp_iter = PyObject_SelfIter,
	.tp_iternext = (iternextfunc)channel_next,
};

/* ---- select -------------------------------------------------------------------------- */

struct sel_many {
	PyObject *fast; /* the items */
	ecpy_master *mo;
	ec_select *sel;
	void **tags;
	size_t max, n;
};

static int sel_many_step(void *arg, int ms, struct ec_error *err)
{
	struct sel_many *s = arg;
	return ec_select_wait(s->sel, ms, s->tags, s->max, &s->n, err);
}

/* The master and the contexts of select()'s items, held (d 1) or released (d -1). */
static void sel_hold(PyObject *fast, int d)
{
	my_holds += d;
	for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(fast); i++) {
		PyObject *o = PySequence_Fast_GET_ITEM(fast, i);
		if (IS_TYPE(o, &call_type))
			((ecpy_call *)o)->ctx->holds += d, ((ecpy_call *)o)->ctx->master->holds += d;
		else if (IS_TYPE(o, &ecpy_channel_type))
			((ecpy_channel *)o)->ctx->holds += d, ((ecpy_channel *)o)->ctx->master->holds += d;
		else
			((ecpy_connect *)o)->master->holds += d;
	}
}

static int sel_closed(void *arg, struct ec_error *err)
{
	struct sel_many *s = arg;
	if (s->mo->closing)
		return closed_err(err, "the master", NULL);
	for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(s->fast); i++) {
		PyObject *o = PySequence_Fast_GET_ITEM(s->fast, i);
		ecpy_context *c = IS_TYPE(o, &call_type) ? ((ecpy_call *)o)->ctx
		                : IS_TYPE(o, &ecpy_channel_type) ? ((ecpy_channel *)o)->ctx : NULL;
		if (c && c->closing)
			return closed_err(err, "the context", c->name);
	}
	return 0;
}

static PyObject *select_f(PyObject *module, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"items", "timeout", NULL};
	PyObject *items, *timeout = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:select", kwlist, &items, &timeout))
		return NULL;
	long long ms = timeout_ms_of(timeout);
	if (ms == -2)
		return NULL;
	PyObject *fast = PySequence_Fast(items, "select() takes an iterable of calls, channels and connects");
	if (!fast)
		return NULL;
	Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
	PyObject *ready = PyList_New(0);
	ecpy_master *mo = NULL;
	ec_select *sel = NULL;
	void **tags = NULL;
	struct ec_error err = {0};
	size_t added = 0;
	int held = 0;
	if (!ready)
		goto fail;
	/* what is already done is ready at once */
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *o = PySequence_Fast_GET_ITEM(fast, i);
		ecpy_master *m;
		int done;
		if (IS_TYPE(o, &call_type)) {
			ecpy_call *c = (ecpy_call *)o;
			done = c->result || c->exc || !c->call;
			m = c->ctx->master;
		} else if (IS_TYPE(o, &connect_type)) {
			ecpy_connect *c = (ecpy_connect *)o;
			done = c->result || c->exc || !c->c;
			m = c->master;
		} else if (IS_TYPE(o, &ecpy_channel_type)) {
			ecpy_channel *c = (ecpy_channel *)o;
			done = c->ended || !c->ch;
			m = c->ctx->master;
		} else {
			PyErr_Format(PyExc_TypeError, "select() takes calls, channels and connects, not %R", o);
			goto fail;
		}
		if (mo && m != mo) {
			PyErr_SetString(PyExc_ValueError, "select() over items of two masters");
			goto fail;
		}
		mo = m;
		if (done && PyList_Append(ready, o))
			goto fail;
	}
	if (PyList_GET_SIZE(ready) || !n)
		goto out;
	if (!master_ok(mo))
		goto fail;
	if (ec_select_new(mo->m, &sel, &err)) {
		raise_error(&err, 0);
		goto fail;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *o = PySequence_Fast_GET_ITEM(fast, i);
		void *tag = (void *)(intptr_t)(i + 1);
		int rc;
		if (IS_TYPE(o, &call_type))
			rc = ec_select_add_call(sel, ((ecpy_call *)o)->call, tag, &err);
		else if (IS_TYPE(o, &connect_type))
			rc = ec_select_add_connect(sel, ((ecpy_connect *)o)->c, tag, &err);
		else
			rc = ec_select_add_channel(sel, ((ecpy_channel *)o)->ch, tag, &err);
		if (rc) {
			raise_error(&err, 0);
			goto fail;
		}
		added++;
	}
	tags = PyMem_Calloc(added, sizeof *tags);
	if (!tags) {
		PyErr_NoMemory();
		goto fail;
	}
	struct sel_many s = {fast, mo, sel, tags, added, 0};
	sel_hold(fast, 1);
	held = 1;
	int rc = wait_loop(mo->logq, ms, sel_many_step, &s, &err, sel_closed, &s);
	if (rc == 1)
		goto fail;
	if (rc && rc != EC_ETIMEDOUT) {
		raise_error(&err, 0);
		goto fail;
	}
	for (size_t i = 0; i < s.n; i++) {
		PyObject *o = PySequence_Fast_GET_ITEM(fast, (Py_ssize_t)(intptr_t)tags[i] - 1);
		if (PyList_Append(ready, o))
			goto fail;
	}
out:
	ec_select_free(sel);
	if (held)
		sel_hold(fast, -1);
	PyMem_Free(tags);
	Py_DECREF(fast);
	return ready;
fail:
	ec_select_free(sel);
	if (held)
		sel_hold(fast, -1);
	PyMem_Free(tags);
	Py_DECREF(fast);
	Py_XDECREF(ready);
	return NULL;
}

/* ---- the module ----------------------------------------------------------------------- */

static PyObject *strerror_f(PyObject *module, PyObject *arg)
{
	long code = PyLong_AsLong(arg);
	if (code == -1 && PyErr_Occurred())
		return NULL;
	return PyUnicode_FromString(ec_strerror((int)code));
}

static PyMethodDef module_methods[] = {
	{"select", (PyCFunction)(void (*)(void))select_f, METH_VARARGS | METH_KEYWORDS,
	 "select(items, timeout=None) -> list\n\n"
	 "Wait until at least one of items (Calls, Channels, Connects of one master) is ready\n"
	 "(a call answered, failed or cancelled; a value on a channel or its end; a connect\n"
	 "up or failed) and return those ready; [] at the timeout (seconds). Items already\n"
	 "finished are returned at once."},
	{"strerror", (PyCFunction)strerror_f, METH_O, "strerror(code) -> the description of an EC_E* code."},
	{NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "econtext",
	.m_doc = "econtext: call Python functions in other interpreters (local, sudo, ssh),\n"
	         "a binding of libecontext (docs/python.md).\n\n"
	         "    with econtext.Master() as m, m.connect('local') as ctx:\n"
	         "        ctx.call(os.system, 'hostname; uptime')\n",
	.m_size = -1,
	.m_methods = module_methods,
};

/* Python names of the codes' classes, and builtin exceptions they are also. */
static const struct {
	const char *code, *name, *builtin;
	int connect;
} error_names[] = {
	{"EAGAIN", "AgainError", NULL, 0},         {"ENOMEM", "NoMemoryError", "MemoryError", 0},
	{"EINVAL", "InvalidError", "ValueError", 0}, {"ETIMEDOUT", "TimeoutError", "TimeoutError", 0},
	{"ECONFIG", "ConfigError", NULL, 0},       {"EPLUGIN", "PluginError", NULL, 0},
	{"EABI", "ABIError", NULL, 0},             {"EAUTH", "AuthError", NULL, 1},
	{"EPROTO", "ProtocolError", NULL, 0},      {"EMSGSIZE", "MessageSizeError", NULL, 0},
	{"ECLOSED", "ClosedError", NULL, 0},       {"ESYS", "SysError", NULL, 0},
	{"ECODEC", "CodecError", "TypeError", 0},  {"EREMOTE", "RemoteError", NULL, 0},
	{"EBOOT", "BootError", NULL, 1},           {"ENOTFOUND", "NotFoundError", "LookupError", 0},
	{"ESHUTDOWN", "ShutdownError", NULL, 0},   {"ECANCELED", "CancelledError", NULL, 0},
	{"EEOF", "EOFError", "EOFError", 0},
};

static int add_errors(PyObject *m)
{
	Error = PyErr_NewExceptionWithDoc(
		"econtext.Error",
		"The library's errors: code (EC_E*, negative), name ('ETIMEDOUT'), where (the file:line:col,\n"
		"context or host concerned), message, sys_errno. Subclasses are named after the codes.",
		NULL, NULL);
	if (!Error || add_ref(m, "Error", Error))
		return -1;
	ConnectError = PyErr_NewExceptionWithDoc("econtext.ConnectError",
	                                         "A context could not be connected (any code).", Error, NULL);
	if (!ConnectError || add_ref(m, "ConnectError", ConnectError))
		return -1;
	PyObject *builtins = PyEval_GetBuiltins();
#define EC__PY_CODE(name, val, desc) {#name, val, desc},
	static const struct {
		const char *name;
		int code;
		const char *desc;
	} codes[] = {EC_ERRNO_MAP(EC__PY_CODE)};
#undef EC__PY_CODE
	for (size_t i = 0; i < sizeof codes / sizeof codes[0] && ncode_classes < EC_PY_NCODES; i++) {
		const char *pyname = NULL, *builtin = NULL;
		int conn = 0;
		for (size_t j = 0; j < sizeof error_names / sizeof error_names[0]; j++)
			if (strcmp(error_names[j].code, codes[i].name) == 0) {
				pyname = error_names[j].name;
				builtin = error_names[j].builtin;
				conn = error_names[j].connect;
			}
		if (!pyname)
			continue;
		char qual[96], doc[160];
		snprintf(qual, sizeof qual, "econtext.%s", pyname);
		snprintf(doc, sizeof doc, "EC_%s: %s.", codes[i].name, codes[i].desc);
		PyObject *bases = builtin ? PyTuple_Pack(2, conn ? ConnectError : Error,
		                                         PyDict_GetItemString(builtins, builtin))
		                          : PyTuple_Pack(1, conn ? ConnectError : Error);
		PyObject *cls = bases ? PyErr_NewExceptionWithDoc(qual, doc, bases, NULL) : NULL;
		Py_XDECREF(bases);
		if (!cls || add_ref(m, pyname, cls))
			return -1;
		PyObject *ccls = cls;
		if (!conn) {
			/* the same error when connecting: also a ConnectError */
			bases = PyTuple_Pack(2, cls, ConnectError);
			ccls = bases ? PyErr_NewExceptionWithDoc(qual, doc, bases, NULL) : NULL;
			Py_XDECREF(bases);
			if (!ccls)
				return -1;
		} else {
			Py_INCREF(ccls);
		}
		code_classes[ncode_classes].code = codes[i].code;
		code_classes[ncode_classes].cls = cls;
		code_classes[ncode_classes].connect_cls = ccls;
		ncode_classes++;
		if (codes[i].code == EC_EREMOTE)
			RemoteErrorCls = cls;
		PyObject *c = PyLong_FromLong(codes[i].code);
		if (!c || PyModule_AddObject(m, codes[i].name, c)) {
			Py_XDECREF(c);
			return -1;
		}
	}
	return RemoteErrorCls ? 0 : -1;
}

PyMODINIT_FUNC PyInit_econtext(void)
{
	PyObject *m = PyModule_Create(&module_def);
	if (!m)
		return NULL;
	PyTypeObject *types[] = {&master_type, &context_type, &call_type, &connect_type, &ecpy_channel_type};
	const char *names[] = {"Master", "Context", "Call", "Connect", "Channel"};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (PyType_Ready(types[i]) < 0 || add_ref(m, names[i], (PyObject *)types[i]))
			goto fail;
	if (add_errors(m) || PyModule_AddStringConstant(m, "__version__", ec_version()) ||
	    PyModule_AddStringConstant(m, "SCRIPT_MODULE", "__econtext_script__"))
		goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
