/* fuzz_http.c — the gateway's HTTP/1.1 client (upstream.c) reading an
 * answer: the input is what "Groq" sends back on a real loopback socket,
 * then the connection closes. Whatever arrives, the transfer ends exactly
 * once, a success has a status and came after its head, and no more body
 * is handed on than was sent. */
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "gateway.h"
#include "httpd.h"
#include "origin.h"

static struct event_base *base;
static struct upstream *up;
static int lfd = -1;
static struct origin *origin; /* parsed once, as the configuration does */

struct seen {
	int heads, dones, ok;
	long status;
	size_t data;
};

static void on_head(void *arg, const struct hstatus *h)
{
	struct seen *s = arg;
	for (int i = 0; i < h->nh; i++) /* every field a name and a value */
		if (!h->h[i].name[0] || !h->h[i].value)
			__builtin_trap();
	s->heads++;
	s->status = h->status;
}
static void on_data(void *arg, const char *d, size_t n)
{
	struct seen *s = arg;
	(void)d;
	if (!s->heads)
		__builtin_trap(); /* a body before its head */
	s->data += n;
}
static void on_done(void *arg, int ok, const char *err)
{
	struct seen *s = arg;
	s->dones++;
	s->ok = ok;
	if (!ok && !err)
		__builtin_trap(); /* a failure always says why */
}
static const struct utx_cbs cbs = { on_head, on_data, on_done };

static void setup(void)
{
	base = event_base_new();
	up = upstream_new(base, NULL);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 16) || getsockname(lfd, (struct sockaddr *)&a, &al))
		abort();
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
	const char *why;
	if (!(origin = origin_parse(url, &why)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!base)
		setup();
	struct seen s = { 0 };
	const char *hdrs[] = { "Authorization: Bearer gsk_fuzz", "Content-Type: application/json", NULL };
	struct ureq rq = { .method = "POST", .path = "/openai/v1/chat/completions", .headers = hdrs, .body = "{}",
			   .len = 2, .timeout_ms = 2000, .connect_timeout_ms = 1000 };
	upstream_start(up, origin, &rq, &cbs, &s);
	int c = -1;
	char req[4096];
	size_t got = 0;
	bool answered = false;
	for (int i = 0; i < 100000 && !s.dones; i++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (answered)
			continue;
		if (c < 0 && (c = accept(lfd, NULL, NULL)) >= 0)
			fcntl(c, F_SETFL, O_NONBLOCK);
		if (c < 0)
			continue;
		/* read the whole request first (it ends with its 2-byte body), so
		 * closing never resets the connection under the answer */
		ssize_t r = read(c, req + got, sizeof req - 1 - got);
		if (r > 0)
			got += (size_t)r;
		if (got < 2 || memcmp(req + got - 2, "{}", 2) != 0)
			continue;
		fcntl(c, F_SETFL, 0);
		for (size_t off = 0; off < size;) {
			ssize_t w = write(c, data + off, size - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		shutdown(c, SHUT_WR);
		close(c);
		answered = true;
	}
	if (s.dones != 1 || (s.ok && (s.status < 100 || s.status > 999 || !s.heads)) || s.data > size)
		__builtin_trap();
	return 0;
}
