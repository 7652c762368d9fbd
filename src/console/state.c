/* state.c — the console's state that every part reads and sets: the
 * status line, the selected team and key, the filtered and sorted rows,
 * which view is open and each view's own state, and the `:` commands (a
 * table beside the views' own names). It names no view: the views it
 * opens are the app's (a->views, a->v_main, a->v_wall, set by main.c),
 * so that every view may call it and it calls none back. */
#include "console.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

int64_t app_now(struct app *a)
{
	return a->fixed_now ? a->fixed_now : wall_ms();
}

void app_take_answer(struct app *a, json_t **slot, long status, const char *body, size_t len, const char *err,
		     const char *what)
{
	json_t *j = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
	if (j) {
		json_decref(*slot);
		*slot = j;
	} else if (what) {
		app_set_status(a, R_ERROR, "could not load %s: %s", what, err ? err : "HTTP error");
	}
	a->dirty = true;
}

void app_set_status(struct app *a, int role, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->status, sizeof a->status, fmt, ap);
	va_end(ap);
	a->status_role = role;
	a->status_until = wall_ms() + 8000;
	a->dirty = true;
}

struct m_team *app_team(struct app *a)
{
	if (a->nteam_idx == 0 || a->lteam.sel < 0 || a->lteam.sel >= a->nteam_idx)
		return NULL;
	return &a->ov.teams[a->team_idx[a->lteam.sel]];
}

struct m_key *app_key_sel(struct app *a)
{
	if (a->nkey_idx == 0 || a->lkey.sel < 0 || a->lkey.sel >= a->nkey_idx)
		return NULL;
	return &a->ov.keys[a->key_idx[a->lkey.sel]];
}

/* ---- sorting and filtering ------------------------------------------ */

static int state_rank(const char *s)
{
	return strcmp(s, "budget_paused") == 0 ? 0 : strcmp(s, "paused") == 0 ? 1 : 2;
}

#define CMP(x, y) (((x) > (y)) - ((x) < (y)))
static int by_id(const struct m_team *a, const struct m_team *b) { (void)a, (void)b; return 0; }
static int by_state(const struct m_team *a, const struct m_team *b) { return state_rank(a->state) - state_rank(b->state); }
static int by_rpm(const struct m_team *a, const struct m_team *b) { return CMP(a->rpm, b->rpm); }
static int by_tpm(const struct m_team *a, const struct m_team *b) { return CMP(a->tpm, b->tpm); }
static int by_refused(const struct m_team *a, const struct m_team *b) { return CMP(a->refused_pm, b->refused_pm); }
static int by_pct(const struct m_team *a, const struct m_team *b) { return CMP(a->pct, b->pct); }
static int by_spend(const struct m_team *a, const struct m_team *b) { return CMP(a->spend, b->spend); }
#undef CMP

const struct sort_column sort_cols[SORT_NCOLS] = {
	[SORT_ID] = { "id", false, by_id },
	[SORT_STATE] = { "state", false, by_state },
	[SORT_RPM] = { "rpm", true, by_rpm },
	[SORT_TPM] = { "tpm", true, by_tpm },
	[SORT_REFUSED] = { "refused", true, by_refused },
	[SORT_SPEND] = { "spend", true, by_spend },
	[SORT_SPEND_PCT] = { "spend%", true, by_pct },
};

static int cmp_teams(const void *x, const void *y, void *arg)
{
	const struct app *app = arg;
	const struct m_team *a = &app->ov.teams[*(const int *)x], *b = &app->ov.teams[*(const int *)y];
	int r = sort_cols[app->sort_col].cmp(a, b);
	if (app->sort_desc)
		r = -r;
	return r ? r : strcmp(a->id, b->id); /* stable: ties by id */
}

static bool match(const char *filter, const char *a, const char *b)
{
	return !*filter || strcasestr(a, filter) || (b && strcasestr(b, filter));
}

void app_rebuild(struct app *a)
{
	char sel_id[64] = "", sel_key[128] = "";
	if (app_team(a))
		snprintf(sel_id, sizeof sel_id, "%s", app_team(a)->id);
	if (app_key_sel(a))
		snprintf(sel_key, sizeof sel_key, "%s", app_key_sel(a)->name);
	free(a->team_idx);
	free(a->key_idx);
	a->team_idx = xcalloc((size_t)a->ov.nteams + 1, sizeof *a->team_idx);
	a->key_idx = xcalloc((size_t)a->ov.nkeys + 1, sizeof *a->key_idx);
	a->nteam_idx = a->nkey_idx = 0;
	for (int i = 0; i < a->ov.nteams; i++)
		if (match(a->filter, a->ov.teams[i].id, a->ov.teams[i].name))
			a->team_idx[a->nteam_idx++] = i;
	qsort_r(a->team_idx, (size_t)a->nteam_idx, sizeof *a->team_idx, cmp_teams, a);
	for (int i = 0; i < a->ov.nkeys; i++)
		if (match(a->filter, a->ov.keys[i].name, a->ov.keys[i].team))
			a->key_idx[a->nkey_idx++] = i;
	/* keep the selection on the same team and key across refreshes */
	for (int i = 0; sel_id[0] && i < a->nteam_idx; i++)
		if (strcmp(a->ov.teams[a->team_idx[i]].id, sel_id) == 0)
			a->lteam.sel = i;
	for (int i = 0; sel_key[0] && i < a->nkey_idx; i++)
		if (strcmp(a->ov.keys[a->key_idx[i]].name, sel_key) == 0)
			a->lkey.sel = i;
	if (a->lteam.sel >= a->nteam_idx)
		a->lteam.sel = a->nteam_idx ? a->nteam_idx - 1 : 0;
	if (a->lkey.sel >= a->nkey_idx)
		a->lkey.sel = a->nkey_idx ? a->nkey_idx - 1 : 0;
	a->dirty = true;
}

/* ---- views and commands ------------------------------------------------ */

void view_enter(struct app *a, const struct view *v)
{
	if (a->view != v)
		a->prev_view = a->view;
	a->view = v;
}

int app_show_team(struct app *a, const char *id)
{
	for (int i = 0; id && i < a->nteam_idx; i++)
		if (strcmp(a->ov.teams[a->team_idx[i]].id, id) == 0) {
			a->lteam.sel = i;
			a->pane = PANE_TEAMS;
			a->view = a->v_main;
			a->dirty = true;
			return 0;
		}
	if (id)
		app_set_status(a, R_ERROR, "team %s is not in the teams pane%s", id, a->filter[0] ? " (the filter hides it)" : "");
	return -1;
}

static void cmd_teams(struct app *a, const char *arg)
{
	(void)arg;
	a->view = a->wallboard ? a->v_wall : a->v_main;
	a->pane = PANE_TEAMS;
}

static void cmd_keys(struct app *a, const char *arg)
{
	(void)arg;
	a->view = a->v_main;
	a->pane = PANE_KEYS;
}

static void cmd_quit(struct app *a, const char *arg)
{
	(void)arg;
	a->quit = true;
}

static void cmd_local(struct app *a, const char *arg)
{
	(void)arg;
	char zone[16];
	a->local_time = true;
	app_set_status(a, R_DIM, "times in local time (%s); :utc goes back", when_zone(true, zone, sizeof zone));
}

static void cmd_utc(struct app *a, const char *arg)
{
	(void)arg;
	a->local_time = false;
	app_set_status(a, R_DIM, "times in UTC");
}

static void cmd_ctx(struct app *a, const char *arg)
{
	if (a->switch_ctx)
		a->switch_ctx(a, arg);
}

/* the commands that are not a view's (a view's is its name: a->views) */
static const struct {
	const char *name;
	void (*fn)(struct app *a, const char *arg);
} commands[] = {
	{ "teams", cmd_teams }, { "keys", cmd_keys }, { "ctx", cmd_ctx },	  { "q", cmd_quit },
	{ "quit", cmd_quit },	{ "local", cmd_local }, { "utc", cmd_utc },
};

void app_command(struct app *a, const char *cmd)
{
	while (*cmd == ' ')
		cmd++;
	size_t n = strcspn(cmd, " ");
	const char *arg = cmd + n + (cmd[n] == ' ');
	a->dirty = true;
	if (!*cmd)
		return;
	for (size_t i = 0; i < ARRAY_LEN(commands); i++)
		if (strlen(commands[i].name) == n && strncmp(cmd, commands[i].name, n) == 0) {
			commands[i].fn(a, arg);
			return;
		}
	for (const struct view *const *v = a->views; v && *v; v++)
		if (strlen((*v)->name) == n && strncmp(cmd, (*v)->name, n) == 0) {
			(*v)->open(a);
			return;
		}
	buf b;
	buf_init(&b);
	for (size_t i = 0; i < 2; i++)
		buf_addf(&b, " :%s", commands[i].name);
	for (const struct view *const *v = a->views; v && *v; v++)
		buf_addf(&b, " :%s", (*v)->name);
	app_set_status(a, R_ERROR, "unknown command ':%.*s' (try%s :ctx :q)", (int)n, cmd, b.data);
	buf_free(&b);
}

/* the commands whose name starts with the word typed (none once an
 * argument follows it): their names into names (space-separated), the
 * longest prefix they share into common; how many */
int app_complete(const struct app *a, const char *typed, buf *names, char *common, size_t n)
{
	while (*typed == ' ')
		typed++;
	size_t tl = strlen(typed);
	int count = 0;
	if (common && n)
		common[0] = '\0';
	if (strchr(typed, ' '))
		return 0;
	const char *all[ARRAY_LEN(commands) + 32];
	size_t na = 0;
	for (size_t i = 0; i < ARRAY_LEN(commands); i++)
		all[na++] = commands[i].name;
	for (const struct view *const *v = a->views; v && *v && na < ARRAY_LEN(all); v++)
		all[na++] = (*v)->name;
	for (size_t i = 0; i < na; i++) {
		if (strncmp(all[i], typed, tl) != 0)
			continue;
		if (names)
			buf_addf(names, "%s%s", count ? " " : "", all[i]);
		if (common && n) {
			if (!count) {
				snprintf(common, n, "%s", all[i]);
			} else { /* what the candidates so far share */
				size_t k = 0;
				while (common[k] && common[k] == all[i][k])
					k++;
				common[k] = '\0';
			}
		}
		count++;
	}
	return count;
}

/* the team the selected row names, for a view of one team (its tokens,
 * its usage): false, said on the status line, when none is selected */
bool app_pick_team(struct app *a)
{
	struct m_team *t = app_team(a);
	if (!t) {
		app_set_status(a, R_DIM, "select a team first");
		return false;
	}
	snprintf(a->view_team, sizeof a->view_team, "%s", t->id);
	return true;
}

/* ---- each view's own state ------------------------------------------ */

void *view_state(struct app *a, const struct view *v)
{
	if (!v->state_size)
		return NULL;
	int i = __builtin_ctz(v->id); /* one slot per V_* bit */
	if (i >= NVIEWS)
		abort();
	if (!a->vstate[i].state) {
		a->vstate[i].v = v;
		a->vstate[i].state = xcalloc(1, v->state_size);
	}
	return a->vstate[i].state;
}

void app_free_views(struct app *a)
{
	for (int i = 0; i < NVIEWS; i++) {
		if (!a->vstate[i].state)
			continue;
		if (a->vstate[i].v->state_free)
			a->vstate[i].v->state_free(a->vstate[i].state);
		free(a->vstate[i].state);
		a->vstate[i].state = NULL;
	}
}
