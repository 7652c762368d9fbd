/* routes.c — every Groq route the gateway serves, in one table: how its
 * body is read, which member caps its output, the unit it is billed in.
 * The request path (proxy.c) reads the table; a route not in it is 404 in
 * Groq's error shape, and a route in it that the gateway cannot account
 * for yet is refused with a reason, never passed through free.
 *
 * Paths are matched as sent, after a canonical-form check: no empty, "."
 * or ".." segment, no trailing '/', no percent-encoding outside a route's
 * parameter (a model id, whose "%2F" an SDK may send for '/'). What Groq
 * receives is the path the gateway matched. */
#include "core.h"

#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "util.h"

#define V1 "/openai/v1"

static const struct route routes[] = {
	{ HM_POST, V1 "/chat/completions", false, "chat.completions", RK_CHAT, BK_JSON, BU_TOKENS, NULL },
	{ HM_POST, V1 "/responses", false, "responses", RK_RESPONSES, BK_JSON, BU_TOKENS, NULL },
	{ HM_POST, V1 "/embeddings", false, "embeddings", RK_EMBEDDINGS, BK_JSON, BU_TOKENS, NULL },
	{ HM_POST, V1 "/audio/transcriptions", false, "audio.transcriptions", RK_TRANSCRIBE, BK_FORM,
	  BU_AUDIO_SECONDS, NULL },
	{ HM_POST, V1 "/audio/translations", false, "audio.translations", RK_TRANSCRIBE, BK_FORM, BU_AUDIO_SECONDS,
	  NULL },
	{ HM_POST, V1 "/audio/speech", false, "audio.speech", RK_SPEECH, BK_JSON, BU_CHARS, NULL },
	{ HM_GET, V1 "/models", false, "models.list", RK_MODELS, BK_NONE, BU_NONE, NULL },
	{ HM_GET, V1 "/models/", true, "models.retrieve", RK_MODEL, BK_NONE, BU_NONE, NULL },
	{ HM_POST, V1 "/files", false, "files.create", RK_FILE_UPLOAD, BK_FORM, BU_NONE, NULL },
	{ HM_GET, V1 "/files", false, "files.list", RK_FILES, BK_NONE, BU_NONE, NULL },
	{ HM_GET | HM_DELETE, V1 "/files/", true, "files.retrieve", RK_FILE, BK_NONE, BU_NONE, NULL },
	{ HM_POST, V1 "/batches", false, "batches.create", RK_BATCH_CREATE, BK_JSON, BU_TOKENS, NULL },
	{ HM_GET, V1 "/batches", false, "batches.list", RK_BATCHES, BK_NONE, BU_NONE, NULL },
	{ HM_POST | HM_GET, V1 "/batches/", true, "batches.retrieve", RK_BATCH, BK_NONE, BU_NONE, NULL },
};

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* a route parameter: percent-decoded, then only the characters of Groq's
 * ids ([A-Za-z0-9._:-] and '/' between segments); NULL when it is not one */
static char *param_decode(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 256)
		return NULL;
	char *o = xmalloc(n + 1), *q = o;
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (c == '%') {
			int h = hexval(p[1]), l = h < 0 ? -1 : hexval(p[2]);
			if (l < 0)
				goto bad;
			c = (char)(h * 16 + l);
			p += 2;
		}
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			  c == '_' || c == ':' || c == '-' || c == '/';
		if (!ok)
			goto bad;
		*q++ = c;
	}
	*q = '\0';
	/* segments: none empty, none "." or ".." */
	for (char *seg = o;;) {
		char *sl = strchr(seg, '/');
		size_t sl_n = sl ? (size_t)(sl - seg) : strlen(seg);
		if (sl_n == 0 || (sl_n == 1 && seg[0] == '.') || (sl_n == 2 && seg[0] == '.' && seg[1] == '.'))
			goto bad;
		if (!sl)
			break;
		seg = sl + 1;
	}
	return o;
bad:
	free(o);
	return NULL;
}

const struct route *route_find(int method, const char *path, char **param, bool *method_mismatch)
{
	*param = NULL;
	*method_mismatch = false;
	for (size_t i = 0; i < ARRAY_LEN(routes); i++) {
		const struct route *r = &routes[i];
		size_t pl = strlen(r->path);
		if (r->param) {
			if (strncmp(path, r->path, pl) != 0 || !path[pl])
				continue;
			const char *rest = path + pl;
			/* files/{id}/content and batches/{id}/cancel are one more
			 * segment: the parameter is the whole rest, checked below */
			char *pv = param_decode(rest);
			if (!pv)
				continue;
			if (!(r->methods & method)) {
				free(pv);
				*method_mismatch = true;
				continue;
			}
			*param = pv;
			return r;
		}
		if (strcmp(path, r->path) != 0)
			continue;
		if (!(r->methods & method)) {
			*method_mismatch = true;
			continue;
		}
		return r;
	}
	return NULL;
}
