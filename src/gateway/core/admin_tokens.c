/* admin_tokens.c — the admin tokens file: one "NAME ROLE SHA256HEX" per line,
 * '#' comments. Refused when group or others may read it. */
#include "core.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "util.h"

const char *role_name(enum role r)
{
	return r == ROLE_OPERATOR ? "operator" : "viewer";
}

int admintok_load(const char *path, struct admin_token **out, int *nout, char **cause)
{
	if (file_check_private(path, cause) != 0)
		return -1;
	char *text = file_read(path, 1 << 20, NULL, cause);
	if (!text)
		return -1;
	struct admin_token *t = NULL;
	int n = 0, lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		char *l = str_trim(line);
		if (!*l || *l == '#')
			continue;
		char name[64], role[16], hash[80], extra[2];
		int k = sscanf(l, "%63s %15s %79s %1s", name, role, hash, extra);
		if (k != 3) {
			free(t);
			free(text);
			return fail(cause, "%s:%d: expected 'NAME ROLE SHA256HEX'", path, lineno);
		}
		enum role r;
		if (strcmp(role, "viewer") == 0)
			r = ROLE_VIEWER;
		else if (strcmp(role, "operator") == 0)
			r = ROLE_OPERATOR;
		else {
			free(t);
			free(text);
			return fail(cause, "%s:%d: role must be 'viewer' or 'operator', not '%s'", path, lineno, role);
		}
		bool hex = strlen(hash) == 64;
		for (int i = 0; hex && i < 64; i++)
			hex = isxdigit((unsigned char)hash[i]);
		if (!hex) {
			free(t);
			free(text);
			return fail(cause, "%s:%d: the third field must be the token's SHA-256 in 64 hex digits "
					   "(e.g. printf %%s TOKEN | sha256sum)", path, lineno);
		}
		t = xrealloc(t, (size_t)(n + 1) * sizeof *t);
		snprintf(t[n].name, sizeof t[n].name, "%s", name);
		t[n].role = r;
		for (int i = 0; i < 64; i++)
			t[n].hash[i] = (char)tolower((unsigned char)hash[i]);
		t[n].hash[64] = '\0';
		n++;
	}
	free(text);
	*out = t;
	*nout = n;
	return 0;
}

const struct admin_token *admintok_find(const struct admin_token *t, int n, const char *bearer)
{
	if (!bearer)
		return NULL;
	char h[SHA256_HEX_LEN + 1];
	sha256_hex(bearer, strlen(bearer), h);
	const struct admin_token *found = NULL;
	for (int i = 0; i < n; i++) /* every entry compared: no early exit */
		if (ct_equal(h, t[i].hash, SHA256_HEX_LEN) && !found)
			found = &t[i];
	return found;
}
