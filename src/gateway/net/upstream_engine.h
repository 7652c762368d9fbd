/* upstream_engine.h — the libcurl engine behind upstream.h (used when an
 * outgoing proxy is set in the environment). Same contract as upstream.h. */
#ifndef GG_UPSTREAM_ENGINE_H
#define GG_UPSTREAM_ENGINE_H

struct curlup;
struct curlup_tx;
struct curlup *curlup_new(struct event_base *base, const char *ca_file);
void curlup_free(struct curlup *u);
struct curlup_tx *curlup_start(struct curlup *u, const char *method, const char *url,
			       const char *const *headers, const char *body, size_t len,
			       int64_t timeout_ms, int64_t connect_timeout_ms,
			       const struct utx_cbs *cbs, void *arg);
void curlup_cancel(struct curlup_tx *t);
void curlup_pause(struct curlup_tx *t, bool pause);
int curlup_active(const struct curlup *u);

#endif
