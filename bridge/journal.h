/* SPDX-License-Identifier: MIT */
/*
 * The bridge's journal: a durable FIFO of work between the MQTT side and
 * the store thread. Messages and read markers are appended to segment files
 * (journal_dir/journal-<seq>.log, records framed by common/jrec) and kept
 * in memory until the store thread reports them written to MongoDB; only
 * then are their bytes given back (a finished segment is unlinked, the
 * active one truncated). History requests ride the same queue, in memory
 * only: losing one in a crash costs the client a retry, not data.
 *
 * Appends go to an in-memory buffer; journal_sync() writes the buffer with
 * one write() and then fdatasync()s, so a burst of records costs two
 * system calls instead of one write per record plus the sync.
 */
#ifndef CHAT_BRIDGE_JOURNAL_H
#define CHAT_BRIDGE_JOURNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum journal_kind {
	JOURNAL_MESSAGE = 1, /* an envelope from chat/rooms/{room}/messages */
	JOURNAL_READ = 2,    /* "user\nroom\nupto" */
	JOURNAL_HISTORY = 3, /* in memory only: job is a struct history_req */
	JOURNAL_CHATS = 4,   /* in memory only: job is a struct chats_req (chatlist.c) */
};

struct journal_entry {
	struct journal_entry *next;
	uint64_t seg;            /* segment holding it, 0 = not on disk */
	size_t disk;             /* bytes it takes on disk */
	long long arrived_ms;    /* monotonic, when appended or replayed */
	uint8_t kind;
	void *job;               /* in-memory work, freed with job_free */
	void (*job_free)(void *job);
	size_t len;
	char data[];             /* payload, NUL-terminated */
};

struct journal_segment;

struct journal {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *dir;
	int dir_fd, lock_fd, fd;
	uint64_t active_seq;
	struct journal_segment *segs;       /* oldest first; the last is active */
	struct journal_entry *head, *tail;  /* pending, oldest first */
	struct journal_entry *cursor;       /* first entry not yet taken */
	size_t records, bytes;              /* pending on disk (depth) */
	size_t disk_bytes;                  /* all segment bytes */
	size_t max_bytes;
	size_t segment_max;
	uint8_t *wbuf;                      /* framed records not yet written */
	size_t wlen, wcap, wrecs;           /* its bytes, capacity, records */
	size_t lost;                        /* records an early write lost, for journal_sync */
	size_t unsynced;                    /* records appended since the last journal_sync */
	bool closing;
};

/*
 * Opens (creating) dir, takes its lock (one bridge per journal_dir), and
 * replays the segments it holds into the queue, truncating a torn tail.
 * Returns the number of records replayed (>= 0), or -1 after logging.
 */
long journal_open(struct journal *j, const char *dir, size_t max_bytes);
/* Syncs and closes; pending records stay on disk for the next start. */
void journal_close(struct journal *j);

/* Appends a durable record: framed into the write buffer and queued for
 * the store thread, which sees it after the next journal_sync(). Written
 * and synced by journal_sync(). 0, or -1 after logging (a record too large,
 * or no new segment could be started): the record is then dropped. */
int journal_append(struct journal *j, uint8_t kind, const void *data, size_t len);
/* Queues in-memory work; the journal owns job from now on. */
void journal_push_job(struct journal *j, uint8_t kind, void *job, void (*job_free)(void *));
/* The group commit, once per MQTT loop iteration: writes the buffered
 * records, wakes the store thread for them, and fdatasync()s the active
 * segment if something was appended since the last call. Returns how many
 * records could not be written (logged; they still go to MongoDB from
 * memory, but a crash before that loses them), normally 0. */
size_t journal_sync(struct journal *j);

/*
 * Store thread: waits up to wait_ms for entries not yet taken and hands out
 * up to max of them in order (out[]). They stay owned by the journal.
 * Returns how many; 0 on timeout or when closing with nothing left.
 */
size_t journal_take(struct journal *j, struct journal_entry **out, size_t max, int wait_ms);
/* Store thread: the oldest n taken entries are done (in MongoDB, or not
 * retryable). Frees them and trims the segment files. */
void journal_done(struct journal *j, size_t n);
/* Wakes journal_take() for good: used when stopping. */
void journal_wake_closing(struct journal *j);
/* True when nothing is left to take. */
bool journal_idle(struct journal *j);

/* Pending durable records and their bytes on disk; all segment bytes. */
void journal_depth(struct journal *j, size_t *records, size_t *bytes, size_t *disk_bytes);

#endif
