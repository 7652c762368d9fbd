/* counters_redis.c — the RPM windows shared by every replica, in Redis
 * (cluster mode; docs/cluster.md).
 *
 * Each team's window is a sorted set gg:rpm:{team} of admission times,
 * read and written by one Lua script that runs atomically in Redis with
 * Redis's own clock (so replicas' clocks do not matter): drop what left
 * the last 60 s, admit when fewer than the limit remain. The same exact
 * sliding window as on one node, across the fleet.
 *
 * The request path asks on an asynchronous connection (hiredis on the
 * gateway's libevent loop): the admissions of one loop pass are written
 * together and their answers read together, one round trip for all of
 * them, and the loop never waits. A second, blocking connection with a
 * short timeout serves the rare callers that need an answer at once (the
 * RPM queue) and the tick's pipelined counts for the admin API.
 *
 * When Redis does not answer (refused, or an answer older than
 * TIMEOUT_MS at a tick), each replica enforces limit ÷ replicas alive in
 * its own window (never above the limit across the fleet), says so in
 * /healthz, and tries Redis again every RETRY_MS. A request waiting on an
 * answer that never comes is decided by that local window. */
#include "gateway.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define RETRY_MS 1000
#define TIMEOUT_MS 200

static const char script[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local k = KEYS[1]\n"
	"local lim = tonumber(ARGV[1])\n"
	"redis.call('ZREMRANGEBYSCORE', k, '-inf', now - 60000)\n"
	"local n = redis.call('ZCARD', k)\n"
	"if ARGV[2] == '' then return {0, 0, n} end\n"
	"if n < lim then\n"
	"  redis.call('ZADD', k, now, ARGV[2])\n"
	"  redis.call('PEXPIRE', k, 61000)\n"
	"  return {1, 0, n + 1}\n"
	"end\n"
	"local o = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')\n"
	"return {0, tonumber(o[2]) + 60000 - now, n}\n";

/* a team's local window while Redis is away, and its last fleet count */
struct local {
	struct ratelimit rl;
	int limit;
	int fleet; /* the window's count across the fleet, as Redis last said */
};

/* a request waiting for Redis's answer (in the order asked) */
struct cwait {
	struct cwait *next;
	struct rcounters *r;
	struct team *t;      /* NULL once cancelled */
	void (*cb)(void *arg, int ok, int64_t retry_ms);
	void *arg;
	int64_t asked_at;    /* mono ms */
};

struct rcounters {
	struct counters base; /* first */
	redisContext *c;
	redisAsyncContext *ac;  /* the request path's connection (NULL: none) */
	bool ac_up;             /* connected */
	struct event_base *evb;
	struct event *flush;    /* end of the loop pass: what was asked, written */
	buf cmd;                /* an admission's command, made here */
	struct cwait *head, *tail; /* waiting, oldest first */
	char host[256];
	int port, db;
	char sha[48];
	char *replica;
	int64_t seq;          /* makes each admission's member unique */
	int64_t retry_at;     /* mono ms: the next connection attempt */
	int alive;            /* replicas serving: the fallback's divisor */
	strmap *local;        /* team id -> struct local */
	char *cause;          /* why Redis is down, or NULL */
};

#define R(c) ((struct rcounters *)(c))

static void down(struct rcounters *r, const char *why)
{
	free(r->cause);
	r->cause = xstrdup(why && *why ? why : "no answer");
	if (r->c)
		redisFree(r->c);
	r->c = NULL;
	r->retry_at = mono_us() / 1000 + RETRY_MS;
}

static redisReply *cmd(struct rcounters *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *y = redisvCommand(r->c, fmt, ap);
	va_end(ap);
	if (!y) {
		down(r, r->c->errstr);
		return NULL;
	}
	if (y->type == REDIS_REPLY_ERROR) {
		char *m = xstrdup(y->str);
		freeReplyObject(y);
		down(r, m);
		free(m);
		return NULL;
	}
	return y;
}

static bool connect_now(struct rcounters *r)
{
	if (r->c)
		return true;
	if (mono_us() / 1000 < r->retry_at)
		return false;
	struct timeval tv = { 0, TIMEOUT_MS * 1000 * 2 };
	r->c = redisConnectWithTimeout(r->host, r->port, tv);
	if (!r->c || r->c->err) {
		char *m = xasprintf("%s:%d: %s", r->host, r->port, r->c ? r->c->errstr : "cannot connect");
		down(r, m);
		free(m);
		return false;
	}
	struct timeval to = { 0, TIMEOUT_MS * 1000 };
	redisSetTimeout(r->c, to);
	redisReply *y = NULL;
	if (r->db && !(y = cmd(r, "SELECT %d", r->db)))
		return false;
	if (r->db)
		freeReplyObject(y);
	if (!(y = cmd(r, "SCRIPT LOAD %s", script)))
		return false;
	freeReplyObject(y); /* its name is r->sha, known from the start */
	free(r->cause);
	r->cause = NULL;
	return true;
}

static struct local *local_of(struct rcounters *r, const struct team *t)
{
	struct local *l = strmap_get(r->local, t->id);
	if (!l) {
		l = xcalloc(1, sizeof *l);
		rl_init(&l->rl, 1);
		strmap_put(r->local, t->id, l);
	}
	int alive = r->alive > 0 ? r->alive : 1;
	int lim = (int)(t->rpm_limit / alive);
	if (lim < 1 && t->rpm_limit > 0)
		lim = 1; /* at least one each: the fleet may then exceed a limit below the replicas */
	if (lim != l->limit) {
		rl_resize(&l->rl, lim);
		l->limit = lim;
	}
	return l;
}

/* the script: admit (member given) or only count; 1/0 admitted, -1 Redis failed */
static int run(struct rcounters *r, const struct team *t, const char *member, int64_t *retry_ms, int *count)
{
	if (!connect_now(r))
		return -1;
	char key[300];
	snprintf(key, sizeof key, "gg:rpm:{%s}", t->id);
	redisReply *y = cmd(r, "EVALSHA %s 1 %s %lld %s", r->sha, key, (long long)t->rpm_limit, member);
	if (!y)
		return -1;
	int ok = -1;
	if (y->type == REDIS_REPLY_ARRAY && y->elements == 3) {
		ok = y->element[0]->integer == 1;
		if (retry_ms)
			*retry_ms = y->element[1]->integer;
		*count = (int)y->element[2]->integer;
	}
	freeReplyObject(y);
	return ok;
}

static int redis_admit(struct counters *c, struct team *t, int64_t now, int64_t *retry_ms)
{
	struct rcounters *r = R(c);
	char member[200];
	snprintf(member, sizeof member, "%s:%lld", r->replica, (long long)++r->seq);
	struct local *l = local_of(r, t);
	int ok = run(r, t, member, retry_ms, &l->fleet);
	if (ok >= 0)
		return ok;
	return rl_admit(&l->rl, now, retry_ms);
}

static int redis_count(struct counters *c, const struct team *t, int64_t now)
{
	struct rcounters *r = R(c);
	struct local *l = local_of(r, t);
	if (!r->c)
		return rl_count(&l->rl, now);
	return l->fleet;
}

/* ---- the asynchronous connection ------------------------------------ */

/* hiredis on the loop. Its own libevent adapter re-adds the read event
 * after every answer (an epoll_ctl per request); here the read event stays
 * (EV_PERSIST) for the connection's life and only writing comes and goes. */
struct hev {
	redisAsyncContext *ac;
	struct event *rev, *wev;
	bool reading;
};

static void hev_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	redisAsyncHandleRead(((struct hev *)arg)->ac);
}

static void hev_write(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	redisAsyncHandleWrite(((struct hev *)arg)->ac);
}

static void hev_add_read(void *arg)
{
	struct hev *e = arg;
	if (!e->reading)
		event_add(e->rev, NULL);
	e->reading = true;
}

static void hev_del_read(void *arg)
{
	struct hev *e = arg;
	if (e->reading)
		event_del(e->rev);
	e->reading = false;
}

static void hev_add_write(void *arg)
{
	event_add(((struct hev *)arg)->wev, NULL);
}

static void hev_del_write(void *arg)
{
	event_del(((struct hev *)arg)->wev);
}

static void hev_cleanup(void *arg)
{
	struct hev *e = arg;
	event_free(e->rev);
	event_free(e->wev);
	free(e);
}

static void hev_attach(redisAsyncContext *ac, struct event_base *base)
{
	struct hev *e = xcalloc(1, sizeof *e);
	e->ac = ac;
	e->rev = event_new(base, ac->c.fd, EV_READ | EV_PERSIST, hev_read, e);
	e->wev = event_new(base, ac->c.fd, EV_WRITE, hev_write, e);
	ac->ev.addRead = hev_add_read;
	ac->ev.delRead = hev_del_read;
	ac->ev.addWrite = hev_add_write;
	ac->ev.delWrite = hev_del_write;
	ac->ev.cleanup = hev_cleanup;
	ac->ev.data = e;
	hev_add_read(e);
	hev_add_write(e); /* the connection completes when it is writable */
}

static void ac_connected(const redisAsyncContext *ac, int status)
{
	struct rcounters *r = ac->data;
	if (status != REDIS_OK) {
		r->ac = NULL; /* hiredis frees it */
		r->ac_up = false;
		return;
	}
	r->ac_up = true;
}

static void ac_disconnected(const redisAsyncContext *ac, int status)
{
	(void)status;
	struct rcounters *r = ac->data;
	r->ac = NULL; /* hiredis frees it; waiting answers came back NULL */
	r->ac_up = false;
}

static void ac_connect(struct rcounters *r)
{
	if (r->ac)
		return;
	redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
	if (!ac)
		return;
	if (ac->err) {
		redisAsyncFree(ac);
		return;
	}
	ac->data = r;
	hev_attach(ac, r->evb);
	redisAsyncSetConnectCallback(ac, ac_connected);
	redisAsyncSetDisconnectCallback(ac, ac_disconnected);
	r->ac = ac;
	/* the database, then the script: before any admission on this connection */
	if (r->db)
		redisAsyncCommand(ac, NULL, NULL, "SELECT %d", r->db);
	redisAsyncCommand(ac, NULL, NULL, "SCRIPT LOAD %s", script);
}

static void unlink_wait(struct rcounters *r, struct cwait *w)
{
	struct cwait **pp = &r->head, *prev = NULL;
	while (*pp && *pp != w) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = w->next;
	if (r->tail == w)
		r->tail = prev;
}

static void answered(redisAsyncContext *ac, void *reply, void *privdata)
{
	(void)ac;
	struct cwait *w = privdata;
	struct rcounters *r = w->r;
	redisReply *y = reply;
	unlink_wait(r, w);
	if (!w->t) { /* cancelled: its client left */
		free(w);
		return;
	}
	int ok;
	int64_t retry = 0;
	struct local *l = local_of(r, w->t);
	if (y && y->type == REDIS_REPLY_ARRAY && y->elements == 3) {
		ok = y->element[0]->integer == 1;
		retry = y->element[1]->integer;
		l->fleet = (int)y->element[2]->integer;
	} else { /* no answer (Redis went away, an error): this replica decides */
			ok = rl_admit(&l->rl, mono_us() / 1000, &retry);
	}
	void (*cb)(void *, int, int64_t) = w->cb;
	void *arg = w->arg;
	free(w);
	cb(arg, ok, retry);
}

static struct cwait *redis_admit_async(struct counters *c, struct team *t, int64_t now,
				       void (*cb)(void *arg, int ok, int64_t retry_ms), void *arg, int *ok,
				       int64_t *retry_ms)
{
	struct rcounters *r = R(c);
	if (r->ac && r->ac_up) {
		struct cwait *w = xcalloc(1, sizeof *w);
		*w = (struct cwait){ .r = r, .t = t, .cb = cb, .arg = arg, .asked_at = mono_us() / 1000 };
		/* the command in Redis's protocol, written here (hiredis' own
		 * formatting parses a format string for every request) */
		buf *b = &r->cmd;
		buf_reset(b);
		buf_adds(b, "*6\r\n$7\r\nEVALSHA\r\n$40\r\n");
		buf_add(b, r->sha, 40);
		buf_adds(b, "\r\n$1\r\n1\r\n$");
		size_t idl = strlen(t->id);
		buf_addi(b, (int64_t)idl + 9);
		buf_adds(b, "\r\ngg:rpm:{");
		buf_add(b, t->id, idl);
		buf_adds(b, "}\r\n$");
		char lim[24], seq[24];
		size_t ll = i64_text(lim, t->rpm_limit), sl = i64_text(seq, ++r->seq), rl = strlen(r->replica);
		buf_addi(b, (int64_t)ll);
		buf_adds(b, "\r\n");
		buf_add(b, lim, ll);
		buf_adds(b, "\r\n$");
		buf_addi(b, (int64_t)(rl + 1 + sl));
		buf_adds(b, "\r\n");
		buf_add(b, r->replica, rl);
		buf_add(b, ":", 1);
		buf_add(b, seq, sl);
		buf_adds(b, "\r\n");
		if (redisAsyncFormattedCommand(r->ac, answered, w, b->data, b->len) == REDIS_OK) {
			if (r->tail)
				r->tail->next = w;
			else
				r->head = w;
			r->tail = w;
			/* written once the loop has run this pass's other events (their
			 * admissions join this write), without waiting for a round of
			 * epoll to say the socket is writable */
			if (!event_pending(r->flush, EV_TIMEOUT, NULL))
				event_active(r->flush, EV_TIMEOUT, 1);
			return w;
		}
		free(w);
	}
	*retry_ms = 0;
	*ok = redis_admit(c, t, now, retry_ms); /* the blocking connection, or this replica's window */
	return NULL;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct rcounters *r = arg;
	if (r->ac && r->ac_up)
		redisAsyncHandleWrite(r->ac);
}

static void redis_cancel(struct cwait *w)
{
	w->t = NULL; /* freed when its answer comes */
}

static const struct counters_ops redis_ops = { "redis", redis_admit, redis_count, redis_admit_async, redis_cancel };

/* redis://HOST:PORT/DB */
static int parse_url(struct rcounters *r, const char *url, char **cause)
{
	const char *p = url + strlen("redis://");
	const char *slash = strchr(p, '/');
	char hp[300];
	snprintf(hp, sizeof hp, "%.*s", (int)(slash ? (size_t)(slash - p) : strlen(p)), p);
	char *why = NULL;
	if (parse_hostport(hp, r->host, sizeof r->host, &r->port, &why) != 0) {
		fail(cause, "counters.redis %s: %s", url, why);
		free(why);
		return -1;
	}
	r->db = slash && slash[1] ? atoi(slash + 1) : 0;
	return 0;
}

struct counters *counters_redis_new(const char *url, const char *replica, struct event_base *base, char **cause)
{
	struct rcounters *r = xcalloc(1, sizeof *r);
	buf_init(&r->cmd);
	r->evb = base;
	r->flush = event_new(base, -1, 0, flush_cb, r);
	r->base.ops = &redis_ops;
	r->local = strmap_new();
	r->replica = xstrdup(replica);
	r->alive = 1;
	if (parse_url(r, url, cause) != 0) {
		counters_redis_free(&r->base);
		return NULL;
	}
	/* the script's name is its SHA-1, as Redis computes it */
	unsigned char d[SHA_DIGEST_LENGTH];
	SHA1((const unsigned char *)script, strlen(script), d);
	for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
		snprintf(r->sha + 2 * i, 3, "%02x", d[i]);
	connect_now(r); /* down now is not fatal: the fallback serves */
	ac_connect(r);
	return &r->base;
}

void counters_redis_free(struct counters *c)
{
	if (!c)
		return;
	struct rcounters *r = R(c);
	if (r->c)
		redisFree(r->c);
	if (r->ac) /* waiting answers come back NULL: decided locally, or dropped */
		redisAsyncFree(r->ac);
	if (r->flush)
		event_free(r->flush);
	size_t i = 0;
	const char *k;
	void *v;
	while (strmap_next(r->local, &i, &k, &v)) {
		struct local *l = v;
		rl_free(&l->rl);
		free(l);
	}
	strmap_free(r->local);
	free(r->replica);
	free(r->cause);
	buf_free(&r->cmd);
	free(r);
}

void counters_redis_watch(struct counters *c)
{
	struct rcounters *r = R(c);
	/* an answer overdue: Redis stopped answering; the connection is
	 * dropped, its waiting requests decided here, and made again later */
	if (r->ac && r->head && mono_us() / 1000 - r->head->asked_at > TIMEOUT_MS) {
		redisAsyncContext *ac = r->ac;
		redisAsyncFree(ac); /* each waiting answer comes back NULL: decided here */
		r->ac = NULL;
		r->ac_up = false;
		down(r, "no answer within 200 ms");
	}
	if (!r->ac && mono_us() / 1000 >= r->retry_at)
		ac_connect(r);
}

void counters_redis_tick(struct counters *c, struct registry *reg, int alive)
{
	struct rcounters *r = R(c);
	r->alive = alive;
	/* every team's fleet count, for the admin API (one round trip each,
	 * pipelined) */
	if (!connect_now(r))
		return;
	int sent = 0;
	for (int i = 0; i < reg->nteams; i++) {
		char key[300];
		snprintf(key, sizeof key, "gg:rpm:{%s}", reg->teams[i]->id);
		if (redisAppendCommand(r->c, "EVALSHA %s 1 %s %lld %s", r->sha, key,
				       (long long)reg->teams[i]->rpm_limit, "") == REDIS_OK)
			sent++;
	}
	for (int i = 0; i < sent; i++) {
		redisReply *y = NULL;
		if (redisGetReply(r->c, (void **)&y) != REDIS_OK || !y) {
			down(r, r->c->errstr);
			return;
		}
		if (y->type == REDIS_REPLY_ARRAY && y->elements == 3)
			local_of(r, reg->teams[i])->fleet = (int)y->element[2]->integer;
		freeReplyObject(y);
	}
}

const char *counters_redis_down(struct counters *c)
{
	struct rcounters *r = R(c);
	return r->c ? NULL : r->cause ? r->cause : "not connected";
}
