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
#include "counters_redis.h"

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

/* KEYS[1] the window; ARGV: limit, member prefix ('' only counts), first
 * sequence, how many slots, how far ahead (ms) they are dated. More than
 * one slot is granted only while the window stays at most half full with
 * them; each is dated at the end of its lease, so it leaves the window no
 * sooner than a slot used at any moment of the lease would. */
static const char script[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local k = KEYS[1]\n"
	"local lim = tonumber(ARGV[1])\n"
	"redis.call('ZREMRANGEBYSCORE', k, '-inf', now - 60000)\n"
	"local n = redis.call('ZCARD', k)\n"
	"if ARGV[2] == '' then return {0, 0, n} end\n"
	"if n < lim then\n"
	"  local want, ahead, s = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[3])\n"
	"  if want < 1 or 2 * (n + want) > lim then want = 1; ahead = 0 end\n"
	"  for i = 0, want - 1 do redis.call('ZADD', k, now + ahead, ARGV[2] .. (s + i)) end\n"
	"  redis.call('PEXPIRE', k, 61000 + ahead)\n"
	"  return {want, 0, n + want}\n"
	"end\n"
	"local o = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')\n"
	"return {0, tonumber(o[2]) + 60000 - now, n}\n";


/* The capacity windows (capacity.c) in the fleet: each a hash of bucket
 * (ms / bucket) -> amount. A request's windows are leased together, all
 * or none: KEYS the windows; ARGV eight per window (span, bucket, limit,
 * need, want, the bucket and amount of an old lease's rest to give back,
 * what was admitted without the fleet to add, dated now), then how far
 * ahead (ms) grants are dated. First every give and add; then each
 * window's use (buckets wholly out of it dropped); if one lacks room for
 * its need: {0, its index, ms until it may, its use}; else each is
 * granted its need and up to a quarter of the room beyond (no more than
 * want): {1, granted, bucket, use, ...}. One Redis (the keys of a request
 * span teams and models: not Redis Cluster). */
#define CAP_LUA_PRELUDE                                                                                    \
	"local t = redis.call('TIME')\n"                                                                    \
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                           \
	"local function keep(k, ttl) if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end end\n" \
	"local function use(k, span, bk)\n"                                                                 \
	"  local first, h, sum, bs = math.floor((now - span) / bk), redis.call('HGETALL', k), 0, {}\n"     \
	"  for j = 1, #h, 2 do\n"                                                                           \
	"    local b, a = tonumber(h[j]), tonumber(h[j + 1])\n"                                             \
	"    if b < first then redis.call('HDEL', k, h[j]) else sum = sum + a; bs[#bs + 1] = {b, a} end\n"  \
	"  end\n"                                                                                           \
	"  return sum, bs\n"                                                                                \
	"end\n"
static const char cap_script[] =
	CAP_LUA_PRELUDE
	"local n = #KEYS\n"
	"local ahead = tonumber(ARGV[8 * n + 1])\n"
	"local function a(i, f) return tonumber(ARGV[8 * (i - 1) + f]) end\n"
	"for i = 1, n do\n"
	"  local k, bk = KEYS[i], a(i, 2)\n"
	"  if a(i, 7) > 0 and redis.call('HEXISTS', k, ARGV[8 * (i - 1) + 6]) == 1 then\n"
	"    redis.call('HINCRBY', k, ARGV[8 * (i - 1) + 6], -a(i, 7)) end\n"
	"  if a(i, 8) > 0 then redis.call('HINCRBY', k, math.floor(now / bk), a(i, 8)); keep(k, a(i, 1) + ahead + 2 * bk) end\n"
	"end\n"
	"local sums = {}\n"
	"for i = 1, n do\n"
	"  local span, bk, lim, need = a(i, 1), a(i, 2), a(i, 3), a(i, 4)\n"
	"  local sum, bs = use(KEYS[i], span, bk)\n"
	"  sums[i] = sum\n"
	"  if need > lim - sum then\n"
	"    table.sort(bs, function(x, y) return x[1] < y[1] end)\n"
	"    local freed, retry = 0, span\n"
	"    for _, e in ipairs(bs) do\n"
	"      freed = freed + e[2]\n"
	"      if lim - sum + freed >= need then retry = (e[1] + 1) * bk + span - now; break end\n"
	"    end\n"
	"    return {0, i - 1, retry, sum}\n"
	"  end\n"
	"end\n"
	"local out = {1}\n"
	"for i = 1, n do\n"
	"  local k, span, bk, lim, need, want = KEYS[i], a(i, 1), a(i, 2), a(i, 3), a(i, 4), a(i, 5)\n"
	"  local g = need + math.floor((lim - sums[i] - need) / 4)\n"
	"  if g > want then g = want end\n"
	"  local f = math.floor((now + ahead) / bk)\n"
	"  redis.call('HINCRBY', k, f, g)\n"
	"  keep(k, span + ahead + 2 * bk)\n"
	"  out[#out + 1] = g; out[#out + 1] = f; out[#out + 1] = sums[i]\n"
	"end\n"
	"return out\n";

/* Every second: each window's use, what was admitted without the fleet
 * added first (ARGV three per window: span, bucket, add; then ahead). */
static const char sync_script[] =
	CAP_LUA_PRELUDE
	"local n = #KEYS\n"
	"local ahead = tonumber(ARGV[3 * n + 1])\n"
	"local out = {}\n"
	"for i = 1, n do\n"
	"  local k, span, bk, add = KEYS[i], tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])\n"
	"  if add > 0 then redis.call('HINCRBY', k, math.floor(now / bk), add); keep(k, span + ahead + 2 * bk) end\n"
	"  out[i] = use(k, span, bk)\n"
	"end\n"
	"return out\n";

/* Redis went away: each local window starts with this replica's share of
 * what the fleet already admitted in the current window (its last count),
 * so that the replicas together admit no more than the limit's rest. The
 * seeds are dated now: conservative, they leave later than the requests
 * they stand for. */
static void fallback_begin(struct rcounters *r)
{
	if (r->fallback)
		return;
	r->fallback = true;
	int alive = r->alive > 0 ? r->alive : 1;
	int64_t now = r->last_now ? r->last_now : wall_ms();
	size_t i = 0;
	const char *k;
	void *v;
	while (strmap_next(r->local, &i, &k, &v)) {
		struct local *l = v;
		int seed = (l->fleet + alive - 1) / alive, have = rl_count(&l->rl, now);
		int64_t retry;
		for (int n = have; n < seed && n < l->limit; n++)
			rl_admit(&l->rl, now, &retry);
	}
}

static void down(struct rcounters *r, const char *why)
{
	fallback_begin(r);
	free(r->cause);
	r->cause = xstrdup(why && *why ? why : "no answer");
	if (r->c)
		redisFree(r->c);
	r->c = NULL;
	r->retry_at = mono_us() / 1000 + RETRY_MS;
}

/* a reply of the blocking connection: y, or NULL when there was none or
 * Redis answered an error (then the connection is dropped, made again later) */
redisReply *redis_answer_of(struct rcounters *r, redisReply *y)
{
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

static redisReply *cmd(struct rcounters *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *y = redisvCommand(r->c, fmt, ap);
	va_end(ap);
	return redis_answer_of(r, y);
}

bool redis_connect_now(struct rcounters *r)
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
	const char *const scripts[] = { script, cap_script, sync_script };
	for (size_t i = 0; i < ARRAY_LEN(scripts); i++) {
		if (!(y = cmd(r, "SCRIPT LOAD %s", scripts[i])))
			return false;
		freeReplyObject(y); /* its name is its SHA-1, known from the start */
	}
	free(r->cause);
	r->cause = NULL;
	r->fallback = false;
	return true;
}

/* the lease's unused slots taken out of the window: on the loop's
 * connection, no answer awaited, or (at a clean stop) on the blocking one;
 * with Redis away they leave it with time, dated as they are */
static void give_back_on(struct rcounters *r, struct local *l, bool blocking)
{
	int64_t n = l->slot_end - l->slot;
	if (n > 0 && (blocking ? r->c != NULL : r->ac && r->ac_up)) {
		const char *argv[2 + LEASE_MAX];
		size_t lens[2 + LEASE_MAX];
		char mem[LEASE_MAX][200];
		argv[0] = "ZREM", lens[0] = 4;
		argv[1] = l->key, lens[1] = strlen(l->key);
		int k = 0;
		for (int64_t q = l->slot; q < l->slot_end && k < LEASE_MAX; q++, k++) {
			lens[2 + k] = (size_t)snprintf(mem[k], sizeof mem[k], "%s:%lld", r->replica, (long long)q);
			argv[2 + k] = mem[k];
		}
		if (blocking) {
			redisReply *y = redisCommandArgv(r->c, 2 + k, argv, lens);
			if (y)
				freeReplyObject(y);
		} else {
			redisAsyncCommandArgv(r->ac, NULL, NULL, 2 + k, argv, lens);
		}
	}
	l->slot = l->slot_end = 0;
}

static void give_back(struct rcounters *r, struct local *l)
{
	give_back_on(r, l, false);
}

static struct local *local_of(struct rcounters *r, const struct team *t)
{
	struct local *l = strmap_get(r->local, t->id);
	if (!l) {
		l = xcalloc(1, sizeof *l);
		rl_init(&l->rl, 1);
		snprintf(l->key, sizeof l->key, "gg:rpm:{%s}", t->id);
		l->want = 1;
		strmap_put(r->local, t->id, l);
	}
	if (t->rpm_limit != l->team_limit) { /* slots leased under another limit go back */
		give_back(r, l);
		l->team_limit = t->rpm_limit;
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
	if (!redis_connect_now(r))
		return -1;
	char key[300];
	snprintf(key, sizeof key, "gg:rpm:{%s}", t->id);
	redisReply *y = cmd(r, "EVALSHA %s 1 %s %lld %s %lld 1 0", r->sha, key, (long long)t->rpm_limit, member,
			    (long long)++r->seq);
	if (!y)
		return -1;
	int ok = -1;
	if (y->type == REDIS_REPLY_ARRAY && y->elements == 3) {
		ok = y->element[0]->integer >= 1;
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
	snprintf(member, sizeof member, "%s:", r->replica);
	r->last_now = now;
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
	r->fallback = false;
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
	struct local *l = w->l;
	int64_t granted = -1;
	if (w->want > 1)
		l->asking = false;
	if (y && y->type == REDIS_REPLY_ARRAY && y->elements == 3) {
		granted = y->element[0]->integer;
		l->fleet = (int)y->element[2]->integer;
		/* the slots beyond this request's own, for the next ones */
		if (granted > 1 && l->slot == l->slot_end) {
			l->slot = w->seq + (w->t ? 1 : 0);
			l->slot_end = w->seq + granted;
			l->slot_until = w->asked_at + LEASE_MS - 50;
			if (l->team_limit != w->want_limit) /* leased under a limit changed since */
				give_back(r, l);
		}
	}
	if (!w->t) { /* cancelled: its client left (a lease's slots serve the next ones) */
		free(w);
		return;
	}
	int ok;
	int64_t retry = 0;
	if (granted >= 0) {
		ok = granted >= 1;
		retry = y->element[1]->integer;
	} else { /* no answer (Redis went away, an error): this replica decides */
		fallback_begin(r);
		local_of(r, w->t);
		ok = rl_admit(&l->rl, w->now, &retry);
	}
	void (*cb)(void *, int, int64_t) = w->cb;
	void *arg = w->arg;
	free(w);
	cb(arg, ok, retry);
}

/* the lease's next size: doubled while asks come within a lease's time
 * of each other, halved when one ended with slots unused, one when idle;
 * never more than a quarter of what the fleet's window has left per
 * replica alive (the script grants more than one only below half full) */
static int64_t lease_size(struct rcounters *r, struct local *l, const struct team *t, int64_t mnow)
{
	if (l->slot < l->slot_end) { /* expired with slots unused */
		give_back(r, l);
		l->want = l->want / 2 > 1 ? l->want / 2 : 1;
	} else if (mnow - l->last_ask < LEASE_MS) {
		l->want = l->want * 2 < LEASE_MAX ? l->want * 2 : LEASE_MAX;
	} else {
		l->want = 1;
	}
	l->last_ask = mnow;
	if (l->asking)
		return 1;
	int alive = r->alive > 0 ? r->alive : 1;
	int64_t room = (t->rpm_limit - l->fleet) / (4 * alive);
	int64_t want = l->want < room ? l->want : room;
	return want > 1 ? want : 1;
}

static struct cwait *redis_admit_async(struct counters *c, struct team *t, int64_t now,
				       void (*cb)(void *arg, int ok, int64_t retry_ms), void *arg, int *ok,
				       int64_t *retry_ms)
{
	struct rcounters *r = R(c);
	struct local *l = local_of(r, t);
	int64_t mnow = mono_us() / 1000;
	r->last_now = now;
	if (l->slot < l->slot_end && mnow < l->slot_until) { /* a leased slot: no round trip */
		l->slot++;
		*ok = 1;
		*retry_ms = 0;
		return NULL;
	}
	if (r->ac && r->ac_up) {
		int64_t want = lease_size(r, l, t, mnow);
		struct cwait *w = xcalloc(1, sizeof *w);
		*w = (struct cwait){ .r = r, .t = t, .l = l, .cb = cb, .arg = arg, .asked_at = mnow, .now = now,
				     .seq = r->seq + 1, .want = want, .want_limit = t->rpm_limit };
		r->seq += want;
		/* the command in Redis's protocol, written here (hiredis' own
		 * formatting parses a format string for every request):
		 * EVALSHA sha 1 key limit prefix seq want ahead */
		char lim[24], seq[24], wn[24], ahead[24];
		size_t ll = i64_text(lim, t->rpm_limit), sl = i64_text(seq, w->seq), wl = i64_text(wn, want),
		       al = i64_text(ahead, want > 1 ? LEASE_MS : 0), rl = strlen(r->replica), kl = strlen(l->key);
		buf *b = &r->cmd;
		buf_reset(b);
		buf_adds(b, "*9\r\n$7\r\nEVALSHA\r\n$40\r\n");
		buf_add(b, r->sha, 40);
		buf_adds(b, "\r\n$1\r\n1\r\n$");
		buf_addi(b, (int64_t)kl);
		buf_adds(b, "\r\n");
		buf_add(b, l->key, kl);
		buf_adds(b, "\r\n$");
		buf_addi(b, (int64_t)ll);
		buf_adds(b, "\r\n");
		buf_add(b, lim, ll);
		buf_adds(b, "\r\n$");
		buf_addi(b, (int64_t)(rl + 1));
		buf_adds(b, "\r\n");
		buf_add(b, r->replica, rl);
		buf_adds(b, ":\r\n$");
		buf_addi(b, (int64_t)sl);
		buf_adds(b, "\r\n");
		buf_add(b, seq, sl);
		buf_adds(b, "\r\n$");
		buf_addi(b, (int64_t)wl);
		buf_adds(b, "\r\n");
		buf_add(b, wn, wl);
		buf_adds(b, "\r\n$");
		buf_addi(b, (int64_t)al);
		buf_adds(b, "\r\n");
		buf_add(b, ahead, al);
		buf_adds(b, "\r\n");
		if (redisAsyncFormattedCommand(r->ac, answered, w, b->data, b->len) == REDIS_OK) {
			if (want > 1)
				l->asking = true;
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

/* a script's name is its SHA-1, as Redis computes it */
static void script_name(const char *text, char name[48])
{
	unsigned char d[SHA_DIGEST_LENGTH];
	SHA1((const unsigned char *)text, strlen(text), d);
	for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
		snprintf(name + 2 * i, 3, "%02x", d[i]);
}

void counters_redis_stopping(struct counters *c)
{
	if (c)
		R(c)->stopping = true;
}

struct counters *counters_redis_new(const char *url, const char *replica, struct event_base *base, char **cause)
{
	struct rcounters *r = xcalloc(1, sizeof *r);
	buf_init(&r->cmd);
	r->evb = base;
	r->flush = event_new(base, -1, 0, flush_cb, r);
	r->base.ops = &redis_ops;
	r->local = strmap_new();
	/* admissions' members: this process's own (a replica restarted within
	 * the minute must not rewrite the members it wrote before, which would
	 * leave them counted once for two admissions) */
	r->replica = xasprintf("%s.%lld", replica, (long long)wall_ms());
	r->alive = 1;
	if (parse_url(r, url, cause) != 0) {
		counters_redis_free(&r->base);
		return NULL;
	}
	script_name(script, r->sha);
	script_name(cap_script, r->cap_sha);
	script_name(sync_script, r->sync_sha);
	redis_connect_now(r); /* down now is not fatal: the fallback serves */
	ac_connect(r);
	return &r->base;
}

void counters_redis_free(struct counters *c)
{
	if (!c)
		return;
	struct rcounters *r = R(c);
	/* a clean stop: slots leased and not used go back to the fleet */
	size_t j = 0;
	const char *id;
	void *lv;
	while (strmap_next(r->local, &j, &id, &lv))
		give_back_on(r, lv, true);
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
		down(r, "no answer within 200 ms"); /* (the local windows seeded first) */
		r->ac = NULL;
		r->ac_up = false;
		redisAsyncFree(ac); /* each waiting answer comes back NULL: decided here */
	}
	if (!r->ac && mono_us() / 1000 >= r->retry_at)
		ac_connect(r);
}

void counters_redis_tick(struct counters *c, struct registry *reg, int alive)
{
	struct rcounters *r = R(c);
	r->alive = alive;
	/* leases that ended with slots unused: back to the fleet */
	int64_t mnow = mono_us() / 1000;
	for (int i = 0; i < reg->nteams; i++) {
		struct local *l = strmap_get(r->local, reg->teams[i]->id);
		if (l && l->slot < l->slot_end && mnow >= l->slot_until)
			give_back(r, l);
	}
	/* every team's fleet count, for the admin API (one round trip each,
	 * pipelined) */
	if (!redis_connect_now(r))
		return;
	int sent = 0;
	for (int i = 0; i < reg->nteams; i++) {
		char key[300];
		snprintf(key, sizeof key, "gg:rpm:{%s}", reg->teams[i]->id);
		if (redisAppendCommand(r->c, "EVALSHA %s 1 %s %lld %s 0 0 0", r->sha, key,
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
