/* groq.h — what the programs share of Groq's API itself (src/groq/, apart
 * from the generic code in src/common): its error shape (groqerr.c: the
 * gateway and fakegroq), its key format (groqkey.c: all three) and its
 * Enterprise metrics (groqprom.c: the gateway and groqtop read them,
 * fakegroq serves them). */
#ifndef GG_GROQ_H
#define GG_GROQ_H

#include <jansson.h>
#include <stdbool.h>

/* Groq key format: "gsk_" then 20..200 chars of [A-Za-z0-9]. */
bool groq_key_valid(const char *s);

struct hreq;

/* {"error":{"message":...,"type":...,"code":...}} (type NULL:
 * invalid_request_error; code NULL: none). */
json_t *groq_error_json(const char *message, const char *type, const char *code);
void httpd_send_groq_error(struct hreq *req, int status, const char *message, const char *type, const char *code);
/* body is Groq's error shape with error.code == code */
bool groq_error_code(const char *body, size_t len, const char *code);
/* The same, as the body of the HTTP server's own refusals (httpd_error_fn). */
char *groq_error_body(int status, const char *code, const char *message);

/* ---- groqprom.c: Groq's Enterprise metrics (Prometheus query API) ---- */
/* The recording rules read: 5-minute rates per second, by model and
 * project id (requests also by status code; TTFT as histogram buckets). */
enum gm_series { GM_REQUESTS, GM_TOKENS_IN, GM_TOKENS_OUT, GM_CACHE_HITS, GM_TTFT, GM_NSERIES };
extern const char *const gm_series_name[GM_NSERIES];
#define GM_QUERY_PATH "/v1/metrics/prometheus/api/v1/query"
#define GM_MAX_BUCKETS 24
#define GM_MAX_ROWS 4096

/* Groq's figures for one project and model. */
struct gm_row {
	char project[64], model[128];
	double req_s, err_s;   /* requests per second (err_s: status >= 400) */
	double tin_s, tout_s;  /* tokens per second, in and out */
	double cache_s;        /* prompt cache hits per second */
	double le[GM_MAX_BUCKETS], cum[GM_MAX_BUCKETS]; /* TTFT buckets (cumulative rates) */
	int nb;
	double ttft_p50, ttft_p99; /* seconds; < 0: no requests to estimate from */
};
struct gm_figures {
	struct gm_row *rows; /* sorted by project, then model, after gm_finish */
	int n, cap;
};
/* Adds the answer (Prometheus JSON, resultType vector) to an instant query
 * of series s; 0, or -1 with *cause (the answer is not one). */
int gm_add(struct gm_figures *f, enum gm_series s, const char *body, size_t len, char **cause);
/* Sorts the rows and estimates the TTFT quantiles from the buckets. */
void gm_finish(struct gm_figures *f);
void gm_free(struct gm_figures *f);
/* histogram_quantile as Prometheus computes it: le ascending (the last
 * +Inf), cum the cumulative counts; < 0 when there is no count. */
double gm_quantile(double q, const double *le, const double *cum, int n);
/* The row of project and model, or NULL. */
const struct gm_row *gm_find(const struct gm_figures *f, const char *project, const char *model);

#endif
