/* test_httpd.c — the HTTP/1.1 server: its head parser alone, then the
 * server on a real loopback socket, driven by its own event loop, with
 * what clients actually send (pipelined requests, chunked bodies, Expect,
 * HTTP/1.0, HEAD, oversized heads and bodies, clients that hang up). */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "httpd.h"
#include "origin.h"
#include "t.h"
#include "util.h"

/* ---- the parser ----------------------------------------------------------- */

static int parse(const char *text, struct hhead *h, char *store, size_t cap, const char **why)
{
	static struct hfield f[8];
	snprintf(store, cap, "%s", text);
	h->h = f;
	*why = NULL;
	return httpd_parse_head(store, strlen(store), h, 8, why);
}

static void test_parse_request(void)
{
	char s[512];
	struct hhead h;
	const char *why;
	CHECK_INT(parse("POST /openai/v1/chat/completions?x=1&y=2 HTTP/1.1\r\nHost: a\r\n"
			"Content-Length:  12 \r\nX-Empty:\r\nConnection: Keep-Alive, Upgrade\r\n\r\n",
			&h, s, sizeof s, &why),
		  0);
	CHECK_INT(h.method, HM_POST);
	CHECK_STR(h.mname, "POST");
	CHECK_STR(h.path, "/openai/v1/chat/completions");
	CHECK_STR(h.query, "x=1&y=2");
	CHECK_INT(h.minor, 1);
	CHECK_INT(h.nh, 4);
	CHECK_STR(h.h[1].name, "Content-Length");
	CHECK_STR(h.h[1].value, "12");
	CHECK_STR(h.h[2].value, "");
	CHECK_INT(h.content_length, 12);
	CHECK(h.keep_alive && !h.close && !h.chunked);
	/* bare LF line ends, absolute form, HTTP/1.0 */
	CHECK_INT(parse("GET http://gw.example:8080/healthz HTTP/1.0\nConnection: close\n\n", &h, s, sizeof s, &why), 0);
	CHECK_STR(h.path, "/healthz");
	CHECK(h.query == NULL);
	CHECK_INT(h.minor, 0);
	CHECK(h.close);
	CHECK_INT(h.content_length, -1);
	CHECK_INT(parse("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nExpect: 100-Continue\r\n\r\n", &h, s, sizeof s,
			&why),
		  0);
	CHECK(h.chunked && h.expect_continue);
}

static void test_parse_refusals(void)
{
	static const struct {
		const char *req;
		int status;
	} cases[] = {
		{ "GET / HTTP/2.0\r\n\r\n", 505 },
		{ "GET / HTTP/1.1 extra\r\n\r\n", 400 },
		{ "GET /\r\n\r\n", 400 },
		{ "BREW / HTTP/1.1\r\n\r\n", 405 },
		{ "TRACE / HTTP/1.1\r\n\r\n", 405 },
		{ "G(T / HTTP/1.1\r\n\r\n", 400 },
		{ "GET nothing HTTP/1.1\r\n\r\n", 400 },
		{ "GET /a\x01 HTTP/1.1\r\n\r\n", 400 },
		{ "GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\n: x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501 },
		{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", 417 },
		{ "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\nI: 9\r\n\r\n", 431 },
	};
	char s[512];
	struct hhead h;
	const char *why;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int st = parse(cases[i].req, &h, s, sizeof s, &why);
		if (st != cases[i].status)
			printf("#   case %zu: %d, expected %d\n", i, st, cases[i].status);
		CHECK_INT(st, cases[i].status);
		CHECK(why && *why);
	}
	/* the same repeated Content-Length is fine */
	CHECK_INT(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n", &h, s, sizeof s, &why), 0);
	/* a NUL inside the head */
	char nul[] = "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n";
	static struct hfield f[8];
	h.h = f;
	CHECK_INT(httpd_parse_head(nul, sizeof nul - 1, &h, 8, &why), 400);
}

static void test_head_end(void)
{
	CHECK_INT(httpd_head_end("GET / HTTP/1.1\r\n\r\nrest", 22), 18);
	CHECK_INT(httpd_head_end("GET / HTTP/1.1\n\nrest", 20), 16);
	CHECK_INT(httpd_head_end("GET / HTTP/1.1\r\nA: b\r\n", 22), 0);
	CHECK_INT(httpd_head_end("GET / HTTP/1.1\r\nA: b\r\n\r", 23), 0);
	CHECK_INT(httpd_head_end("", 0), 0);
}

/* ---- the server on a socket ---------------------------------------------- */

static struct event_base *base;
static struct httpd *srv;
static char addr[64];
static struct hreq *held;      /* a request kept unanswered */
static int closes, completes;

static void on_close(struct hreq *req, void *arg)
{
	(void)arg;
	if (req == held)
		held = NULL;
	closes++;
}

static void on_complete(struct hreq *req, void *arg)
{
	(void)req;
	(void)arg;
	completes++;
}

static void handler(struct hreq *req, void *arg)
{
	(void)arg;
	const char *path = httpd_path(req);
	httpd_on_complete(req, on_complete, NULL);
	if (strcmp(path, "/hold") == 0) {
		held = req;
		httpd_on_close(req, on_close, NULL);
		return;
	}
	if (strcmp(path, "/stream") == 0) {
		httpd_set_header(req, "Content-Type", "text/event-stream");
		httpd_start(req, 200);
		httpd_chunk(req, "data: 1\n\n", 9);
		httpd_chunk(req, "data: 2\n\n", 9);
		httpd_end(req);
		return;
	}
	if (strcmp(path, "/big") == 0) { /* 8 MiB, byte i is 'a' + i % 26 */
		size_t n = 8u << 20;
		char *b = xmalloc(n);
		for (size_t i = 0; i < n; i++)
			b[i] = (char)('a' + i % 26);
		httpd_send_owned(req, 200, "text/plain", b, n);
		return;
	}
	if (strcmp(path, "/q") == 0) {
		char *v = httpd_query(req, "a b");
		httpd_send(req, 200, "text/plain", v ? v : "(none)", v ? strlen(v) : 6);
		free(v);
		return;
	}
	/* echo: method, path and body */
	size_t n;
	char *b = httpd_body(req, &n);
	char *out = xasprintf("%s %s %zu:%s", httpd_method_name(req), path, n, b);
	httpd_set_header(req, "X-Echo", "1");
	httpd_set_header(req, "x-echo", "2"); /* replaces */
	httpd_send(req, 200, "text/plain", out, strlen(out));
	free(out);
	free(b);
}

static int64_t ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int rcvbuf; /* when set: the client's receive buffer, small, so
		    * the server's writes fill the socket and must wait */

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)atoi(strrchr(addr, ':') + 1)) };
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	int64_t end = ms() + 2000;
	while (n && ms() < end) {
		ssize_t w = write(fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
}

/* runs the server's loop and reads from fd until `until` has appeared
 * `times` times, the server closes, or 2 s pass; returns what came */
static char *read_until(int fd, const char *until, int times, bool *eof)
{
	buf b;
	buf_init(&b);
	*eof = false;
	int64_t end = ms() + 2000;
	while (ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		char tmp[4096];
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n > 0)
			buf_add(&b, tmp, (size_t)n);
		if (n == 0) {
			*eof = true;
			break;
		}
		int seen = 0;
		for (const char *p = b.data; p && until && (p = strstr(p, until)) != NULL; p++)
			seen++;
		if (until && seen >= times)
			break;
		if (n < 0) {
			struct timespec ts = { 0, 200000 }; /* nothing yet: let the loop turn */
			nanosleep(&ts, NULL);
		}
	}
	return buf_detach(&b);
}

static char *exchange(const char *req, size_t len, const char *until, int times, bool *eof)
{
	int fd = dial();
	if (fd < 0)
		return xstrdup("(no connection)");
	send_all(fd, req, len);
	char *r = read_until(fd, until, times, eof);
	close(fd);
	return r;
}

static void server_up(void)
{
	base = event_base_new();
	srv = httpd_new(base, handler, NULL);
	httpd_set_limits(srv, 1000, 600, 1, "limits.max_body_bytes", "limits.max_header_bytes");
	char *cause = NULL;
	if (httpd_bind(srv, "127.0.0.1:0", addr, sizeof addr, &cause) != 0) {
		printf("# %s\n", cause);
		free(cause);
	}
	held = NULL;
	closes = completes = 0;
}

static void server_down(void)
{
	httpd_free(srv);
	event_base_free(base);
}

static void test_server_basics(void)
{
	server_up();
	bool eof;
	const char *req = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
	char *r = exchange(req, strlen(req), "hello", 1, &eof);
	bool ok = strstr(r, "HTTP/1.1 200 OK\r\n") == r && strstr(r, "\r\nContent-Length: 18\r\n") &&
		  strstr(r, "\r\nContent-Type: text/plain\r\n") && strstr(r, "\r\nx-echo: 2\r\n") &&
		  !strstr(r, "X-Echo: 1") && strstr(r, "\r\nDate: ") && strstr(r, "\r\n\r\nPOST /echo 5:hello");
	if (!ok)
		printf("# got: %s\n", r);
	free(r);
	CHECK(ok);
	CHECK_INT(completes, 1);
	/* two requests in one write: two answers, in order, on one connection */
	const char *two = "GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi";
	r = exchange(two, strlen(two), "200 OK", 2, &eof);
	char *a = strstr(r, "GET /a 0:"), *b = strstr(r, "POST /b 2:hi");
	ok = a && b && a < b;
	if (!ok)
		printf("# got: %s\n", r);
	free(r);
	CHECK(ok);
	/* a chunked body, with an extension and a trailer */
	const char *ch = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			 "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n";
	r = exchange(ch, strlen(ch), "0123456789", 1, &eof);
	ok = strstr(r, "POST /c 13:abc0123456789") != NULL;
	if (!ok)
		printf("# got: %s\n", r);
	free(r);
	CHECK(ok);
	/* a query, decoded */
	const char *q = "GET /q?x=1&a+b=caf%C3%A9%20au+lait HTTP/1.1\r\n\r\n";
	r = exchange(q, strlen(q), "lait", 1, &eof);
	ok = strstr(r, "\r\n\r\ncaf\xc3\xa9 au lait") != NULL;
	free(r);
	CHECK(ok);
	server_down();
}

static void test_server_versions(void)
{
	server_up();
	bool eof;
	/* HTTP/1.0: answered, then closed */
	const char *r10 = "GET /x HTTP/1.0\r\n\r\n";
	char *r = exchange(r10, strlen(r10), NULL, 0, &eof);
	bool ok = eof && strstr(r, "Connection: close\r\n") && strstr(r, "GET /x 0:");
	free(r);
	CHECK(ok);
	/* HTTP/1.0 keep-alive: kept, and says so */
	const char *ka = "GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
	r = exchange(ka, strlen(ka), "GET /x 0:", 1, &eof);
	ok = !eof && strstr(r, "Connection: keep-alive\r\n");
	free(r);
	CHECK(ok);
	/* a stream to HTTP/1.1 is chunked; to HTTP/1.0, ended by the close */
	const char *s11 = "GET /stream HTTP/1.1\r\n\r\n";
	r = exchange(s11, strlen(s11), "0\r\n\r\n", 1, &eof);
	ok = strstr(r, "Transfer-Encoding: chunked\r\n") && strstr(r, "\r\n\r\n9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n");
	if (!ok)
		printf("# got: %s\n", r);
	free(r);
	CHECK(ok);
	const char *s10 = "GET /stream HTTP/1.0\r\n\r\n";
	r = exchange(s10, strlen(s10), NULL, 0, &eof);
	ok = eof && !strstr(r, "chunked") && strstr(r, "\r\n\r\ndata: 1\n\ndata: 2\n\n");
	free(r);
	CHECK(ok);
	/* HEAD: the length of the body that GET would have, no body */
	const char *hd = "HEAD /h HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n";
	r = exchange(hd, strlen(hd), "GET /after 0:", 1, &eof);
	ok = strstr(r, "Content-Length: 10\r\n") && !strstr(r, "HEAD /h") && strstr(r, "GET /after 0:");
	if (!ok)
		printf("# got: %s\n", r);
	free(r);
	CHECK(ok);
	server_down();
}

static void test_server_expect_and_limits(void)
{
	server_up();
	bool eof;
	/* Expect: 100-continue, then the body */
	int fd = dial();
	const char *h = "POST /e HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n";
	send_all(fd, h, strlen(h));
	char *r = read_until(fd, "100 Continue\r\n\r\n", 1, &eof);
	bool ok = strcmp(r, "HTTP/1.1 100 Continue\r\n\r\n") == 0;
	free(r);
	CHECK(ok);
	send_all(fd, "abcd", 4);
	r = read_until(fd, "abcd", 1, &eof);
	ok = strstr(r, "POST /e 4:abcd") != NULL;
	free(r);
	close(fd);
	CHECK(ok);
	/* a body over the limit: 413 in Groq's shape, before the body is read */
	const char *big = "POST /e HTTP/1.1\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n";
	r = exchange(big, strlen(big), NULL, 0, &eof);
	ok = eof && strstr(r, "HTTP/1.1 413 ") == r && !strstr(r, "100 Continue") &&
	     strstr(r, "\"code\":\"request_too_large\"") && strstr(r, "limits.max_body_bytes") &&
	     strstr(r, "Connection: close");
	if (!ok)
		printf("# got: %s\n", r);
	free(r);
	CHECK(ok);
	/* chunks adding up past the limit */
	buf b;
	buf_init(&b);
	buf_adds(&b, "POST /e HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 11; i++) {
		buf_adds(&b, "64\r\n");
		for (int j = 0; j < 100; j++)
			buf_add(&b, "z", 1);
		buf_adds(&b, "\r\n");
	}
	r = exchange(b.data, b.len, NULL, 0, &eof);
	buf_free(&b);
	ok = eof && strstr(r, "HTTP/1.1 413 ") == r;
	free(r);
	CHECK(ok);
	/* a head over the limit: 431 */
	char head[800];
	snprintf(head, sizeof head, "GET / HTTP/1.1\r\nX-Big: %0700d\r\n\r\n", 7);
	r = exchange(head, strlen(head), NULL, 0, &eof);
	ok = eof && strstr(r, "HTTP/1.1 431 ") == r && strstr(r, "request_header_fields_too_large") &&
	     strstr(r, "limits.max_header_bytes");
	free(r);
	CHECK(ok);
	/* garbage: 400, and the connection ends */
	r = exchange("HELLO\r\n\r\n", 9, NULL, 0, &eof);
	ok = eof && strstr(r, "HTTP/1.1 400 ") == r && strstr(r, "\"error\":{");
	free(r);
	CHECK(ok);
	/* a bad chunk size */
	const char *bc = "POST /e HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
	r = exchange(bc, strlen(bc), NULL, 0, &eof);
	ok = eof && strstr(r, "HTTP/1.1 400 ") == r;
	free(r);
	CHECK(ok);
	/* each refused connection ends once its client has gone */
	int64_t end = ms() + 2000;
	while (httpd_connections(srv) > 0 && ms() < end)
		event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK_INT(httpd_connections(srv), 0);
	server_down();
}

static void test_server_client_leaves(void)
{
	server_up();
	bool eof;
	/* a client that hangs up while its request is held: told at once */
	int fd = dial();
	const char *h = "GET /hold HTTP/1.1\r\n\r\n";
	send_all(fd, h, strlen(h));
	int64_t end = ms() + 2000;
	while (!held && ms() < end)
		event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK(held != NULL);
	close(fd);
	end = ms() + 2000;
	while (closes == 0 && ms() < end)
		event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK_INT(closes, 1);
	CHECK(held == NULL);
	CHECK_INT(completes, 0);
	/* a request held, then answered: the completion is told once */
	fd = dial();
	send_all(fd, h, strlen(h));
	end = ms() + 2000;
	while (!held && ms() < end)
		event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK(held != NULL);
	struct hreq *req = held;
	held = NULL;
	httpd_send(req, 201, NULL, "{}", 2);
	char *r = read_until(fd, "{}", 1, &eof);
	bool ok = strstr(r, "HTTP/1.1 201 Created\r\n") == r && strstr(r, "Content-Type: application/json\r\n");
	free(r);
	close(fd);
	CHECK(ok);
	CHECK_INT(completes, 1);
	CHECK_INT(closes, 1);
	/* a request trickled in is dropped after the timeout (1 s here) */
	fd = dial();
	send_all(fd, "GET / HTTP/1.1\r\nHost:", 21);
	end = ms() + 4000;
	while (httpd_connections(srv) > 0 && ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	CHECK_INT(httpd_connections(srv), 0);
	close(fd);
	/* a head trickled a byte every 200 ms: progress, but not whole within
	 * the limit (1 s), so dropped all the same */
	fd = dial();
	const char *slow = "GET / HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	end = ms() + 4000;
	int64_t t0 = ms(), next = 0;
	size_t i = 0;
	bool dropped = false;
	while (ms() < end && !dropped) {
		if (ms() >= next && i < strlen(slow)) {
			send_all(fd, slow + i++, 1);
			next = ms() + 200;
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
		dropped = httpd_connections(srv) == 0;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	printf("# a trickled head dropped after %lld ms (%zu bytes sent)\n", (long long)(ms() - t0), i);
	CHECK(dropped);
	close(fd);
	server_down();
}

/* ---- TLS -------------------------------------------------------------- */

/* a self-signed certificate for 127.0.0.1, made here */
static SSL_CTX *server_ctx(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_sign(x, key, EVP_sha256());
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(ctx, x);
	SSL_CTX_use_PrivateKey(ctx, key);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

/* sends req over TLS and reads the answer until `until` appears or the
 * server closes (5 s at most); slow: reads 1 KiB per turn of the loop, so
 * the server's socket fills and its writes must wait and be repeated */
static char *tls_exchange(SSL_CTX *cctx, const char *req, size_t len, const char *until, bool slow, bool *eof)
{
	buf b;
	buf_init(&b);
	*eof = false;
	int fd = dial();
	SSL *ssl = SSL_new(cctx);
	SSL_set_fd(ssl, fd);
	SSL_set_connect_state(ssl);
	size_t sent = 0, total = 0;
	int64_t end = ms() + 5000;
	while (ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (sent < len) {
			int w = SSL_write(ssl, req + sent, (int)(len - sent));
			if (w > 0)
				sent += (size_t)w;
			continue;
		}
		char tmp[16384];
		int r = SSL_read(ssl, tmp, slow ? 1024 : (int)sizeof tmp);
		if (r > 0) {
			buf_add(&b, tmp, (size_t)r);
			if (until && b.len >= strlen(until) && memcmp(b.data + b.len - strlen(until), until, strlen(until)) == 0)
				break;
			/* or an answer with a length, whole (its head looked at once) */
			if (!until && !total && b.len > 4096) {
				const char *cl = memmem(b.data, 4096, "Content-Length: ", 16), *hend = memmem(b.data, 4096, "\r\n\r\n", 4);
				total = cl && hend ? (size_t)(hend + 4 - b.data) + strtoul(cl + 16, NULL, 10) : 0;
			}
			if (total && b.len >= total)
				break;
		} else {
			int e = SSL_get_error(ssl, r);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				*eof = true;
				break;
			}
		}
	}
	SSL_free(ssl);
	close(fd);
	return buf_detach(&b);
}

static void test_server_tls(void)
{
	server_up();
	httpd_set_limits(srv, 1 << 20, 600, 5, NULL, NULL);
	signal(SIGPIPE, SIG_IGN); /* as the programs do: OpenSSL writes to the socket */
	SSL_CTX *sctx = server_ctx(), *cctx = SSL_CTX_new(TLS_client_method());
	httpd_set_tls(srv, sctx);
	bool eof;
	/* two pipelined requests, one with a chunked body */
	const char *two = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ntls!\r\n0\r\n\r\n"
			  "GET /after HTTP/1.1\r\n\r\n";
	char *r = tls_exchange(cctx, two, strlen(two), "GET /after 0:", false, &eof);
	bool ok = strstr(r, "POST /c 4:tls!") && strstr(r, "GET /after 0:");
	if (!ok)
		printf("# got: %.300s\n", r);
	free(r);
	CHECK(ok);
	/* a 300 KB body comes in many TLS records */
	buf body;
	buf_init(&body);
	buf_addf(&body, "POST /e HTTP/1.1\r\nContent-Length: %d\r\n\r\n", 300000);
	for (int i = 0; i < 300000; i++)
		buf_add(&body, "x", 1);
	r = tls_exchange(cctx, body.data, body.len, "xxxxxxxxxx", false, &eof);
	ok = strstr(r, "POST /e 300000:xxx") != NULL;
	buf_free(&body);
	free(r);
	CHECK(ok);
	/* 8 MiB to a client that reads 1 KiB at a time: every byte, in order */
	const char *big = "GET /big HTTP/1.1\r\n\r\n";
	int64_t t0 = ms();
	rcvbuf = 16384;
	r = tls_exchange(cctx, big, strlen(big), NULL, true, &eof);
	rcvbuf = 0;
	printf("# 8 MiB over TLS to a slow reader: %lld ms\n", (long long)(ms() - t0));
	char *start = strstr(r, "\r\n\r\n");
	size_t got = start ? strlen(start + 4) : 0;
	ok = strstr(r, "Content-Length: 8388608\r\n") != NULL;
	for (size_t i = 0; ok && i < got; i++)
		ok = start[4 + i] == (char)('a' + i % 26);
	free(r);
	CHECK(ok);
	CHECK_INT(got, 8u << 20);
	/* plain HTTP on a TLS listener: refused, and the connection ends */
	int64_t end = ms() + 2000;
	r = exchange("GET / HTTP/1.1\r\n\r\n", 18, NULL, 0, &eof);
	ok = eof && !strstr(r, "200 OK");
	free(r);
	CHECK(ok);
	while (httpd_connections(srv) > 0 && ms() < end)
		event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK_INT(httpd_connections(srv), 0);
	server_down();
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* one grammar for both sides: what strtoll let the client accept is refused */
static void test_chunk_grammar(void)
{
	int64_t v = -1;
	CHECK(http_chunk_size("1a", 2, 1000, &v) == 0 && v == 26);
	CHECK(http_chunk_size("A;ext=1", 7, 1000, &v) == 0 && v == 10);
	CHECK(http_chunk_size("a ;x", 4, 1000, &v) == 0 && v == 10);
	CHECK(http_chunk_size("0", 1, 1000, &v) == 0 && v == 0);
	const char *bad[] = { "0x10", "+a", " a", "-1", "", "g", "a b", "1a\x01" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK(http_chunk_size(bad[i], strlen(bad[i]), 1000, &v) == -1);
	CHECK(http_chunk_size("3e9", 3, 1000, &v) == -2);
	CHECK(http_chunk_size("ffffffffffffffffffff", 20, INT64_MAX / 2, &v) == -2);
	CHECK(http_chunked_last("chunked"));
	CHECK(http_chunked_last("gzip, Chunked"));
	CHECK(!http_chunked_last("chunked, gzip"));
	CHECK(!http_chunked_last("xchunked"));
	CHECK(!http_chunked_last("notchunked"));
	CHECK(http_has_token("keep-alive, Close", "close"));
	CHECK(!http_has_token("closed", "close"));
}

/* an answer's head: the same field grammar as a request's, framing read */
static int parse_status(const char *text, struct hstatus *h, struct hfield *f, int room, const char **why)
{
	static char store[2048];
	snprintf(store, sizeof store, "%s", text);
	h->h = f;
	return http_parse_status_head(store, strlen(store), h, room, why);
}

static void test_parse_status(void)
{
	struct hfield f[8];
	struct hstatus h;
	const char *why = NULL;
	CHECK_INT(parse_status("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream \r\nx-request-id: req_1\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n", &h, f, 8, &why), 0);
	CHECK_INT(h.status, 200);
	CHECK_INT(h.nh, 3);
	CHECK_STR(h.h[0].name, "Content-Type");
	CHECK_STR(h.h[0].value, "text/event-stream"); /* trailing space trimmed */
	CHECK_STR(h.h[1].name, "x-request-id");
	CHECK_STR(h.h[1].value, "req_1");
	CHECK(h.chunked && !h.close && h.content_length == -1);
	CHECK_INT(parse_status("HTTP/1.1 404 \r\nContent-Length: 12\r\n\r\n", &h, f, 8, &why), 0);
	CHECK(h.status == 404 && h.content_length == 12 && !h.chunked);
	CHECK_INT(parse_status("HTTP/1.1 204\n\n", &h, f, 8, &why), 0); /* no reason, bare LFs */
	CHECK_INT(h.status, 204);
	CHECK_INT(parse_status("HTTP/1.0 200 OK\r\n\r\n", &h, f, 8, &why), 0);
	CHECK(h.close); /* HTTP/1.0: ends with the connection */
	CHECK_INT(parse_status("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\n\r\n", &h, f, 8, &why), 0);
	CHECK(h.close);
	CHECK_INT(parse_status("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", &h, f, 8, &why), 0);
	CHECK(!h.chunked && h.close); /* not chunked last: the body ends with the connection */
	CHECK_INT(parse_status("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", &h, f, 8,
			       &why), 0);
	CHECK(h.chunked && h.content_length == -1); /* chunked wins */
	CHECK_INT(parse_status("HTTP/1.1 100 Continue\r\n\r\n", &h, f, 8, &why), 0);
	CHECK_INT(h.status, 100);
	/* what the old line-by-line client let through is refused, as the server refuses it */
	const char *bad[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"HTTP/1.1 200 OK\r\n folded\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 OK\r\n\r\n",
		"HTTP/2 200\r\n\r\n",
		"HTTP/2.0 200 OK\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\r\n", /* no blank line */
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		why = NULL;
		CHECK_INT(parse_status(bad[i], &h, f, 8, &why), -1);
		CHECK(why != NULL);
	}
	CHECK_INT(parse_status("HTTP/1.1 200 OK\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n", &h, f, 2, &why), -1);
	CHECK_STR(why, "too many header fields");
	char nul[] = "HTTP/1.1 200 OK\r\nA: \0b\r\n\r\n";
	h.h = f;
	CHECK_INT(http_parse_status_head(nul, sizeof nul - 1, &h, 8, &why), -1);
}

/* an origin is parsed once: host, port, Host header, the key connections
 * are shared by, the path before a request's own */
static void test_origin(void)
{
	const char *why = NULL;
	struct origin *o = origin_parse("https://api.groq.com", &why);
	CHECK(o && o->tls && o->port == 443);
	CHECK_STR(o->host, "api.groq.com");
	CHECK_STR(o->hostport, "api.groq.com");
	CHECK_STR(o->key, "https://api.groq.com");
	CHECK_STR(o->path, "");
	struct origin *r = origin_ref(o);
	CHECK(r == o && o->refs == 2);
	origin_unref(o);
	origin_unref(r);
	o = origin_parse("http://127.0.0.1:8080/hook/x?team=a#frag", &why);
	CHECK(o && !o->tls && o->port == 8080);
	CHECK_STR(o->host, "127.0.0.1");
	CHECK_STR(o->hostport, "127.0.0.1:8080");
	CHECK_STR(o->key, "http://127.0.0.1:8080");
	CHECK_STR(o->path, "/hook/x?team=a");
	origin_unref(o);
	o = origin_parse("http://[::1]:9/", &why);
	CHECK(o && o->port == 9);
	CHECK_STR(o->host, "::1");
	CHECK_STR(o->hostport, "[::1]:9");
	origin_unref(o);
	o = origin_parse("http://[::1]", &why);
	CHECK(o && o->port == 80);
	origin_unref(o);
	const char *bad[] = { "ftp://x", "api.groq.com", "http://", "http://:80", "http://x:", "http://x:0",
			      "http://x:65536", "http://x:8a", "http://[::1", "http://[::1]x", "http://u@x",
			      "http://a b", "https//x" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		why = NULL;
		CHECK(origin_parse(bad[i], &why) == NULL);
		CHECK(why != NULL);
	}
	origin_unref(NULL);
}

void suite_httpd(void)
{
	RUN(test_chunk_grammar);
	RUN(test_parse_status);
	RUN(test_origin);
	RUN(test_parse_request);
	RUN(test_parse_refusals);
	RUN(test_head_end);
	RUN(test_server_basics);
	RUN(test_server_versions);
	RUN(test_server_expect_and_limits);
	RUN(test_server_client_leaves);
	RUN(test_server_tls);
}
