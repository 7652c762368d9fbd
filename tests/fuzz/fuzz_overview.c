/* fuzz_overview.c — the console's parsing of what the admin API answers,
 * then drawing it: garbage, truncation and huge values never crash. */
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct m_overview o;
	char *cause = NULL;
	if (model_parse_overview((const char *)data, size, &o, &cause) == 0) {
		struct canvas cv;
		cv_init(&cv, 120, 40, true);
		for (int i = 0; i < o.nteams; i++) {
			cv_printf(&cv, i % 40, 0, R_NORMAL, 120, "%s %s %s", o.teams[i].id, o.teams[i].state, o.teams[i].paused_reason);
			cv_gauge(&cv, i % 40, 60, 20, o.teams[i].budget > 0 ? o.teams[i].spend / o.teams[i].budget : 0);
		}
		for (int i = 0; i < o.nalerts; i++)
			cv_put(&cv, i % 40, 0, R_ALERT, o.alerts[i].message, 120);
		char *t = cv_text(&cv);
		free(t);
		cv_free(&cv);
		model_free(&o);
	} else {
		free(cause);
	}
	double pts[60], sp, pr;
	model_parse_usage((const char *)data, size, pts, 60, &sp, &pr);
	iso_ms((const char *)data);
	return 0;
}
