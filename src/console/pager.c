/* pager.c — a full-screen text view that scrolls: the view draws its body
 * from row 0 of a tall canvas, the pager shows the part that fits under
 * the header in a box whose title says where it is, and j/k, the arrows,
 * PgUp/PgDn, Home/End (g/G) and the wheel move it (as less does). */
#include "console.h"

#include <stdio.h>

#define TALL_ROWS 2000 /* the most a body may draw */

void pager_draw(struct app *a, struct canvas *cv, struct pager *pg, const char *title,
		int (*body)(struct app *a, struct canvas *tall), const char *hints)
{
	cv_clear(cv);
	draw_header(a, cv);
	struct canvas tall;
	cv_init(&tall, cv->w, TALL_ROWS, cv->utf8);
	int rows = body(a, &tall);
	pg->rows = rows < 1 ? 1 : rows > TALL_ROWS ? TALL_ROWS : rows;
	pg->shown = cv->h - 4; /* the box's inside: rows 2 .. h-3 */
	if (pg->top > pg->rows - pg->shown)
		pg->top = pg->rows - pg->shown;
	if (pg->top < 0)
		pg->top = 0;
	cv_copy_rows(cv, 2, &tall, pg->top, pg->shown);
	cv_free(&tall);
	char t[200];
	if (pg->rows > pg->shown)
		snprintf(t, sizeof t, "%s  rows %d-%d of %d (j/k, PgDn)", title, pg->top + 1,
			 pg->top + pg->shown < pg->rows ? pg->top + pg->shown : pg->rows, pg->rows);
	else
		snprintf(t, sizeof t, "%s", title);
	cv_box(cv, 1, 0, cv->h - 2, cv->w, R_BORDER, t);
	draw_footer(a, cv, hints);
}

int pager_key(struct pager *pg, int key)
{
	int page = pg->shown > 1 ? pg->shown - 1 : 1;
	switch (key) {
	case K_DOWN: case 'j': pg->top++; break;
	case K_UP: case 'k': pg->top--; break;
	case K_PGDN: case ' ': pg->top += page; break;
	case K_PGUP: pg->top -= page; break;
	case K_HOME: case 'g': pg->top = 0; break;
	case K_END: case 'G': pg->top = pg->rows; break; /* clamped when drawn */
	default: return 0;
	}
	if (pg->top < 0)
		pg->top = 0;
	return VIEW_HANDLED | VIEW_REDRAW;
}
