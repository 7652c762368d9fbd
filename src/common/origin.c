/* origin.c — see origin.h. */
#include "origin.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct origin *origin_parse(const char *url, const char **why)
{
	const char *hs = strstr(url, "://");
	bool tls = hs && hs - url == 5 && strncmp(url, "https", 5) == 0;
	if (!hs || (!tls && !(hs - url == 4 && strncmp(url, "http", 4) == 0))) {
		*why = "not an http:// or https:// URL";
		return NULL;
	}
	hs += 3;
	const char *pe = hs + strcspn(hs, "/?#"); /* end of host[:port] */
	const char *he, *colon, *hb = hs;
	if (*hs == '[') { /* [v6 address] */
		const char *rb = memchr(hs, ']', (size_t)(pe - hs));
		if (!rb || (rb + 1 < pe && rb[1] != ':')) {
			*why = "a malformed IPv6 address in the URL";
			return NULL;
		}
		colon = rb + 1 < pe ? rb + 1 : NULL;
		hb = hs + 1;
		he = rb;
	} else {
		colon = memchr(hs, ':', (size_t)(pe - hs));
		he = colon ? colon : pe;
	}
	if (he == hb) {
		*why = "no host in the URL";
		return NULL;
	}
	for (const unsigned char *c = (const unsigned char *)hs; c < (const unsigned char *)pe; c++)
		if (*c <= 0x20 || *c >= 0x7f || *c == '@') {
			*why = "a space, control, non-ASCII byte or user name in the URL's host";
			return NULL;
		}
	int64_t port = 0;
	if (colon) {
		bool ok = colon + 1 < pe;
		for (const char *c = colon + 1; c < pe && ok; c++) {
			ok = *c >= '0' && *c <= '9';
			port = port * 10 + (*c - '0');
			ok = ok && port <= 65535;
		}
		if (!ok || port < 1) {
			*why = "a bad port in the URL (1 to 65535)";
			return NULL;
		}
	}
	struct origin *o = xcalloc(1, sizeof *o);
	o->refs = 1;
	o->tls = tls;
	o->port = port ? (int)port : tls ? 443 : 80;
	o->host = xstrndup(hb, (size_t)(he - hb));
	o->hostport = xstrndup(hs, (size_t)(pe - hs));
	o->key = xstrndup(url, (size_t)(pe - url));
	o->path = xstrndup(pe, strcspn(pe, "#"));
	return o;
}

struct origin *origin_ref(struct origin *o)
{
	o->refs++;
	return o;
}

void origin_unref(struct origin *o)
{
	if (!o || --o->refs > 0)
		return;
	free(o->host);
	free(o->hostport);
	free(o->key);
	free(o->path);
	free(o);
}
