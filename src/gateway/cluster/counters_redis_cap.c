/* counters_redis_cap.c — capacity's windows in the fleet (struct
 * capfleet, capacity.c's leases): the calls of the Lua scripts that lease room from the
 * fleet's windows all or none, sync what was admitted without the fleet,
 * and give back what a request did not use. The connection, the RPM
 * windows and the scripts' text (loaded with the connection) are
 * counters_redis.c's. */
#include "counters_redis.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* a correction to a bucket still in the window (an expired one is not
 * made again); sent as EVAL, so that a Redis restarted since needs no
 * script loaded first */
static const char give_script[] =
	"if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2]) end\n"
	"return 0\n";

#define CAP_KEYS 64 /* windows asked in one script call (a request takes at most 21) */

/* runs one of the capacity scripts over n windows, ARGV per window from
 * put (into args[i*per...]): its reply, or NULL (Redis down: r->c gone) */
static redisReply *cap_run(struct rcounters *r, const char *sha, struct capask *asks, int n, int per,
			   void (*put)(const struct capask *q, char (*out)[24]))
{
	if (!redis_connect_now(r))
		return NULL;
	int argc = 3 + n + per * n + 1;
	const char **argv = xcalloc((size_t)argc, sizeof *argv);
	size_t *lens = xcalloc((size_t)argc, sizeof *lens);
	char (*keys)[320] = xcalloc((size_t)n, sizeof *keys);
	char (*nums)[24] = xcalloc((size_t)(per * n + 2), sizeof *nums);
	argv[0] = "EVALSHA", argv[1] = sha;
	snprintf(nums[per * n], sizeof nums[0], "%d", n);
	argv[2] = nums[per * n];
	for (int i = 0; i < n; i++) {
		snprintf(keys[i], sizeof keys[0], "gg:cap:{%s}", asks[i].scope);
		argv[3 + i] = keys[i];
		put(&asks[i], &nums[per * i]);
		for (int f = 0; f < per; f++)
			argv[3 + n + per * i + f] = nums[per * i + f];
	}
	snprintf(nums[per * n + 1], sizeof nums[0], "%d", CAP_LEASE_MS);
	argv[argc - 1] = nums[per * n + 1];
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	redisReply *y = redisCommandArgv(r->c, argc, argv, lens);
	free(argv);
	free(lens);
	free(keys);
	free(nums);
	return redis_answer_of(r, y);
}

static void put_lease(const struct capask *q, char (*o)[24])
{
	const int64_t v[8] = { q->span, q->bucket, q->limit, q->need, q->want, q->give_stamp, q->give, q->add };
	for (int f = 0; f < 8; f++)
		snprintf(o[f], sizeof o[0], "%lld", (long long)v[f]);
}

static void put_sync(const struct capask *q, char (*o)[24])
{
	const int64_t v[3] = { q->span, q->bucket, q->add };
	for (int f = 0; f < 3; f++)
		snprintf(o[f], sizeof o[0], "%lld", (long long)v[f]);
}

static int64_t elem_int(const redisReply *y, size_t i)
{
	return i < y->elements && y->element[i]->type == REDIS_REPLY_INTEGER ? y->element[i]->integer : 0;
}

static int cap_lease(void *arg, struct capask *asks, int n, int *which)
{
	struct rcounters *r = arg;
	if (n < 1 || n > CAP_KEYS)
		return -1;
	redisReply *y = cap_run(r, r->cap_sha, asks, n, 8, put_lease);
	if (!y)
		return -1;
	int rc = -1;
	if (y->type == REDIS_REPLY_ARRAY && y->elements >= 1) {
		if (elem_int(y, 0) == 0 && y->elements == 4) {
			int i = (int)elem_int(y, 1);
			if (i >= 0 && i < n) {
				*which = i;
				asks[i].retry = elem_int(y, 2);
				asks[i].used = elem_int(y, 3);
				rc = 1;
			}
		} else if (elem_int(y, 0) == 1 && y->elements == 1 + 3 * (size_t)n) {
			for (int i = 0; i < n; i++) {
				asks[i].got = elem_int(y, 1 + 3 * (size_t)i);
				asks[i].stamp = elem_int(y, 2 + 3 * (size_t)i);
				asks[i].used = elem_int(y, 3 + 3 * (size_t)i);
			}
			rc = 0;
		}
	}
	freeReplyObject(y);
	return rc;
}

static int cap_sync(void *arg, struct capask *asks, int n)
{
	struct rcounters *r = arg;
	int rc = 0;
	for (int at = 0; at < n && rc == 0; at += CAP_KEYS) { /* a chunk of windows a round trip */
		int m = n - at < CAP_KEYS ? n - at : CAP_KEYS;
		redisReply *y = cap_run(r, r->sync_sha, asks + at, m, 3, put_sync);
		if (!y)
			return -1;
		if (y->type == REDIS_REPLY_ARRAY && y->elements == (size_t)m)
			for (int i = 0; i < m; i++)
				asks[at + i].used = elem_int(y, (size_t)i);
		else
			rc = -1;
		freeReplyObject(y);
	}
	return rc;
}

static void cap_give(void *arg, const char *scope, int64_t stamp, int64_t amount)
{
	struct rcounters *r = arg;
	char key[700], b[24], a[24];
	snprintf(key, sizeof key, "gg:cap:{%s}", scope);
	snprintf(b, sizeof b, "%lld", (long long)stamp);
	snprintf(a, sizeof a, "%lld", (long long)amount);
	const char *argv[] = { "EVAL", give_script, "1", key, b, a };
	size_t lens[ARRAY_LEN(argv)];
	for (size_t i = 0; i < ARRAY_LEN(argv); i++)
		lens[i] = strlen(argv[i]);
	/* on the loop's connection, no answer awaited (at a clean stop, on the
	 * blocking one: the loop no longer runs); with Redis away, the
	 * correction is lost: what it would have given back leaves with the
	 * window, a correction upward is not told */
	if (r->ac && r->ac_up && !r->stopping)
		redisAsyncCommandArgv(r->ac, NULL, NULL, (int)ARRAY_LEN(argv), argv, lens);
	else if (redis_connect_now(r)) {
		redisReply *y = redisCommandArgv(r->c, (int)ARRAY_LEN(argv), argv, lens);
		if (y)
			freeReplyObject(y);
	}
}

const struct capfleet *counters_redis_capfleet(struct counters *c)
{
	struct rcounters *r = R(c);
	r->fleet = (struct capfleet){ .arg = r, .lease = cap_lease, .give = cap_give, .sync = cap_sync };
	return &r->fleet;
}
