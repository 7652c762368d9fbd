/* httpd_int.h — the server's insides, shared by its three files, each
 * calling only those below it: httpd_reply.c (a reply sent) over httpd.c
 * (connections: reading, parsing, writing, timeouts; the server) over
 * httpd_req.c (a request's accessors, its reply's head). Private to them. */
#ifndef GG_HTTPD_INT_H
#define GG_HTTPD_INT_H

#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "httpd.h"

#define MAX_LISTEN 4
#define MAX_FIELDS 128        /* header fields in one request */
#define READ_MAX (64 * 1024)  /* read per call */
#define PIPELINE_MAX (64 * 1024) /* input held while a request is handled */
#define LINGER_MS 2000        /* reading after a refusal, before closing */
#define CHUNK_LINE_MAX 1024   /* a chunk-size line */
#define SSL_WRITE_MAX (16 * 1024)

enum cstate { C_HEAD, C_BODY, C_HANDLER, C_LINGER };
enum chstate { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

struct hconn;

struct httpd {
	struct event_base *base;
	httpd_cb cb;
	void *arg;
	size_t max_body, max_head;
	int timeout_s;
	const char *knob_body, *knob_head;
	const char *prefix, *knob_prefix; /* paths under prefix take up to max_prefix */
	httpd_error_fn error_body;        /* the body of the server's own refusals */
	size_t max_prefix;
	const char *default_type;
	SSL_CTX *ssl;
	int lfd[MAX_LISTEN];
	struct event *lev[MAX_LISTEN];
	int nl;
	struct event *sweep, *resume_accept;
	struct hconn *conns;
	int nconns;
	int max_conns;          /* 0: no limit */
	int64_t head_timeout_ms; /* a request head whole within it (0: timeout_s) */
	int64_t shed;           /* connections closed to make room */
	/* buffers given back by requests and idle connections, taken by the
	 * next ones instead of allocated: none held by an idle connection,
	 * no allocation for them in the steady state (at most 32 of at
	 * most SPARE_CAP bytes kept) */
	buf spare[32];
	int nspare;
};

/* a spare buffer into b when it has none (else b is left as it is); b
 * given back to the spares (or freed when they are full, or it is large) */
void hd_buf_take(struct httpd *s, buf *b);
void hd_buf_park(struct httpd *s, buf *b);

struct hconn {
	struct httpd *s;
	int fd;
	SSL *ssl;
	struct event *rev, *wev;
	bool reading, writing;  /* rev / wev added */
	bool failed;            /* close on the next pass (wev made active) */
	bool close_after;       /* no keep-alive: close once the reply is out */
	bool ssl_read_wants_write;
	size_t ssl_retry;       /* an SSL_write to repeat with this length */
	enum cstate state;
	buf in;
	size_t in_off, scan;    /* parsed up to; head searched up to */
	buf out;
	size_t out_off;
	char *owned;            /* a handed-over body written after out */
	size_t owned_len, owned_off;
	struct hreq *req;       /* the request being read or handled */
	int64_t last_ms;        /* last progress (timeouts) */
	int64_t head_ms;        /* when the head being read began to arrive */
	bool served;            /* a request was read on it */
	char *bearer;           /* the last bearer token hashed on it, and its */
	size_t bearer_len;      /* SHA-256 (httpd_bearer_hashed); wiped at */
	char bearer_hash[65];   /* close */
	/* chunked request body */
	enum chstate ch;
	int64_t ch_left;
	size_t trailer_bytes;
	struct hconn *prev, *next;
};

struct hreq {
	struct hconn *c;        /* NULL once its client is gone */
	struct hhead h;
	char *head;             /* the head's bytes (fields point in here) */
	buf body;
	buf ohdr;               /* reply headers, "Name: value\r\n" each */
	bool has_ctype, http10, started, finished, head_only, close;
	void (*close_cb)(struct hreq *, void *);
	void *close_arg;
	void (*done_cb)(struct hreq *, void *);
	void *done_arg;
};

/* httpd_req.c */
void hd_req_free(struct hreq *r);                          /* the request and what it holds */
void hd_put_head(struct hreq *r, int status, int64_t len); /* the status line and headers into the output (len -1: chunked) */
/* httpd.c */
void hd_conn_flush(struct hconn *c); /* writes what the socket takes; the rest when writable */
/* the connection broke: closed from its write event */
static inline void hd_conn_fail(struct hconn *c)
{
	if (c->failed)
		return;
	c->failed = true;
	event_active(c->wev, EV_WRITE, 1);
}

#endif
