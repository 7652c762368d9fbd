/* groqkey.c — Groq's key format (see groq.h). */
#include "groq.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>

bool groq_key_valid(const char *s)
{
	if (!s || strncmp(s, "gsk_", 4) != 0)
		return false;
	size_t n = 0;
	for (const char *p = s + 4; *p; p++, n++)
		if (!isalnum((unsigned char)*p))
			return false;
	return n >= 20 && n <= 200;
}
