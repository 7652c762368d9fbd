/* test_common.c — shared code: strings, secrets, durations, maps, config. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "conf.h"
#include "gotime.h"
#include "groq.h"
#include "mime.h"
#include "secret.h"
#include "strmap.h"
#include "t.h"
#include "util.h"

static void test_gotime_format(void)
{
	char b[32];
	gotime_format(7660, b, sizeof b);
	CHECK_STR(b, "7.66s");
	gotime_format(179560, b, sizeof b);
	CHECK_STR(b, "2m59.56s");
	gotime_format(0, b, sizeof b);
	CHECK_STR(b, "0s");
	gotime_format(3723000, b, sizeof b);
	CHECK_STR(b, "1h2m3s");
	gotime_format(1500, b, sizeof b);
	CHECK_STR(b, "1.5s");
	gotime_format(3600000, b, sizeof b);
	CHECK_STR(b, "1h0m0s");
	gotime_format(50, b, sizeof b);
	CHECK_STR(b, "0.05s");
	gotime_format(999, b, sizeof b); /* never rounded up to the next second */
	CHECK_STR(b, "0.99s");
	gotime_format(-5, b, sizeof b);
	CHECK_STR(b, "0s");
	gotime_format(7660, b, 3); /* cut as snprintf would */
	CHECK_STR(b, "7.");
}

static void test_parse_i64(void)
{
	int64_t v = 7;
	CHECK(parse_i64("0", &v) && v == 0);
	CHECK(parse_i64("-5", &v) && v == -5);
	CHECK(parse_i64("123456789012345678", &v) && v == 123456789012345678LL);
	CHECK(parse_i64("9223372036854775807", &v) && v == INT64_MAX); /* 19 digits: strtoll's */
	CHECK(parse_i64("-9223372036854775808", &v) && v == INT64_MIN);
	CHECK(!parse_i64("9223372036854775808", &v)); /* overflow */
	CHECK(!parse_i64("99999999999999999999", &v));
	CHECK(parse_i64("+5", &v) && v == 5);
	CHECK(parse_i64(" 12", &v) && v == 12);
	v = 7;
	CHECK(!parse_i64("", &v) && !parse_i64("-", &v) && !parse_i64("12a", &v) && !parse_i64("--5", &v) &&
	      !parse_i64("1 ", &v) && v == 7);
}

static void test_gotime_parse(void)
{
	CHECK_INT(gotime_parse_ms("2m59.56s"), 179560);
	CHECK_INT(gotime_parse_ms("7.66s"), 7660);
	CHECK_INT(gotime_parse_ms("120ms"), 120);
	CHECK_INT(gotime_parse_ms("infms"), -1);   /* strtod would take these */
	CHECK_INT(gotime_parse_ms("nans"), -1);
	CHECK_INT(gotime_parse_ms("1e300h"), -1); /* beyond int64_t: refused, not undefined */
	CHECK_INT(gotime_parse_ms("1h"), 3600000);
	CHECK_INT(gotime_parse_ms("60m"), 3600000);
	CHECK_INT(gotime_parse_ms("abc"), -1);
	CHECK_INT(gotime_parse_ms("5x"), -1);
	CHECK_INT(gotime_parse_ms(""), -1);
	CHECK_INT(gotime_parse_ms("0x10s"), -1); /* hexadecimal is no duration */
	CHECK_INT(gotime_parse_ms("1.5e3ms"), 1500); /* an exponent: strtod's way */
	CHECK_INT(gotime_parse_ms(".5s"), 500);
	CHECK_INT(gotime_parse_ms("0.0005s"), 1); /* half a millisecond rounds up */
	CHECK_INT(gotime_parse_ms("0.00049s"), 0);
	/* plain decimals are read without strtod: the same value as strtod's,
	 * to the last bit, for every length and position of the point */
	unsigned x = 12345;
	int differ = 0;
	for (int i = 0; i < 20000; i++) {
		char s[40];
		int n = 1 + (int)((x = x * 1103515245u + 12345u) >> 16) % 15, dot = (int)((x = x * 1103515245u + 12345u) >> 16) % (n + 1);
		int k = 0;
		for (int d = 0; d < n; d++) {
			if (d == dot && dot)
				s[k++] = '.';
			s[k++] = (char)('0' + ((x = x * 1103515245u + 12345u) >> 16) % 10);
		}
		s[k] = '\0';
		double want = strtod(s, NULL);
		strcat(s, "ms");
		if (want <= 9e15 && gotime_parse_ms(s) != (int64_t)(want + 0.5))
			differ++;
	}
	CHECK_INT(differ, 0);
}

static void test_fingerprint(void)
{
	char fp[48];
	secret_fingerprint("gsk_abcdefghijklmnopqrstuvwxyz0123456789WXYZ", fp, sizeof fp);
	CHECK_STR(fp, "gsk_…WXYZ");
	secret_fingerprint("ggt_shorty", fp, sizeof fp);
	CHECK(strstr(fp, "shorty") == NULL);
	secret_fingerprint("", fp, sizeof fp);
	CHECK_STR(fp, "-");
}

static void test_groq_key_format(void)
{
	CHECK(groq_key_valid("gsk_abcdefghijklmnopqrstuvwxyz0123"));
	CHECK(!groq_key_valid("gsk_short"));
	CHECK(!groq_key_valid("sk-abcdefghijklmnopqrstuvwxyz0123"));
	CHECK(!groq_key_valid("gsk_abcdefghijklmnop qrstuvwxyz0123"));
	CHECK(!groq_key_valid(NULL));
}

static void test_sha256_and_ct(void)
{
	char h[65];
	sha256_hex("abc", 3, h);
	CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK(ct_equal("abcd", "abcd", 4));
	CHECK(!ct_equal("abcd", "abce", 4));
	char *t1 = random_token("ggt_", 40), *t2 = random_token("ggt_", 40);
	CHECK(strlen(t1) == 44 && str_starts(t1, "ggt_"));
	CHECK(strcmp(t1, t2) != 0);
	secret_free(t1);
	secret_free(t2);
}

static void test_strmap(void)
{
	strmap *m = strmap_new();
	int v[2000];
	char k[32];
	for (int i = 0; i < 2000; i++) {
		v[i] = i;
		snprintf(k, sizeof k, "key-%d", i);
		strmap_put(m, k, &v[i]);
	}
	CHECK_INT(strmap_len(m), 2000);
	for (int i = 0; i < 2000; i += 2) {
		snprintf(k, sizeof k, "key-%d", i);
		CHECK(strmap_del(m, k) == &v[i]);
	}
	CHECK_INT(strmap_len(m), 1000);
	CHECK(strmap_get(m, "key-2") == NULL);
	CHECK(strmap_get(m, "key-3") == &v[3]);
	size_t it = 0, n = 0;
	const char *key;
	void *val;
	while (strmap_next(m, &it, &key, &val))
		n++;
	CHECK_INT(n, 1000);
	strmap_free(m);
}

static void test_buf(void)
{
	buf b;
	buf_init(&b);
	for (int i = 0; i < 1000; i++)
		buf_addf(&b, "%d,", i);
	CHECK(str_starts(b.data, "0,1,2,"));
	buf_consume(&b, 4);
	CHECK(str_starts(b.data, "2,3,"));
	char *d = buf_detach(&b);
	CHECK(b.data == NULL && b.len == 0);
	free(d);
	buf_addi(&b, 0);
	buf_adds(&b, " ");
	buf_addi(&b, -42);
	buf_adds(&b, " ");
	buf_addi(&b, INT64_MIN);
	buf_adds(&b, " ");
	json_str(&b, "a\"b\\c\n");
	CHECK_STR(b.data, "0 -42 -9223372036854775808 \"a\\\"b\\\\c\\u000a\"");
	buf_free(&b);
	const int64_t vals[] = { 9, 10, 99, 100, 101, 12345, -7, -10, INT64_MAX, 1764201600123 };
	for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
		char want[32];
		snprintf(want, sizeof want, "%lld", (long long)vals[i]);
		buf_addi(&b, vals[i]);
		CHECK_STR(b.data, want);
		buf_reset(&b);
	}
	json_str(&b, "");
	json_str(&b, "plain text");
	CHECK_STR(b.data, "\"\"\"plain text\"");
	buf_free(&b);
}

static void test_hostport(void)
{
	char h[64];
	int p;
	char *cause = NULL;
	CHECK(parse_hostport("127.0.0.1:8080", h, sizeof h, &p, &cause) == 0);
	CHECK_STR(h, "127.0.0.1");
	CHECK_INT(p, 8080);
	CHECK(parse_hostport("[::1]:0", h, sizeof h, &p, &cause) == 0);
	CHECK_STR(h, "::1");
	CHECK(parse_hostport("localhost", h, sizeof h, &p, &cause) == -1);
	CHECK(cause && strstr(cause, "HOST:PORT"));
	free(cause);
	cause = NULL;
	CHECK(parse_hostport("a:70000", h, sizeof h, &p, &cause) == -1);
	free(cause);
}

static void test_month(void)
{
	/* 2026-11-26T21:04:21Z */
	int64_t t = 1795727061000LL;
	CHECK_INT(month_start_ms(t), 1793491200000LL); /* 2026-11-01 */
	CHECK_INT(month_next_ms(t), 1796083200000LL);  /* 2026-12-01 */
	char m[8];
	month_label(t, m);
	CHECK_STR(m, "2026-11");
}

static void test_conf_errors(void)
{
	char path[] = "/tmp/gg-unit-conf-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	const char *text = "a = 1;\nb = \"x\";\nc = { d = true; };\nbroken = ;\n";
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	char *cause = NULL;
	conf *c = conf_load(path, &cause);
	CHECK(c == NULL);
	CHECK(cause && strstr(cause, path) && strstr(cause, ":4:"));
	free(cause);
	cause = NULL;
	FILE *f = fopen(path, "w");
	fputs("a = 1;\nb = \"x\";\nc = { d = true; };\n", f);
	fclose(f);
	c = conf_load(path, &cause);
	CHECK(c != NULL);
	int64_t a = 0;
	const char *s = NULL;
	bool d = false;
	CHECK(conf_int(c, conf_root(c), "a", &a, &cause) == 1 && a == 1);
	CHECK(conf_str(c, conf_root(c), "a", &s, &cause) == -1);
	CHECK(cause && strstr(cause, ":1: a: ")); /* FILE:LINE: setting: what */
	free(cause);
	CHECK(conf_bool(c, conf_child(conf_root(c), "c"), "d", &d, NULL) == 1 && d);
	CHECK(conf_str(c, conf_root(c), "missing", &s, NULL) == 0);
	conf_free(c);
	unlink(path);
}

/* media types: exact, case-insensitive names, quoted values, no sniffing */
static void test_mediatype(void)
{
	struct mediatype mt;
	const char *why = NULL;
	CHECK(mediatype_parse("Multipart/Form-Data; Boundary=\"a b;c\"", &mt, &why) == 0);
	CHECK_STR(mt.type, "multipart/form-data");
	CHECK_STR(mt.boundary, "a b;c");
	CHECK(mediatype_parse("application/json; x=\"multipart/form-data\"", &mt, &why) == 0);
	CHECK_STR(mt.type, "application/json"); /* a parameter is not the type */
	CHECK(mediatype_parse("application/json;charset=utf-8", &mt, &why) == 0);
	CHECK(mediatype_parse("multipart/form-data; boundary=a; BOUNDARY=b", &mt, &why) == -1);
	CHECK(why && strstr(why, "twice"));
	CHECK(mediatype_parse("multipart/form-data; boundary*=utf-8''x", &mt, &why) == -1);
	CHECK(mediatype_parse("text", &mt, &why) == -1);
	CHECK(mediatype_parse("a/b; c", &mt, &why) == -1);
	CHECK(mediatype_parse("a/b; c=\"x\\\"y\"", &mt, &why) == -1); /* no backslashes */
}

static void test_mform(void)
{
	struct mform f;
	const char *why = NULL;
	const char *ok = "--b\r\nContent-Disposition: form-data; name=model\r\n\r\nm1\r\n"
			 "--b\r\ncontent-disposition: FORM-DATA; NAME=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
			 "x--b\r\nname=\"model\"\r\n--b--\r\n";
	CHECK(mform_parse(ok, strlen(ok), "b", &f, &why) == 0);
	CHECK_INT(f.n, 2);
	int n;
	const struct mpart *m = mform_get(&f, "model", &n);
	CHECK(m && n == 1 && m->len == 2 && memcmp(m->data, "m1", 2) == 0);
	const struct mpart *file = mform_get(&f, "file", &n);
	CHECK(file && file->filename && strcmp(file->filename, "a.wav") == 0);
	/* the boundary inside data, not after a line break, is data */
	CHECK_INT(file->len, strlen("x--b\r\nname=\"model\""));
	mform_free(&f);
	/* a letter-case variant makes the field ambiguous */
	const char *two = "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\na\r\n"
			  "--b\r\nContent-Disposition: form-data; name=\"Model\"\r\n\r\nb\r\n--b--";
	CHECK(mform_parse(two, strlen(two), "b", &f, &why) == 0);
	CHECK(mform_get(&f, "model", &n) == NULL && n == 2);
	mform_free(&f);
	const char *bad[] = {
		"pre\r\n--b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--b--", /* preamble */
		"--b\r\nContent-Disposition: attachment; name=x\r\n\r\n1\r\n--b--",	  /* not form-data */
		"--b\r\nContent-Disposition: form-data\r\n\r\n1\r\n--b--",		  /* no name */
		"--b\r\nContent-Disposition: form-data; name=x\r\n folded\r\n\r\n1\r\n--b--",
		"--b\r\nContent-Disposition: form-data; name=x; name=y\r\n\r\n1\r\n--b--",
		"--b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--b--trailing",
		"--b\r\nContent-Disposition: form-data; name=x\r\n\r\n1",		  /* no end */
		"--b \r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--b--",	  /* padding */
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK(mform_parse(bad[i], strlen(bad[i]), "b", &f, &why) == -1);
		CHECK(f.n == 0 && f.parts == NULL);
	}
}

void suite_common(void)
{
	RUN(test_gotime_format);
	RUN(test_parse_i64);
	RUN(test_gotime_parse);
	RUN(test_fingerprint);
	RUN(test_groq_key_format);
	RUN(test_sha256_and_ct);
	RUN(test_strmap);
	RUN(test_buf);
	RUN(test_hostport);
	RUN(test_month);
	RUN(test_conf_errors);
	RUN(test_mediatype);
	RUN(test_mform);
}
