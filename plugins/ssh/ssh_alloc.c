/* ssh_alloc.c: libssh2's allocator for a session. Each block carries a header that
 * links it into its session's list, so that what libssh2 1.10 loses on its
 * out-of-memory paths (a realloc's old block, a half-built packet) is freed with the
 * session rather than leaked for the master's life; a refusal is noted (lib_nomem)
 * for the error that follows, whose libssh2 message says what failed, not why. The
 * copies of the password given as keyboard-interactive answers are wiped before they
 * are freed (libssh2 frees them here, not knowing what they hold). */
#include "ecbuild.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ssh_int.h"

struct lib_block {
	union {
		struct {
			struct lib_block *prev, *next;
		} l;
		max_align_t align; /* what follows is aligned as malloc's */
	} u;
};

static void link_in(struct sess *s, struct lib_block *b)
{
	b->u.l.prev = NULL;
	b->u.l.next = s->lib_blocks;
	if (s->lib_blocks)
		s->lib_blocks->u.l.prev = b;
	s->lib_blocks = b;
}

static void unlink_out(struct sess *s, struct lib_block *b)
{
	if (b->u.l.prev)
		b->u.l.prev->u.l.next = b->u.l.next;
	else
		s->lib_blocks = b->u.l.next;
	if (b->u.l.next)
		b->u.l.next->u.l.prev = b->u.l.prev;
}

static void *block_alloc(struct sess *s, size_t count)
{
	struct lib_block *b = count <= SIZE_MAX - sizeof(*b) ? malloc(sizeof(*b) + count) : NULL;
	if (!b) {
		s->lib_nomem = 1;
		return NULL;
	}
	link_in(s, b);
	return b + 1;
}

LIBSSH2_ALLOC_FUNC(ssh__alloc)
{
	return block_alloc(*abstract, count);
}

LIBSSH2_REALLOC_FUNC(ssh__realloc)
{
	struct sess *s = *abstract;
	if (!ptr)
		return block_alloc(s, count);
	struct lib_block *b = (struct lib_block *)ptr - 1;
	unlink_out(s, b);
	struct lib_block *nb = count <= SIZE_MAX - sizeof(*b) ? realloc(b, sizeof(*b) + count) : NULL;
	if (!nb) {
		link_in(s, b); /* still libssh2's: it frees it, or the session does */
		s->lib_nomem = 1;
		return NULL;
	}
	link_in(s, nb);
	return nb + 1;
}

LIBSSH2_FREE_FUNC(ssh__free)
{
	struct sess *s = *abstract;
	if (!ptr)
		return;
	size_t slots = sizeof(s->kbd_answer) / sizeof(s->kbd_answer[0]);
	for (size_t i = 0; i < slots; i++) {
		if (s->kbd_answer[i] == ptr) {
			explicit_bzero(ptr, strlen(ptr));
			s->kbd_answer[i] = NULL;
		}
	}
	struct lib_block *b = (struct lib_block *)ptr - 1;
	unlink_out(s, b);
	free(b);
}

char *ssh__lib_strdup(struct sess *s, const char *str)
{
	size_t n = strlen(str) + 1;
	char *p = block_alloc(s, n);
	if (p)
		memcpy(p, str, n);
	return p;
}

size_t ssh__lib_blocks_free(struct sess *s)
{
	size_t n = 0;
	while (s->lib_blocks) {
		struct lib_block *b = s->lib_blocks;
		s->lib_blocks = b->u.l.next;
		free(b);
		n++;
	}
	return n;
}
