/* net.h — talking to the outside: outgoing HTTP to Groq (upstream.c and
 * its engines) and systemd (sdnotify.c). Calls core only. */
#ifndef GG_NET_H
#define GG_NET_H

#include "core.h" /* the rooms below */

/* ---- upstream.c: outgoing HTTP/1.1 on the libevent loop ------------- */
struct upstream;
struct utx;
struct origin;
struct hstatus;
struct utx_cbs {
	/* the answer's head: status and fields, valid during the call */
	void (*on_head)(void *arg, const struct hstatus *h);
	void (*on_data)(void *arg, const char *data, size_t len);
	void (*on_done)(void *arg, int ok, const char *err);          /* err NULL when ok */
};
/* ca_file: the CAs to trust for https (NULL: the system's) */
struct upstream *upstream_new(struct event_base *base, const char *ca_file);
const char *upstream_engine(const struct upstream *u); /* for the start-up log */
void upstream_free(struct upstream *u);
/* A request: its target is the origin's path, then path, then ?query. */
struct ureq {
	const char *method;
	const char *path, *query;   /* NULL: none */
	const char *const *headers; /* NULL-terminated "Name: value" list */
	const char *body;           /* NULL: none */
	size_t len;
	int64_t timeout_ms, connect_timeout_ms;
};
/* Starts a transfer to o (which it holds a reference to). Returns the
 * transfer, owned by upstream until on_done or utx_cancel (after which no
 * callback runs). */
struct utx *upstream_start(struct upstream *u, struct origin *o, const struct ureq *r, const struct utx_cbs *cbs,
			   void *arg);
void utx_cancel(struct utx *t);
void utx_pause(struct utx *t, bool pause);
int upstream_active(const struct upstream *u);

/* ---- sdnotify.c: systemd's readiness and watchdog ------------------ */
/* Sends state ("READY=1") to $NOTIFY_SOCKET: 1 sent, 0 none set, -1 failed. */
int sd_notify_send(const char *state);
/* The watchdog interval systemd asks for (WatchdogSec), in ms, or 0. */
int64_t sd_watchdog_ms(void);

#endif
