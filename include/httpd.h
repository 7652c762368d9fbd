/* httpd.h — small helpers over libevent's evhttp, shared by the gateway
 * and fakegroq: binding, headers, bodies, JSON and Groq-shaped errors. */
#ifndef GG_HTTPD_H
#define GG_HTTPD_H

#include <jansson.h>
#include <stddef.h>

struct evhttp;
struct evhttp_request;
struct evhttp_bound_socket;

/* Binds to "HOST:PORT" (port 0 picks a free one) and writes the bound
 * address ("127.0.0.1:40123") into out. Returns 0, or -1 with *cause. */
int httpd_bind(struct evhttp *http, const char *hostport, char *out, size_t outlen,
	       struct evhttp_bound_socket **bsp, char **cause);
const char *httpd_header(struct evhttp_request *req, const char *name);
void httpd_set_header(struct evhttp_request *req, const char *name, const char *value);
/* Call from a connection's close callback for a request that was never
 * finished: libevent detaches such a request from the dead connection and
 * leaves it to us; this frees it (and does nothing for one still owned). */
void httpd_release_orphan(struct evhttp_request *req);
/* "Bearer X" -> "X" (pointer into the header), else NULL. */
const char *httpd_bearer(struct evhttp_request *req);
/* the token in an Authorization value "Bearer TOKEN" (inside it), or NULL */
const char *bearer_token(const char *authorization);
/* The request body as an allocated NUL-terminated string (caller frees). */
char *httpd_body(struct evhttp_request *req, size_t *len);
const char *httpd_method_name(struct evhttp_request *req);
const char *httpd_reason(int status);
void httpd_send(struct evhttp_request *req, int status, const char *ctype, const char *body, size_t len);
/* As httpd_send, for a body that is handed over (malloc'd; freed once
 * written): a large answer is not copied. */
void httpd_send_owned(struct evhttp_request *req, int status, const char *ctype, char *body, size_t len);
/* Sends j as JSON and releases the reference (j may be NULL -> {}). */
void httpd_send_json(struct evhttp_request *req, int status, json_t *j);
/* {"error":{"message":...,"type":...,"code":...}} (code may be NULL). */
json_t *groq_error_json(const char *message, const char *type, const char *code);
void httpd_send_groq_error(struct evhttp_request *req, int status, const char *message,
			   const char *type, const char *code);
/* After a reply has been handed to evhttp on a plain (not TLS) connection:
 * writes it to the socket now and, when all of it went, lets evhttp finish
 * the request at once (its completion callback runs, the connection waits
 * for the next request). Otherwise evhttp writes it on the next pass of the
 * event loop, after an epoll round trip to learn the socket is writable:
 * one epoll_ctl and one epoll_wait more per request. conn is taken before
 * the reply (the request may be freed by the time this returns). */
struct evhttp_connection;
void httpd_write_now(struct evhttp_connection *conn);
/* Value of query parameter name in the request URI (allocated), or NULL. */
char *httpd_query(struct evhttp_request *req, const char *name);
/* The decoded path of the request URI (points into libevent's URI). */
const char *httpd_path(struct evhttp_request *req);

#endif
