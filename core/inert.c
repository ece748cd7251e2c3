/* inert.c: text from a context made inert for a terminal (inert.h). */
#include "ecbuild.h"

#include "inert.h"

void ec__fputs_inert(const char *s, FILE *f)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			putc_unlocked(*p, f);
}
