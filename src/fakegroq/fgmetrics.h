/* fgmetrics.h — fakegroq's Enterprise metrics: what it served, per key's
 * project and model, answered through Groq's Prometheus query API. */
#ifndef GG_FGMETRICS_H
#define GG_FGMETRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* window_ms: the rates' window (Groq's rules use 5 minutes) */
void fgm_init(int64_t window_ms);
void fgm_free(void);
/* One request served: its project (NULL: none, not counted), model,
 * status, tokens in/out, prompt tokens read from the cache, and its
 * latencies in seconds. */
void fgm_record(int64_t now_ms, const char *project, const char *model, int status, int64_t tin, int64_t tout,
		int64_t cached, double ttft_s, double e2e_s);
/* GET /v1/metrics/prometheus/api/v1/<what> with its query string decoded
 * into params (a JSON object of strings): the answer (Prometheus JSON) and
 * its status. */
json_t *fgm_api(const char *what, json_t *params, int64_t now_ms, int *status);

#endif
