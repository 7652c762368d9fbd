/* screen.c — the terminal: the only file that includes curses. It shows a
 * canvas (only rows that changed are handed to curses, which sends only
 * the cells that changed), reads keys, and makes sure the terminal is
 * restored on exit, on signals and on crashes. */
#define _XOPEN_SOURCE_EXTENDED 1
#include "console.h"

#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util.h"

volatile int screen_signal;
volatile int screen_winch;
static int sigpipe_fd[2] = { -1, -1 };
static volatile sig_atomic_t active;
static attr_t attrs[R_COUNT];
static struct canvas prev;

static void wake(void)
{
	int e = errno;
	if (sigpipe_fd[1] >= 0 && write(sigpipe_fd[1], "x", 1) < 0) {
	}
	errno = e;
}

static void on_term(int sig)
{
	screen_signal = sig;
	wake();
}

static void on_winch(int sig)
{
	(void)sig;
	screen_winch = 1;
	wake();
}

static void on_fatal(int sig)
{
	/* the terminal first: an operator's shell must survive our crash */
	if (active)
		endwin();
	active = 0;
	signal(sig, SIG_DFL);
	raise(sig);
}

void screen_install_signals(void)
{
	if (sigpipe_fd[0] < 0 && pipe(sigpipe_fd) == 0) {
		fcntl(sigpipe_fd[0], F_SETFL, O_NONBLOCK);
		fcntl(sigpipe_fd[1], F_SETFL, O_NONBLOCK);
		fcntl(sigpipe_fd[0], F_SETFD, FD_CLOEXEC);
		fcntl(sigpipe_fd[1], F_SETFD, FD_CLOEXEC);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
	sa.sa_handler = on_fatal;
	sa.sa_flags = SA_RESETHAND;
	int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT };
	for (size_t i = 0; i < ARRAY_LEN(fatal); i++)
		sigaction(fatal[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int screen_signal_fd(void)
{
	return sigpipe_fd[0];
}

void screen_drain_signals(void)
{
	char b[64];
	while (sigpipe_fd[0] >= 0 && read(sigpipe_fd[0], b, sizeof b) > 0) {
	}
}

static short map_colour(short c, attr_t *extra)
{
	if (c < 0)
		return -1;
	if (c < COLORS)
		return c;
	if (c >= 8 && c < 16) { /* bright colours on an 8-colour terminal */
		*extra |= A_BOLD;
		return (short)(c - 8);
	}
	return (short)(c % 8);
}

int screen_init(struct app *a, const struct theme *t, bool color, bool mouse)
{
	(void)a;
	if (!initscr())
		return -1;
	active = 1;
	cbreak();
	noecho();
	nonl();
	intrflush(stdscr, FALSE);
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	bool colours = color && has_colors();
	if (colours) {
		start_color();
		use_default_colors();
	}
	for (int r = 0; r < R_COUNT; r++) {
		const struct role_style *s = &t->s[r];
		attr_t at = A_NORMAL;
		if (s->bold)
			at |= A_BOLD;
		if (s->reverse)
			at |= A_REVERSE;
		if (s->underline)
			at |= A_UNDERLINE;
		if (s->dim)
			at |= A_DIM;
		if (colours) {
			attr_t extra = 0;
			short fg = map_colour(s->fg, &extra), bg = map_colour(s->bg, &(attr_t){ 0 });
			init_pair((short)(r + 1), fg, bg);
			at |= COLOR_PAIR(r + 1) | extra;
		} else if (r == R_SELECTED || r == R_HEADER || r == R_FOOTER_KEY || r == R_TABLE_HEAD ||
			   r == R_DIALOG_TITLE || r == R_HILITE || r == R_DOWN) {
			at |= A_REVERSE; /* monochrome: selection and bars still show */
		}
		attrs[r] = at;
	}
	if (mouse)
		mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
	cv_free(&prev);
	return 0;
}

void screen_end(void)
{
	if (active) {
		endwin();
		active = 0;
	}
	cv_free(&prev);
}

void screen_size(int *w, int *h)
{
	*w = COLS;
	*h = LINES;
}

void screen_resize(int *w, int *h)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0)
		resizeterm(ws.ws_row, ws.ws_col);
	*w = COLS;
	*h = LINES;
	cv_free(&prev); /* everything is new */
	clear();
}

void screen_invalidate(void)
{
	cv_free(&prev);
}

void screen_present(const struct canvas *cv)
{
	bool full = !prev.c || prev.w != cv->w || prev.h != cv->h;
	if (full) {
		cv_free(&prev);
		cv_init(&prev, cv->w, cv->h, cv->utf8);
		for (int i = 0; i < prev.w * prev.h; i++)
			prev.c[i].ch[0] = '\0'; /* forces every row out */
	}
	char run[2048];
	for (int y = 0; y < cv->h && y < LINES; y++) {
		const struct cell *row = &cv->c[y * cv->w];
		if (memcmp(row, &prev.c[y * cv->w], sizeof *row * (size_t)cv->w) == 0)
			continue;
		memcpy(&prev.c[y * cv->w], row, sizeof *row * (size_t)cv->w);
		int x = 0;
		while (x < cv->w && x < COLS) {
			int role = row[x].role, start = x;
			size_t n = 0;
			while (x < cv->w && x < COLS && row[x].role == role && n + 5 < sizeof run) {
				size_t l = strlen(row[x].ch);
				memcpy(run + n, row[x].ch, l);
				n += l;
				x++;
			}
			run[n] = '\0';
			attrset(attrs[role]);
			mvaddstr(y, start, run); /* the last cell may report ERR: harmless */
		}
	}
	attrset(A_NORMAL);
	wnoutrefresh(stdscr);
	doupdate();
}

int screen_key(int *my, int *mx)
{
	wint_t ch;
	int r = wget_wch(stdscr, &ch);
	if (r == ERR)
		return K_NONE;
	if (r == KEY_CODE_YES) {
		switch (ch) {
		case KEY_UP: return K_UP;
		case KEY_DOWN: return K_DOWN;
		case KEY_LEFT: return K_LEFT;
		case KEY_RIGHT: return K_RIGHT;
		case KEY_PPAGE: return K_PGUP;
		case KEY_NPAGE: return K_PGDN;
		case KEY_HOME: return K_HOME;
		case KEY_END: return K_END;
		case KEY_ENTER: return K_ENTER;
		case KEY_BACKSPACE: return K_BACKSPACE;
		case KEY_DC: return K_DEL;
		case KEY_BTAB: return K_BTAB;
		case KEY_RESIZE: return K_RESIZE;
		case KEY_MOUSE: {
			MEVENT ev;
			if (getmouse(&ev) == OK && (ev.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON4_PRESSED | BUTTON5_PRESSED))) {
				*my = ev.y;
				*mx = ev.x;
				return ev.bstate & BUTTON4_PRESSED ? K_WHEEL_UP : ev.bstate & BUTTON5_PRESSED ? K_WHEEL_DOWN : K_MOUSE;
			}
			return K_NONE;
		}
		}
		return K_NONE;
	}
	switch (ch) {
	case '\r':
	case '\n': return K_ENTER;
	case 27: return K_ESC;
	case '\t': return K_TAB;
	case 127:
	case 8: return K_BACKSPACE;
	}
	return (int)ch;
}

/* OSC 52: the terminal puts text on the clipboard (xterm, kitty, iTerm2,
 * Windows Terminal; tmux with set-clipboard on; over SSH, the local one).
 * Written after the frame, between curses' own writes: it moves nothing. */
int screen_copy(const char *text)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(text);
	if (n > 4096)
		return -1;
	char out[16 + 4 * (4096 / 3 + 1) + 4];
	size_t o = (size_t)snprintf(out, sizeof out, "\033]52;c;");
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)text[i] << 16 | (i + 1 < n ? (unsigned char)text[i + 1] << 8 : 0) |
			     (i + 2 < n ? (unsigned char)text[i + 2] : 0);
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o++] = '\a';
	fflush(stdout);
	return write(STDOUT_FILENO, out, o) == (ssize_t)o ? 0 : -1;
}

