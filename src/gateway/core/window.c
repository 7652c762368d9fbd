/* window.c — one sliding window of counts: a ring of buckets (a second
 * for the minute's limits, a minute for the hour's and the day's) that
 * counts each bucket until it has wholly left the window, so no window of
 * the limit's length, aligned or not, holds more than the ring says. Pure:
 * the clock is the caller's. Capacity (capacity.c) is made of them. */
#include "window.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- one window --------------------------------------------------------- */

void win_init(struct window *w, int64_t span_ms, int64_t bucket_ms)
{
	w->bucket_ms = bucket_ms;
	w->n = (int)(span_ms / bucket_ms) + 1; /* the partial bucket at each end */
	w->amt = xcalloc((size_t)w->n, sizeof *w->amt);
	w->sum = 0;
	w->head = -1;
	w->first = 0;
}

void win_free(struct window *w)
{
	free(w->amt);
	memset(w, 0, sizeof *w);
}

static int64_t *slot(struct window *w, int64_t b)
{
	return &w->amt[((b % w->n) + w->n) % w->n];
}

/* the window moved on to now: the buckets that left it emptied, each once
 * (O(1) a request, however long the window) */
static void win_advance(struct window *w, int64_t now)
{
	int64_t cur = now / w->bucket_ms;
	if (w->head < 0) {
		w->head = w->first = cur;
		return;
	}
	if (cur <= w->head)
		return;
	if (cur - w->head >= w->n) {
		memset(w->amt, 0, (size_t)w->n * sizeof *w->amt);
		w->sum = 0;
	} else {
		for (int64_t b = w->head + 1; b <= cur; b++) {
			int64_t *a = slot(w, b);
			w->sum -= *a;
			*a = 0;
		}
	}
	w->head = cur;
}

int64_t win_sum(struct window *w, int64_t now)
{
	if (!w->n)
		return 0;
	win_advance(w, now);
	return w->sum;
}

void win_add(struct window *w, int64_t at, int64_t now, int64_t amount)
{
	if (!w->n || !amount)
		return;
	win_advance(w, now);
	int64_t b = at / w->bucket_ms;
	if (b <= w->head - w->n || b > w->head) /* left the window (or not in it yet) */
		return;
	int64_t *a = slot(w, b);
	if (*a + amount < 0)
		amount = -*a;
	*a += amount;
	w->sum += amount;
	if (amount > 0 && b < w->first)
		w->first = b;
}

int64_t win_wait(struct window *w, int64_t now, int64_t need, int64_t room)
{
	int64_t over = win_sum(w, now) + need - room;
	if (over <= 0)
		return 0;
	if (need > room)
		return -1;
	/* oldest bucket first: when enough have left, it fits */
	int64_t from = w->head - w->n + 1;
	for (int64_t b = from > w->first ? from : w->first; b <= w->head; b++) {
		over -= *slot(w, b);
		if (over <= 0) {
			int64_t leaves = (b + w->n) * w->bucket_ms;
			return leaves - now > 0 ? leaves - now : 1;
		}
	}
	return w->n * w->bucket_ms;
}

int64_t win_drain_ms(struct window *w, int64_t now)
{
	if (!w->n || !win_sum(w, now))
		return 0;
	int64_t b = w->first > w->head - w->n + 1 ? w->first : w->head - w->n + 1;
	while (b < w->head && !*slot(w, b))
		b++;
	w->first = b; /* (what is older is empty: the next look starts here) */
	int64_t leaves = (b + w->n) * w->bucket_ms;
	return leaves - now > 0 ? leaves - now : 1;
}

