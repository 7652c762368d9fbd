/* t.h — a plain unit-test harness: TAP-style "ok"/"not ok" lines that
 * tests/run-all counts. A failed check ends its test with file:line. */
#ifndef GG_T_H
#define GG_T_H

#include <stdio.h>
#include <string.h>

extern int t_failed_now;
void t_run(const char *name, void (*fn)(void));
void t_fail(const char *file, int line, const char *what);

#define RUN(fn) t_run(#fn, fn)
#define CHECK(c)                                          \
	do {                                              \
		if (!(c)) {                               \
			t_fail(__FILE__, __LINE__, #c);   \
			return;                           \
		}                                         \
	} while (0)
#define CHECK_INT(a, b)                                                                  \
	do {                                                                             \
		long long a_ = (long long)(a), b_ = (long long)(b);                      \
		if (a_ != b_) {                                                          \
			char m_[256];                                                    \
			snprintf(m_, sizeof m_, "%s == %s (%lld != %lld)", #a, #b, a_, b_); \
			t_fail(__FILE__, __LINE__, m_);                                  \
			return;                                                          \
		}                                                                        \
	} while (0)
#define CHECK_STR(a, b)                                                                       \
	do {                                                                                  \
		const char *a_ = (a), *b_ = (b);                                              \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                      \
			char m_[512];                                                         \
			snprintf(m_, sizeof m_, "%s == %s ('%s' != '%s')", #a, #b, a_ ? a_ : "(null)", \
				 b_ ? b_ : "(null)");                                          \
			t_fail(__FILE__, __LINE__, m_);                                       \
			return;                                                               \
		}                                                                             \
	} while (0)

/* suites */
void suite_common(void);
void suite_gateway(void);
void suite_budget(void);
void suite_console(void);
void suite_groq(void);
void suite_journal(void);
void suite_httpd(void);
void suite_capacity(void);
void suite_windows(void);

#endif
