/* econtext/errors.h: the one table of error codes, and the caller-owned error struct.
 *
 * Every fallible function returns 0 or a negative EC_E* code and, when given a
 * struct ec_error, fills it with a sentence naming the file, host or context concerned.
 * Nothing is allocated on the error path. */
#ifndef ECONTEXT_ERRORS_H
#define ECONTEXT_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

/* XX(NAME, value, description). Values never change once released. */
#define EC_ERRNO_MAP(XX)                                                   \
	XX(EAGAIN, -11, "operation would block")                           \
	XX(ENOMEM, -12, "out of memory")                                   \
	XX(EINVAL, -22, "invalid argument")                                \
	XX(ETIMEDOUT, -110, "deadline expired")                            \
	XX(ECONFIG, -1001, "invalid configuration")                        \
	XX(EPLUGIN, -1002, "plugin could not be loaded")                   \
	XX(EABI, -1003, "plugin ABI mismatch")                             \
	XX(EAUTH, -1004, "authentication failed")                          \
	XX(EPROTO, -1005, "corrupt or forged frame")                       \
	XX(EMSGSIZE, -1006, "message too large")                           \
	XX(ECLOSED, -1007, "context disconnected")                         \
	XX(ESYS, -1008, "system call failed")                              \
	XX(ECODEC, -1009, "value cannot be encoded or decoded")            \
	XX(EREMOTE, -1010, "remote exception")                             \
	XX(EBOOT, -1011, "bootstrap failed")                               \
	XX(ENOTFOUND, -1012, "not found")                                  \
	XX(ESHUTDOWN, -1013, "shutting down")                              \
	XX(ECANCELED, -1014, "call cancelled")                             \
	XX(EEOF, -1015, "end of channel")

enum ec_errno {
	EC_OK = 0,
#define EC__ERR_ENUM(name, val, desc) EC_##name = (val),
	EC_ERRNO_MAP(EC__ERR_ENUM)
#undef EC__ERR_ENUM
};

/* Caller-owned; usually lives on the caller's stack. */
struct ec_error {
	int code;          /* 0 or a negative EC_E* */
	int sys_errno;     /* errno saved at the failing system call, else 0 */
	char where[128];   /* "conf/x.yaml:12:5", "context web1", "plugin ssh" */
	char msg[512];     /* a whole sentence for a human; never a secret */
};

#ifdef __cplusplus
}
#endif
#endif
