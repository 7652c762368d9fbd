/* groqerr.c — Groq's error shape (see groq.h). */
#include "groq.h"

#include <stdlib.h>
#include <string.h>

#include "httpd.h"

json_t *groq_error_json(const char *message, const char *type, const char *code)
{
	json_t *e = json_object();
	json_object_set_new(e, "message", json_string(message));
	json_object_set_new(e, "type", json_string(type ? type : "invalid_request_error"));
	if (code)
		json_object_set_new(e, "code", json_string(code));
	return json_pack("{s:o}", "error", e);
}

void httpd_send_groq_error(struct hreq *r, int status, const char *message, const char *type, const char *code)
{
	httpd_send_json(r, status, groq_error_json(message, type, code));
}

char *groq_error_body(int status, const char *code, const char *message)
{
	(void)status;
	json_t *j = groq_error_json(message, "invalid_request_error", code);
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

bool groq_error_code(const char *body, size_t len, const char *code)
{
	if (!body || !len)
		return false;
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
	bool is = c && strcmp(c, code) == 0;
	json_decref(j);
	return is;
}
