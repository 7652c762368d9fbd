/* console.h — groqtop's modules, one heading per file.
 *
 * Data flows one way: client.c polls the admin API (libcurl multi, never
 * blocking) and model.c turns the JSON into plain structs; each view draws
 * the model onto a canvas (canvas.c: a grid of cells, no curses); screen.c
 * is the only file that includes curses and presents the canvas, so the
 * same frame goes to the terminal or, with --snapshot, to stdout. */
#ifndef GG_CONSOLE_H
#define GG_CONSOLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

/* ---- roles: what a cell means; themes map roles to colours ---------- */
#define ROLES(X)                                                                 \
	X(NORMAL, "normal") X(HEADER, "header") X(LIVE, "live") X(STALE, "stale") \
	X(DOWN, "down") X(TITLE, "title") X(TABLE_HEAD, "table_head")           \
	X(SELECTED, "selected") X(SELECTED_DIM, "selected_unfocused")            \
	X(GAUGE_OK, "gauge_ok") X(GAUGE_50, "gauge_50") X(GAUGE_80, "gauge_80")  \
	X(GAUGE_95, "gauge_95") X(GAUGE_EMPTY, "gauge_empty") X(ACTIVE, "active") \
	X(PAUSED, "paused") X(BUDGET_PAUSED, "budget_paused") X(DIM, "dim")     \
	X(FOOTER, "footer") X(FOOTER_KEY, "footer_key") X(DIALOG, "dialog")      \
	X(DIALOG_TITLE, "dialog_title") X(ERROR, "error") X(OK, "ok")            \
	X(SPARK, "spark") X(ALERT, "alert") X(BORDER, "border") X(HILITE, "highlight")
#define ROLE_ENUM(id, name) R_##id,
enum role_id { ROLES(ROLE_ENUM) R_COUNT };
#undef ROLE_ENUM
const char *role_label(int role);
int role_by_label(const char *s);

/* ---- canvas.c: a frame as a grid of cells --------------------------- */
struct cell {
	char ch[5]; /* one UTF-8 character of width 1 */
	unsigned char role;
};
struct canvas {
	int w, h;
	struct cell *c;
	bool utf8;
};
void cv_init(struct canvas *cv, int w, int h, bool utf8);
/* rows [sy, sy+n) of src into dst from row dy (columns as far as both go) */
void cv_copy_rows(struct canvas *dst, int dy, const struct canvas *src, int sy, int n);
/* text wrapped at word boundaries into w columns from (y, x), the lines
 * after the first indented by indent; returns the rows used */
int cv_wrap(struct canvas *cv, int y, int x, int w, int indent, int role, const char *text);
void cv_free(struct canvas *cv);
void cv_clear(struct canvas *cv);
/* Writes s (UTF-8) at y,x clipped to maxw columns (-1: to the edge);
 * returns the columns written. */
int cv_put(struct canvas *cv, int y, int x, int role, const char *s, int maxw);
int cv_printf(struct canvas *cv, int y, int x, int role, int maxw, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
void cv_fill(struct canvas *cv, int y, int x, int w, int role, const char *ch);
void cv_box(struct canvas *cv, int y, int x, int h, int w, int role, const char *title);
/* A gauge of w cells for frac (0..1+), coloured at 50/80/95 %. */
void cv_gauge(struct canvas *cv, int y, int x, int w, double frac);
int gauge_role(double frac);
/* A sparkline of w cells from the last w values. */
void cv_spark(struct canvas *cv, int y, int x, int w, const double *v, int n);
/* The grid as text lines (trailing blanks trimmed); caller frees. */
char *cv_text(const struct canvas *cv);
/* Display columns of a UTF-8 string (all our glyphs are one column). */
int utf8_cols(const char *s);
/* Lines of text wrapped at spaces into w columns, never cutting a word
 * unless it is longer than a line; calls put for each (NULL: count only);
 * how many. */
int wrap_words(const char *text, int w, void (*put)(void *arg, int i, const char *line), void *arg);

/* ---- model.c: the admin API's answers as plain structs --------------- */
struct m_team {
	char id[64], name[128], state[16];
	int rpm;
	int64_t rpm_limit, max_tokens, version;
	int64_t tpm, tpm_limit;   /* tokens in the last minute, its limit (0: none) */
	int64_t refused_pm;       /* requests it refused in the last minute ... */
	char refused_by[96];      /* ... by class: "budget 3, rate 2" ("" none) */
	char priority[12];
	double spend, budget, pct;
	int nmodels, keys;
	char **models;
	char paused_by[128], paused_reason[256], paused_at[32];
};
struct m_key {
	char name[128], team[64], fp[48], state[16], last_used[32], step[20];
	int64_t req24h, created_ms;
};
struct m_alert {
	int64_t id;
	char time[32], kind[32], team[64], message[512], acked_by[128];
};
struct m_overview {
	char version[32], upstream[256];
	int64_t uptime_s, now_ms;
	double org_spend, org_budget; /* org_budget 0: none */
	bool has_headroom;
	int64_t lim_req, rem_req, lim_tok, rem_tok;
	int nteams, nkeys, nalerts;
	int keys_total;     /* keys the gateway holds (nkeys may be a first part) */
	int teams_total;    /* the same for teams */
	struct m_team *teams;
	struct m_key *keys;
	struct m_alert *alerts;
	int active, paused, budget_paused, rpm_total, inflight;
	/* Groq's own view (the overview's "groq"): state "" when absent */
	char groq_state[16];
	bool clustered;               /* the overview's cluster.mode */
	int cl_serving, cl_replicas;
	int groq_drifting;
	int64_t groq_age_s; /* -1: no figures yet */
};
/* Parses an overview answer; returns -1 with *cause on a bad shape. */
int model_parse_overview(const char *body, size_t len, struct m_overview *o, char **cause);
void model_free(struct m_overview *o);
/* Usage points (requests per step) for sparklines; returns count. */
int model_parse_usage(const char *body, size_t len, double *out, int max, double *spend, double *proj);
/* ISO-8601 UTC to epoch ms (0 on junk). */
int64_t iso_ms(const char *s);
/* "3m", "2h", "5d", "-" for an age in ms. */
void fmt_age(int64_t ms, char *out, size_t n);
void money(char *out, size_t n, double v); /* "$1.29", "<$0.01", "$12k" */
/* the console's one timestamp format, in UTC (the default) or local time
 * (--local-time, :local): WHEN_HM "06:07", WHEN_HMS "06:07:00", WHEN_FULL
 * "2026-12-07 06:07:00"; "-" for none. _iso takes the API's ISO-8601. */
enum { WHEN_HM, WHEN_HMS, WHEN_FULL };
void fmt_when(int64_t ms, bool local, int style, char *out, size_t n);
void fmt_when_iso(const char *iso, bool local, int style, char *out, size_t n);
const char *when_zone(bool local, char *out, size_t n); /* "UTC", or the local zone's name */

/* ---- client.c: the admin API over libcurl multi ---------------------- */
struct client;
typedef void (*client_cb)(void *arg, long status, const char *body, size_t len, const char *err);
struct client *client_new(const char *base, const char *token, const char *cacert, bool readonly);
/* A client on host's multi handle (another server, another token): its
 * requests run in host's client_wait; freed before host. */
struct client *client_new_on(struct client *host, const char *base, const char *token, const char *cacert,
			     bool readonly);
void client_free(struct client *c);
/* Points c at another gateway (its requests in flight dropped, without
 * callbacks); guests stay on its handle. */
void client_reset(struct client *c, const char *base, const char *token, const char *cacert, bool readonly);
/* Queues a request; readonly clients refuse every method but GET (the
 * wallboard's guarantee, enforced here). Returns -1 when refused. */
int client_request(struct client *c, const char *method, const char *path, const char *body,
		   const char *if_match, int64_t timeout_ms, client_cb cb, void *arg);
/* Waits up to timeout_ms for the network or one of nfd descriptors (stdin,
 * the signal pipe); runs finished requests' callbacks. ready[i] gets 1 when
 * fds[i] is readable, -1 when it hung up (the terminal went away). */
void client_wait(struct client *c, const int *fds, int *ready, int nfd, int timeout_ms);
int client_pending(struct client *c);
void client_set_operator(struct client *c, const char *label);
/* Points c at another address of the same gateway (its token kept, its
 * requests in flight dropped without callbacks). */
void client_set_base(struct client *c, const char *base);

/* ---- theme.c: themes/NAME.conf ---------------------------------------- */
struct role_style {
	short fg, bg; /* -1 default; 0..255 */
	bool bold, reverse, underline, dim;
};
struct theme {
	char name[64];
	struct role_style s[R_COUNT];
};
void theme_default(struct theme *t);
/* Loads NAME from dirs (a file path is taken as is). -1 with *cause. */
int theme_load(struct theme *t, const char *name, char **cause);

/* ---- app.c: state, actions and views ----------------------------------- */
enum keycode {
	K_NONE = 0, K_UP = 0x1000, K_DOWN, K_LEFT, K_RIGHT, K_PGUP, K_PGDN, K_HOME, K_END,
	K_ENTER, K_ESC, K_TAB, K_BTAB, K_BACKSPACE, K_RESIZE, K_MOUSE, K_DEL, K_WHEEL_UP, K_WHEEL_DOWN
};

struct app;
/* views, as bits: where a key binding works */
enum { V_MAIN = 1, V_DETAIL = 2, V_ALERTS = 4, V_AUDIT = 8, V_TOKENS = 16, V_USAGE = 32, V_GROQ = 64, V_WALL = 128,
       V_HELP = 256, V_OTHER = 512, V_FLEET = 1024, V_CAPACITY = 2048, V_SPEND = 4096, V_MODELS = 8192, V_DESCRIBE = 16384 };
/* a view: the main loop asks it to draw, and hands it keys (after the
 * bindings of keys.c had their turn) */
struct view {
	const char *name;
	void (*draw)(struct app *a, struct canvas *cv);
	int (*key)(struct app *a, int key); /* returns VIEW_* flags */
	unsigned id;                        /* V_* */
	/* a click (K_MOUSE) or a wheel notch (K_WHEEL_UP/DOWN) at row y,
	 * column x; NULL: the wheel moves as Up/Down do, a click does nothing */
	void (*mouse)(struct app *a, int kind, int y, int x);
	/* the view's own state, as tmux's modes keep theirs: state_size bytes
	 * (0: none), zeroed the first time view_state asks for it, kept while
	 * the console runs; state_free releases what it holds (NULL: nothing) */
	size_t state_size;
	void (*state_free)(void *state);
	/* `:NAME` opens it (NULL: no command opens it); update asks for its
	 * data again at each refresh while it is open (NULL: none) */
	void (*open)(struct app *a);
	void (*update)(struct app *a);
};
/* a full-screen text view that scrolls (help, Groq's view, capacity): the
 * view draws its body from row 0 of a tall canvas (body returns the rows
 * it used); the pager shows the rows from top in the box under the header,
 * with where they are in the title, and its keys move top */
struct pager {
	int top, rows, shown; /* first row shown; the body's rows; rows on screen */
};
void pager_draw(struct app *a, struct canvas *cv, struct pager *pg, const char *title,
		int (*body)(struct app *a, struct canvas *tall), const char *hints);
int pager_key(struct pager *pg, int key); /* VIEW_* flags */
/* ---- listw.c: a list's selection and scrolling (every list on screen) */
struct listw {
	int sel, top; /* the selected row; the first row on screen */
};
#define LW_WHEEL_ROWS 3 /* a notch of the wheel */
void lw_clamp(struct listw *l, int n);           /* the selection within n rows */
void lw_show(struct listw *l, int n, int rows);  /* and on the rows shown */
/* Up/Down (j/k), PgUp/PgDn (page rows), Home/End (g/G): true when it was one */
bool lw_key(struct listw *l, int key, int n, int page);
void lw_wheel(struct listw *l, int kind, int n); /* K_WHEEL_UP or _DOWN */
/* a click on the row'th row shown: true when a row of the list is there */
bool lw_click(struct listw *l, int row, int n);
/* where the rows shown are, " 1-13 of 20 " (empty, 0, when all fit) */
int lw_where(const struct listw *l, int n, int rows, char *out, size_t size);
/* that, on a box's bottom border (row y) ending before column right */
void lw_mark(struct canvas *cv, int y, int right, const struct listw *l, int n, int rows, int role);

/* the reason an emergency stop gives every team it pauses (the gateway's) */
#define STOP_PREFIX "EMERGENCY STOP: "
/* the views a `:` command names, NULL-terminated (main.c; the app's
 * a->views) */
extern const struct view *const console_views[];
/* a becomes v's, the view it came from kept for Esc */
void view_enter(struct app *a, const struct view *v);
enum { VIEW_HANDLED = 1, VIEW_REDRAW = 2, VIEW_QUIT = 4 };
#define NVIEWS 15 /* the V_* bits */
/* v's state (its type known to v's file alone); freed by app_free_views */
void *view_state(struct app *a, const struct view *v);
void app_free_views(struct app *a);

extern const struct view view_main, view_wallboard, view_help, view_alerts, view_audit, view_toosmall, view_groq,
	view_tokens, view_usage, view_detail, view_fleet, view_capacity, view_spend, view_models, view_describe;
/* :spend's keys (view_spend.c): the month by team, model or end user; the view as CSV to a file */
void spend_by_team(struct app *a);
void spend_by_model(struct app *a);
void spend_by_user(struct app *a);
void spend_export(struct app *a);

/* ---- keys.c: the key bindings, as data -------------------------------- */
struct binding {
	int key;              /* the key code */
	const char *name;     /* as shown: "p" */
	const char *label;    /* the footer's word */
	const char *help;     /* its line in ? */
	unsigned views;       /* V_* where it works */
	bool mutating;        /* changes the gateway: refused in --readonly and the wallboard */
	bool footer;          /* shown in the footer */
	void (*fn)(struct app *a);
};
extern const struct binding bindings[]; /* (the app's a->bindings) */
extern const int nbindings;
const struct binding *binding_find(const struct view *v, int key);
/* Runs the view's binding for key (or refuses a mutating one in read-only
 * mode); 0 when no binding took it. */
int binding_run(struct app *a, int key);
/* A key pressed: the dialog's, the command line's or the filter's while
 * one is open, else the keys every view shares, the view's bindings, the
 * view's own. VIEW_* flags. */
int keys_handle(struct app *a, int key);

/* the teams table's sort columns, in the order 's' steps through them */
enum sort_col { SORT_ID, SORT_STATE, SORT_RPM, SORT_TPM, SORT_REFUSED, SORT_SPEND, SORT_SPEND_PCT, SORT_NCOLS };
struct m_team;
struct sort_column {
	const char *name; /* as the pane's title shows it */
	bool desc;        /* its first direction: numbers biggest first */
	int (*cmp)(const struct m_team *a, const struct m_team *b);
};
extern const struct sort_column sort_cols[SORT_NCOLS];

enum pane { PANE_TEAMS, PANE_KEYS };
enum dlg_kind { DLG_NONE, DLG_CONFIRM, DLG_INPUT, DLG_CHECKLIST, DLG_MESSAGE, DLG_WIZARD, DLG_FORM };
#define FORM_MAX 16

/* The action a dialog is part of (pause a team, edit its limits or its
 * allowlist, issue or revoke a token, the emergency stop, an alias, the
 * rotation wizard): what it has gathered so far. An action goes through
 * several dialogs (a form, then its review; a reason, then the
 * confirmation; the wizard, a step's confirmation, the wizard again) and
 * the gateway's answer comes after its last one closed (the status line
 * names its team; a 412 reopens the form): so it belongs to the dialog slot
 * (a->dlg.act), not to one dialog, and outlives dlg_close. Each action sets
 * what it uses as it starts. Its memory (models, rot) is freed when the
 * action replaces it and, at exit, by dlg_free. */
struct pending {
	char team[64];        /* the team acted on */
	char key[128];        /* the key, token, alert or alias acted on; a pause's or a stop's reason */
	char label[128];      /* a new token's label, while its key is asked for */
	int64_t version;      /* its version when the form opened (If-Match); a resume: 1 means with override */
	double spend;         /* the team's (or key's) spend when its limits form opened */
	char **models;        /* the allowlist to save (the review's), owned here */
	int nmodels;
	/* the rotation wizard (DLG_WIZARD), on key */
	json_t *rot;          /* GET /admin/v1/keys/{name} (NULL: loading), owned here */
	bool rot_completing;  /* the wizard's last step was sent */
};

struct dialog {
	enum dlg_kind kind;
	char title[96];
	char text[1024];         /* what will happen, in plain words */
	buf input;               /* DLG_INPUT */
	bool hidden;             /* input not echoed */
	bool yes;                /* the selected button; defaults to No */
	int sel;                 /* DLG_FORM: the field */
	int n;                   /* DLG_CHECKLIST: its items, selected and scrolled as every list (listw) */
	struct listw list;
	int shown;               /* ... its rows on screen, as last drawn (PgDn's page) */
	char **items;
	bool *checked, *orig;
	void (*on_ok)(struct app *a);
	void (*on_no)(struct app *a); /* DLG_CONFIRM: No (NULL: the dialog closes) */
	int role;                /* DLG_MESSAGE: R_OK or R_ERROR */
	json_t *ctx;             /* what its decision needs besides (freed with it) */
	/* DLG_FORM: labelled fields, edited in place */
	const char *flabel[FORM_MAX], *fhelp[FORM_MAX];
	char fval[FORM_MAX][64], forig[FORM_MAX][64];
	int nf;
	struct pending act;      /* the action it is part of (struct pending): kept by dlg_close */
};

struct app {
	const char *gateway, *ctx_name;
	/* the gateway's addresses to try in turn (a context's list, or
	 * --gateway A,B): the console moves to the next when the one it
	 * watches stops answering */
	char **gws;
	int ngws, gw_at;
	struct client *cl;
	bool readonly, wallboard, utf8, color, mouse;
	bool local_time; /* times in the local zone (--local-time, :local), not UTC */
	int refresh_s, cycle_s;
	int64_t fixed_now;       /* GROQTOP_NOW (ms), 0: real time */
	struct m_overview ov;
	bool have_data;
	int64_t last_ok_ms, last_try_ms, next_poll_ms;
	int fails;
	bool polling;
	char last_err[256];
	const struct view *view, *prev_view;
	enum pane pane;
	struct listw lteam, lkey; /* the teams and keys panes' selection and scrolling */
	char filter[64];
	bool filtering, cmdline;
	char cmd[128];
	enum sort_col sort_col;  /* the teams table's order (sort_cols[]) */
	bool sort_desc;
	int *team_idx, nteam_idx; /* filtered, sorted view of ov.teams */
	int *key_idx, nkey_idx;
	double spark[60];
	int nspark;
	double proj, spend_detail;
	char spark_team[64];
	json_t *models;          /* GET /admin/v1/models */
	struct dialog dlg;
	char status[256];        /* last action's result line */
	int status_role;
	int64_t status_until;
	bool token_refused;      /* the gateway answered 401/403 to the admin token */
	char view_team[64];      /* the team the tokens and usage views show */
	char audit_filter[128];  /* "team=x actor=y action=z" */
	/* Groq's metrics read directly (--groq-key-file), for when the
	 * gateway is down: the client (the figures are view_groq's state) */
	struct client *gcl;      /* NULL: no direct mode */
	const char *groq_url;
	struct {
		const struct view *v; /* its owner, for app_free_views */
		void *state;
	} vstate[NVIEWS];        /* each view's own state (view_state) */
	int w, h;
	bool quit, dirty;
	/* what the app is made of, given by main.c (state.c, the footer and
	 * help name no view and no binding): the `:` views, the main screen
	 * and the wallboard (and what a screen too small shows), the key
	 * bindings, the context switch */
	const struct view *const *views;
	const struct view *v_main, *v_wall, *v_small;
	const struct binding *bindings;
	int nbindings;
	int (*switch_ctx)(struct app *a, const char *name);
};

/* ---- state.c: the state every part reads and sets -------------------- */
int64_t app_now(struct app *a);
/* the selected team into a->view_team, for a view of one team; false
 * (said) when none is selected */
bool app_pick_team(struct app *a);
/* ---- app.c: polling, the mouse, the frame ------------------------------ */
void app_poll(struct app *a);
void app_rebuild(struct app *a);
void app_set_status(struct app *a, int role, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* the teams pane with team id selected (an alert's or an audit entry's:
 * k9s's "act from where you are"); -1 (said) when it is not there */
int app_show_team(struct app *a, const char *id);
/* A view's GET answered: its JSON in *slot (the old one released), or the
 * status line says what could not be loaded (what NULL: nothing said) */
void app_take_answer(struct app *a, json_t **slot, long status, const char *body, size_t len, const char *err,
		     const char *what);
void app_draw(struct app *a, struct canvas *cv);
void app_command(struct app *a, const char *cmd);
/* the commands the word typed could be: their names into names (may be
 * NULL), the prefix they share into common (may be NULL); how many */
int app_complete(const struct app *a, const char *typed, buf *names, char *common, size_t n);
/* a click (K_MOUSE) selects the row under it; the wheel scrolls (as htop) */
void app_mouse(struct app *a, int kind, int y, int x);
struct m_team *app_team(struct app *a);
struct m_key *app_key_sel(struct app *a);
/* view_main.c: pieces the other views share */
void draw_header(struct app *a, struct canvas *cv);
/* The footer's hints for view v: "k Label" pairs, two spaces apart (from
 * a->bindings). */
void binding_hints(const struct app *a, const struct view *v, buf *out);
void main_layout(const struct app *a, int h, int *th, int *kh, int *bh); /* pane heights */
void draw_footer(struct app *a, struct canvas *cv, const char *hints);
void draw_detail(struct app *a, struct canvas *cv, int y, int x, int h, int w);
void draw_alerts(struct app *a, struct canvas *cv, int y, int x, int h, int w);
/* dialog.c */
/* closes the open dialog (its input wiped, its items and ctx freed); the
 * action it was part of, a->dlg.act, stays */
void dlg_close(struct app *a);
/* at exit: dlg_close, and the action's memory freed */
void dlg_free(struct app *a);
void dlg_confirm(struct app *a, const char *title, const char *text, void (*on_ok)(struct app *));
void dlg_input(struct app *a, const char *title, const char *text, bool hidden, void (*on_ok)(struct app *));
void dlg_message(struct app *a, int role, const char *title, const char *text);
/* A form of n fields (label, help, value); Enter calls on_ok, which reads
 * a->dlg.fval (and may keep the form open with an error in its text). */
void dlg_form(struct app *a, const char *title, const char *text, int n, const char *const *labels,
	      const char *const *helps, char (*vals)[64], void (*on_ok)(struct app *));
void dlg_draw(struct app *a, struct canvas *cv);
int dlg_key(struct app *a, int key);
/* view_lists.c */
json_t *alerts_selected(struct app *a);
void tokens_fetch(struct app *a);
json_t *tokens_selected(struct app *a);
void usage_fetch(struct app *a);
void usage_open(struct app *a);        /* the view_team's usage, afresh */
void usage_next_window(struct app *a); /* 24h, 7d, month, in turn */
void fleet_fetch(struct app *a);
/* v (alerts, audit, tokens) opened afresh (at its first row when it was
 * not open), its rows asked for at path (NULL: the caller asks, with
 * list_fetch) */
void list_open(struct app *a, const struct view *v, const char *path);
void list_fetch(struct app *a, const struct view *v, const char *path);
/* limits.c: a team's limits, or the selected key's own in the keys pane */
void act_edit_limits(struct app *a);
/* oncall.c */
/* an answer that is not a success: the gateway's words in a dialog */
void act_refused(struct app *a, long status, const char *body, size_t len, const char *err);
/* a mutation's request (its callback gets a); the client refuses it in
 * read-only modes, said on the status line: false */
bool act_send(struct app *a, const char *method, const char *path, const char *body, const char *if_match,
	      client_cb cb);
void act_token_new(struct app *a);
void act_token_revoke(struct app *a);
void act_emergency_stop(struct app *a);
void act_alias_set(struct app *a);    /* :models: an alias set (PUT /admin/v1/aliases/NAME) */
void act_alias_remove(struct app *a); /* and taken away */
void act_resume_all(struct app *a);
void act_ack_alert(struct app *a, json_t *alert);
/* view_groq.c */
void groq_poll(struct app *a); /* while the view is open: the gateway's and Groq's */
/* NULL once Groq's figures were read directly, else why not (snapshot) */
const char *groq_direct_missing(struct app *a);
/* actions.c */
/* The message of the gateway's error answer (body), in out. */
const char *api_message(const char *body, size_t len, char *out, size_t n);
void act_pause_toggle(struct app *a);
void act_edit_models(struct app *a);
void act_rotate(struct app *a);
void wizard_draw(struct app *a, struct canvas *cv);
int wizard_key(struct app *a, int key);


/* ---- screen.c: the terminal (the only curses user) --------------------- */
int screen_init(struct app *a, const struct theme *t, bool color, bool mouse);
void screen_end(void);
void screen_size(int *w, int *h);
void screen_present(const struct canvas *cv);
/* Reads one key (non-blocking); K_NONE when none. */
int screen_key(int *mouse_y, int *mouse_x);
void screen_install_signals(void);
int screen_signal_fd(void);      /* readable when a signal arrived */
void screen_drain_signals(void);
void screen_resize(int *w, int *h); /* after SIGWINCH: re-reads the size */
void screen_invalidate(void);       /* the next present redraws every row */
int screen_copy(const char *text);  /* to the clipboard (OSC 52): 0, or -1 */
extern volatile int screen_signal; /* a terminating signal arrived */
extern volatile int screen_winch;

#endif
