/* journal.c — the ledger's append-only file (see journal.h). */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "util.h"

/* five strings, since schema 4 three more (route, unit, request id) after
 * the quantity, since schema 9 three more (user, requested model, tier)
 * after the cached tokens: a record of an older gateway ends before them */
#define NSTR LEDGER_NSTR
#define STR_MAX 0xfffe     /* longest string kept; 0xffff means NULL */
#define FIXED (6 * 8 + 4 + 1)
#define HEAD 8             /* length, CRC */
#define REC_MAX (HEAD + FIXED + NSTR * (2 + STR_MAX + 1) + 16)
#define CHUNK (1 << 20)    /* bytes read at a time; more than REC_MAX */
#define GROW (64 << 10)   /* the mapped file grows by this much at a time */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Records are written into the file through a shared mapping: a copy into
 * the page cache, what write() does, without the system call and the file
 * system's work for every batch (a process that dies keeps what it
 * copied, as it keeps what write() was given). The file grows GROW bytes
 * at a time, its blocks allocated then (posix_fallocate: a full disk is
 * an error of this append, not a SIGBUS later); records go on after the
 * last one until the mapping is full and everything before is in the
 * store, and then the file starts over. Past the last record the file
 * holds zeros: a gateway that dies leaves that tail, which the next start
 * reads as the end. A batch's first header is copied last, so a copy cut
 * short by a kill -9 (or a power loss that lost the page holding that
 * header and kept a later one) leaves a zero header where the batch
 * begins: the records end there, and what follows was never acknowledged.
 * (A power loss that loses a page inside a record, with later pages kept,
 * still reads as a damaged record with more after it.)
 *
 * Only where allocated blocks stay allocated (ext4, xfs, tmpfs; not
 * overlayfs, whose lower file system is not known here): on a
 * copy-on-write file system (btrfs, ZFS) or over the network a write into
 * a mapping can still find the disk full, and the process would get a
 * SIGBUS; there records are written with pwrite, as before. */
struct journal {
	int fd;
	char *path;
	size_t size;  /* where the next record goes */
	size_t mark;  /* records before it are in the store */
	char *map;    /* the file's first cap bytes, or NULL */
	size_t cap;   /* the file's length while mapped */
	bool mapped;  /* written through the mapping (else with pwrite) */
	int64_t grows; /* times the file grew past an allocation with rows in it */
	bool unread;  /* opened with content whose end is not known yet */
	char *rbuf;   /* CHUNK bytes, allocated on the first read */
};

/* CRC-32 (IEEE), eight bytes a step (slicing-by-8): the same sums as the
 * bytewise table, an eighth of the table look-ups */
static uint32_t crc_t[8][256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_t[0][i] = c;
	}
	for (int k = 1; k < 8; k++)
		for (int i = 0; i < 256; i++)
			crc_t[k][i] = (crc_t[k - 1][i] >> 8) ^ crc_t[0][crc_t[k - 1][i] & 0xff];
}

static uint32_t crc32_ieee(const unsigned char *p, size_t n)
{
	if (!crc_t[0][1])
		crc_init();
	uint32_t c = 0xffffffffu;
	while (n >= 8) {
		uint32_t a, b;
		memcpy(&a, p, 4); /* (little-endian: the file is read back on the machine that wrote it) */
		memcpy(&b, p + 4, 4);
		a ^= c;
		c = crc_t[7][a & 0xff] ^ crc_t[6][(a >> 8) & 0xff] ^ crc_t[5][(a >> 16) & 0xff] ^ crc_t[4][a >> 24] ^
		    crc_t[3][b & 0xff] ^ crc_t[2][(b >> 8) & 0xff] ^ crc_t[1][(b >> 16) & 0xff] ^ crc_t[0][b >> 24];
		p += 8;
		n -= 8;
	}
	while (n--)
		c = crc_t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

uint32_t journal_crc32(const void *p, size_t n)
{
	return crc32_ieee(p, n);
}

struct journal *journal_open(const char *path, char **cause)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fail(cause, "ledger journal %s: %s", path, strerror(errno));
		return NULL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		fail(cause, "ledger journal %s is locked: another groqgated uses this database", path);
		close(fd);
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		fail(cause, "ledger journal %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	struct journal *j = xcalloc(1, sizeof *j);
	j->fd = fd;
	j->path = xstrdup(path);
	j->size = (size_t)st.st_size;
	j->unread = j->size > 0;
	struct statfs fs;
	j->mapped = fstatfs(fd, &fs) == 0 && (fs.f_type == EXT4_SUPER_MAGIC || fs.f_type == XFS_SUPER_MAGIC ||
					       fs.f_type == TMPFS_MAGIC);
	return j;
}

static void unmap(struct journal *j)
{
	if (j->map)
		munmap(j->map, j->cap);
	j->map = NULL;
	j->cap = 0;
}

/* the file emptied: true when done (if not, its records stay, and are
 * skipped by their seq once in the store) */
static bool start_over(struct journal *j)
{
	unmap(j);
	if (ftruncate(j->fd, 0) != 0)
		return false;
	j->size = j->mark = 0;
	return true;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->map) { /* the zero tail goes: the file ends at its last record */
		unmap(j);
		(void)!ftruncate(j->fd, (off_t)(j->mark == j->size ? 0 : j->size));
	}
	close(j->fd);
	free(j->path);
	free(j->rbuf);
	free(j);
}

const char *journal_path(const struct journal *j)
{
	return j->path;
}

int journal_fd(const struct journal *j)
{
	return j->fd;
}

size_t journal_size(const struct journal *j)
{
	return j->size - j->mark;
}

static void put64(buf *b, int64_t v)
{
	buf_add(b, &v, 8);
}

void journal_encode(buf *b, int64_t seq, const struct ledger_row *r)
{
	size_t at = b->len;
	uint32_t zero[2] = { 0, 0 };
	buf_add(b, zero, HEAD);
	put64(b, seq);
	put64(b, r->ts_ms);
	put64(b, r->prompt);
	put64(b, r->completion);
	put64(b, r->cost_nusd);
	put64(b, r->latency_ms);
	int32_t status = r->status;
	buf_add(b, &status, 4);
	uint8_t stream = r->stream;
	buf_add(b, &stream, 1);
	struct ledger_row c = *r;
	const char **s[NSTR] = LEDGER_STRS(&c);
	for (int i = 0; i < NSTR; i++) {
		if (i == 5)
			put64(b, r->quantity);
		if (i == 8)
			put64(b, r->cached);
		uint16_t n = 0xffff;
		if (*s[i]) {
			size_t len = strlen(*s[i]);
			n = (uint16_t)(len > STR_MAX ? STR_MAX : len);
		}
		buf_add(b, &n, 2);
		if (*s[i]) {
			buf_add(b, *s[i], n);
			buf_add(b, "", 1);
		}
	}
	uint32_t head[2] = { (uint32_t)(b->len - at - HEAD), 0 };
	head[1] = crc32_ieee((const unsigned char *)b->data + at + HEAD, head[0]);
	memcpy(b->data + at, head, HEAD);
}

/* room for n more bytes after the last record, mapped */
static int grow(struct journal *j, size_t n, char **cause)
{
	if (j->unread)
		return fail(cause, "ledger journal %s: appended to before its records were read", j->path);
	size_t want = (j->size + n + GROW - 1) / GROW * GROW;
	int e;
	while ((e = posix_fallocate(j->fd, 0, (off_t)want)) == EINTR)
		;
	if (e != 0) {
		/* a file grown in part is cut back to what is mapped */
		(void)!ftruncate(j->fd, (off_t)(j->map ? j->cap : j->size));
		return fail(cause, "ledger journal %s: %s", j->path, strerror(e));
	}
	void *m = j->map ? mremap(j->map, j->cap, want, MREMAP_MAYMOVE)
			 : mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED, j->fd, 0);
	if (m == MAP_FAILED) {
		e = errno;
		return fail(cause, "ledger journal %s: %s", j->path, strerror(e));
	}
	if (j->map && j->mark < j->size)
		j->grows++;
	/* the new pages made writable in one call rather than a fault each
	 * (Linux 5.14; an older kernel faults them in as they are written) */
	(void)madvise((char *)m + j->cap, want - j->cap, MADV_POPULATE_WRITE);
	j->map = m;
	j->cap = want;
	return 0;
}

bool journal_full(const struct journal *j, size_t n)
{
	return j->mapped && j->size + n > j->cap;
}

int64_t journal_grows(const struct journal *j)
{
	return j->grows;
}

bool journal_mapped(const struct journal *j)
{
	return j->mapped;
}

void journal_set_mapped(struct journal *j, bool on)
{
	if (!j->map)
		j->mapped = on;
}

static int append_pwrite(struct journal *j, const void *p, size_t n, char **cause)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = pwrite(j->fd, (const char *)p + done, n - done, (off_t)(j->size + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : ENOSPC;
			/* the part written is cut off again; if even that fails, the
			 * next append overwrites it (it writes at j->size), and a
			 * start meeting it reads it as a torn end */
			if (done)
				(void)!ftruncate(j->fd, (off_t)j->size);
			return fail(cause, "ledger journal %s: %s", j->path, strerror(e));
		}
		done += (size_t)w;
	}
	j->size += n;
	return 0;
}

int journal_append(struct journal *j, const void *p, size_t n, char **cause)
{
	if (!j->mapped)
		return append_pwrite(j, p, n, cause);
	if (j->size + n > j->cap) {
		if (j->map && j->mark == j->size) /* all of it in the store */
			(void)start_over(j);
		if (grow(j, n, cause) != 0)
			return -1;
	}
	/* the first header last (see the top of this file) */
	if (n > HEAD)
		memcpy(j->map + j->size + HEAD, (const char *)p + HEAD, n - HEAD);
	atomic_thread_fence(memory_order_release);
	memcpy(j->map + j->size, p, n < HEAD ? n : HEAD);
	j->size += n;
	return 0;
}

static int64_t get64(const unsigned char **p)
{
	int64_t v;
	memcpy(&v, *p, 8);
	*p += 8;
	return v;
}

/* one record's payload into r (strings point into it); 0 if well formed */
static int decode(const unsigned char *p, size_t n, int64_t *seq, struct ledger_row *r)
{
	if (n < FIXED)
		return -1;
	const unsigned char *end = p + n;
	*seq = get64(&p);
	r->ts_ms = get64(&p);
	r->prompt = get64(&p);
	r->completion = get64(&p);
	r->cost_nusd = get64(&p);
	r->latency_ms = get64(&p);
	int32_t status;
	memcpy(&status, p, 4);
	p += 4;
	r->status = status;
	r->stream = *p++ != 0;
	const char **s[NSTR] = LEDGER_STRS(r);
	for (int i = 5; i < NSTR; i++)
		*s[i] = NULL;
	r->quantity = r->cached = 0;
	for (int i = 0; i < NSTR; i++) {
		if (i == 5 || i == 8) { /* a record of an older gateway ends here */
			if (p == end)
				return 0;
			if (end - p < 8)
				return -1;
			*(i == 5 ? &r->quantity : &r->cached) = get64(&p);
		}
		uint16_t len;
		if (end - p < 2)
			return -1;
		memcpy(&len, p, 2);
		p += 2;
		if (len == 0xffff) {
			*s[i] = NULL;
			continue;
		}
		if ((size_t)(end - p) < (size_t)len + 1 || p[len] != '\0')
			return -1;
		*s[i] = (const char *)p;
		p += len + 1;
	}
	return p == end ? 0 : -1;
}

/* whether the file holds only zero bytes from off on (its unwritten tail,
 * or a power loss that kept the file's length and not its bytes) */
static bool zeros_from(struct journal *j, size_t off)
{
	if (j->map) {
		for (; off < j->size; off++)
			if (j->map[off])
				return false;
		return true;
	}
	while (off < j->size) {
		size_t want = j->size - off < CHUNK ? j->size - off : CHUNK;
		ssize_t got = pread(j->fd, j->rbuf, want, (off_t)off);
		if (got <= 0)
			return false;
		for (ssize_t i = 0; i < got; i++)
			if (j->rbuf[i])
				return false;
		off += (size_t)got;
	}
	return true;
}

int journal_read(struct journal *j, size_t max, journal_fn fn, void *arg, size_t *rows, size_t *end,
		 bool *torn, char **cause)
{
	*rows = 0;
	*torn = false;
	size_t off = j->mark;
	*end = off;
	if (!j->map && !j->rbuf && off < j->size)
		j->rbuf = xmalloc(CHUNK);
	while (*rows < max && off < j->size) {
		const unsigned char *p;
		size_t n;
		if (j->map) { /* what this run wrote: read in place */
			p = (const unsigned char *)j->map + off;
			n = j->size - off;
		} else { /* a file found at start */
			size_t want = j->size - off < CHUNK ? j->size - off : CHUNK;
			ssize_t got = pread(j->fd, j->rbuf, want, (off_t)off);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				return fail(cause, "ledger journal %s: %s", j->path, strerror(errno));
			if (got == 0) { /* shorter than we thought: what is missing is torn */
				*torn = true;
				break;
			}
			p = (const unsigned char *)j->rbuf;
			n = (size_t)got;
		}
		size_t at = 0;
		bool at_end; /* the bad record is the file's last */
		uint32_t head[2];
		while (*rows < max && at < n) {
			if (n - at < HEAD) {
				at_end = true; /* the file ends inside a header */
				if (off + at + HEAD > j->size)
					goto bad;
				break;         /* the next chunk has it */
			}
			memcpy(head, p + at, HEAD);
			size_t len = head[0];
			at_end = false;
			if (!head[0] && !head[1]) { /* a batch whose copy was cut short */
				off += at;
				if (!zeros_from(j, off))
					*torn = true; /* (its bytes after the header are dropped) */
				j->size = off;
				goto done;
			}
			if (len < FIXED || len > REC_MAX - HEAD)
				goto bad;
			at_end = off + at + HEAD + len >= j->size;
			if (n - at < HEAD + len) {
				if (off + at + HEAD + len > j->size)
					goto bad;
				break;
			}
			int64_t seq;
			struct ledger_row r;
			/* (what a mapped journal holds after its mark this run wrote,
			 * each batch's first header copied last, or a start read and
			 * checked already: its checksums guard the file read at the
			 * next start, not these reads) */
			if ((!j->map && crc32_ieee(p + at + HEAD, len) != head[1]) || decode(p + at + HEAD, len, &seq, &r) != 0)
				goto bad;
			int rc = fn(arg, seq, &r);
			if (rc != 0)
				return rc;
			at += HEAD + len;
			(*rows)++;
			*end = off + at;
		}
		off += at;
		continue;
	bad:
		off += at;
		if (zeros_from(j, off)) {
			/* fewer than a header's bytes left, all zeros (a zero header
			 * with more after it is read above): the records end here,
			 * none cut */
			j->size = off;
			break;
		}
		if (!at_end) { /* a record written in part, zeros after it */
			size_t len = head[0] >= FIXED && head[0] <= REC_MAX - HEAD ? head[0] : 0;
			at_end = off + HEAD + len >= j->size || zeros_from(j, off + HEAD + len);
		}
		if (at_end) {
			*torn = true;
			break;
		}
		return fail(cause, "ledger journal %s: the record at byte %zu is damaged, with more after it; "
				   "the %zu rows before it were read. Move the file aside to start without the rest.",
			    j->path, off, *rows);
	}
done:
	if (off >= j->size || *torn)
		j->unread = false;
	return 0;
}

void journal_mark(struct journal *j, size_t end, bool torn)
{
	/* a file read at start, or a torn one, starts over at once; a mapped
	 * one goes on after its last record and starts over when it is full
	 * (journal_append), or once all of it is in the store after it grew */
	if (torn)
		j->size = end; /* (not cut: the next records overwrite the torn bytes) */
	if (torn || (end >= j->size && (!j->map || j->cap > GROW))) {
		if (start_over(j))
			return;
		/* not cut: the records stay and are skipped by their seq; a torn
		 * tail's first header is zeroed, so that the next batch's own,
		 * copied last, ends the records if its copy is cut short */
		static const char zero[HEAD];
		if (torn)
			(void)!pwrite(j->fd, zero, HEAD, (off_t)end);
	}
	j->mark = end;
}
