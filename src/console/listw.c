/* listw.c — one list's selection and scrolling, the same for every list on
 * screen (the teams and keys panes; the alerts, audit and tokens lists):
 * the keys that move it, the wheel, a click, the rows kept on screen and
 * where they are. Pure: the list's rows are its owner's. */
#include "console.h"

#include <stdio.h>

void lw_clamp(struct listw *l, int n)
{
	if (l->sel >= n)
		l->sel = n - 1;
	if (l->sel < 0)
		l->sel = 0;
}

void lw_show(struct listw *l, int n, int rows)
{
	lw_clamp(l, n);
	if (l->sel < l->top)
		l->top = l->sel;
	if (rows > 0 && l->sel >= l->top + rows)
		l->top = l->sel - rows + 1;
	if (rows > 0 && l->top > n - rows) /* no empty rows below the last one */
		l->top = n - rows;
	if (l->top < 0)
		l->top = 0;
}

bool lw_key(struct listw *l, int key, int n, int page)
{
	if (page < 1)
		page = 1;
	switch (key) {
	case K_UP: case 'k': l->sel--; break;
	case K_DOWN: case 'j': l->sel++; break;
	case K_PGUP: l->sel -= page; break;
	case K_PGDN: l->sel += page; break;
	case K_HOME: case 'g': l->sel = 0; break;
	case K_END: case 'G': l->sel = n - 1; break;
	default: return false;
	}
	lw_clamp(l, n);
	return true;
}

void lw_wheel(struct listw *l, int kind, int n)
{
	l->sel += kind == K_WHEEL_UP ? -LW_WHEEL_ROWS : LW_WHEEL_ROWS;
	lw_clamp(l, n);
}

bool lw_click(struct listw *l, int row, int n)
{
	if (row < 0 || l->top + row >= n)
		return false;
	l->sel = l->top + row;
	return true;
}

int lw_where(const struct listw *l, int n, int rows, char *out, size_t size)
{
	if (size)
		out[0] = '\0';
	if (n <= rows || rows <= 0)
		return 0;
	int last = l->top + rows < n ? l->top + rows : n;
	return snprintf(out, size, " %d-%d of %d ", l->top + 1, last, n);
}

void lw_mark(struct canvas *cv, int y, int right, const struct listw *l, int n, int rows, int role)
{
	char w[48];
	int len = lw_where(l, n, rows, w, sizeof w);
	if (len > 0 && right - len - 1 > 0)
		cv_put(cv, y, right - len - 1, role, w, len);
}
