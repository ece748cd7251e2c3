/* master.h: the master's state, which its contexts and calls share: config, plugins,
 * logger, codec, the loop, the module server, the secrets, every context. Created and
 * freed by core/master.c. */
#ifndef EC_CORE_MASTER_H
#define EC_CORE_MASTER_H

#include <pthread.h>
#include <stddef.h>

#include "config.h"
#include "host.h"
#include "log.h"
#include "plugin.h"
#include "secret.h"

struct ec_broker;
struct ec_modsrv;

struct ec_master {
	/* One lock guards every piece of state shared by the broker and the application
	 * threads: contexts' queues, pending calls, states. Held only briefly. */
	pthread_mutex_t lock;
	struct ec_logger logger;
	struct ec__host host;
	struct ec_config *config;
	struct ec_plugins plugins;
	/* The default codec (the top-level `codec`); a context's own `codec` key names
	 * another (struct ec_context's codec). */
	const struct ec_loaded_plugin *codec;
	struct ec_broker *broker;
	struct ec_modsrv *modules; /* the module server: config module_path, then options */
	unsigned next_context_id;
	size_t max_message;
	/* How long a thread waiting for a reply polls for it before it sleeps (config
	 * call_spin_us; 0 where the process may run on one CPU only). */
	int call_spin_us;
	unsigned in_flight; /* calls registered with their contexts (under lock; read atomic) */
	/* Microseconds from queueing to reply of the last call answered (atomic): a wait
	 * after one that outlasted call_spin_us does not spin. */
	int last_reply_us;
	struct ec_context *contexts; /* every handle not yet freed, under lock */
	struct ec__secrets secrets;  /* passwords asked of the application, under lock */
	/* Bytecode cache entries a context is filling now (their names), under lock: of
	 * many contexts of one binary booting at once, one compiles for the cache. */
	struct ec_cache_fill *cache_fills;
	/* The core's bytecode as contexts of one name (and overrides) compiled it, where
	 * the disk cache is not theirs (ssh, sudo via ssh), under lock; freed with the
	 * master (core/codeshare.h). */
	struct ec_code_share *code_shares;
	/* Each codec's context side as the boot carries it (ec__payload_codec_pack), by
	 * the codec's name, made on first use, under lock; freed with the master. */
	struct ec_code_share *codec_srcs;
};

/* A codec plugin's ops. */
static inline const struct ec_codec_ops *ec__codec_ops(const struct ec_loaded_plugin *codec)
{
	return (const struct ec_codec_ops *)codec->desc->ops;
}

/* Decode the len bytes at buf->data + off, which the codec may keep as the value's
 * memory (decode_buf, ABI 2.0; buf is then emptied) or only read (decode). */
static inline int ec__codec_decode_taken(const struct ec_loaded_plugin *codec, struct ec_buf *buf,
                                         size_t off, size_t len, ec_value **out,
                                         struct ec_error *err)
{
	const struct ec_codec_ops *ops = ec__codec_ops(codec);
	if (ops->size >= offsetof(struct ec_codec_ops, decode_buf) + sizeof(ops->decode_buf) &&
	    ops->decode_buf)
		return ops->decode_buf(codec->state, buf, off, len, out, err);
	return ops->decode(codec->state, buf->data ? buf->data + off : NULL, len, out, err);
}

#endif
