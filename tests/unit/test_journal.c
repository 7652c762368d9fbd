/* test_journal.c — the ledger journal: rows read back as written, a torn
 * end dropped, a damaged middle refused, a failed append leaving nothing
 * behind, one gateway per file. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "t.h"

static char path[64];
static bool use_map = true; /* fresh journals written through a mapping, or with pwrite */

static struct journal *fresh(void)
{
	snprintf(path, sizeof path, "/tmp/gg-unit-journal-%d", (int)getpid());
	unlink(path);
	char *cause = NULL;
	struct journal *j = journal_open(path, &cause);
	free(cause);
	if (j)
		journal_set_mapped(j, use_map);
	return j;
}

struct seen {
	int n;
	int64_t seq[16];
	struct ledger_row last;
	char model[80], reason[80];
	bool key_null;
};

static int collect(void *arg, int64_t seq, const struct ledger_row *r)
{
	struct seen *s = arg;
	if (s->n < 16)
		s->seq[s->n] = seq;
	s->n++;
	s->last = *r;
	snprintf(s->model, sizeof s->model, "%s", r->model ? r->model : "(null)");
	snprintf(s->reason, sizeof s->reason, "%s", r->reason ? r->reason : "(null)");
	s->key_null = r->key == NULL;
	return 0;
}

static const struct ledger_row row = { .ts_ms = 1764201600123, .team = "alpha", .key = NULL, .key_fp = NULL,
				       .model = "llama-3.1-8b-instant", .reason = "model_not_allowed",
				       .status = 403, .stream = true, .prompt = 8, .completion = 0,
				       .cost_nusd = 12345, .latency_ms = 7 };

/* n records of row, seqs from first */
static void append_rows(struct journal *j, int64_t first, int n)
{
	buf b;
	buf_init(&b);
	for (int i = 0; i < n; i++)
		journal_encode(&b, first + i, &row);
	char *cause = NULL;
	if (journal_append(j, b.data, b.len, &cause) != 0)
		printf("# append: %s\n", cause);
	free(cause);
	buf_free(&b);
}

/* a copy of the open journal's file, as a kill -9 would leave it; 0 */
static int copy_open_file(char *copy, size_t n)
{
	snprintf(copy, n, "%s-copy", path);
	char cmd[200];
	snprintf(cmd, sizeof cmd, "cp %s %s", path, copy);
	return system(cmd);
}

static int read_all(struct journal *j, struct seen *s, size_t *end, bool *torn)
{
	size_t rows = 0;
	char *cause = NULL;
	memset(s, 0, sizeof *s);
	int rc = journal_read(j, 1000, collect, s, &rows, end, torn, &cause);
	if (rc != 0)
		printf("# read: %s\n", cause);
	free(cause);
	return rc == 0 && (int)rows == s->n ? 0 : -1;
}

static void test_journal_round_trip(void)
{
	struct journal *j = fresh();
	CHECK(j != NULL);
	append_rows(j, 41, 3);
	struct seen s;
	size_t end;
	bool torn;
	CHECK(read_all(j, &s, &end, &torn) == 0);
	CHECK_INT(s.n, 3);
	CHECK_INT(s.seq[0], 41);
	CHECK_INT(s.seq[2], 43);
	CHECK(!torn);
	CHECK_INT(end, journal_size(j));
	CHECK_INT(s.last.ts_ms, row.ts_ms);
	CHECK_INT(s.last.status, 403);
	CHECK(s.last.stream);
	CHECK_INT(s.last.prompt, 8);
	CHECK_INT(s.last.cost_nusd, 12345);
	CHECK_INT(s.last.latency_ms, 7);
	CHECK_STR(s.model, "llama-3.1-8b-instant");
	CHECK_STR(s.reason, "model_not_allowed");
	CHECK(s.key_null);
	/* rows up to end are in the store: the file starts over */
	journal_mark(j, end, false);
	CHECK_INT(journal_size(j), 0);
	append_rows(j, 44, 1);
	CHECK(read_all(j, &s, &end, &torn) == 0);
	CHECK_INT(s.n, 1);
	CHECK_INT(s.seq[0], 44);
	journal_close(j);
	unlink(path);
}

/* a batch read in part moves the mark; the rest is read next */
static void test_journal_mark_in_steps(void)
{
	struct journal *j = fresh();
	CHECK(j != NULL);
	append_rows(j, 1, 5);
	struct seen s = { 0 };
	size_t rows, end;
	bool torn;
	char *cause = NULL;
	CHECK(journal_read(j, 2, collect, &s, &rows, &end, &torn, &cause) == 0);
	CHECK_INT(rows, 2);
	journal_mark(j, end, false);
	CHECK(journal_size(j) > 0);
	CHECK(read_all(j, &s, &end, &torn) == 0);
	CHECK_INT(s.n, 3);
	CHECK_INT(s.seq[0], 3);
	journal_close(j);
	unlink(path);
}

/* a power loss can leave a record cut short, or zeros, at the end: the
 * rows before it are read and the end is dropped */
static void test_journal_torn_end(void)
{
	struct journal *j = fresh();
	CHECK(j != NULL);
	append_rows(j, 1, 3);
	size_t full = journal_size(j);
	journal_close(j);
	CHECK(truncate(path, (off_t)(full - 10)) == 0);
	char *cause = NULL;
	j = journal_open(path, &cause);
	CHECK(j != NULL);
	struct seen s;
	size_t end;
	bool torn;
	CHECK(read_all(j, &s, &end, &torn) == 0);
	CHECK_INT(s.n, 2);
	CHECK(torn);
	journal_mark(j, end, torn);
	CHECK_INT(journal_size(j), 0);
	journal_close(j);
	/* zeros after the last whole record */
	j = fresh();
	append_rows(j, 1, 2);
	full = journal_size(j);
	journal_close(j);
	CHECK(truncate(path, (off_t)(full + 300)) == 0);
	j = journal_open(path, &cause);
	CHECK(j != NULL);
	CHECK(read_all(j, &s, &end, &torn) == 0);
	CHECK_INT(s.n, 2);
	CHECK(!torn); /* nothing was cut: the records end where the zeros start */
	CHECK_INT(end, full);
	CHECK_INT(journal_size(j), full);
	journal_close(j);
	/* a record copied in part (a gateway killed inside the copy), then
	 * the file's zero tail: torn, the rows before it read */
	j = fresh();
	append_rows(j, 1, 3);
	full = journal_size(j);
	journal_close(j);
	int fd = open(path, O_WRONLY);
	CHECK(fd >= 0);
	char zeros[100] = { 0 };
	CHECK(pwrite(fd, zeros, sizeof zeros, (off_t)(full - sizeof zeros)) == (ssize_t)sizeof zeros);
	close(fd);
	CHECK(truncate(path, (off_t)(full + 4096)) == 0);
	j = journal_open(path, &cause);
	CHECK(read_all(j, &s, &end, &torn) == 0);
	CHECK_INT(s.n, 2);
	CHECK(torn);
	CHECK_INT(end, full / 3 * 2);
	journal_close(j);
	unlink(path);
}

/* a gateway that dies leaves its file grown past the last record, zeros
 * after it: the next start reads the records, finds the end, and appends
 * after them */
static void test_journal_zero_tail(void)
{
	use_map = true;
	struct journal *j = fresh();
	CHECK(j != NULL);
	append_rows(j, 1, 3);
	size_t full = journal_size(j);
	char copy[80];
	CHECK(copy_open_file(copy, sizeof copy) == 0);
	journal_close(j);
	struct stat st;
	CHECK(stat(copy, &st) == 0);
	CHECK((size_t)st.st_size > full);
	char *cause = NULL;
	j = journal_open(copy, &cause);
	CHECK(j != NULL);
	/* not appended to before it is read: the end is not known */
	buf b;
	buf_init(&b);
	journal_encode(&b, 9, &row);
	CHECK(journal_append(j, b.data, b.len, &cause) == -1);
	CHECK(cause && strstr(cause, "before its records were read"));
	free(cause);
	cause = NULL;
	struct seen s;
	size_t end;
	bool torn;
	CHECK(read_all(j, &s, &end, &torn) == 0);
	CHECK_INT(s.n, 3);
	CHECK(!torn);
	CHECK_INT(end, full);
	CHECK(journal_append(j, b.data, b.len, &cause) == 0);
	buf_free(&b);
	journal_mark(j, end, false);
	CHECK(read_all(j, &s, &end, &torn) == 0);
	CHECK_INT(s.n, 1);
	CHECK_INT(s.seq[0], 9);
	journal_close(j);
	CHECK(stat(copy, &st) == 0);
	CHECK_INT(st.st_size, end); /* closed: the file ends at its last record */
	unlink(copy);
	unlink(path);
}

/* records go on after those in the store until the mapping is full; then
 * the file starts over instead of growing, unless rows wait (a store that
 * lags), when it grows and keeps them all */
static void test_journal_grows_or_starts_over(void)
{
	use_map = true;
	struct journal *j = fresh();
	CHECK(j != NULL);
	struct seen s;
	size_t end;
	bool torn;
	struct stat st;
	append_rows(j, 1, 1);
	CHECK(stat(path, &st) == 0);
	off_t grown = st.st_size; /* the first allocation */
	CHECK(grown >= 4096);
	CHECK(read_all(j, &s, &end, &torn) == 0);
	journal_mark(j, end, false);
	CHECK_INT(journal_size(j), 0);
	int64_t seq = 2;
	size_t last = end, one = end;
	bool restarted = false;
	for (int i = 0; i < 100000 && !restarted; i++) {
		append_rows(j, seq++, 1);
		CHECK(stat(path, &st) == 0);
		CHECK_INT(st.st_size, grown);
		CHECK(read_all(j, &s, &end, &torn) == 0);
		CHECK_INT(s.n, 1); /* only the new row: those before are in the store */
		restarted = end < last;
		last = end;
		journal_mark(j, end, false);
	}
	CHECK(restarted);
	CHECK_INT(last, one); /* the newest row starts the file */
	CHECK_INT(s.seq[0], seq - 1);
	CHECK_INT(journal_size(j), 0);
	/* rows that wait are kept: the file grows */
	int n = (int)(grown / (off_t)one) + 2;
	for (int i = 0; i < n; i++)
		append_rows(j, seq++, 1);
	CHECK(stat(path, &st) == 0);
	CHECK(st.st_size > grown);
	CHECK(read_all(j, &s, &end, &torn) == 0);
	CHECK_INT(s.n, n);
	/* once they are in the store, the grown file starts over */
	journal_mark(j, end, false);
	CHECK_INT(journal_size(j), 0);
	CHECK(stat(path, &st) == 0);
	CHECK_INT(st.st_size, 0);
	append_rows(j, seq++, 1);
	CHECK(stat(path, &st) == 0);
	CHECK_INT(st.st_size, grown);
	journal_close(j);
	unlink(path);
}

/* a damaged record with whole records after it is not silently skipped */
static void test_journal_damaged_middle(void)
{
	struct journal *j = fresh();
	CHECK(j != NULL);
	append_rows(j, 1, 3);
	size_t one = journal_size(j) / 3;
	journal_close(j);
	int fd = open(path, O_WRONLY);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, "X", 1, (off_t)(one + 30)) == 1); /* inside record 2 */
	close(fd);
	char *cause = NULL;
	j = journal_open(path, &cause);
	CHECK(j != NULL);
	struct seen s = { 0 };
	size_t rows, end;
	bool torn;
	CHECK(journal_read(j, 100, collect, &s, &rows, &end, &torn, &cause) == -1);
	CHECK(cause && strstr(cause, "damaged") && strstr(cause, path));
	free(cause);
	CHECK_INT(s.n, 1); /* the one before it */
	journal_close(j);
	unlink(path);
}

/* a journal that cannot grow (a full disk, here the file-size limit)
 * takes nothing: no partial record, and the next append after room is
 * made goes in */
static void test_journal_failed_append(void)
{
	struct journal *j = fresh();
	CHECK(j != NULL);
	struct rlimit old, lim;
	void (*was)(int) = signal(SIGXFSZ, SIG_IGN); /* as groqgated does */
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 100;
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	buf b;
	buf_init(&b);
	journal_encode(&b, 2, &row);
	char *cause = NULL;
	int rc = journal_append(j, b.data, b.len, &cause);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, was);
	buf_free(&b);
	CHECK(rc == -1);
	CHECK(cause && strstr(cause, "ledger journal"));
	free(cause);
	CHECK_INT(journal_size(j), 0);
	struct stat st;
	CHECK(stat(path, &st) == 0);
	CHECK((size_t)st.st_size <= 100);
	append_rows(j, 3, 1);
	struct seen s;
	size_t end;
	bool torn;
	CHECK(read_all(j, &s, &end, &torn) == 0);
	CHECK_INT(s.n, 1);
	CHECK_INT(s.seq[0], 3);
	CHECK(!torn);
	journal_close(j);
	unlink(path);
}

static void test_journal_one_owner(void)
{
	struct journal *j = fresh();
	CHECK(j != NULL);
	char *cause = NULL;
	struct journal *k = journal_open(path, &cause);
	CHECK(k == NULL);
	CHECK(cause && strstr(cause, "another groqgated"));
	free(cause);
	journal_close(j);
	k = journal_open(path, &cause);
	CHECK(k != NULL);
	journal_close(k);
	unlink(path);
}

/* strings longer than the format holds are cut, the row kept */
static void test_journal_long_string(void)
{
	struct journal *j = fresh();
	CHECK(j != NULL);
	size_t n = 100000;
	char *m = malloc(n + 1);
	memset(m, 'm', n);
	m[n] = '\0';
	struct ledger_row r = row;
	r.model = m;
	buf b;
	buf_init(&b);
	journal_encode(&b, 9, &r);
	free(m);
	char *cause = NULL;
	CHECK(journal_append(j, b.data, b.len, &cause) == 0);
	buf_free(&b);
	struct seen s;
	size_t end;
	bool torn;
	CHECK(read_all(j, &s, &end, &torn) == 0);
	CHECK_INT(s.n, 1);
	CHECK_STR(s.reason, "model_not_allowed");
	journal_close(j);
	unlink(path);
}

/* the record checksum is CRC-32 (IEEE): the check value, and the same sums
 * at every length and alignment as the bytewise definition */
static void test_crc32(void)
{
	CHECK_INT(journal_crc32("123456789", 9), 0xCBF43926u);
	CHECK_INT(journal_crc32("", 0), 0);
	unsigned char b[64];
	for (int i = 0; i < 64; i++)
		b[i] = (unsigned char)(i * 37 + 11);
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; off + n <= 64; n += 7) {
			uint32_t c = 0xffffffffu;
			for (size_t i = 0; i < n; i++) {
				c ^= b[off + i];
				for (int k = 0; k < 8; k++)
					c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			}
			CHECK_INT(journal_crc32(b + off, n), c ^ 0xffffffffu);
		}
}

/* a batch's copy cut short leaves its first header zero (it is copied
 * last): the records end there, the rest of that batch dropped as torn,
 * and the start goes on */
static void test_journal_cut_batch(void)
{
	use_map = true;
	struct journal *j = fresh();
	CHECK(j != NULL && journal_mapped(j));
	append_rows(j, 1, 2);
	size_t first = journal_size(j);
	append_rows(j, 3, 2);
	char copy[80];
	CHECK(copy_open_file(copy, sizeof copy) == 0);
	journal_close(j);
	int fd = open(copy, O_WRONLY);
	CHECK(fd >= 0);
	char zeros[8] = { 0 };
	CHECK(pwrite(fd, zeros, 8, (off_t)first) == 8); /* the second batch's header */
	close(fd);
	char *cause = NULL;
	j = journal_open(copy, &cause);
	CHECK(j != NULL);
	struct seen s;
	size_t end;
	bool torn;
	CHECK(read_all(j, &s, &end, &torn) == 0);
	CHECK_INT(s.n, 2);
	CHECK(torn);
	CHECK_INT(end, first);
	journal_mark(j, end, torn);
	CHECK_INT(journal_size(j), 0);
	journal_close(j);
	unlink(copy);
	unlink(path);
}

/* a mapped journal that cannot grow (rows wait, the disk is full) keeps its
 * mapping and rows, and takes rows again once there is room */
static void test_journal_grow_fails_mapped(void)
{
	use_map = true;
	struct journal *j = fresh();
	CHECK(j != NULL);
	append_rows(j, 1, 1);
	size_t one = journal_size(j);
	struct stat st;
	CHECK(stat(path, &st) == 0);
	off_t alloc = st.st_size;
	int n = 1;
	while (journal_size(j) + one <= (size_t)alloc)
		append_rows(j, ++n, 1);
	CHECK(stat(path, &st) == 0);
	CHECK_INT(st.st_size, alloc); /* full, not grown */
	struct rlimit old, lim;
	void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)alloc;
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	buf b;
	buf_init(&b);
	journal_encode(&b, n + 1, &row);
	char *cause = NULL;
	int rc = journal_append(j, b.data, b.len, &cause);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, was);
	CHECK(rc == -1);
	CHECK(cause && strstr(cause, "ledger journal"));
	free(cause);
	cause = NULL;
	CHECK_INT(journal_size(j), (size_t)n * one);
	CHECK(stat(path, &st) == 0);
	CHECK_INT(st.st_size, alloc);
	CHECK(journal_append(j, b.data, b.len, &cause) == 0); /* room again */
	buf_free(&b);
	CHECK_INT(journal_grows(j), 1);
	size_t rows = 0, end;
	bool torn;
	struct seen s = { 0 };
	CHECK(journal_read(j, 100000, collect, &s, &rows, &end, &torn, &cause) == 0);
	CHECK_INT(rows, (size_t)n + 1);
	CHECK(!torn);
	journal_close(j);
	unlink(path);
}

/* the tests that hold for both ways of writing, with pwrite */
static void test_journal_with_pwrite(void)
{
	use_map = false;
	struct journal *j = fresh();
	CHECK(j != NULL && !journal_mapped(j));
	journal_close(j);
	unlink(path);
	test_journal_round_trip();
	test_journal_mark_in_steps();
	test_journal_torn_end();
	test_journal_damaged_middle();
	test_journal_failed_append();
	test_journal_long_string();
	use_map = true;
}

void suite_journal(void)
{
	RUN(test_crc32);
	RUN(test_journal_round_trip);
	RUN(test_journal_mark_in_steps);
	RUN(test_journal_torn_end);
	RUN(test_journal_zero_tail);
	RUN(test_journal_grows_or_starts_over);
	RUN(test_journal_damaged_middle);
	RUN(test_journal_failed_append);
	RUN(test_journal_one_owner);
	RUN(test_journal_long_string);
	RUN(test_journal_cut_batch);
	RUN(test_journal_grow_fails_mapped);
	RUN(test_journal_with_pwrite);
}
