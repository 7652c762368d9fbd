/* groq.h — what the programs share of Groq's API itself (src/groq/, apart
 * from the generic code in src/common): its error shape (groqerr.c: the
 * gateway and fakegroq) and its key format (groqkey.c: all three). */
#ifndef GG_GROQ_H
#define GG_GROQ_H

#include <jansson.h>
#include <stdbool.h>

/* Groq key format: "gsk_" then 20..200 chars of [A-Za-z0-9]. */
bool groq_key_valid(const char *s);

struct hreq;

/* {"error":{"message":...,"type":...,"code":...}} (type NULL:
 * invalid_request_error; code NULL: none). */
json_t *groq_error_json(const char *message, const char *type, const char *code);
void httpd_send_groq_error(struct hreq *req, int status, const char *message, const char *type, const char *code);
/* The same, as the body of the HTTP server's own refusals (httpd_error_fn). */
char *groq_error_body(int status, const char *code, const char *message);

#endif
