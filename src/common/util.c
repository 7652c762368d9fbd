/* util.c — see util.h. */
#include "util.h"
#include "secret.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void oom(size_t n)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		oom(0);
	char *p = xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

int fail(char **cause, const char *fmt, ...)
{
	if (cause) {
		va_list ap;
		va_start(ap, fmt);
		*cause = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return -1;
}

bool str_starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_ends(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool parse_i64(const char *s, int64_t *out)
{
	if (!s || !*s)
		return false;
	/* the common case without strtoll: an optional '-' and 1 to 18 digits
	 * (no overflow possible); anything else is strtoll's */
	const char *p = s + (*s == '-');
	int64_t v = 0;
	int n = 0;
	while (*p >= '0' && *p <= '9' && n < 18) {
		v = v * 10 + (*p++ - '0');
		n++;
	}
	if (!*p && n >= 1) {
		*out = *s == '-' ? -v : v;
		return true;
	}
	errno = 0;
	char *end;
	long long ll = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = ll;
	return true;
}

int parse_hostport(const char *s, char *host, size_t hostlen, int *port, char **cause)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s)
		return fail(cause, "'%s' is not HOST:PORT", s);
	size_t hl = (size_t)(colon - s);
	const char *h = s;
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') { /* [::1]:80 */
		h++;
		hl -= 2;
	}
	if (hl >= hostlen)
		return fail(cause, "host in '%s' is too long", s);
	int64_t p;
	if (!parse_i64(colon + 1, &p) || p < 0 || p > 65535)
		return fail(cause, "port in '%s' must be a number 0..65535", s);
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}

int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int file_check_private(const char *path, char **cause)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return fail(cause, "%s: %s", path, strerror(errno));
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return fail(cause,
			    "%s: permissions %04o are too open (group or others may read it); "
			    "run: chmod 600 %s",
			    path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

char *file_read(const char *path, size_t max, size_t *len, char **cause)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fail(cause, "%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *p = xmalloc(cap);
	for (;;) {
		if (n + 1 >= cap) {
			cap *= 2;
			p = xrealloc(p, cap);
		}
		size_t r = fread(p + n, 1, cap - n - 1, f);
		n += r;
		if (n > max) {
			fclose(f);
			free(p);
			fail(cause, "%s: larger than %zu bytes", path, max);
			return NULL;
		}
		if (r == 0)
			break;
	}
	int err = ferror(f);
	fclose(f);
	if (err) {
		free(p);
		fail(cause, "%s: read error", path);
		return NULL;
	}
	p[n] = '\0';
	if (len)
		*len = n;
	return p;
}

char *str_trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int report(const char *prog, const char *what, char *cause, int code)
{
	fprintf(stderr, "%s: %s%s%s\n", prog, what ? what : "", what ? ": " : "", cause ? cause : "error");
	free(cause);
	return code;
}

char *xconcat(const char *first, ...)
{
	va_list ap;
	size_t n = 0;
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		n += strlen(s);
	va_end(ap);
	char *out = xmalloc(n + 1), *p = out;
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *)) {
		size_t l = strlen(s);
		memcpy(p, s, l);
		p += l;
	}
	va_end(ap);
	*p = '\0';
	return out;
}

char *path_home(const char *p)
{
	if (p && p[0] == '~' && p[1] == '/' && getenv("HOME"))
		return xasprintf("%s%s", getenv("HOME"), p + 1);
	return p ? xstrdup(p) : NULL;
}

char *token_file_read(const char *file, char **cause)
{
	char *path = path_home(file);
	if (file_check_private(path, cause) != 0) {
		free(path);
		return NULL;
	}
	size_t len = 0;
	char *t = file_read(path, 4096, &len, cause);
	free(path);
	if (!t)
		return NULL;
	char *s = str_trim(t);
	char *out = *s ? xstrdup(s) : NULL;
	secret_wipe(t, len); /* (the token's copy) */
	free(t);
	if (!out)
		fail(cause, "%s: the token file is empty", file);
	return out;
}
