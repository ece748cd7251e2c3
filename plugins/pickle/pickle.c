/* pickle.c: the pickle codec plugin: its descriptor, its state and its ops table.
 *
 * The codec is strict pickle: the encoder (pickle_enc.c) writes one protocol 2 dialect
 * that every Python reads; the decoder (pickle_dec.c, the machine; pickle_ops.c, the
 * loop and the opcode handlers; pickle_scalars.c, pickle_globals.c and pickle_keys.c)
 * validates protocols 0 to 5 restricted to plain data. pickle_int.h is what they share.
 *
 * The plugin reaches the core only through the host table and keeps no mutable global
 * state: ops may run concurrently on several threads. */
#include "ecbuild.h"

#include <locale.h>
#include <stddef.h>
#include <stdlib.h>

#include "pickle_int.h"

static int pk_load(const struct ec_host *host, void **state, struct ec_error *err)
{
	if (!host || host->size < offsetof(struct ec_host, value_free) + sizeof(host->value_free))
		return EC_EABI;
	struct pk_state *st = calloc(1, sizeof(*st));
	if (!st)
		return host->error_set(err, EC_ENOMEM, PK_WHERE, "pickle: out of memory");
	st->host = host;
	st->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (!st->c_locale) {
		free(st);
		return host->error_set(err, EC_ENOMEM, PK_WHERE, "pickle: cannot create the C locale");
	}
	*state = st;
	return 0;
}

static void pk_unload(void *state)
{
	struct pk_state *st = state;
	if (!st)
		return;
	freelocale(st->c_locale);
	free(st);
}

static const struct ec_codec_ops pickle_ops = {
	.size = sizeof(struct ec_codec_ops),
	.encode = pk__encode,
	.decode = pk__decode,
	.remote_name = "pickle",
	.decode_buf = pk__decode_buf,
	.remote_source = pk__remote_source, /* plugins/pickle/pickle_remote.py */
};

EC_PLUGIN_DEFINE(pickle, .version = "0.1.0", .kind = EC_PLUGIN_CODEC, .load = pk_load,
                 .unload = pk_unload, .ops = &pickle_ops)
