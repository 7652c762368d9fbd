/* admin.h — what the admin API's files share (admin.c: routing, teams,
 * keys, tokens; admin_models.c: models and aliases; admin_apply.c: the
 * organisation as code; admin_read.c: overview, usage, audit; beneath
 * them admin_common.c). Private to them. */
#ifndef GG_ADMIN_H
#define GG_ADMIN_H

#include "data.h" /* the rooms below */
#include "httpd.h"

/* one admin call: who made it, and what its path resolved to */
struct actx {
	struct gateway *g;
	struct hreq *req;
	const struct admin_token *who;
	char op[128]; /* X-Operator label, sanitised */
	enum hmethod cmd;
	struct team *t;    /* the route's :team */
	struct ukey *k;    /* the route's :key */
	const char *param; /* the route's :id or :step (points into the path's copy) */
};

/* An operator's change: written with its audit record (put writes obj),
 * or answered 409/503 and -1. */
int admin_commit(struct actx *c, const char *action, const char *target, json_t *before, json_t *after,
		 store_put_fn put, const void *obj);
/* The body as a JSON object (the caller's), or NULL answered 400. */
json_t *admin_body(struct actx *c);
/* Rejects fields not in allowed (a typo is not silently ignored): 0, or -1 answered. */
int admin_only_fields(struct actx *c, json_t *j, const char *const *allowed);
/* 0 when If-Match is absent or names version; else answers 412/400 (kind
 * "team" or "key", name: whose version it is) */
int admin_if_match(struct actx *c, const char *kind, const char *name, int64_t version);
/* a model the gateway knows: priced, or listed by Groq (arg: the gateway) */
bool admin_model_known(void *arg, const char *m);
/* A private copy of t's persistent fields (strings duplicated; free with
 * admin_team_copy_free), and a team as the API shows it. */
struct team admin_team_copy(const struct team *t);
void admin_team_copy_free(struct team *c);
json_t *admin_team_out(struct actx *c, const struct team *t);
int admin_keys_of_team(struct gateway *g, const char *team); /* its upstream keys */

/* what is wrong with setting alias to model (an error code, *why the
 * message, the caller's), or NULL: nothing */
const char *alias_problem(struct gateway *g, const char *alias, const char *model, char **why);

/* routes in their own files */
void overview(struct actx *c);      /* GET /overview */
void teams_list(struct actx *c);    /* GET /teams */
void usage_route(struct actx *c);   /* GET /usage */
void audit_route(struct actx *c);   /* GET /audit */
void models_route(struct actx *c);  /* GET /models */
void aliases_route(struct actx *c); /* GET /aliases */
void alias_change(struct actx *c);  /* PUT|DELETE /aliases/{alias} */
void apply_r(struct actx *c);       /* POST /apply */

/* ---- spend.c: GET /admin/v1/spend, showback from the ledger ----------- */
void spend_route(struct gateway *g, struct hreq *req);

/* ---- admin.c: /admin/v1 ------------------------------------------- */
void admin_handle(struct gateway *g, struct hreq *req, const char *path);

/* admin_keys.c: client tokens and upstream keys */
void tokens_list(struct actx *c, struct team *t);
void tokens_create(struct actx *c, struct team *t);
void token_revoke(struct actx *c, struct team *t, const char *tid);
void keys_create(struct actx *c);
void key_patch(struct actx *c);
void keys_list(struct actx *c);
json_t *admin_key_out(struct actx *c, const struct ukey *k);
/* ---- rotation.c: the guided key rotation -------------------------- */
void rotation_route(struct gateway *g, struct hreq *req, struct ukey *k, const char *step,
		    const struct admin_token *who, const char *op);


#endif
