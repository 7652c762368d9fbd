/* config_check.c — groqgated --check-config FILE: the configuration and the
 * files it names, checked as the gateway would use them (the same loaders:
 * admintok_load, tls_server_ctx), without starting it or changing
 * anything (ExecStartPre runs it as the service's user). Every problem is
 * one line "FILE:LINE: setting: what is wrong". */
#include "core.h"

#include <errno.h>
#include <libgen.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct checks {
	const char *path;
	int problems;
};

static void problem(struct checks *c, const char *setting, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(struct checks *c, const char *setting, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *what = xvasprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s:%d: %s: %s\n", c->path, config_line(c->path, setting), setting, what);
	free(what);
	c->problems++;
}

/* a file the gateway will create (or write): it, or its folder, writable */
static void writable(struct checks *c, const char *setting, const char *file)
{
	if (access(file, F_OK) == 0) {
		if (access(file, R_OK | W_OK) != 0)
			problem(c, setting, "%s cannot be read and written by this user: %s", file, strerror(errno));
		return;
	}
	char *copy = xstrdup(file);
	const char *dir = dirname(copy);
	if (access(dir, W_OK | X_OK) != 0)
		problem(c, setting, "%s cannot be created: its folder %s: %s", file, dir, strerror(errno));
	free(copy);
}

static void readable(struct checks *c, const char *setting, const char *file)
{
	if (file && access(file, R_OK) != 0)
		problem(c, setting, "%s cannot be read: %s", file, strerror(errno));
}

SSL_CTX *tls_server_ctx(const struct gw_config *cfg, const char **setting, char **cause)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		*setting = "tls.cert";
		fail(cause, "%s: cannot load the certificate chain (PEM)", cfg->tls_cert);
	} else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
		   SSL_CTX_check_private_key(ctx) != 1) {
		*setting = "tls.key";
		fail(cause, "%s: cannot load the key, or it does not match the certificate", cfg->tls_key);
	} else {
		return ctx;
	}
	SSL_CTX_free(ctx);
	return NULL;
}

int check_config(const char *path)
{
	struct gw_config cfg;
	char *cause = NULL;
	if (config_load(path, &cfg, &cause) != 0) {
		fprintf(stderr, "%s\n", cause); /* already FILE:LINE: setting: what */
		free(cause);
		return 1;
	}
	struct checks c = { path, 0 };
	struct admin_token *toks = NULL;
	int ntoks = 0;
	if (admintok_load(cfg.admin_tokens_file, &toks, &ntoks, &cause) != 0) {
		problem(&c, "admin.tokens_file", "%s", cause);
		free(cause);
		cause = NULL;
	}
	free(toks);
	if (cfg.gm_key_file && file_check_private(cfg.gm_key_file, &cause) != 0) {
		problem(&c, "groq_metrics.key_file", "%s", cause);
		free(cause);
		cause = NULL;
	}
	if (cfg.tls_cert) {
		const char *setting = NULL;
		SSL_CTX *ctx = tls_server_ctx(&cfg, &setting, &cause);
		if (!ctx) {
			problem(&c, setting, "%s", cause);
			free(cause);
			cause = NULL;
		}
		SSL_CTX_free(ctx);
	}
	readable(&c, "upstream.ca_file", cfg.upstream_ca_file);
	if (!cfg.store_url)
		writable(&c, "store.path", cfg.store_path);
	char *journal = config_journal_path(&cfg);
	writable(&c, cfg.store_url ? "store.journal" : "store.path", journal);
	free(journal);
	if (cfg.log_path)
		writable(&c, "log.path", cfg.log_path);
	if (cfg.nprices == 0)
		problem(&c, "prices", "no model is priced: every metered request would be refused (model_not_priced)");
	if (c.problems == 0)
		printf("%s: OK (%d prices, %d admin tokens)\n", path, cfg.nprices, ntoks);
	config_free(&cfg);
	return c.problems ? 1 : 0;
}
