/* api.c — groqctl's way to the gateway: the admin API over HTTP (libcurl;
 * each of a context's addresses tried in turn), its errors as one line on
 * stderr with the exit code they mean, and the small helpers every command
 * uses (arguments, JSON out, usage). Below groqctl.c and org.c: it calls
 * neither. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ctl.h"
#include "secret.h"
#include "util.h"

int usage(void)
{
	fputs("usage: groqctl [--context NAME | --gateway URL --token-file FILE] [--config FILE] [--cacert FILE]\n"
	      "               [-o table|json|csv] COMMAND\n"
	      "  get teams|keys|alerts|audit|capacity|spend [--from D --to D --group-by COLS]   get team ID\n"
	      "  pause TEAM --reason TEXT        resume TEAM\n"
	      "  set team ID [--if-version N] FIELD=VALUE...   (e.g. rpm_limit=600 allowed_models=a,b\n"
	      "                                  service_tiers=on_demand,flex fallbacks='MODEL=NEXT,NEXT;MODEL=NEXT')\n"
	      "  token issue TEAM --key NAME [--label L]      token revoke TEAM ID\n"
	      "  rotate KEY start [--secret-file F] | deploy | secret-updated [--confirm] | switch | status\n"
	      "             | complete --confirm | abort\n"
	      "  emergency-stop --reason TEXT    resume-all\n"
	      "  export [-o json]   diff -f FILE   apply -f FILE [--dry-run] [--prune --confirm]\n"
	      "Exit: 0 done (diff: none), 1 error, 2 usage, 3 diff found differences, 4 conflict.\n",
	      stderr);
	return EXIT_USAGE;
}

int die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("groqctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return code;
}

/* ---- HTTP ------------------------------------------------------------------ */

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	buf_add(arg, p, size * n);
	return size * n;
}

static int http_one(struct ctl *c, const char *gateway, const char *method, const char *path, const char *body,
		    const char *if_match, long *status, json_t **out, bool more);

/* method path (body may be NULL): *status and the answer's JSON (NULL when
 * not JSON); -1 when the gateway could not be reached */
static int http(struct ctl *c, const char *method, const char *path, const char *body, const char *if_match, long *status,
		json_t **out)
{
	/* c->gateway may be several addresses ("A,B"): the next is tried only
	 * when one cannot be connected to (nothing was sent to it) */
	for (const char *g = c->gateway;;) {
		size_t n = strcspn(g, ",");
		char *one = xstrndup(g, n);
		int r = http_one(c, one, method, path, body, if_match, status, out, g[n] != '\0');
		free(one);
		if (r != 1)
			return r;
		g += n + 1;
	}
}

/* http() at one address; 1 when it could not be connected to and another
 * is left to try (more), the error then unsaid */
static int http_one(struct ctl *c, const char *gateway, const char *method, const char *path, const char *body,
		    const char *if_match, long *status, json_t **out, bool more)
{
	CURL *h = curl_easy_init();
	buf b;
	buf_init(&b);
	char *url = xconcat(gateway, path, NULL);
	char *auth = xconcat("Authorization: Bearer ", c->token, NULL);
	struct curl_slist *hs = curl_slist_append(NULL, auth);
	hs = curl_slist_append(hs, "Content-Type: application/json");
	hs = curl_slist_append(hs, "X-Operator: groqctl");
	char *im = if_match ? xasprintf("If-Match: \"%s\"", if_match) : NULL;
	if (im)
		hs = curl_slist_append(hs, im);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (c->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	CURLcode rc = curl_easy_perform(h);
	*status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	*out = rc == CURLE_OK && b.len ? json_loadb(b.data, b.len, 0, NULL) : NULL;
	bool next = more && (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST);
	if (rc != CURLE_OK && !next)
		fprintf(stderr, "groqctl: %s %s: %s\n", method, url, curl_easy_strerror(rc));
	curl_slist_free_all(hs);
	curl_easy_cleanup(h);
	secret_free(auth);
	free(im);
	free(url);
	buf_free(&b);
	return next ? 1 : rc == CURLE_OK ? 0 : -1;
}

/* the API's error message, or the status */
static int api_failed(const char *what, long status, json_t *j)
{
	const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
	int code = status == 409 || status == 412 ? EXIT_CONFLICT : EXIT_ERR;
	return die(code, "%s: HTTP %ld: %s", what, status, m ? m : "no message");
}

/* GET path into *out (200), or an exit code */
int get_json(struct ctl *c, const char *path, json_t **out)
{
	long st;
	if (http(c, "GET", path, NULL, NULL, &st, out) != 0)
		return EXIT_ERR;
	if (st != 200) {
		int rc = api_failed(path, st, *out);
		json_decref(*out);
		*out = NULL;
		return rc;
	}
	return EXIT_OK;
}

/* a write: method path body; prints nothing; the answer in *out */
int send_json(struct ctl *c, const char *method, const char *path, json_t *body, const char *if_match,
		     json_t **out, long ok)
{
	char *s = body ? json_dumps(body, JSON_COMPACT) : xstrdup("{}");
	long st;
	int rc = http(c, method, path, s, if_match, &st, out);
	free(s);
	if (rc != 0)
		return EXIT_ERR;
	if (st != ok && !(ok == 200 && st == 201)) {
		rc = api_failed(path, st, *out);
		json_decref(*out);
		*out = NULL;
		return rc;
	}
	return EXIT_OK;
}

void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	puts(s);
	free(s);
}

const char *opt(int argc, char **argv, const char *name)
{
	for (int i = 0; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

bool money_field(const char *field)
{
	static const char *const usd[] = { "monthly_budget_usd", "daily_budget_usd", "weekly_budget_usd",
					   "user_daily_budget_usd", NULL };
	for (int i = 0; usd[i]; i++)
		if (strcmp(field, usd[i]) == 0)
			return true;
	return false;
}

bool flag(int argc, char **argv, const char *name)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return false;
}
