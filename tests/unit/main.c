/* main.c — runs every unit suite; exit status 1 if any test failed. */
#include <stdlib.h>

#include "t.h"

int t_failed_now;
static int passed, failed;

void t_fail(const char *file, int line, const char *what)
{
	printf("#   %s:%d: check failed: %s\n", file, line, what);
	t_failed_now = 1;
}

void t_run(const char *name, void (*fn)(void))
{
	t_failed_now = 0;
	fn();
	if (t_failed_now) {
		failed++;
		printf("not ok - unit: %s\n", name);
	} else {
		passed++;
		printf("ok - unit: %s\n", name);
	}
	fflush(stdout);
}

int main(void)
{
	suite_common();
	suite_gateway();
	suite_budget();
	suite_windows();
	suite_capacity();
	suite_journal();
	suite_httpd();
	suite_console();
	suite_groq();
	printf("# unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
