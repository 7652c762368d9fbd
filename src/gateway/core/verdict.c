/* verdict.c — the one type of anything that becomes an HTTP answer of the
 * gateway's own: a refusal of the data plane (Groq's error shape: status,
 * type, code) and an admin API error (status, code) alike. Internal
 * failures are -1 with an allocated message (char **cause); they become a
 * verdict where they reach a client. */
#include "core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void verdict_clear(struct verdict *v)
{
	free(v->message);
	memset(v, 0, sizeof *v);
}

int deny(struct verdict *v, int status, const char *type, const char *code, const char *reason, char *msg)
{
	free(v->message);
	v->status = status;
	v->type = type;
	v->code = code;
	v->reason = reason;
	v->message = msg;
	return -1;
}

int refusef(struct verdict *v, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = NULL;
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	return deny(v, status, "invalid_request_error", code, code, m);
}
