/* canvas.c — a frame as a grid of cells. Views draw here; screen.c shows
 * it in the terminal, cv_text() prints it for --snapshot. Glyphs come in
 * a Unicode set (blocks, braille-free sparks, box lines) and an ASCII set
 * for terminals whose locale is not UTF-8. */
#include "console.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define ROLE_NAME(id, name) name,
static const char *const role_names[] = { ROLES(ROLE_NAME) };
#undef ROLE_NAME

const char *role_label(int role)
{
	return role >= 0 && role < R_COUNT ? role_names[role] : "normal";
}

int role_by_label(const char *s)
{
	for (int i = 0; i < R_COUNT; i++)
		if (strcmp(role_names[i], s) == 0)
			return i;
	return -1;
}

void cv_init(struct canvas *cv, int w, int h, bool utf8)
{
	cv->w = w > 0 ? w : 1;
	cv->h = h > 0 ? h : 1;
	cv->utf8 = utf8;
	cv->c = xcalloc((size_t)cv->w * (size_t)cv->h, sizeof *cv->c);
	cv_clear(cv);
}

void cv_copy_rows(struct canvas *dst, int dy, const struct canvas *src, int sy, int n)
{
	int w = dst->w < src->w ? dst->w : src->w;
	for (int i = 0; i < n; i++) {
		if (dy + i < 0 || dy + i >= dst->h || sy + i < 0 || sy + i >= src->h)
			continue;
		memcpy(&dst->c[(dy + i) * dst->w], &src->c[(sy + i) * src->w], (size_t)w * sizeof *dst->c);
	}
}

int cv_wrap(struct canvas *cv, int y, int x, int w, int indent, int role, const char *text)
{
	int rows = 0;
	const char *p = text;
	while (*p) {
		int room = w - (rows ? indent : 0);
		if (room < 8)
			room = 8;
		/* the longest run of whole words within room columns (bytes are
		 * columns here but for UTF-8 continuations) */
		int cols = 0;
		const char *end = p, *cut = NULL;
		while (*end && cols < room) {
			if (*end == ' ')
				cut = end;
			if (((unsigned char)*end & 0xc0) != 0x80)
				cols++;
			end++;
		}
		if (*end && cut && cut > p)
			end = cut;
		char line[512];
		snprintf(line, sizeof line, "%.*s", (int)(end - p), p);
		cv_put(cv, y + rows, x + (rows ? indent : 0), role, line, room);
		rows++;
		p = end;
		while (*p == ' ')
			p++;
	}
	return rows ? rows : 1;
}

void cv_free(struct canvas *cv)
{
	free(cv->c);
	cv->c = NULL;
}

void cv_clear(struct canvas *cv)
{
	for (int i = 0; i < cv->w * cv->h; i++) {
		cv->c[i].ch[0] = ' ';
		cv->c[i].ch[1] = '\0';
		cv->c[i].role = R_NORMAL;
	}
}

/* Length of the UTF-8 sequence at s: 1..4, or -1 for a byte that does
 * not start a whole, valid sequence (a stray or cut byte, a C1 control),
 * which is drawn as one '?' and never read past the string's end. */
static int u8len(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	int l = s[0] < 0x80 ? 1 : (s[0] >> 5) == 6 ? 2 : (s[0] >> 4) == 14 ? 3 : (s[0] >> 3) == 30 ? 4 : -1;
	for (int k = 1; k < l; k++)
		if ((s[k] & 0xC0) != 0x80)
			return -1;
	if (l == 2 && s[0] == 0xC2 && s[1] < 0xA0) /* U+0080..U+009F: C1 controls */
		return -1;
	return l;
}

int utf8_cols(const char *s)
{
	int n = 0;
	while (*s) {
		int l = u8len(s);
		s += l < 0 ? 1 : l;
		n++;
	}
	return n;
}

int cv_put(struct canvas *cv, int y, int x, int role, const char *s, int maxw)
{
	if (y < 0 || y >= cv->h || !s)
		return 0;
	int lim = maxw < 0 ? cv->w - x : maxw;
	int n = 0;
	while (*s && n < lim) {
		int l = u8len(s);
		bool bad = l < 0;
		if (bad)
			l = 1;
		int cx = x + n;
		if (cx >= cv->w)
			break;
		if (cx >= 0) {
			struct cell *c = &cv->c[y * cv->w + cx];
			unsigned char ch = (unsigned char)*s;
			if (bad || ch < 0x20 || ch == 0x7f) { /* never put control bytes on a terminal */
				c->ch[0] = '?';
				c->ch[1] = '\0';
			} else if (!cv->utf8 && l > 1) {
				c->ch[0] = strncmp(s, "…", 3) == 0 ? '~' : '?'; /* fingerprints stay readable */
				c->ch[1] = '\0';
			} else {
				memcpy(c->ch, s, (size_t)l);
				c->ch[l] = '\0';
			}
			c->role = (unsigned char)role;
		}
		s += l;
		n++;
	}
	return n;
}

int cv_printf(struct canvas *cv, int y, int x, int role, int maxw, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	int n = cv_put(cv, y, x, role, s, maxw);
	free(s);
	return n;
}

void cv_fill(struct canvas *cv, int y, int x, int w, int role, const char *ch)
{
	for (int i = 0; i < w; i++)
		cv_put(cv, y, x + i, role, ch, 1);
}

void cv_box(struct canvas *cv, int y, int x, int h, int w, int role, const char *title)
{
	const char *hz = cv->utf8 ? "─" : "-", *vt = cv->utf8 ? "│" : "|";
	const char *tl = cv->utf8 ? "┌" : "+", *tr = cv->utf8 ? "┐" : "+", *bl = cv->utf8 ? "└" : "+",
		   *br = cv->utf8 ? "┘" : "+";
	cv_fill(cv, y, x + 1, w - 2, role, hz);
	cv_fill(cv, y + h - 1, x + 1, w - 2, role, hz);
	for (int i = 1; i < h - 1; i++) {
		cv_put(cv, y + i, x, role, vt, 1);
		cv_put(cv, y + i, x + w - 1, role, vt, 1);
	}
	cv_put(cv, y, x, role, tl, 1);
	cv_put(cv, y, x + w - 1, role, tr, 1);
	cv_put(cv, y + h - 1, x, role, bl, 1);
	cv_put(cv, y + h - 1, x + w - 1, role, br, 1);
	if (title && *title)
		cv_printf(cv, y, x + 2, R_TITLE, w - 4, " %s ", title);
}

int gauge_role(double frac)
{
	return frac >= 0.95 ? R_GAUGE_95 : frac >= 0.80 ? R_GAUGE_80 : frac >= 0.50 ? R_GAUGE_50 : R_GAUGE_OK;
}

void cv_gauge(struct canvas *cv, int y, int x, int w, double frac)
{
	if (w <= 0)
		return;
	if (!(frac >= 0)) /* NaN too */
		frac = 0;
	double f = frac > 1 ? 1 : frac;
	int role = gauge_role(frac);
	/* eighths of a cell in Unicode; whole cells in ASCII */
	static const char *const eighth[] = { " ", "▏", "▎", "▍", "▌", "▋", "▊", "▉", "█" };
	int units = (int)floor(f * w * (cv->utf8 ? 8 : 1) + 0.5);
	for (int i = 0; i < w; i++) {
		int u = cv->utf8 ? units - i * 8 : units - i;
		if (cv->utf8) {
			if (u >= 8)
				cv_put(cv, y, x + i, role, eighth[8], 1);
			else if (u > 0)
				cv_put(cv, y, x + i, role, eighth[u], 1);
			else
				cv_put(cv, y, x + i, R_GAUGE_EMPTY, "·", 1);
		} else {
			cv_put(cv, y, x + i, u > 0 ? role : R_GAUGE_EMPTY, u > 0 ? "#" : ".", 1);
		}
	}
}

void cv_spark(struct canvas *cv, int y, int x, int w, const double *v, int n)
{
	static const char *const bars[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	static const char *const ascii[] = { "_", ".", "-", "-", "=", "=", "#", "#" };
	double max = 0;
	int start = n > w ? n - w : 0;
	for (int i = start; i < n; i++)
		if (v[i] > max)
			max = v[i];
	for (int i = 0; i < w; i++) {
		int k = start + i - (w - (n - start));
		if (k < start || k >= n) {
			cv_put(cv, y, x + i, R_DIM, cv->utf8 ? "·" : " ", 1);
			continue;
		}
		int lvl = max > 0 ? (int)floor(v[k] / max * 7 + 0.5) : 0;
		if (lvl < 0)
			lvl = 0;
		if (lvl > 7)
			lvl = 7;
		cv_put(cv, y, x + i, v[k] > 0 ? R_SPARK : R_DIM, cv->utf8 ? bars[lvl] : ascii[lvl], 1);
	}
}

char *cv_text(const struct canvas *cv)
{
	buf b;
	buf_init(&b);
	for (int y = 0; y < cv->h; y++) {
		size_t start = b.len;
		for (int x = 0; x < cv->w; x++)
			buf_adds(&b, cv->c[y * cv->w + x].ch);
		while (b.len > start && b.data[b.len - 1] == ' ')
			b.len--;
		buf_add(&b, "\n", 1);
	}
	return buf_detach(&b);
}

int wrap_words(const char *text, int w, void (*put)(void *arg, int i, const char *line), void *arg)
{
	int n = 0;
	const char *p = text;
	char line[600];
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		int cols = 0, cut = -1, i = 0;
		for (; p[i] && p[i] != '\n'; i++) {
			if ((p[i] & 0xC0) != 0x80) {
				if (cols == w)
					break;
				cols++;
			}
			if (p[i] == ' ')
				cut = i;
		}
		int take = i;
		if (p[i] && p[i] != '\n' && cut > 0) /* the line is full: end it at the last space */
			take = cut;
		snprintf(line, sizeof line, "%.*s", take, p);
		if (put)
			put(arg, n, line);
		n++;
		p += take;
		if (*p == '\n')
			p++;
	}
	return n;
}
