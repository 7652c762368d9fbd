/* mime.h — media types (RFC 9110 §8.3.1) and multipart/form-data bodies
 * (RFC 7578 over RFC 2046 §5.1), read the way a standards-following form
 * parser reads them, and stricter wherever a looser reading could make two
 * parsers disagree: a body is either read one way or refused.
 *
 * Pure functions: no I/O, no allocation beyond what the results own. */
#ifndef GG_MIME_H
#define GG_MIME_H

#include <stdbool.h>
#include <stddef.h>

#define MIME_BOUNDARY_MAX 70

struct mediatype {
	char type[80];                        /* "type/subtype", lower case */
	char boundary[MIME_BOUNDARY_MAX + 1]; /* the boundary parameter, or "" */
};

/* Parses a Content-Type value: a type/subtype token pair, then
 * ";"-separated parameters (token or quoted-string values; names compared
 * without case; a parameter named twice is refused). 0, or -1 with what is
 * wrong in *why (a static string). */
int mediatype_parse(const char *value, struct mediatype *mt, const char **why);

/* One part of a form. name and filename are decoded copies (the form owns
 * them); data points into the body given to mform_parse. */
struct mpart {
	char *name, *filename; /* filename NULL when the part is a plain field */
	const char *data;
	size_t len;
	size_t start, end; /* the whole part in the body: from its delimiter line to
			    * the CRLF before the next delimiter */
};

struct mform {
	struct mpart *parts;
	int n;
};

/* Reads body as multipart/form-data with boundary. The body must begin
 * with the first delimiter (no preamble) and end with the closing one
 * (optionally followed by CRLF); every part must carry a
 * Content-Disposition of form-data with a name. At most 256 parts.
 * 0, or -1 with what is wrong in *why, a static string (f is then empty). */
int mform_parse(const char *body, size_t len, const char *boundary, struct mform *f, const char **why);
void mform_free(struct mform *f);
/* The one part named name (exactly), or NULL with *count set to how many
 * parts have that name (0, or more than 1: ambiguous). A part whose name
 * differs only in letter case counts too: a reader that ignores case would
 * take it. */
const struct mpart *mform_get(const struct mform *f, const char *name, int *count);

#endif
