/* httpd.c — see httpd.h. */
#include "httpd.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "util.h"

int httpd_bind(struct evhttp *http, const char *hostport, char *out, size_t outlen,
	       struct evhttp_bound_socket **bsp, char **cause)
{
	char host[256];
	int port;
	if (parse_hostport(hostport, host, sizeof host, &port, cause) != 0)
		return -1;
	struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
	if (!bs)
		return fail(cause, "cannot listen on %s (address in use or not local?)", hostport);
	if (bsp)
		*bsp = bs;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) != 0)
		return fail(cause, "getsockname failed");
	char ip[INET6_ADDRSTRLEN] = "?";
	int bound = 0;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
		bound = ntohs(a->sin_port);
		snprintf(out, outlen, "%s:%d", ip, bound);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
		bound = ntohs(a->sin6_port);
		snprintf(out, outlen, "[%s]:%d", ip, bound);
	}
	return 0;
}

const char *httpd_header(struct evhttp_request *req, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

void httpd_set_header(struct evhttp_request *req, const char *name, const char *value)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_remove_header(h, name);
	evhttp_add_header(h, name, value);
}

const char *httpd_bearer(struct evhttp_request *req)
{
	return bearer_token(httpd_header(req, "Authorization"));
}

const char *bearer_token(const char *a)
{
	if (!a || strncasecmp(a, "Bearer ", 7) != 0)
		return NULL;
	a += 7;
	while (*a == ' ')
		a++;
	return *a ? a : NULL;
}

char *httpd_body(struct evhttp_request *req, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	char *p = xmalloc(n + 1);
	evbuffer_copyout(in, p, n);
	p[n] = '\0';
	if (len)
		*len = n;
	return p;
}

const char *httpd_method_name(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return "?";
}

const char *httpd_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "Status";
}

void httpd_send(struct evhttp_request *req, int status, const char *ctype, const char *body, size_t len)
{
	struct evbuffer *out = evbuffer_new();
	if (len)
		evbuffer_add(out, body, len);
	if (ctype)
		httpd_set_header(req, "Content-Type", ctype);
	evhttp_send_reply(req, status, httpd_reason(status), out);
	evbuffer_free(out);
}

static void free_body(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

void httpd_send_owned(struct evhttp_request *req, int status, const char *ctype, char *body, size_t len)
{
	struct evbuffer *out = evbuffer_new();
	if (len)
		evbuffer_add_reference(out, body, len, free_body, NULL); /* freed once written */
	else
		free(body);
	if (ctype)
		httpd_set_header(req, "Content-Type", ctype);
	evhttp_send_reply(req, status, httpd_reason(status), out);
	evbuffer_free(out);
}

void httpd_send_json(struct evhttp_request *req, int status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
	if (j)
		json_decref(j);
	const char *body = s ? s : "{}";
	struct evbuffer *out = evbuffer_new();
	evbuffer_add(out, body, strlen(body));
	evbuffer_add(out, "\n", 1);
	httpd_set_header(req, "Content-Type", "application/json");
	evhttp_send_reply(req, status, httpd_reason(status), out);
	evbuffer_free(out);
	free(s);
}

json_t *groq_error_json(const char *message, const char *type, const char *code)
{
	json_t *e = json_object();
	json_object_set_new(e, "message", json_string(message));
	json_object_set_new(e, "type", json_string(type ? type : "invalid_request_error"));
	if (code)
		json_object_set_new(e, "code", json_string(code));
	return json_pack("{s:o}", "error", e);
}

void httpd_send_groq_error(struct evhttp_request *req, int status, const char *message,
			   const char *type, const char *code)
{
	httpd_send_json(req, status, groq_error_json(message, type, code));
}

char *httpd_query(struct evhttp_request *req, const char *name)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *q = u ? evhttp_uri_get_query(u) : NULL;
	if (!q)
		return NULL;
	struct evkeyvalq kv;
	TAILQ_INIT(&kv);
	if (evhttp_parse_query_str(q, &kv) != 0) {
		evhttp_clear_headers(&kv);
		return NULL;
	}
	const char *v = evhttp_find_header(&kv, name);
	char *r = v ? xstrdup(v) : NULL;
	evhttp_clear_headers(&kv);
	return r;
}

const char *httpd_path(struct evhttp_request *req)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *p = u ? evhttp_uri_get_path(u) : NULL;
	return p && *p ? p : "/";
}

void httpd_release_orphan(struct evhttp_request *req)
{
	if (req && !evhttp_request_get_connection(req))
		evhttp_request_free(req);
}

void httpd_write_now(struct evhttp_connection *conn)
{
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	if (!bev)
		return;
	struct evbuffer *out = bufferevent_get_output(bev);
	evutil_socket_t fd = bufferevent_getfd(bev);
	/* a failed write is left to the bufferevent, which meets it again on
	 * its own write and reports the connection closed */
	if (fd < 0 || evbuffer_get_length(out) == 0 || evbuffer_write(out, fd) <= 0)
		return;
	if (evbuffer_get_length(out) == 0) /* all of it: the bufferevent's own write finds
					    * nothing and would not call evhttp back */
		bufferevent_trigger(bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS);
}
