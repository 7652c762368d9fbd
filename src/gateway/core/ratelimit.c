/* ratelimit.c — exact sliding-window limiter (see core.h). A ring of
 * the last minute's admission times: O(1) per request, 8 bytes per
 * admission in the window (the ring grows with the traffic, up to the
 * limit).
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

/* The ring holds the admissions of the last minute and grows with them
 * (doubling, up to the limit): a team's memory follows its traffic, not
 * its limit (an RPM limit of ten million costs nothing until used). */
#define RING_MIN 16

void rl_init(struct ratelimit *rl, int limit)
{
	rl->limit = limit > 0 ? limit : 1;
	rl->ts = NULL;
	rl->size = rl->head = rl->count = 0;
}

void rl_free(struct ratelimit *rl)
{
	free(rl->ts);
	rl->ts = NULL;
	rl->size = rl->head = rl->count = 0;
}

/* index of the oldest recorded admission */
static int oldest(const struct ratelimit *rl)
{
	return (rl->head - rl->count + rl->size) % rl->size;
}

/* the ring remade with room for size, keeping the newest keep admissions
 * (oldest first) */
static void regrow(struct ratelimit *rl, int size, int keep)
{
	int64_t *ts = xcalloc((size_t)size, sizeof *ts);
	for (int i = 0; i < keep; i++)
		ts[i] = rl->ts[(rl->head - keep + i + rl->size) % rl->size];
	free(rl->ts);
	rl->ts = ts;
	rl->size = size;
	rl->count = keep;
	rl->head = keep % size;
}

void rl_resize(struct ratelimit *rl, int limit)
{
	if (limit < 1)
		limit = 1;
	rl->limit = limit;
	if (rl->size > limit) /* keep the newest min(count, limit) admissions */
		regrow(rl, limit, rl->count < limit ? rl->count : limit);
}

static void expire(struct ratelimit *rl, int64_t now)
{
	while (rl->count && rl->ts[oldest(rl)] <= now - WINDOW_MS)
		rl->count--;
}

int rl_admit(struct ratelimit *rl, int64_t now, int64_t *retry_ms)
{
	expire((struct ratelimit *)rl, now);
	if (rl->count >= rl->limit) {
		if (retry_ms)
			*retry_ms = rl->ts[oldest(rl)] + WINDOW_MS - now;
		return 0;
	}
	if (rl->count == rl->size) { /* full: twice the room, up to the limit */
		int size = rl->size < RING_MIN ? RING_MIN : rl->size * 2;
		regrow(rl, size < rl->limit ? size : rl->limit, rl->count);
	}
	rl->ts[rl->head] = now;
	rl->head = (rl->head + 1) % rl->size;
	rl->count++;
	return 1;
}

/* Admission times are in order in the ring: binary search for the first
 * one still inside the window (O(log n): overview asks this of every team). */
static int first_in_window(const struct ratelimit *rl, int64_t now)
{
	if (!rl->count)
		return 0;
	int lo = 0, hi = rl->count, o = oldest(rl);
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (rl->ts[(o + mid) % rl->size] > now - WINDOW_MS)
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
	return rl->ts[(oldest(rl) + i) % rl->size] + WINDOW_MS - now;
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
