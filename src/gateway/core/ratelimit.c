/* ratelimit.c — exact sliding-window limiter (see core.h). A ring of
 * the last `cap` admission times: O(1) per request, cap*8 bytes a team.
 * And the team's RPM queue (queue mode): requests wait in arrival order for
 * a slot, each re-checked when its turn comes, refused when it waited its
 * longest; a timer wakes the queue when the oldest admission leaves the
 * window. */
#include "core.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define WINDOW_MS 60000

void rl_init(struct ratelimit *rl, int limit)
{
	rl->cap = limit > 0 ? limit : 1;
	rl->ts = xcalloc((size_t)rl->cap, sizeof *rl->ts);
	rl->head = rl->count = 0;
}

void rl_free(struct ratelimit *rl)
{
	free(rl->ts);
	rl->ts = NULL;
}

/* index of the oldest recorded admission */
static int oldest(const struct ratelimit *rl)
{
	return (rl->head - rl->count + rl->cap) % rl->cap;
}

void rl_resize(struct ratelimit *rl, int limit)
{
	if (limit < 1)
		limit = 1;
	if (limit == rl->cap)
		return;
	/* keep the newest min(count, limit) admissions, oldest first */
	int keep = rl->count < limit ? rl->count : limit;
	int64_t *ts = xcalloc((size_t)limit, sizeof *ts);
	for (int i = 0; i < keep; i++)
		ts[i] = rl->ts[(rl->head - keep + i + rl->cap) % rl->cap];
	free(rl->ts);
	rl->ts = ts;
	rl->cap = limit;
	rl->count = keep;
	rl->head = keep % limit;
}

static void expire(struct ratelimit *rl, int64_t now)
{
	while (rl->count && rl->ts[oldest(rl)] <= now - WINDOW_MS)
		rl->count--;
}

int rl_admit(struct ratelimit *rl, int64_t now, int64_t *retry_ms)
{
	expire((struct ratelimit *)rl, now);
	if (rl->count >= rl->cap) {
		if (retry_ms)
			*retry_ms = rl->ts[oldest(rl)] + WINDOW_MS - now;
		return 0;
	}
	rl->ts[rl->head] = now;
	rl->head = (rl->head + 1) % rl->cap;
	rl->count++;
	return 1;
}

/* Admission times are in order in the ring: binary search for the first
 * one still inside the window (O(log n): overview asks this of every team). */
static int first_in_window(const struct ratelimit *rl, int64_t now)
{
	int lo = 0, hi = rl->count, o = oldest(rl);
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (rl->ts[(o + mid) % rl->cap] > now - WINDOW_MS)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

int rl_count(const struct ratelimit *rl, int64_t now)
{
	return rl->count - first_in_window(rl, now);
}

int64_t rl_reset_ms(const struct ratelimit *rl, int64_t now)
{
	int i = first_in_window(rl, now);
	if (i >= rl->count)
		return 0;
	return rl->ts[(oldest(rl) + i) % rl->cap] + WINDOW_MS - now;
}

/* ---- the RPM queue ------------------------------------------------------ */

void rlq_remove(struct team *t, struct rlwait *w)
{
	struct rlwait **pp = &t->qhead;
	while (*pp && *pp != w)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = w->next;
		t->qlen--;
		if (t->qtail == w) {
			struct rlwait *last = t->qhead;
			while (last && last->next)
				last = last->next;
			t->qtail = last;
		}
	}
	w->queued = false;
	w->next = NULL;
}

static void rlq_run(struct team *t, int64_t now)
{
	const struct rlqueue_ops *ops = t->qops;
	while (t->qhead) {
		struct rlwait *w = t->qhead;
		struct verdict v = { 0 };
		if (ops->recheck(w, &v) != 0) {
			rlq_remove(t, w);
			ops->refuse(w, &v);
			continue;
		}
		if (now >= w->deadline_ms) {
			rlq_remove(t, w);
			ops->expired(w);
			continue;
		}
		int64_t retry = 0;
		if (!counters_admit(t, now, &retry)) {
			int64_t wait = retry < w->deadline_ms - now ? retry : w->deadline_ms - now;
			if (wait < 1)
				wait = 1;
			struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };
			evtimer_add(t->qtimer, &tv);
			return;
		}
		rlq_remove(t, w);
		ops->admit(w);
	}
}

static void rlq_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct team *t = arg;
	if (t->qhead)
		rlq_run(t, t->qops->now(t->qhead));
}

void rlq_push(struct team *t, struct rlwait *w, int64_t deadline_ms, struct event_base *base,
	      const struct rlqueue_ops *ops, int64_t now)
{
	w->deadline_ms = deadline_ms;
	w->queued = true;
	w->next = NULL;
	if (t->qtail)
		t->qtail->next = w;
	else
		t->qhead = w;
	t->qtail = w;
	t->qlen++;
	t->qops = ops;
	if (!t->qtimer)
		t->qtimer = evtimer_new(base, rlq_timer, t);
	if (!evtimer_pending(t->qtimer, NULL))
		rlq_run(t, now);
}

/* the counters kept in this process: each team's own window */
static int mem_admit(struct counters *c, struct team *t, int64_t now, int64_t *retry_ms)
{
	(void)c;
	return rl_admit(&t->rl, now, retry_ms);
}

static int mem_count(struct counters *c, const struct team *t, int64_t now)
{
	(void)c;
	return rl_count(&t->rl, now);
}

static const struct counters_ops memory_ops = { "memory", mem_admit, mem_count, NULL, NULL };
struct counters counters_memory = { &memory_ops };

int counters_admit(struct team *t, int64_t now, int64_t *retry_ms)
{
	return t->ctr->ops->admit(t->ctr, t, now, retry_ms);
}

int counters_count(const struct team *t, int64_t now)
{
	return t->ctr->ops->count(t->ctr, t, now);
}

struct cwait *counters_admit_async(struct team *t, int64_t now, void (*cb)(void *arg, int ok, int64_t retry_ms),
				   void *arg, int *ok, int64_t *retry_ms)
{
	const struct counters_ops *o = t->ctr->ops;
	if (o->admit_async)
		return o->admit_async(t->ctr, t, now, cb, arg, ok, retry_ms);
	*retry_ms = 0;
	*ok = o->admit(t->ctr, t, now, retry_ms);
	return NULL;
}

void counters_cancel(struct team *t, struct cwait *w)
{
	if (w && t->ctr->ops->cancel)
		t->ctr->ops->cancel(w);
}
