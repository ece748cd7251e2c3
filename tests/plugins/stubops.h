/* stubops.h: ops that do nothing, for the test plugins that must get past the loader's
 * checks of their ops tables (or fail one of them on purpose). static inline: each
 * plugin uses the ones it needs. */
#ifndef EC_TEST_STUBOPS_H
#define EC_TEST_STUBOPS_H

#include "econtext/codec.h"
#include "econtext/transport.h"

static inline int stub_create(void *state, const struct ec_cfg *cfg,
                              const struct ec_transport_info *info, void **inst,
                              struct ec_error *err)
{
	(void)cfg, (void)info, (void)err;
	*inst = state;
	return 0;
}

static inline int stub_start(void *inst, const struct ec_argv *argv, struct ec_pollset *ps,
                             struct ec_error *err)
{
	(void)inst, (void)argv, (void)ps, (void)err;
	return EC_EBOOT;
}

static inline ssize_t stub_send(void *inst, const void *buf, size_t len, struct ec_pollset *ps,
                                struct ec_error *err)
{
	(void)inst, (void)buf, (void)len, (void)ps, (void)err;
	return EC_ECLOSED;
}

static inline ssize_t stub_recv(void *inst, void *buf, size_t len, struct ec_pollset *ps,
                                struct ec_error *err)
{
	(void)inst, (void)buf, (void)len, (void)ps, (void)err;
	return 0;
}

static inline void stub_pollset(void *inst, int want, struct ec_pollset *ps)
{
	(void)inst, (void)want, (void)ps;
}

static inline void stub_close(void *inst, int grace_ms)
{
	(void)inst, (void)grace_ms;
}

static inline void stub_destroy(void *inst)
{
	(void)inst;
}

static inline int stub_encode(void *state, const struct ec_codec_peer *peer, const ec_value *v,
                              struct ec_buf *out, struct ec_error *err)
{
	(void)state, (void)peer, (void)v, (void)out, (void)err;
	return EC_ECODEC;
}

static inline int stub_decode(void *state, const void *data, size_t len, ec_value **out,
                              struct ec_error *err)
{
	(void)state, (void)data, (void)len, (void)out, (void)err;
	return EC_ECODEC;
}

#endif
