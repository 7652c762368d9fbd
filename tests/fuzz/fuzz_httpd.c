/* fuzz_httpd.c — the HTTP/1.1 server (httpd.c) reading what a client
 * sends: the input goes to a real loopback connection, then the client
 * half-closes and reads to the end. Whatever arrives, the server answers
 * only with well-formed HTTP/1.1 responses (or nothing), hands on no more
 * body than was sent, and is left with no connection. */
#include <event2/event.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "fuzz.h"
#include "httpd.h"

static struct event_base *base;
static struct httpd *srv;
static int port;
static size_t body_total;

static void handler(struct hreq *req, void *arg)
{
	(void)arg;
	size_t n;
	char *b = httpd_take_body(req, &n);
	body_total += n;
	if (strcmp(httpd_path(req), "/stream") == 0) {
		httpd_start(req, 200);
		httpd_chunk(req, b, n);
		httpd_chunk(req, "x", 1);
		httpd_end(req);
	} else {
		httpd_set_header(req, "X-Path", httpd_path(req));
		httpd_send(req, 200, "text/plain", b, n);
	}
	free(b);
}

static void setup(void)
{
	base = event_base_new();
	srv = httpd_new(base, handler, NULL);
	httpd_set_limits(srv, 4096, 1024, 1, NULL, NULL);
	char addr[64], *cause = NULL;
	if (httpd_bind(srv, "127.0.0.1:0", addr, sizeof addr, &cause) != 0)
		abort();
	port = atoi(strrchr(addr, ':') + 1);
}

/* each response in out starts with a status line */
static bool well_formed(const char *out, size_t n)
{
	return n == 0 || (n >= 12 && memcmp(out, "HTTP/1.1 ", 9) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!base)
		setup();
	body_total = 0;
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	if (connect(c, (struct sockaddr *)&a, sizeof a) != 0)
		abort();
	fcntl(c, F_SETFL, O_NONBLOCK);
	buf out;
	buf_init(&out);
	size_t off = 0;
	bool shut = false, eof = false;
	for (int i = 0; i < 200000 && !eof; i++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (off < size) {
			ssize_t w = write(c, data + off, size - off);
			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN)
				off = size; /* the server closed on us */
		} else if (!shut) {
			shutdown(c, SHUT_WR);
			shut = true;
		}
		char tmp[8192];
		ssize_t r = read(c, tmp, sizeof tmp);
		if (r > 0)
			buf_add(&out, tmp, (size_t)r);
		else if (r == 0 || (r < 0 && errno != EAGAIN))
			eof = true;
	}
	close(c);
	for (int i = 0; i < 100000 && httpd_connections(srv) > 0; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	if (!eof || !well_formed(out.data, out.len) || body_total > size || httpd_connections(srv) != 0)
		__builtin_trap();
	buf_free(&out);
	return 0;
}
