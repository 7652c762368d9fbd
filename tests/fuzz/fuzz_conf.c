/* fuzz_conf.c — the files an operator writes: the gateway's configuration
 * and the admin tokens file (the input is written to a private temp file). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "gateway.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/gg-fuzz-conf-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	chmod(path, 0600);
	struct gw_config c;
	char *cause = NULL;
	if (config_load(path, &c, &cause) == 0)
		config_free(&c);
	else
		free(cause);
	cause = NULL;
	struct admin_token *t = NULL;
	int n = 0;
	if (admintok_load(path, &t, &n, &cause) == 0)
		free(t);
	else
		free(cause);
	unlink(path);
	return 0;
}
