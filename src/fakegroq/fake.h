/* fake.h — fakegroq's own: its state (one struct fake G), a request in
 * flight (struct freq) and what its files share: fakegroq.c (keys, the
 * organisation's limits, a request's life, dispatch, set-up),
 * fake_answers.c (the generating routes: chat, Responses, embeddings,
 * audio, speech; streams and faults), fake_files.c (files and batches),
 * fake_control.c (/_fake control endpoints, the Enterprise metrics API). */
#ifndef FAKE_H
#define FAKE_H

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "fgmetrics.h"
#include "gotime.h"
#include "groq.h"
#include "httpd.h"
#include "mime.h"
#include "secret.h"
#include "util.h"

#define MAX_KEYS 4096
#define MAX_MODELS 64

struct model {
	char *id, *owned_by;
	int64_t created, context_window;
};

struct keystat {
	char fp[48];
	int64_t requests, completions, streams, streams_cut, errors;
	int64_t prompt_tokens, completion_tokens;
	int64_t audio_seconds, characters; /* billed: speech to text, text to speech */
};

struct faults {
	int64_t latency_ms;    /* added before any answer */
	double error_rate;     /* share of chat requests answered error_status */
	int64_t error_status;  /* 500 or 503 */
	int64_t cut_after;     /* cut streams after this many content chunks; -1 off */
	bool hang;             /* accept and never answer */
	int64_t rate_limit;    /* answer the next N requests 429; -1 until cleared */
	int64_t retry_after_s; /* the retry-after of those 429s (Groq's, 12 by default) */
	int64_t chunk_delay_ms;
	int64_t stall_after;   /* streams stop sending (connection kept) after this many chunks; -1 off */
	int64_t report_prompt_tokens; /* usage reports this many prompt tokens (a hostile upstream); 0 off */
	int64_t cached_tokens; /* of the prompt, reported as read from the cache */
	int64_t metrics_hang;  /* the metrics API accepts and never answers */
	int64_t metrics_status; /* the metrics API answers this status (an outage); 0 off */
	int64_t metrics_stall;  /* the metrics API sends its head and a few bytes, then nothing */
	int64_t metrics_absurd; /* every sample's value is 1e308 (a hostile metrics API) */
	int64_t list_broken;    /* file and batch lists come without their data array */
	int64_t batch_hostile;  /* batch output lines: 1 no usage, 2 usage of 1e30 (a float), 3 a model
				 * id nobody prices, 4 one more line for a custom_id not in the input */
	int64_t batch_ms;      /* a batch ends this long after it is created */
	int64_t batch_fail;    /* batches end "failed" */
};


/* ---- organisation rate limits, per model as Groq keeps them (fixed
 * windows that really count) ---- */

struct orglim {
	char *model; /* "" for answers that name no model */
	int64_t rpd_limit, tpm_limit;
	int64_t rpd_used, rpd_window_end;
	int64_t tpm_used, tpm_window_end;
};

struct fake {
	struct event_base *base;
	struct httpd *http;
	const char *keys_path;
	char *keys[MAX_KEYS];
	char key_hash[MAX_KEYS][SHA256_HEX_LEN + 1];
	char key_project[MAX_KEYS][64]; /* the key's Groq project ("" none) */
	bool metrics_on;               /* Enterprise metrics served (else 404) */
	char *decommissioned[MAX_MODELS]; /* answered 400 model_decommissioned */
	struct mfault {                   /* POST /_fake/model-fault: the next count chat */
		char *model, tier[16];    /* requests for model (in tier, "" any) answered */
		int64_t status, count;    /* status: 429, 498 (flex's capacity_exceeded) or 5xx */
		int64_t delay_ms;         /* each such answer held this long */
	} mfaults[MAX_MODELS];
	int nmfaults;
	int ndecom;
	struct keystat stats[MAX_KEYS];
	int nkeys;
	struct model models[MAX_MODELS];
	int nmodels;
	int64_t completion_tokens;
	int64_t rpd_limit, tpm_limit; /* each model's, unless --model-limit says */
	struct orglim *lims;           /* the organisation's use of each model */
	int nlims;
	struct faults f, f_default;
	uint64_t rng;
	uint64_t seq;
	bool quiet;
	int64_t inflight;
};
extern struct fake G; /* the one instance (fakegroq.c) */

/* ---- per-request state ------------------------------------------- */

enum { ST_DELAY, ST_STREAM };
enum { K_MODELS, K_CHAT, K_RESPONSES, K_EMBED, K_AUDIO, K_SPEECH, K_FILES };

struct freq {
	struct hreq *req;    /* NULL once answered or once its client left */
	struct event *timer;
	int key;
	int kind;            /* K_* */
	json_t *body;
	char id[64], xid[40];
	char *model;
	char *fault_model;   /* a model fault held (delay_ms): its model, */
	int fault;           /* and its status */
	char tier[16];       /* the service tier answered (Groq's default: on_demand) */
	int64_t prompt_tokens, n_tokens, sent;
	bool stream, include_usage, length_cut, stream_started;
	int64_t cut_after, stall_after;
	struct mform form;   /* audio: the form (points into raw) */
	char *raw;
	size_t raw_len;
	char *fmt;           /* audio: response_format */
	bool translate;
	int status;          /* the answer's, once sent */
	bool accounted;      /* tokens counted (account_done) */
	int64_t t0_us, first_us; /* received; first byte of the answer sent */
	int cmd;             /* K_FILES held by latency_ms: its method ... */
	char *sub;           /* ... and the path after /openai/v1/files */
};

/* fakegroq.c */
const struct model *model_find(const char *id);
bool model_decommissioned(const char *id);
struct orglim *lim_of(const char *model);
void limits_roll(struct orglim *l, int64_t now);
int64_t org_sum(bool tokens);
void add_limit_headers(struct hreq *req, const char *model);
void new_request_id(char *out, size_t n);
double rnd01(void);
void answered(struct freq *fr, int status);
void freq_free(struct freq *fr);
struct hreq *final(struct freq *fr);
void model_refused(struct freq *fr, const char *mid);
void send_error(struct freq *fr, int status, const char *msg, const char *type, const char *code);

/* fake_answers.c */
int64_t prompt_tokens_of(json_t *messages);
int64_t cached_of(int64_t p);
json_t *usage_json(int64_t p, int64_t c);
char *words_text(int64_t n);
json_t *org_list(json_t *a);
void answer_json(struct freq *fr, int status, json_t *j);
bool apply_faults(struct freq *fr);
void schedule(struct freq *fr);
void handle_chat(struct freq *fr);
void handle_responses(struct freq *fr);
void handle_embed(struct freq *fr);
void handle_speech(struct freq *fr);
void handle_audio(struct freq *fr, bool translate);

/* fake_files.c */
void files_free(void);
void handle_files(struct freq *fr, enum hmethod cmd, const char *rest);
void handle_batches(struct freq *fr, enum hmethod cmd, const char *rest);

/* fake_control.c */
void handle_control(struct hreq *req, const char *path);
void handle_metrics(struct freq *fr, const char *what);

#endif
