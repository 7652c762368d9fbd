/* window.h — a sliding window of amounts in buckets (window.c): the
 * tokens, requests or audio seconds of the last minute, hour or day. */
#ifndef GG_WINDOW_H
#define GG_WINDOW_H

#include <stdint.h>

struct window {
	int64_t bucket_ms;
	int n;         /* buckets: the span's, and one for the partial ends */
	int64_t *amt;  /* slot b % n: bucket b's amount, for b in (head - n, head] */
	int64_t sum;   /* of every slot */
	int64_t head;  /* the newest bucket accounted for (-1: none yet) */
	int64_t first; /* no bucket older than this holds anything */
	/* cluster mode: room leased from the fleet's window (capacity.c) */
	int64_t lease;       /* what is left of it */
	int64_t lease_stamp; /* its bucket in the fleet's window (0: none) */
	int64_t lease_until; /* usable until then (the caller's clock) */
	int64_t lease_size;  /* requests the next lease asks room for */
	int64_t others;      /* the other replicas' use when the fleet last said */
	int64_t others_at;   /* when (the caller's clock) */
	int64_t unrecorded;  /* admitted here while the fleet could not be asked, not told yet */
	int64_t refused_until, refused_retry, refused_used; /* the fleet's last refusal, kept a moment */
};
void win_init(struct window *w, int64_t span_ms, int64_t bucket_ms);
void win_free(struct window *w);
int64_t win_sum(struct window *w, int64_t now);
/* amount (negative: a correction) in the bucket of time at */
void win_add(struct window *w, int64_t at, int64_t now, int64_t amount);
/* ms until need fits under room (0: now), -1 when it never can */
int64_t win_wait(struct window *w, int64_t now, int64_t need, int64_t room);
/* ms until the oldest amount in it leaves (0: empty) */
int64_t win_drain_ms(struct window *w, int64_t now);

/* a team's requests and tokens of one model in the last minute */
struct teamuse {
	char *model;
	struct window req, tok;
};

#endif
