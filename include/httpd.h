/* httpd.h — the HTTP/1.1 server of the gateway and fakegroq, on a libevent
 * loop: keep-alive, pipelining (one request at a time per connection),
 * Content-Length and chunked request bodies, Expect: 100-continue, limits
 * on head and body size, idle and stall timeouts, streamed (chunked)
 * replies with a view of what is still unsent, TLS through OpenSSL.
 *
 * A request is handed to the server's callback once its body is complete.
 * From then on it belongs to the handler until the handler finishes its
 * reply (httpd_send*, or httpd_start ... httpd_end), or aborts it. If the
 * client goes away first (end of file or an error on the socket, which the
 * server notices while the handler works), the close callback runs, and
 * the request is freed after it returns; without a close callback the
 * request stays the handler's, and replying to it then just frees it.
 * After the reply is finished, the completion callback runs once: when its
 * last byte is written, or when the connection is lost before that.
 *
 * No close callback runs from inside an httpd_* call: a write that fails
 * there closes the connection on the next pass of the loop. The completion
 * callback can: the call that finishes a reply runs it when the whole
 * reply is written at once, or when its client had already gone.
 *
 * Under TLS, OpenSSL writes to the socket itself: a program serving TLS
 * ignores SIGPIPE (both programs do), or a client that hangs up kills it.
 *
 * Also here: small helpers shared by both programs (headers, bodies,
 * queries, JSON and Groq-shaped errors). */
#ifndef GG_HTTPD_H
#define GG_HTTPD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "secret.h"

struct event;
struct event_base;
struct ssl_ctx_st;
struct httpd;
struct hreq;

enum hmethod {
	HM_GET = 1,
	HM_POST = 2,
	HM_HEAD = 4,
	HM_PUT = 8,
	HM_DELETE = 16,
	HM_OPTIONS = 32,
	HM_PATCH = 64,
};

typedef void (*httpd_cb)(struct hreq *req, void *arg);

/* ---- the server ------------------------------------------------------ */

struct httpd *httpd_new(struct event_base *base, httpd_cb cb, void *arg);
/* Largest body and head (request line and headers) accepted, and the
 * seconds a connection may sit idle, trickle a request or refuse to read
 * its answer. knob_body and knob_head name the settings in refusals
 * ("limits.max_body_bytes"); may be NULL. Defaults: 1 MiB, 8 KiB, 60 s. */
void httpd_set_limits(struct httpd *s, size_t max_body, size_t max_head, int timeout_s, const char *knob_body,
		      const char *knob_head);
/* The body of the server's own refusals (413, 431, a malformed request):
 * fn returns it allocated (JSON, without a newline). Default
 * {"error":{"code","message"}}; the gateway and fakegroq set Groq's shape. */
typedef char *(*httpd_error_fn)(int status, const char *code, const char *message);
void httpd_set_error_body(struct httpd *s, httpd_error_fn fn);
/* Requests whose path starts with prefix (kept by the caller) may carry
 * bodies up to max_body instead (audio uploads); knob names the setting. */
void httpd_set_prefix_body_limit(struct httpd *s, const char *prefix, size_t max_body, const char *knob);
/* Serves TLS on every listener with ctx (the caller keeps it alive). */
void httpd_set_tls(struct httpd *s, struct ssl_ctx_st *ctx);
/* Content-Type of replies that set none ("application/json"). */
void httpd_set_default_type(struct httpd *s, const char *ctype);
/* Listens on "HOST:PORT" (port 0 picks a free one) and writes the bound
 * address ("127.0.0.1:40123") into out. Returns 0, or -1 with *cause. */
int httpd_bind(struct httpd *s, const char *hostport, char *out, size_t outlen, char **cause);
/* Stops accepting connections (open ones carry on). */
void httpd_unbind(struct httpd *s);
/* Closes every connection (close callbacks run) and frees the server. */
void httpd_free(struct httpd *s);
int httpd_connections(const struct httpd *s);
/* At most max_conns connections (0: no limit): at the limit the one idle
 * longest without a request in progress is closed to make room (counted:
 * httpd_shed); a request head, and a connection's first, must be whole
 * within head_timeout_s. */
void httpd_set_conn_limits(struct httpd *s, int max_conns, int head_timeout_s);
int64_t httpd_shed(const struct httpd *s);
/* Turns interest in a socket's event on or off; *added remembers which it
 * is, so asking twice costs nothing (the server's connections and the
 * gateway's to Groq). */
void ev_want(struct event *ev, bool *added, bool on);

/* ---- a request ------------------------------------------------------- */

enum hmethod httpd_method(const struct hreq *req);
const char *httpd_method_name(const struct hreq *req);
/* The path of the request target, as sent (not percent-decoded). */
const char *httpd_path(const struct hreq *req);
/* The query (after '?'), or NULL. */
const char *httpd_query_string(const struct hreq *req);
/* Value of query parameter name, decoded (allocated), or NULL. */
char *httpd_query(const struct hreq *req, const char *name);
/* The first header called name (any case), or NULL. */
const char *httpd_header(const struct hreq *req, const char *name);
/* "Bearer X" -> "X" (pointer into the header), else NULL. */
const char *httpd_bearer(const struct hreq *req);
/* httpd_bearer, and its SHA-256 in hex in hash (when not NULL). A client
 * sends the same token with every request of a connection: the connection
 * keeps the last one and its hash (wiped at close), and hashes a token
 * only when it changes. */
const char *httpd_bearer_hashed(const struct hreq *req, char hash[SHA256_HEX_LEN + 1]);
/* the token in an Authorization value "Bearer TOKEN" (inside it), or NULL */
const char *bearer_token(const char *authorization);
/* The body as an allocated NUL-terminated copy (caller frees). */
char *httpd_body(const struct hreq *req, size_t *len);
/* The body itself, NUL-terminated, handed over (caller frees). */
char *httpd_take_body(struct hreq *req, size_t *len);

/* ---- answering ------------------------------------------------------- */

void httpd_add_header(struct hreq *req, const char *name, const char *value);
/* As httpd_add_header, replacing any header of that name already set. */
void httpd_set_header(struct hreq *req, const char *name, const char *value);
const char *httpd_reason(int status);
void httpd_send(struct hreq *req, int status, const char *ctype, const char *body, size_t len);
/* As httpd_send, for a body that is handed over (malloc'd; freed once
 * written): a large answer is not copied. */
void httpd_send_owned(struct hreq *req, int status, const char *ctype, char *body, size_t len);
/* Sends j as JSON and releases the reference (j may be NULL -> {}). */
void httpd_send_json(struct hreq *req, int status, json_t *j);
/* A reply sent in pieces as they come: chunked (HTTP/1.0: ended by close). */
void httpd_start(struct hreq *req, int status);
void httpd_chunk(struct hreq *req, const char *data, size_t len);
void httpd_end(struct hreq *req);
/* Ends the request by dropping its connection (a stream cut short); no
 * callback runs and req is freed. */
void httpd_abort(struct hreq *req);
/* Bytes of the reply not yet written to the client. */
size_t httpd_backlog(const struct hreq *req);
/* cb(req, arg) when the client goes before the reply is finished (NULL
 * to stop being told); req is freed after cb returns. */
void httpd_on_close(struct hreq *req, void (*cb)(struct hreq *req, void *arg), void *arg);
/* cb(req, arg) once the finished reply is written (or lost). */
void httpd_on_complete(struct hreq *req, void (*cb)(struct hreq *req, void *arg), void *arg);

/* ---- the request head parser (hparse.c: pure; for tests and fuzzing) - */

struct hfield {
	char *name, *value;
};

struct hhead {
	enum hmethod method;
	const char *mname;
	char *path, *query;  /* query NULL when there is none */
	int minor;           /* HTTP/1.minor */
	int nh;
	struct hfield *h;    /* nh fields (the caller's array of room fields) */
	int64_t content_length; /* -1: none */
	bool chunked, close, keep_alive, expect_continue;
};

/* One grammar for both sides (the server here, the gateway's client to
 * Groq): a chunk-size line (1*HEXDIG, then nothing or BWS ";" ext): 0 with
 * *size, -1 malformed, -2 over max. */
int http_chunk_size(const char *line, size_t n, int64_t max, int64_t *size);
/* tok is one of the comma-separated tokens of list (any case). */
bool http_has_token(const char *list, const char *tok);
/* A Transfer-Encoding value whose last coding is chunked. */
bool http_chunked_last(const char *te);

/* Parses the head in p (n bytes, the blank line included), in place:
 * fields point into p. room is the size of h->h. Returns 0, or an HTTP
 * status (400, 405, 417, 431, 501, 505) with *why set. */
int httpd_parse_head(char *p, size_t n, struct hhead *h, int room, const char **why);
/* An answer's head (the client side): the status line, its fields and
 * how its body is framed. */
struct hstatus {
	int status;             /* 100..999 */
	int minor;              /* HTTP/1.minor */
	int nh;
	struct hfield *h;       /* nh fields (the caller's array of room fields) */
	int64_t content_length; /* -1: none (or chunked) */
	bool chunked;           /* the last transfer coding is chunked */
	bool close;             /* the connection ends after it (Connection: close, HTTP/1.0, or the body ends with it) */
};
/* Parses an answer's head in p (n bytes, the blank line included), in
 * place, with the same field grammar as a request's. 0, or -1 with *why. */
int http_parse_status_head(char *p, size_t n, struct hstatus *h, int room, const char **why);

/* Where the head in p ends (just past its blank line), or 0 when it is
 * not complete yet. */
size_t httpd_head_end(const char *p, size_t n);

#endif
