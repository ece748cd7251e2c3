/* groups.h: the configuration's `groups:` key, names for lists of contexts, and a
 * command line's TARGET (names, groups and globs, comma-separated) expanded into the
 * context names it stands for. A group's members are context names, other groups and
 * globs (fnmatch) over the context names the file defines; a file whose groups name an
 * unknown member, match nothing or contain themselves is refused at its file:line:col. */
#ifndef EC_CORE_GROUPS_H
#define EC_CORE_GROUPS_H

#include "yamltree.h"

struct ec_groups;

/* Read the value of `groups:`: a mapping of group name to a list of members (or a single
 * one). Only the shape is checked here; members are resolved by ec__groups_check once
 * every context is known. *out is NULL for an empty value. */
int ec__groups_load(const struct ec_yaml_src *src, const struct ec_yaml_node *v,
                    struct ec_groups **out);
/* Resolve every member against the contexts: names (NULL-terminated) are every context,
 * the first nglob of them those a glob may match (the file's own; not the built-in
 * `local`). Refuses a group named like a context, an unknown member, a glob matching
 * nothing and a group that contains itself, each at its place in src. g may be NULL. */
int ec__groups_check(struct ec_groups *g, const struct ec_yaml_src *src,
                     const char *const *names, size_t nglob);
/* The context names target stands for, in order, each once: *out is a malloc'd
 * NULL-terminated array of pointers into names (free the array only). target is one
 * context name, or a comma-separated list of context names, groups and globs. An item
 * that is none of these, or a glob matching no context, is EC_ENOTFOUND at source (the
 * configuration file's name). g may be NULL (no groups). */
int ec__groups_expand(const struct ec_groups *g, const char *const *names, size_t nglob,
                      const char *source, const char *target, const char ***out,
                      struct ec_error *err);
void ec__groups_free(struct ec_groups *g);

#endif
