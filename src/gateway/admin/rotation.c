/* rotation.c — the guided key rotation, one audited admin call per step:
 *   start (verify the new key against Groq) -> deploy -> secret-updated
 *   (hook or confirmation) -> switch -> [monitor the drain] -> complete,
 * with abort possible before complete. The state is stored with the key,
 * so a restart, or another operator, resumes at the same step. */
#include "admin.h"
#include "groq.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "httpd.h"
#include "secret.h"
#include "util.h"


/* an admin request that waits for something (Groq, a hook) */
struct pending {
	struct gateway *g;
	struct hreq *req;
	struct ukey *k;
	char *secret;
	char actor[64], role[16], op[128];
	/* verify */
	struct utx *tx;
	long status;
	buf body;
	/* hook */
	pid_t pid;
	int outfd;
	struct event *ev, *timeout, *reap;
	buf out;          /* the first 64 KiB of its output (counted, never kept) */
	size_t out_bytes;
	bool killed;      /* by the timeout */
};

static void pending_closed(struct hreq *req, void *arg)
{
	(void)req;
	struct pending *p = arg;
	p->req = NULL; /* the step still completes; nobody to answer */
}

static struct pending *pending_new(struct gateway *g, struct hreq *req, struct ukey *k,
				   const struct admin_token *who, const char *op)
{
	struct pending *p = xcalloc(1, sizeof *p);
	p->g = g;
	p->req = req;
	p->k = k;
	httpd_on_close(req, pending_closed, p);
	snprintf(p->actor, sizeof p->actor, "%s", who->name);
	snprintf(p->role, sizeof p->role, "%s", role_name(who->role));
	snprintf(p->op, sizeof p->op, "%s", op ? op : "");
	buf_init(&p->body);
	buf_init(&p->out);
	p->outfd = -1;
	k->busy = true;
	return p;
}

static void pending_free(struct pending *p)
{
	p->k->busy = false; /* (its request, if any, has been answered) */
	secret_free(p->secret);
	buf_free(&p->body);
	if (p->out.data)
		secret_wipe(p->out.data, p->out.len);
	buf_free(&p->out);
	if (p->ev)
		event_free(p->ev);
	if (p->timeout)
		event_free(p->timeout);
	if (p->reap)
		event_free(p->reap);
	if (p->outfd >= 0)
		close(p->outfd);
	free(p);
}

static json_t *key_out(struct gateway *g, struct ukey *k)
{
	return ukey_json(k, gw_now(g), g->cfg.drain_seconds * 1000);
}

/* Persists k (its version bumped) and the audit record; 0, or -1 /
 * STORE_CONFLICT (another replica wrote the key first) with *cause, the
 * version as it was: the caller restores the rest and answers with
 * save_failed. */
static int save(struct gateway *g, struct ukey *k, const char *actor, const char *role, const char *op,
		const char *action, json_t *before, json_t *extra, char **cause)
{
	k->version++;
	json_t *after = key_out(g, k);
	if (extra)
		json_object_update(after, extra);
	int rc = audited_write(g, put_key, k, actor, role, op, action, k->name, before, after, cause);
	json_decref(after);
	if (rc != 0)
		k->version--;
	return rc;
}

/* a step not saved: 409 when another replica changed the key meanwhile
 * (read again), else 503; frees cause */
static void save_failed(struct gateway *g, struct hreq *req, struct ukey *k, int rc, char *cause)
{
	if (rc == STORE_CONFLICT) {
		cluster_sync(g);
		if (req)
			admin_error(req, 409, "conflict",
				    "Nothing was saved: key '%s' was changed on another gateway replica at the same moment "
				    "(now at step '%s'). Reload and try again.",
				    k->name, rot_step_name(k->rot));
	} else if (req) {
		admin_error(req, 503, "store_unavailable", "The step was not saved: %s", cause ? cause : "store error");
	}
	free(cause);
}

static void answer_key(struct gateway *g, struct hreq *req, struct ukey *k, int status)
{
	if (req)
		httpd_send_json(req, status, key_out(g, k));
}

/* ---- step 1: start, verifying the new key against Groq ----------- */

static void v_head(void *arg, const struct hstatus *h)
{
	((struct pending *)arg)->status = h->status;
}

static void v_data(void *arg, const char *d, size_t n)
{
	struct pending *p = arg;
	if (p->body.len < 65536)
		buf_add(&p->body, d, n);
}

static void v_done(void *arg, int ok, const char *err)
{
	struct pending *p = arg;
	struct gateway *g = p->g;
	struct ukey *k = p->k;
	p->tx = NULL;
	if (!ok || p->status != 200) {
		if (p->req) {
			if (!ok) {
				admin_error(p->req, 502, "upstream_unreachable",
					    "Could not verify the new key: Groq did not answer (%s). Nothing changed.", err);
			} else {
				json_t *j = json_loadb(p->body.data ? p->body.data : "", p->body.len, 0, NULL);
				const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
				admin_error(p->req, p->status == 401 ? 422 : 502,
					    p->status == 401 ? "new_key_rejected" : "verification_failed",
					    "Groq refused the new key (HTTP %ld: %s). Check that it was created in the same "
					    "project and copied whole. Nothing changed.",
					    p->status, msg ? msg : "no message");
				json_decref(j);
			}
		}
		pending_free(p);
		return;
	}
	/* Groq's answer took time: the key may have moved on meanwhile (a
	 * rotation started through another replica, read since) */
	if (k->rot != ROT_NONE) {
		if (p->req)
			admin_error(p->req, 409, "illegal_transition",
				    "Key '%s' got a rotation (now at step '%s') while the new key was being verified; "
				    "this one was not started.",
				    k->name, rot_step_name(k->rot));
		pending_free(p);
		return;
	}
	json_t *before = key_out(g, k);
	k->new_secret = p->secret;
	p->secret = NULL;
	secret_fingerprint(k->new_secret, k->new_fp, sizeof k->new_fp);
	k->rot = ROT_VERIFIED;
	free(k->rot_by);
	k->rot_by = p->op[0] ? xasprintf("%s (%s)", p->actor, p->op) : xstrdup(p->actor);
	k->rot_started_at = k->rot_updated_at = gw_now(g);
	k->rot_switched_at = 0;
	k->old_since_switch = 0;
	char *cause = NULL;
	int rc = save(g, k, p->actor, p->role, p->op, "key.rotation.start", before, NULL, &cause);
	if (rc != 0) {
		secret_free(k->new_secret);
		k->new_secret = NULL;
		k->new_fp[0] = '\0';
		k->rot = ROT_NONE;
		save_failed(g, p->req, k, rc, cause);
	} else {
		answer_key(g, p->req, k, 201);
	}
	json_decref(before);
	pending_free(p);
}

static const struct utx_cbs verify_cbs = { v_head, v_data, v_done };

static void start(struct gateway *g, struct hreq *req, struct ukey *k, const struct admin_token *who,
		  const char *op)
{
	size_t len;
	char *b = httpd_body(req, &len);
	json_t *j = json_loadb(b, len, 0, NULL);
	secret_wipe(b, len);
	free(b);
	const char *ns = json_string_value(json_object_get(j, "new_secret"));
	if (!ns) {
		admin_error(req, 400, "missing_field", "Send {\"new_secret\": \"gsk_...\"}: the key created in the Groq Console.");
	} else if (!groq_key_valid(ns)) {
		admin_error(req, 422, "invalid_secret", "'new_secret' must be a Groq API key: 'gsk_' followed by letters and digits.");
	} else if (str_eq(ns, k->secret)) {
		admin_error(req, 422, "same_secret", "'new_secret' is the key already in use; create a new key in the Groq Console.");
	} else {
		bool dup = false;
		for (int i = 0; i < g->reg.nkeys && !dup; i++)
			dup = str_eq(g->reg.keys[i]->secret, ns) || str_eq(g->reg.keys[i]->new_secret, ns);
		if (dup) {
			admin_error(req, 409, "secret_in_use", "This Groq key is already held by the gateway.");
		} else {
			struct pending *p = pending_new(g, req, k, who, op);
			p->secret = xstrdup(ns);
			char *auth = xasprintf("Authorization: Bearer %s", ns);
			const char *hdrs[] = { auth, "User-Agent: groqgated/" GG_VERSION, NULL };
			struct ureq r = { .method = "GET", .path = "/openai/v1/models", .headers = hdrs,
					  .timeout_ms = 15000, .connect_timeout_ms = g->cfg.upstream_connect_timeout_ms };
			p->tx = upstream_start(g->up, g->cfg.up_origin, &r, &verify_cbs, p);
			secret_free(auth);
		}
	}
	if (j) {
		json_t *s = json_object_get(j, "new_secret");
		if (json_is_string(s))
			secret_wipe((char *)json_string_value(s), json_string_length(s));
	}
	json_decref(j);
}

/* ---- step 3 with a hook: the secret on stdin, never argv or env ---- */

/* What is kept of a hook's output: its size and line count only. The
 * output may carry the secret in any encoding (base64, hex, JSON-escaped),
 * which no masking can catch, so none of it is stored or shown; the hook's
 * own logs are where its words go. */
static json_t *hook_summary(const struct pending *p, int status_code, bool timed_out)
{
	size_t lines = 0;
	for (size_t i = 0; i < p->out_bytes && i < p->out.len; i++)
		lines += p->out.data[i] == '\n';
	return json_pack("{s:s,s:i,s:b,s:I,s:I}", "secret_manager", "hook", "hook_exit", status_code, "hook_timed_out",
			 timed_out, "hook_output_bytes", (json_int_t)p->out_bytes, "hook_output_lines", (json_int_t)lines);
}

static void hook_finish(struct pending *p, int status_code, bool timed_out)
{
	struct gateway *g = p->g;
	struct ukey *k = p->k;
	bool ok = !timed_out && status_code == 0;
	json_t *extra = hook_summary(p, status_code, timed_out);
	if (!ok) {
		if (p->req)
			admin_error(p->req, 502, "hook_failed",
				    "The secret-manager hook %s (exit status %d, %zu bytes of output, not shown: it may "
				    "carry the secret; see the hook's own logs); the step was not recorded.",
				    timed_out ? "timed out (rotation.hook_timeout_s) and was killed" : "failed", status_code, p->out_bytes);
		char *cause = NULL;
		audited_write(g, NULL, NULL, p->actor, p->role, p->op, "key.rotation.hook_failed", k->name, NULL, extra, &cause);
		free(cause);
	} else {
		json_t *before = key_out(g, k);
		k->rot = ROT_SECRET_UPDATED;
		k->rot_updated_at = gw_now(g);
		char *cause = NULL;
		int rc = save(g, k, p->actor, p->role, p->op, "key.rotation.secret_updated", before, extra, &cause);
		if (rc != 0) {
			k->rot = ROT_DEPLOYED;
			save_failed(g, p->req, k, rc, cause);
		} else {
			answer_key(g, p->req, k, 200);
		}
		json_decref(before);
	}
	json_decref(extra);
	pending_free(p);
}

/* the hook is reaped without waiting on the loop: its output has ended
 * (or it was killed), but it may run on; checked every 20 ms */
static void hook_reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pending *p = arg;
	int st = 0;
	pid_t r = waitpid(p->pid, &st, WNOHANG);
	if (r == 0) {
		struct timeval tv = { 0, 20000 };
		evtimer_add(p->reap, &tv);
		return;
	}
	p->pid = 0;
	int code = r < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	hook_finish(p, code, p->killed);
}

static void hook_read(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct pending *p = arg;
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof tmp);
	if (n > 0) {
		p->out_bytes += (size_t)n;
		if (p->out.len < 65536) /* for the line count only; wiped at the end */
			buf_add(&p->out, tmp, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* end of its output: it exits, or runs on until the timeout kills it */
	event_del(p->ev);
	hook_reap(-1, 0, p);
}

static void hook_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pending *p = arg;
	p->killed = true;
	kill(-p->pid, SIGKILL); /* the hook and whatever it started */
	kill(p->pid, SIGKILL);
	event_del(p->ev);
	hook_reap(-1, 0, p);
}

static int run_hook(struct pending *p, char **cause)
{
	int in[2], out[2];
	if (pipe(in) != 0)
		return fail(cause, "pipe: %s", strerror(errno));
	if (pipe(out) != 0) {
		close(in[0]);
		close(in[1]);
		return fail(cause, "pipe: %s", strerror(errno));
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return fail(cause, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		setpgid(0, 0); /* its own process group: the timeout kills all of it */
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		setenv("GROQGATE_KEY_NAME", p->k->name, 1);
		setenv("GROQGATE_TEAM", p->k->team, 1);
		setenv("GROQGATE_KEY_FINGERPRINT", p->k->new_fp, 1);
		execl("/bin/sh", "sh", "-c", p->g->cfg.secret_hook, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid); /* (both sides: whichever runs first) */
	close(in[0]);
	close(out[1]);
	/* the secret goes down the pipe, then EOF */
	const char *s = p->k->new_secret;
	size_t len = strlen(s), off = 0;
	signal(SIGPIPE, SIG_IGN);
	while (off < len) {
		ssize_t w = write(in[1], s + off, len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (write(in[1], "\n", 1) < 0) { /* the hook may not read it all */
	}
	close(in[1]);
	p->pid = pid;
	p->outfd = out[0];
	fcntl(p->outfd, F_SETFL, O_NONBLOCK);
	p->ev = event_new(p->g->base, p->outfd, EV_READ | EV_PERSIST, hook_read, p);
	event_add(p->ev, NULL);
	p->reap = evtimer_new(p->g->base, hook_reap, p);
	p->timeout = evtimer_new(p->g->base, hook_timeout, p);
	struct timeval tv = { (time_t)p->g->cfg.hook_timeout_s, 0 };
	evtimer_add(p->timeout, &tv);
	return 0;
}

/* ---- the simple steps --------------------------------------------- */

static bool confirmed(struct hreq *req)
{
	size_t len;
	char *b = httpd_body(req, &len);
	json_t *j = json_loadb(b, len, 0, NULL);
	free(b);
	bool ok = json_is_true(json_object_get(j, "confirm"));
	json_decref(j);
	return ok;
}

static const char *next_step_hint(enum rot_step s)
{
	switch (s) {
	case ROT_NONE: return "start one with POST .../rotation {\"new_secret\": ...}";
	case ROT_VERIFIED: return "next: POST .../rotation/deploy";
	case ROT_DEPLOYED: return "next: POST .../rotation/secret-updated";
	case ROT_SECRET_UPDATED: return "next: POST .../rotation/switch";
	case ROT_SWITCHED: return "next: POST .../rotation/complete once the drain window has passed";
	}
	return "";
}

static void step(struct gateway *g, struct hreq *req, struct ukey *k, const char *name,
		 enum rot_step from, enum rot_step to, const struct admin_token *who, const char *op)
{
	if (k->rot != from) {
		admin_error(req, 409, "illegal_transition",
			    "Key '%s' is at rotation step '%s', so '%s' is not possible now (%s).", k->name,
			    rot_step_name(k->rot), name, next_step_hint(k->rot));
		return;
	}
	json_t *before = key_out(g, k);
	json_t *extra = NULL;
	int64_t now = gw_now(g);
	if (to == ROT_SWITCHED) {
		k->rot_switched_at = now;
		k->old_since_switch = 0;
		k->old_last_used = 0;
	}
	if (to == ROT_SECRET_UPDATED)
		extra = json_pack("{s:s}", "secret_manager", "confirmed by operator");
	enum rot_step prev = k->rot;
	k->rot = to;
	k->rot_updated_at = now;
	char *cause = NULL;
	char action[64];
	snprintf(action, sizeof action, "key.rotation.%s", rot_step_name(to));
	int rc = save(g, k, who->name, role_name(who->role), op, action, before, extra, &cause);
	if (rc != 0) {
		k->rot = prev;
		if (to == ROT_SWITCHED)
			k->rot_switched_at = 0;
		save_failed(g, req, k, rc, cause);
	} else {
		answer_key(g, req, k, 200);
	}
	json_decref(before);
	json_decref(extra);
}

/* an erased secret's last copies on disk overwritten (store_scrub) */
static void scrub(struct gateway *g)
{
	char *cause = NULL;
	if (store_scrub(g->store, &cause) != 0) {
		gw_log(g, json_pack("{s:s,s:s,s:s}", "level", "warn", "msg",
				    "an erased secret may linger in the store's WAL until the next checkpoint", "error",
				    cause ? cause : "?"));
		free(cause);
	}
}

static void complete(struct gateway *g, struct hreq *req, struct ukey *k, const struct admin_token *who,
		     const char *op)
{
	if (k->rot != ROT_SWITCHED) {
		admin_error(req, 409, "illegal_transition", "Key '%s' is at rotation step '%s'; complete needs 'switched' (%s).",
			    k->name, rot_step_name(k->rot), next_step_hint(k->rot));
		return;
	}
	if (!confirmed(req)) {
		admin_error(req, 400, "confirm_required",
			    "Completing erases the old key: first delete it in the Groq Console, then send {\"confirm\": true}.");
		return;
	}
	int64_t now = gw_now(g), drain = g->cfg.drain_seconds * 1000;
	int64_t since = k->old_last_used > k->rot_switched_at ? k->old_last_used : k->rot_switched_at;
	if (k->old_inflight > 0 || now - since < drain) {
		int64_t left = since + drain - now;
		admin_error(req, 409, "drain_pending",
			    "The old key was last used %lld s ago and %d request(s) still run on it; the drain window "
			    "of %lld s needs %lld s more with no use before completing.",
			    (long long)((now - since) / 1000), k->old_inflight, (long long)(drain / 1000),
			    (long long)((left > 0 ? left : drain) + 999) / 1000);
		return;
	}
	json_t *before = key_out(g, k);
	char *old = k->secret;
	char old_fp[48];
	memcpy(old_fp, k->fp, sizeof old_fp);
	struct ukey saved = *k;
	k->secret = k->new_secret;
	memcpy(k->fp, k->new_fp, sizeof k->fp);
	k->new_secret = NULL;
	k->new_fp[0] = '\0';
	k->rot = ROT_NONE;
	k->rot_updated_at = now;
	k->rejected = false;
	json_t *extra = json_pack("{s:s,s:s}", "retired_fingerprint", old_fp, "rotation_result", "retired");
	char *cause = NULL;
	int rc = save(g, k, who->name, role_name(who->role), op, "key.rotation.complete", before, extra, &cause);
	if (rc != 0) {
		k->new_secret = k->secret;
		k->secret = old;
		memcpy(k->fp, saved.fp, sizeof k->fp);
		memcpy(k->new_fp, saved.new_fp, sizeof k->new_fp);
		k->rot = ROT_SWITCHED;
		save_failed(g, req, k, rc, cause);
	} else {
		secret_free(old); /* the old secret is erased, in memory and on disk */
		scrub(g);
		json_t *r = key_out(g, k);
		json_object_set_new(r, "retired_fingerprint", json_string(old_fp));
		httpd_send_json(req, 200, r);
	}
	json_decref(before);
	json_decref(extra);
}

static void abort_rotation(struct gateway *g, struct hreq *req, struct ukey *k, const struct admin_token *who,
			   const char *op)
{
	if (k->rot == ROT_NONE) {
		admin_error(req, 409, "illegal_transition", "Key '%s' has no rotation in progress.", k->name);
		return;
	}
	json_t *before = key_out(g, k);
	struct ukey saved = *k;
	char *ns = k->new_secret;
	k->new_secret = NULL;
	k->rot = ROT_NONE;
	k->rot_updated_at = gw_now(g);
	json_t *extra = json_pack("{s:s,s:s}", "aborted_at_step", rot_step_name(saved.rot), "discarded_fingerprint", saved.new_fp);
	k->new_fp[0] = '\0';
	char *cause = NULL;
	int rc = save(g, k, who->name, role_name(who->role), op, "key.rotation.abort", before, extra, &cause);
	if (rc != 0) {
		k->new_secret = ns;
		k->rot = saved.rot;
		memcpy(k->new_fp, saved.new_fp, sizeof k->new_fp);
		save_failed(g, req, k, rc, cause);
	} else {
		secret_free(ns); /* the discarded secret is erased, in memory and on disk */
		scrub(g);
		answer_key(g, req, k, 200);
	}
	json_decref(before);
	json_decref(extra);
}

void rotation_route(struct gateway *g, struct hreq *req, struct ukey *k, const char *name,
		    const struct admin_token *who, const char *op)
{
	enum hmethod cmd = httpd_method(req);
	if (cmd == HM_GET && !name) {
		json_t *j = key_out(g, k);
		json_t *r = json_object_get(j, "rotation");
		httpd_send_json(req, 200, json_pack("{s:s,s:O,s:s}", "key", k->name, "rotation", r, "next", next_step_hint(k->rot)));
		json_decref(j);
		return;
	}
	if (cmd != HM_POST) {
		httpd_set_header(req, "Allow", name ? "POST" : "GET, POST");
		admin_error(req, 405, "method_not_allowed", "Rotation steps are POSTs.");
		return;
	}
	if (k->busy) {
		admin_error(req, 409, "step_in_progress", "Another rotation step for key '%s' is running; try again in a moment.", k->name);
		return;
	}
	if (!name) {
		if (k->rot != ROT_NONE)
			admin_error(req, 409, "illegal_transition",
				    "Key '%s' already has a rotation at step '%s' (%s; or abort it).", k->name,
				    rot_step_name(k->rot), next_step_hint(k->rot));
		else
			start(g, req, k, who, op);
	} else if (strcmp(name, "deploy") == 0) {
		step(g, req, k, name, ROT_VERIFIED, ROT_DEPLOYED, who, op);
	} else if (strcmp(name, "secret-updated") == 0) {
		if (k->rot != ROT_DEPLOYED) {
			step(g, req, k, name, ROT_DEPLOYED, ROT_SECRET_UPDATED, who, op); /* answers 409 */
		} else if (confirmed(req)) {
			step(g, req, k, name, ROT_DEPLOYED, ROT_SECRET_UPDATED, who, op);
		} else if (g->cfg.secret_hook) {
			struct pending *p = pending_new(g, req, k, who, op);
			char *cause = NULL;
			if (run_hook(p, &cause) != 0) {
				admin_error(req, 500, "hook_failed", "Could not run the secret-manager hook: %s", cause);
				free(cause);
				pending_free(p);
			}
		} else {
			admin_error(req, 400, "confirm_required",
				    "No secret-manager hook is configured: update the secret by hand, then send {\"confirm\": true}.");
		}
	} else if (strcmp(name, "switch") == 0) {
		step(g, req, k, name, ROT_SECRET_UPDATED, ROT_SWITCHED, who, op);
	} else if (strcmp(name, "complete") == 0) {
		complete(g, req, k, who, op);
	} else if (strcmp(name, "abort") == 0) {
		abort_rotation(g, req, k, who, op);
	} else {
		admin_error(req, 404, "not_found", "Unknown rotation step '%s' (deploy, secret-updated, switch, complete, abort).", name);
	}
}
