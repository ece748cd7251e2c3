/* pyecontext.h: what the parts of the Python module share (python/econtext.c, the
 * objects and waits; python/econtext_values.c, values to and from Python). */
#ifndef EC_PYECONTEXT_H
#define EC_PYECONTEXT_H

#include <econtext.h>

typedef struct ecpy_channel ecpy_channel;
typedef struct ecpy_context ecpy_context;

struct ecpy_channel {
	PyObject_HEAD
	ec_channel *ch;
	ecpy_context *ctx;
	ecpy_channel *prev, *next; /* the context's channels */
	int busy;                  /* threads waiting on it with the GIL released */
	int ended;
};

extern PyTypeObject ecpy_channel_type;

/* A Python object as a value tree (NULL with an exception: econtext.CodecError for what
 * cannot cross). depth: 0 at the top. */
ec_value *ecpy_to_value(PyObject *o, int depth);
/* A value tree as a Python object; NULL with an exception. */
PyObject *ecpy_from_value(const ec_value *v);
/* econtext.CodecError, borrowed. */
PyObject *ecpy_codec_error(void);
/* An econtext.RemoteError (a subclass of the remote builtin exception's class when
 * there is one) for an EC_T_ERROR value, new reference; where: the context or NULL. */
PyObject *ecpy_remote_error(const ec_value *v, const char *where);

#endif
