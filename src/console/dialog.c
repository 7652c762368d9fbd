/* dialog.c — modal dialogs: confirm (defaults to No), text input (hidden
 * for secrets: never drawn, wiped when closed), checklists, messages. */
#include "console.h"

#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "util.h"

void dlg_close(struct app *a)
{
	struct dialog *d = &a->dlg;
	if (d->input.data)
		secret_wipe(d->input.data, d->input.cap);
	buf_free(&d->input);
	for (int i = 0; i < d->n; i++)
		free(d->items[i]);
	free(d->items);
	free(d->checked);
	free(d->orig);
	json_decref(d->ctx);
	/* the action goes on: its next dialog, or the gateway's answer, reads
	 * it (struct pending); dlg_free, or the action itself, frees its memory */
	struct pending act = d->act;
	memset(d, 0, sizeof *d);
	d->act = act;
	a->dirty = true;
}

void dlg_free(struct app *a)
{
	struct pending *p = &a->dlg.act;
	dlg_close(a);
	json_decref(p->rot);
	for (int i = 0; i < p->nmodels; i++)
		free(p->models[i]);
	free(p->models);
	memset(p, 0, sizeof *p);
}

static void open_dlg(struct app *a, enum dlg_kind k, const char *title, const char *text, void (*on_ok)(struct app *))
{
	/* the new dialog may be built from the old one's text: copy first */
	char t[96], x[1024];
	snprintf(t, sizeof t, "%s", title);
	snprintf(x, sizeof x, "%s", text ? text : "");
	bool keep_items = k == DLG_CHECKLIST;
	if (!keep_items)
		dlg_close(a); /* the action (a->dlg.act) carries over to the new dialog */
	struct dialog *d = &a->dlg;
	d->kind = k;
	snprintf(d->title, sizeof d->title, "%s", t);
	snprintf(d->text, sizeof d->text, "%s", x);
	d->on_ok = on_ok;
	d->on_no = NULL;
	d->yes = false;
	a->dirty = true;
}

void dlg_confirm(struct app *a, const char *title, const char *text, void (*on_ok)(struct app *))
{
	open_dlg(a, DLG_CONFIRM, title, text, on_ok);
}

void dlg_input(struct app *a, const char *title, const char *text, bool hidden, void (*on_ok)(struct app *))
{
	open_dlg(a, DLG_INPUT, title, text, on_ok);
	a->dlg.hidden = hidden;
	buf_init(&a->dlg.input);
	buf_add(&a->dlg.input, "", 0);
}

void dlg_form(struct app *a, const char *title, const char *text, int n, const char *const *labels,
	      const char *const *helps, char (*vals)[64], void (*on_ok)(struct app *))
{
	open_dlg(a, DLG_FORM, title, text, on_ok);
	struct dialog *d = &a->dlg;
	d->nf = n < FORM_MAX ? n : FORM_MAX;
	for (int i = 0; i < d->nf; i++) {
		d->flabel[i] = labels[i];
		d->fhelp[i] = helps ? helps[i] : NULL;
		snprintf(d->fval[i], sizeof d->fval[i], "%s", vals[i]);
		snprintf(d->forig[i], sizeof d->forig[i], "%s", vals[i]);
	}
	d->sel = 0;
}

void dlg_message(struct app *a, int role, const char *title, const char *text)
{
	open_dlg(a, DLG_MESSAGE, title, text, NULL);
	a->dlg.role = role;
}

/* wraps text into the box; returns rows used */
static int wrap(struct canvas *cv, int y, int x, int w, int maxrows, int role, const char *text)
{
	int rows = 0;
	const char *p = text;
	while (*p && rows < maxrows) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		int take = len, cols_line = 0;
		for (int i = 0; i < len; i++)
			cols_line += (p[i] & 0xC0) != 0x80;
		if (cols_line > w) {
			/* cut at the last space that fits */
			take = 0;
			int cols = 0;
			for (int i = 0; i < len && cols < w; i++) {
				if ((p[i] & 0xC0) != 0x80)
					cols++;
				if (p[i] == ' ')
					take = i;
			}
			if (take == 0)
				take = len < w ? len : w;
		}
		char line[512];
		snprintf(line, sizeof line, "%.*s", take, p);
		if (cv) /* NULL: only count the rows */
			cv_put(cv, y + rows, x, role, line, w);
		rows++;
		p += take;
		while (*p == ' ')
			p++;
		if (*p == '\n' && take == len)
			p++;
	}
	return rows;
}

void dlg_draw(struct app *a, struct canvas *cv)
{
	struct dialog *d = &a->dlg;
	int w = cv->w > 100 ? 76 : cv->w - 6;
	int h = d->kind == DLG_CHECKLIST ? cv->h - 4
		: d->kind == DLG_FORM	 ? wrap(NULL, 0, 0, w - 4, 100, 0, d->text) + d->nf + 6
					 : wrap(NULL, 0, 0, w - 4, 100, 0, d->text) + 7;
	if (h < 10)
		h = 10;
	if (h > cv->h - 2)
		h = cv->h - 2;
	int x = (cv->w - w) / 2, y = (cv->h - h) / 2;
	for (int r = 0; r < h; r++)
		cv_fill(cv, y + r, x, w, R_DIALOG, " ");
	cv_box(cv, y, x, h, w, R_DIALOG, NULL);
	cv_printf(cv, y, x + 2, R_DIALOG_TITLE, w - 4, " %s ", d->title);
	int row = y + 2;
	/* a form's text keeps at least its first line: its fields fill the rest */
	int text_rows = d->kind == DLG_FORM ? h - 5 - d->nf : h - 6;
	if (text_rows < 1)
		text_rows = 1;
	if (d->kind != DLG_CHECKLIST)
		row += wrap(cv, row, x + 2, w - 4, text_rows, d->kind == DLG_MESSAGE ? d->role : R_DIALOG, d->text) + 1;
	switch (d->kind) {
	case DLG_CONFIRM:
		cv_put(cv, y + h - 2, x + w / 2 - 12, d->yes ? R_SELECTED : R_DIALOG, "[ Yes ]", -1);
		cv_put(cv, y + h - 2, x + w / 2 + 4, d->yes ? R_DIALOG : R_SELECTED, "[ No ]", -1);
		cv_put(cv, y + h - 1, x + 2, R_DIM, " y yes  n/Esc no  Tab switch ", -1);
		break;
	case DLG_INPUT:
		cv_fill(cv, row, x + 2, w - 4, R_SELECTED_DIM, " ");
		if (d->hidden)
			cv_printf(cv, row, x + 2, R_SELECTED_DIM, w - 4, "(hidden input: %zu characters typed)", d->input.len);
		else
			cv_printf(cv, row, x + 2, R_SELECTED_DIM, w - 4, "%s_", d->input.data ? d->input.data : "");
		cv_put(cv, y + h - 1, x + 2, R_DIM, " Enter continue  Esc cancel ", -1);
		break;
	case DLG_CHECKLIST: {
		int rows = h - 7; /* the items' rows */
		d->shown = rows;
		lw_show(&d->list, d->n, rows);
		cv_put(cv, row, x + 2, R_DIALOG, d->text, w - 4);
		row += 2;
		for (int i = 0; i < rows && d->list.top + i < d->n; i++) {
			int k = d->list.top + i;
			const char *mark = d->checked[k] ? "[x]" : "[ ]";
			const char *chg = d->checked[k] != d->orig[k] ? (d->checked[k] ? " +added" : " -removed") : "";
			cv_printf(cv, row + i, x + 2, k == d->list.sel ? R_SELECTED : R_DIALOG, w - 4, "%s %s%s", mark, d->items[k], chg);
		}
		int hx = cv_put(cv, y + h - 1, x + 2, R_DIM, " Space toggle  Enter review & save  Esc cancel ", -1);
		if (x + 2 + hx + 16 < x + w)
			lw_mark(cv, y + h - 1, x + w - 1, &d->list, d->n, rows, R_DIM);
		break;
	}
	case DLG_MESSAGE:
		cv_put(cv, y + h - 1, x + 2, R_DIM, " any key to close ", -1);
		break;
	case DLG_FORM:
		for (int i = 0; i < d->nf && row < y + h - 2; i++, row++) {
			bool sel = i == d->sel, changed = strcmp(d->fval[i], d->forig[i]) != 0;
			cv_printf(cv, row, x + 2, sel ? R_SELECTED : R_DIALOG, 24, "%-23s", d->flabel[i]);
			cv_fill(cv, row, x + 26, 18, sel ? R_SELECTED_DIM : R_DIALOG, " ");
			cv_printf(cv, row, x + 26, sel ? R_SELECTED_DIM : R_DIALOG, 18, "%s%s", d->fval[i], sel ? "_" : "");
			if (changed)
				cv_printf(cv, row, x + 45, R_HILITE, w - 47, "was %s", d->forig[i][0] ? d->forig[i] : "-");
			else if (sel && d->fhelp[i])
				cv_put(cv, row, x + 45, R_DIM, d->fhelp[i], w - 47);
		}
		cv_put(cv, y + h - 1, x + 2, R_DIM, " Up/Down field  type to edit  Enter review & save  Esc cancel ", -1);
		break;
	default:
		break;
	}
}

int dlg_key(struct app *a, int key)
{
	struct dialog *d = &a->dlg;
	switch (d->kind) {
	case DLG_MESSAGE:
		dlg_close(a);
		break;
	case DLG_CONFIRM:
		if (key == 'y' || key == 'Y' || (key == K_ENTER && d->yes)) {
			void (*ok)(struct app *) = d->on_ok;
			d->kind = DLG_NONE; /* the action may open the next dialog */
			if (ok)
				ok(a);
			if (a->dlg.kind == DLG_NONE)
				dlg_close(a);
		} else if (key == 'n' || key == 'N' || key == K_ESC || key == K_ENTER || key == 'q') {
			void (*no)(struct app *) = d->on_no;
			dlg_close(a);
			app_set_status(a, R_DIM, "cancelled: nothing was changed");
			if (no)
				no(a);
		} else if (key == K_TAB || key == K_LEFT || key == K_RIGHT || key == 'h' || key == 'l') {
			d->yes = !d->yes;
		}
		break;
	case DLG_INPUT:
		if (key == K_ESC) {
			dlg_close(a);
			app_set_status(a, R_DIM, "cancelled: nothing was changed");
		} else if (key == K_ENTER) {
			if (d->on_ok)
				d->on_ok(a);
		} else if (key == K_BACKSPACE || key == K_DEL) {
			if (d->input.len) {
				d->input.len--;
				d->input.data[d->input.len] = '\0';
			}
		} else if (key >= 32 && key < 0x1000 && d->input.len < 512) {
			char u[8];
			int n = 0;
			if (key < 0x80)
				u[n++] = (char)key;
			else if (key < 0x800) {
				u[n++] = (char)(0xC0 | (key >> 6));
				u[n++] = (char)(0x80 | (key & 0x3F));
			} else {
				u[n++] = (char)(0xE0 | (key >> 12));
				u[n++] = (char)(0x80 | ((key >> 6) & 0x3F));
				u[n++] = (char)(0x80 | (key & 0x3F));
			}
			buf_add(&d->input, u, (size_t)n);
		}
		break;
	case DLG_FORM: {
		char *v = d->fval[d->sel];
		size_t l = strlen(v);
		if (key == K_ESC) {
			dlg_close(a);
			app_set_status(a, R_DIM, "cancelled: nothing was changed");
		} else if (key == K_UP || key == K_BTAB) {
			d->sel = d->sel > 0 ? d->sel - 1 : d->nf - 1;
		} else if (key == K_DOWN || key == K_TAB) {
			d->sel = d->sel + 1 < d->nf ? d->sel + 1 : 0;
		} else if (key == K_ENTER) {
			if (d->on_ok)
				d->on_ok(a);
		} else if (key == K_BACKSPACE || key == K_DEL) {
			if (l)
				v[l - 1] = '\0';
		} else if (key >= 32 && key < 127 && l + 1 < sizeof d->fval[0]) {
			v[l] = (char)key;
			v[l + 1] = '\0';
		}
		break;
	}
	case DLG_CHECKLIST:
		if (key == K_ESC || key == 'q') {
			dlg_close(a);
			app_set_status(a, R_DIM, "cancelled: nothing was changed");
		} else if (lw_key(&d->list, key, d->n, d->shown > 1 ? d->shown - 1 : 1)) {
			/* moved */
		} else if (key == ' ' || key == 'x') {
			if (d->n)
				d->checked[d->list.sel] = !d->checked[d->list.sel];
		} else if (key == K_ENTER) {
			if (d->on_ok)
				d->on_ok(a);
		}
		break;
	default:
		break;
	}
	a->dirty = true;
	return VIEW_REDRAW;
}
