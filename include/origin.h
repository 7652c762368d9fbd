/* origin.h — an http(s) URL's origin (scheme, host, port) and path,
 * parsed once, when the configuration is loaded, not per request. Shared
 * by the transfers that use it (counted), so a reload can replace it
 * under them. */
#ifndef GG_ORIGIN_H
#define GG_ORIGIN_H

#include <stdbool.h>

struct origin {
	int refs;
	bool tls;
	int port;       /* 443 or 80 unless written */
	char *host;     /* what to connect to (an IPv6 address without brackets) */
	char *hostport; /* the Host header's value, as written */
	char *key;      /* "scheme://hostport": connections are shared per key */
	char *path;     /* the URL's path and query ("" when none), without a fragment */
};

/* The origin of url ("http(s)://host[:port][/path][?query]"), with one
 * reference; NULL with *why when url is not one. */
struct origin *origin_parse(const char *url, const char **why);
struct origin *origin_ref(struct origin *o);
void origin_unref(struct origin *o); /* frees it with its last reference; NULL is fine */

#endif
