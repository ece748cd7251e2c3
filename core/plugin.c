/* plugin.c: the plugin loader. Every failure gives one line that names the plugin and
 * the file: not found (with the path searched), not loadable (dlerror), not an econtext
 * plugin (no entry symbol), built for another ABI, wrong kind, an ops table of the wrong
 * size or without a mandatory op, or load() failed. Each loaded plugin gets its own
 * host table. */
#include "ecbuild.h"

#include <dlfcn.h>
#include <glob.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "econtext/codec.h"
#include "econtext/transport.h"
#include "error.h"
#include "plugin.h"

static const char *kind_name(enum ec_plugin_kind k)
{
	return k == EC_PLUGIN_TRANSPORT ? "transport" : k == EC_PLUGIN_CODEC ? "codec" : "unknown";
}

static int push_dir(char ***dirs, size_t *n, const char *d)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*dirs)[i], d) == 0)
			return 0;
	char **nd = realloc(*dirs, (*n + 2) * sizeof(char *));
	if (!nd)
		return EC_ENOMEM;
	*dirs = nd;
	if (!(nd[*n] = strdup(d)))
		return EC_ENOMEM;
	nd[++*n] = NULL;
	return 0;
}

/* When this code runs from its build tree (uninstalled library or a test linked with
 * the core), look first at the freshly built plugins there. */
static int running_from_builddir(void)
{
	Dl_info info;
	if (!dladdr((void *)running_from_builddir, &info) || !info.dli_fname)
		return 0;
	char self[4096];
	const char *path = info.dli_fname;
	if (path[0] != '/') { /* the main program: dladdr gives argv[0] */
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return 0;
		self[n] = '\0';
		path = self;
	}
	size_t bl = strlen(EC_BUILDDIR);
	return strncmp(path, EC_BUILDDIR, bl) == 0 && path[bl] == '/';
}

int ec__plugins_init(struct ec_plugins *ps, const char *const *dirs, const struct ec_host *host,
                     ec_host_for_fn host_for, struct ec_error *err)
{
	memset(ps, 0, sizeof(*ps));
	ps->host = host;
	ps->host_for = host_for;
	size_t n = 0;
	int rc = 0;
	for (size_t i = 0; dirs && dirs[i] && !rc; i++)
		rc = push_dir(&ps->dirs, &n, dirs[i]);
	if (!rc && running_from_builddir()) {
		glob_t g;
		if (glob(EC_BUILDDIR "/plugins/*/.libs", GLOB_ONLYDIR, NULL, &g) == 0) {
			for (size_t i = 0; i < g.gl_pathc && !rc; i++)
				rc = push_dir(&ps->dirs, &n, g.gl_pathv[i]);
			globfree(&g);
		}
	}
	if (!rc)
		rc = push_dir(&ps->dirs, &n, EC_PLUGINDIR);
	if (rc) {
		ec__plugins_close(ps);
		return ec__error_set(err, EC_ENOMEM, NULL, "out of memory building the plugin path");
	}
	return 0;
}

const char *ec__plugins_path_string(const struct ec_plugins *ps, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; ps->dirs && ps->dirs[i] && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i ? ":" : "", ps->dirs[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	return buf;
}

/* Where each minor version's members end in an ops table, per kind: entry N is the
 * least size of a table built for ABI major.N. A new minor appends an entry. */
#define END(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
static const size_t transport_ends[] = {
	END(struct ec_transport_ops, carry),      /* 2.0 */
	END(struct ec_transport_ops, local_address), /* 2.1 */
	END(struct ec_transport_ops, remote_source), /* 2.2 */
};
static const size_t codec_ends[] = {
	END(struct ec_codec_ops, decode_buf),    /* 2.0 */
	END(struct ec_codec_ops, remote_source), /* 2.1 */
	END(struct ec_codec_ops, remote_source), /* 2.2: nothing appended */
};
_Static_assert(sizeof(transport_ends) / sizeof(transport_ends[0]) == EC_PLUGIN_ABI_MINOR + 1,
               "transport_ends: one entry per minor version of the ABI");
_Static_assert(sizeof(codec_ends) / sizeof(codec_ends[0]) == EC_PLUGIN_ABI_MINOR + 1,
               "codec_ends: one entry per minor version of the ABI");

/* The first mandatory member of d's ops table that is NULL, or NULL. */
static const char *missing_op(const struct ec_plugin *d)
{
	if (d->kind == EC_PLUGIN_TRANSPORT) {
		const struct ec_transport_ops *o = d->ops;
		return !o->create    ? "create"
		       : !o->start   ? "start"
		       : !o->send    ? "send"
		       : !o->recv    ? "recv"
		       : !o->pollset ? "pollset"
		       : !o->close   ? "close"
		       : !o->destroy ? "destroy"
		                     : NULL;
	}
	const struct ec_codec_ops *o = d->ops;
	/* remote_source from 2.1: a 2.0 codec's context side was payload/'s pickle. */
	int has_source = o->size >= END(struct ec_codec_ops, remote_source) && o->remote_source;
	return !o->encode        ? "encode"
	       : !o->decode      ? "decode"
	       : !o->remote_name ? "remote_name"
	       : !has_source     ? "remote_source (plugin ABI 2.1: the codec's context side)"
	                         : NULL;
}

/* The ops table of a descriptor of the right kind: its size covers every member of the
 * plugin's minor version and no more than this core knows (a larger one was built
 * against other headers), and its mandatory members are set. */
static int check_ops(const struct ec_plugin *d, const char *path, const char *name,
                     struct ec_error *err)
{
	size_t size = *(const size_t *)d->ops;
	int transport = d->kind == EC_PLUGIN_TRANSPORT;
	size_t least = transport ? transport_ends[d->abi_minor] : codec_ends[d->abi_minor];
	size_t most = transport ? sizeof(struct ec_transport_ops) : sizeof(struct ec_codec_ops);
	if (size < least)
		return ec__error_set(err, EC_EABI, path,
		                     "plugin '%s' has a %s ops table of %zu bytes, too small for "
		                     "plugin ABI %u.%u (%zu bytes): rebuild the plugin",
		                     name, kind_name(d->kind), size, d->abi_major, d->abi_minor, least);
	if (size > most)
		return ec__error_set(err, EC_EABI, path,
		                     "plugin '%s' has a %s ops table of %zu bytes, larger than this "
		                     "econtext's (%zu bytes for ABI %d.%d): rebuild the plugin "
		                     "against its headers",
		                     name, kind_name(d->kind), size, most, EC_PLUGIN_ABI_MAJOR,
		                     EC_PLUGIN_ABI_MINOR);
	const char *op = missing_op(d);
	if (op)
		return ec__error_set(err, EC_EPLUGIN, path,
		                     "plugin '%s' lacks '%s', which every %s plugin must have", name,
		                     op, kind_name(d->kind));
	return 0;
}

static int check_descriptor(const struct ec_plugin *d, const char *path, const char *name,
                            enum ec_plugin_kind kind, struct ec_error *err)
{
	/* Read the three fixed fields first: they are all we can trust of another ABI. */
	if (d->abi_major != EC_PLUGIN_ABI_MAJOR || d->abi_minor > EC_PLUGIN_ABI_MINOR)
		return ec__error_set(err, EC_EABI, path,
		                     "plugin '%s' was built for plugin ABI %u.%u, but this econtext "
		                     "(%s) supports ABI %d.0 to %d.%d: rebuild the plugin against it",
		                     name, d->abi_major, d->abi_minor, EC_VERSION_STRING,
		                     EC_PLUGIN_ABI_MAJOR, EC_PLUGIN_ABI_MAJOR, EC_PLUGIN_ABI_MINOR);
	if (d->size < offsetof(struct ec_plugin, ops) + sizeof(d->ops))
		return ec__error_set(err, EC_EABI, path,
		                     "plugin '%s' has a descriptor of %u bytes, too small for ABI %u.%u",
		                     name, d->size, d->abi_major, d->abi_minor);
	if (!d->name || strcmp(d->name, name) != 0)
		return ec__error_set(err, EC_EPLUGIN, path,
		                     "plugin file for '%s' describes itself as '%s'", name,
		                     d->name ? d->name : "(null)");
	if (d->kind != kind)
		return ec__error_set(err, EC_EPLUGIN, path,
		                     "plugin '%s' is a %s plugin, not a %s plugin", name,
		                     kind_name(d->kind), kind_name(kind));
	if (!d->ops)
		return ec__error_set(err, EC_EPLUGIN, path, "plugin '%s' has no operations", name);
	return check_ops(d, path, name, err);
}

int ec__plugins_load_file(struct ec_plugins *ps, const char *path, const char *name,
                          enum ec_plugin_kind kind, const struct ec_loaded_plugin **out,
                          struct ec_error *err)
{
	/* RTLD_NODELETE: dlclose never unmaps a plugin's code, for a thread it started may
	 * still be running it (ssh's detached name lookup, finishing after the master that
	 * started it was freed). */
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!dl)
		return ec__error_set(err, EC_EPLUGIN, path, "cannot load %s plugin '%s': %s",
		                     kind_name(kind), name, dlerror());
	char sym[128];
	snprintf(sym, sizeof(sym), "ec_plugin_%s_describe", name);
	const struct ec_plugin *(*describe)(void);
	*(void **)&describe = dlsym(dl, sym);
	if (!describe) {
		dlclose(dl);
		return ec__error_set(err, EC_EPLUGIN, path,
		                     "not an econtext plugin: it does not export %s", sym);
	}
	const struct ec_plugin *d = describe();
	int rc = d ? check_descriptor(d, path, name, kind, err)
	           : ec__error_set(err, EC_EPLUGIN, path, "%s returned no descriptor", sym);
	if (rc) {
		dlclose(dl);
		return rc;
	}
	struct ec_loaded_plugin *lp = calloc(1, sizeof(*lp));
	if (!lp || !(lp->path = strdup(path))) {
		free(lp);
		dlclose(dl);
		return ec__error_set(err, EC_ENOMEM, path, "out of memory");
	}
	lp->desc = d;
	lp->dl = dl;
	struct ec_host *own = ps->host_for ? ps->host_for(ps->host, name) : NULL;
	if (ps->host_for && !own) {
		free(lp->path);
		free(lp);
		dlclose(dl);
		return ec__error_set(err, EC_ENOMEM, path, "out of memory");
	}
	lp->host = own ? own : ps->host;
	if (d->load) {
		struct ec_error perr = {0};
		rc = d->load(lp->host, &lp->state, &perr);
		if (rc) {
			free(own);
			free(lp->path);
			free(lp);
			dlclose(dl);
			/* Out of memory is the machine's state, not the plugin's fault. */
			if (rc == EC_ENOMEM)
				return ec__error_set(err, EC_ENOMEM, path,
				                     "out of memory initialising %s plugin '%s': %s",
				                     kind_name(kind), name,
				                     perr.msg[0] ? perr.msg : ec_strerror(rc));
			return ec__error_set(err, EC_EPLUGIN, path,
			                     "%s plugin '%s' failed to initialise: %s", kind_name(kind),
			                     name, perr.msg[0] ? perr.msg : ec_strerror(rc));
		}
	}
	lp->next = ps->loaded;
	ps->loaded = lp;
	*out = lp;
	return 0;
}

static int valid_name(const char *name)
{
	if (!*name || strlen(name) > 64)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return 1;
}

int ec__plugins_get(struct ec_plugins *ps, const char *name, enum ec_plugin_kind kind,
                    const struct ec_loaded_plugin **out, struct ec_error *err)
{
	for (struct ec_loaded_plugin *lp = ps->loaded; lp; lp = lp->next) {
		if (strcmp(lp->desc->name, name) == 0) {
			if (lp->desc->kind != kind)
				return ec__error_set(err, EC_EPLUGIN, lp->path,
				                     "plugin '%s' is a %s plugin, not a %s plugin", name,
				                     kind_name(lp->desc->kind), kind_name(kind));
			*out = lp;
			return 0;
		}
	}
	if (!valid_name(name))
		return ec__error_set(err, EC_EPLUGIN, NULL,
		                     "invalid %s plugin name '%s' (lowercase letters, digits, _)",
		                     kind_name(kind), name);
	for (size_t i = 0; ps->dirs[i]; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s.so", ps->dirs[i], name);
		if (access(path, F_OK) == 0)
			return ec__plugins_load_file(ps, path, name, kind, out, err);
	}
	char dirs[1024];
	return ec__error_set(err, EC_EPLUGIN, NULL,
	                     "unknown %s '%s': no plugin %s.so in %s", kind_name(kind), name, name,
	                     ec__plugins_path_string(ps, dirs, sizeof(dirs)));
}

void ec__plugins_close(struct ec_plugins *ps)
{
	struct ec_loaded_plugin *lp = ps->loaded;
	while (lp) {
		struct ec_loaded_plugin *next = lp->next;
		if (lp->desc->unload)
			lp->desc->unload(lp->state);
		dlclose(lp->dl);
		if (lp->host != ps->host)
			free((void *)lp->host);
		free(lp->path);
		free(lp);
		lp = next;
	}
	ps->loaded = NULL;
	for (size_t i = 0; ps->dirs && ps->dirs[i]; i++)
		free(ps->dirs[i]);
	free(ps->dirs);
	ps->dirs = NULL;
}
