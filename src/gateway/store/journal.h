/* journal.h — the ledger's append-only file (DATABASE-ledger).
 *
 * Answered requests' rows are appended here, once per pass of the event
 * loop, before the answers' last bytes go out: copied into the file's
 * shared mapping, so a process that dies keeps them (journal.c). The
 * ledger moves them into the store in batches (one transaction for many
 * rows instead of one per request); the file starts over once all of it
 * is there and its mapping is full. At start the file is read again: rows
 * that had not reached the store go in then.
 *
 * Each row carries a sequence number that becomes its ledger id, so a row
 * written to the store and still in the file (a crash between the two) is
 * recognised and not counted twice.
 *
 * Record: u32 payload length, u32 CRC-32 of the payload, the payload:
 * i64 seq, ts_ms, prompt, completion, cost_nusd, latency_ms; i32 status;
 * u8 stream; then team, key, key_fp, model, reason, each as u16 length
 * (0xffff: NULL) and the bytes with a NUL. Host byte order: the file is
 * read back by the process that wrote it, on the same machine. */
#ifndef GG_JOURNAL_H
#define GG_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

struct journal;

/* Opens (creating, mode 0600) and locks the file: a second gateway on the
 * same database is refused. */
struct journal *journal_open(const char *path, char **cause);
void journal_close(struct journal *j);
const char *journal_path(const struct journal *j);
int journal_fd(const struct journal *j);
size_t journal_size(const struct journal *j); /* bytes of records after the mark */

/* CRC-32 (IEEE) of the records (exposed for its unit test). */
uint32_t journal_crc32(const void *p, size_t n);
/* Appends one row's record to b (strings longer than 65,534 bytes are
 * cut there). */
void journal_encode(buf *b, int64_t seq, const struct ledger_row *r);
/* Writes n bytes of records after the last one: all of them or, on
 * failure (the file cannot grow: a full disk), none. Refused for a file
 * found at start until journal_read has found its end. */
int journal_append(struct journal *j, const void *p, size_t n, char **cause);
/* Whether n more bytes need more room than the file has: the file grows,
 * unless everything in it is in the store by then (then it starts over). */
bool journal_full(const struct journal *j, size_t n);
/* Times the file grew past an allocation because rows in it waited. */
int64_t journal_grows(const struct journal *j);
/* Whether records are copied into a mapping of the file (ext4, xfs, tmpfs)
 * or written with pwrite (elsewhere: see journal.c); the unit
 * tests choose, before the first append. */
bool journal_mapped(const struct journal *j);
void journal_set_mapped(struct journal *j, bool on);

/* Reads up to max records after the mark (see journal_mark), calling fn
 * for each (its strings last until fn returns; fn returning non-zero stops
 * the reading and is returned). Returns 0 and sets *rows and *end (the
 * offset after the last record read); -1 with *cause when the file cannot
 * be read or a record is damaged with more after it. A damaged or partial
 * record at the very end (a write cut by a power loss) ends the reading
 * and *torn is set. */
typedef int (*journal_fn)(void *arg, int64_t seq, const struct ledger_row *r);
int journal_read(struct journal *j, size_t max, journal_fn fn, void *arg, size_t *rows, size_t *end,
		 bool *torn, char **cause);
/* Records up to end are in the store: the mark moves there. A file found
 * at start, read to its end, starts over (so does a torn one, dropping its
 * torn tail); a mapped one starts over when its mapping is full. */
void journal_mark(struct journal *j, size_t end, bool torn);

#endif
