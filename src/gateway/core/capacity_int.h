/* capacity_int.h — capacity's insides, shared by capacity.c (admission,
 * settlement, the fleet's leases) and capacity_report.c (what it tells).
 * Private to core/: everything else goes through core.h's capacity_*. */
#ifndef GG_CAPACITY_INT_H
#define GG_CAPACITY_INT_H

#include "core.h"

struct orgmodel {
	char *model;
	bool declared;                /* groq_limits; else learned from Groq */
	int64_t limit[CL_N];          /* 0: none */
	struct window use[CL_N][3];   /* [lim][all, standard+batch, batch] */
	int64_t hold_until;           /* Groq's retry-after for the model */
	char *hold_why;
	int64_t alerted_at;
};

struct capacity {
	struct orgmodel **m; /* in the order they became known */
	int nm;
	int reserve_pct, batch_pct;
	int replicas; /* cluster mode: the replicas serving, each holding an equal share */
	const struct capfleet *fleet; /* cluster mode with Redis: the fleet's windows, leased */
	/* bytes of request per prompt token, learned per model (x1000) */
	strmap *ratio;
};

struct teamcap {
	struct window tpm, tpd, rpd;
};

/* the model's entry, made when `make` and there is room (bounded) */
/* each limit's window length (ms), by enum cap_lim */
extern const int64_t cap_lim_span[CL_N];

struct orgmodel *cap_model_get(struct capacity *c, const char *model, bool make);
struct teamcap *cap_team(struct team *t); /* the team's windows, made on first use */
/* a limit as this replica holds it: its equal share of the fleet's */
int64_t cap_mine(const struct capacity *c, int64_t limit);
/* the fleet's limit of class k (0 all, 1 standard+batch, 2 batch) */
int64_t cap_class_limit(const struct capacity *c, int64_t limit, int k);
int cap_top_class(enum priority p); /* the first class a priority may use */

#endif
