/* SPDX-License-Identifier: MIT */
/*
 * The journal; see journal.h for what it is.
 *
 * Durability, stated plainly: libmosquitto builds the PUBACK for a QoS 1
 * message before it calls on_message. mqtt.c runs the client in threaded
 * mode so that PUBACK is only queued, and writes it after the group commit
 * (journal_sync: one write and one fdatasync for every record appended in
 * the loop iteration). So the broker learns of a message's receipt only
 * when it is on disk, and a bridge killed earlier gets it again from its
 * persistent session. What can still lose a message: a write or fdatasync
 * error followed by a crash before MongoDB has it (logged, counted in
 * journal_errors; the PUBACK is sent regardless, since libmosquitto offers
 * no way to withhold it), or a lost disk.
 *
 * Appends are framed into a buffer and written by journal_sync() in one
 * write(): per record that saves a system call on the MQTT thread, which
 * shares the CPU with the broker and MongoDB. The store thread is woken
 * once per group commit, before the fdatasync, so it can insert a burst
 * while the disk syncs it (a record in MongoDB before it is synced is
 * harmless: a redelivery is a duplicate, counted as such).
 *
 * Space: records are appended to the active segment; at segment_max it is
 * synced and a new one started. A segment whose records are all in MongoDB
 * is unlinked; the active one is truncated to zero whenever everything in
 * it is done (one ftruncate per batch at most), so a restart replays only
 * what MongoDB had not acknowledged, plus at most one batch in flight.
 */
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bridge.h"
#include "chat_err.h"
#include "jrec.h"

#define SEGMENT_MAX (4u << 20)
/* Buffered bytes after which an append writes the buffer out early. */
#define WBUF_FLUSH (256u << 10)
#define SEG_NAME_FMT "journal-%020llu.log"

struct journal_segment {
	struct journal_segment *next;
	uint64_t seq;
	size_t bytes; /* valid bytes in the file */
	size_t live;  /* pending records in it */
};

static void seg_name(uint64_t seq, char *buf, size_t cap)
{
	snprintf(buf, cap, SEG_NAME_FMT, (unsigned long long)seq);
}

static struct journal_segment *seg_find(struct journal *j, uint64_t seq)
{
	for (struct journal_segment *s = j->segs; s; s = s->next) {
		if (s->seq == seq) return s;
	}
	return NULL;
}

static struct journal_segment *seg_add(struct journal *j, uint64_t seq, size_t bytes)
{
	struct journal_segment *s = xcalloc(1, sizeof(*s)), **p = &j->segs;
	s->seq = seq;
	s->bytes = bytes;
	while (*p) p = &(*p)->next;
	*p = s;
	j->disk_bytes += bytes;
	return s;
}

static void enqueue(struct journal *j, struct journal_entry *e)
{
	e->next = NULL;
	if (j->tail) j->tail->next = e;
	else j->head = e;
	j->tail = e;
	if (!j->cursor) j->cursor = e;
}

static struct journal_entry *entry_new(uint8_t kind, const void *data, size_t len)
{
	struct journal_entry *e = xmalloc(sizeof(*e) + len + 1);
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->len = len;
	e->arrived_ms = bridge_now_ms();
	if (len) memcpy(e->data, data, len);
	e->data[len] = '\0';
	return e;
}

static void entry_free(struct journal_entry *e)
{
	if (e->job && e->job_free) e->job_free(e->job);
	free(e);
}

static int open_active(struct journal *j, uint64_t seq)
{
	char name[64];
	seg_name(seq, name, sizeof(name));
	j->fd = openat(j->dir_fd, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		blog(BLOG_ERR, "journal: cannot create %s/%s: %s", j->dir, name, strerror(errno));
		return -1;
	}
	fsync(j->dir_fd); /* the new name must survive a power cut too */
	j->active_seq = seq;
	seg_add(j, seq, 0);
	return 0;
}

/* Reads a whole segment file into a malloc'd buffer. */
static uint8_t *read_segment(int fd, size_t *len)
{
	struct stat st;
	if (fstat(fd, &st) != 0) return NULL;
	size_t cap = (size_t)st.st_size, n = 0;
	uint8_t *buf = xmalloc(cap + 1);
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

/* Queues every valid record of segment seq; drops a torn tail. */
static int replay_segment(struct journal *j, uint64_t seq, long *replayed)
{
	char name[64];
	seg_name(seq, name, sizeof(name));
	int fd = openat(j->dir_fd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		blog(BLOG_ERR, "journal: cannot open %s/%s: %s", j->dir, name, strerror(errno));
		return -1;
	}
	size_t len = 0, count = 0;
	uint8_t *buf = read_segment(fd, &len);
	size_t valid = buf ? jrec_valid_prefix(buf, len, &count) : 0;
	if (valid < len) {
		blog(BLOG_WARN, "journal: %s: dropping %zu bytes of torn or corrupt tail after %zu records", name,
		     len - valid, count);
		if (ftruncate(fd, (off_t)valid) != 0) blog(BLOG_WARN, "journal: truncate %s: %s", name, strerror(errno));
	}
	close(fd);
	if (count == 0) {
		unlinkat(j->dir_fd, name, 0);
		free(buf);
		return 0;
	}
	struct journal_segment *s = seg_add(j, seq, valid);
	for (size_t off = 0; off < valid;) {
		struct jrec r;
		jrec_decode(buf + off, valid - off, &r);
		struct journal_entry *e = entry_new(r.kind, r.payload, r.len);
		e->seg = seq;
		e->disk = r.size;
		enqueue(j, e);
		s->live++;
		j->records++;
		j->bytes += r.size;
		off += r.size;
	}
	*replayed += (long)count;
	free(buf);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The sequence numbers of the segment files in dir, sorted. */
static uint64_t *list_segments(struct journal *j, size_t *n)
{
	size_t cap = 16;
	uint64_t *seqs = xmalloc(cap * sizeof(*seqs));
	*n = 0;
	int fd = dup(j->dir_fd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0) close(fd);
		return seqs;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		unsigned long long seq;
		char tail[8];
		if (sscanf(de->d_name, "journal-%20llu.lo%1s", &seq, tail) != 2 || strcmp(tail, "g") != 0) continue;
		if (*n == cap) {
			cap *= 2;
			seqs = xrealloc(seqs, cap * sizeof(*seqs));
		}
		seqs[(*n)++] = seq;
	}
	closedir(d);
	qsort(seqs, *n, sizeof(*seqs), cmp_u64);
	return seqs;
}

static int lock_dir(struct journal *j)
{
	if (mkdir(j->dir, 0700) != 0 && errno != EEXIST) {
		blog(BLOG_ERR, "journal: cannot create %s: %s", j->dir, strerror(errno));
		return -1;
	}
	j->dir_fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dir_fd < 0) {
		blog(BLOG_ERR, "journal: cannot open %s: %s", j->dir, strerror(errno));
		return -1;
	}
	j->lock_fd = openat(j->dir_fd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->lock_fd < 0 || flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		blog(BLOG_ERR, "journal: %s is in use by another chat-bridge (or unwritable): %s", j->dir,
		     strerror(errno));
		return -1;
	}
	return 0;
}

long journal_open(struct journal *j, const char *dir, size_t max_bytes)
{
	memset(j, 0, sizeof(*j));
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->dir = xstrdup(dir);
	j->dir_fd = j->lock_fd = j->fd = -1;
	j->max_bytes = max_bytes;
	j->segment_max = max_bytes / 8 < SEGMENT_MAX ? max_bytes / 8 : SEGMENT_MAX;
	if (j->segment_max < 4096) j->segment_max = 4096;
	if (lock_dir(j) != 0) return -1;
	size_t n;
	long replayed = 0;
	uint64_t *seqs = list_segments(j, &n), next = 1;
	for (size_t i = 0; i < n; i++) {
		if (replay_segment(j, seqs[i], &replayed) != 0) {
			free(seqs);
			return -1;
		}
		next = seqs[i] + 1;
	}
	free(seqs);
	if (open_active(j, next) != 0) return -1;
	return replayed;
}

/* Writes all of iov or fails; on failure the file is cut back to `at`. */
static int write_all(struct journal *j, struct iovec *iov, int n, size_t total, size_t at)
{
	size_t done = 0;
	while (done < total) {
		ssize_t w = writev(j->fd, iov, n);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) {
			blog(BLOG_ERR, "journal: write: %s", w < 0 ? strerror(errno) : "short");
			if (ftruncate(j->fd, (off_t)at) != 0) blog(BLOG_ERR, "journal: truncate: %s", strerror(errno));
			return -1;
		}
		done += (size_t)w;
		size_t skip = (size_t)w;
		while (n > 0 && skip >= iov->iov_len) {
			skip -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + skip;
			iov->iov_len -= skip;
		}
	}
	return 0;
}

/* Writes the buffered records (lock held). On failure they are cut from
 * the file and uncounted, and the buffer is emptied all the same: the
 * records stay queued in memory. Returns how many records were lost. */
static size_t flush_buffer(struct journal *j)
{
	size_t lost = 0;
	if (j->wlen == 0) return 0;
	struct journal_segment *a = seg_find(j, j->active_seq);
	struct iovec iov = {j->wbuf, j->wlen};
	if (!a || j->fd < 0 || write_all(j, &iov, 1, j->wlen, a->bytes - j->wlen) != 0) {
		lost = j->wrecs;
		blog(BLOG_ERR, "journal: %zu records are not on disk (MongoDB still gets them from memory; "
			       "a crash before that loses them)", lost);
		if (a) a->bytes -= j->wlen;
		j->disk_bytes -= j->wlen;
	}
	j->wlen = j->wrecs = 0;
	return lost;
}

static void close_active(struct journal *j)
{
	if (j->fd < 0) return;
	j->lost += flush_buffer(j);
	if (fdatasync(j->fd) != 0) blog(BLOG_WARN, "journal: fdatasync: %s", strerror(errno));
	close(j->fd);
	j->fd = -1;
}

/* Unlinks finished segments and empties the active one when all done. */
static void trim(struct journal *j)
{
	char name[64];
	while (j->segs && j->segs->live == 0 && j->segs->seq != j->active_seq) {
		struct journal_segment *s = j->segs;
		seg_name(s->seq, name, sizeof(name));
		if (unlinkat(j->dir_fd, name, 0) != 0) blog(BLOG_WARN, "journal: unlink %s: %s", name, strerror(errno));
		j->disk_bytes -= s->bytes;
		j->segs = s->next;
		free(s);
	}
	struct journal_segment *a = seg_find(j, j->active_seq);
	if (a && a->live == 0 && a->bytes > 0 && j->fd >= 0) {
		if (ftruncate(j->fd, 0) != 0) {
			blog(BLOG_WARN, "journal: truncate: %s", strerror(errno));
			return;
		}
		j->wlen = j->wrecs = 0; /* everything buffered is done too */
		j->disk_bytes -= a->bytes;
		a->bytes = 0;
	}
}

static int rotate(struct journal *j)
{
	close_active(j);
	int rc = open_active(j, j->active_seq + 1);
	trim(j);
	return rc;
}

/* Frames a record at the end of the write buffer (lock held). */
static void buffer_record(struct journal *j, const uint8_t *head, const void *data, size_t len,
			  const uint8_t *trail)
{
	size_t size = jrec_size(len);
	if (j->wlen + size > j->wcap) {
		size_t cap = j->wcap ? j->wcap : 64u << 10;
		while (cap < j->wlen + size) cap *= 2;
		j->wbuf = xrealloc(j->wbuf, cap);
		j->wcap = cap;
	}
	uint8_t *at = j->wbuf + j->wlen;
	memcpy(at, head, JREC_HEADER);
	if (len) memcpy(at + JREC_HEADER, data, len);
	memcpy(at + JREC_HEADER + len, trail, JREC_TRAILER);
	j->wlen += size;
	j->wrecs++;
}

int journal_append(struct journal *j, uint8_t kind, const void *data, size_t len)
{
	uint8_t head[JREC_HEADER], trail[JREC_TRAILER];
	if (jrec_frame(kind, data, len, head, trail) != CHAT_OK) {
		blog(BLOG_WARN, "journal: record of %zu bytes refused", len);
		return -1;
	}
	size_t size = jrec_size(len);
	struct journal_entry *e = entry_new(kind, data, len);
	pthread_mutex_lock(&j->lock);
	struct journal_segment *a = seg_find(j, j->active_seq);
	if ((j->fd < 0 || (a && a->bytes >= j->segment_max)) && rotate(j) != 0) {
		pthread_mutex_unlock(&j->lock);
		free(e);
		return -1;
	}
	if (j->wlen > 0 && j->wlen + size > WBUF_FLUSH) j->lost += flush_buffer(j);
	a = seg_find(j, j->active_seq);
	buffer_record(j, head, data, len, trail);
	e->seg = j->active_seq;
	e->disk = size;
	a->bytes += size;
	a->live++;
	j->disk_bytes += size;
	j->records++;
	j->bytes += size;
	j->unsynced++;
	enqueue(j, e);
	pthread_mutex_unlock(&j->lock);
	return 0;
}

void journal_push_job(struct journal *j, uint8_t kind, void *job, void (*job_free)(void *))
{
	struct journal_entry *e = entry_new(kind, NULL, 0);
	e->job = job;
	e->job_free = job_free;
	pthread_mutex_lock(&j->lock);
	enqueue(j, e);
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

size_t journal_sync(struct journal *j)
{
	pthread_mutex_lock(&j->lock);
	/* The write stays under the lock: trim() must not truncate the file
	 * between it and the accounting. It goes to the page cache: fast. */
	size_t lost = j->lost + flush_buffer(j), unsynced = j->unsynced;
	int fd = j->fd;
	if (unsynced) pthread_cond_signal(&j->cond); /* the whole burst at once */
	j->lost = j->unsynced = 0;
	pthread_mutex_unlock(&j->lock);
	/* Outside the lock: the store thread keeps trimming meanwhile. Only
	 * this thread closes fd (rotation happens in journal_append). */
	if (unsynced && fd >= 0 && fdatasync(fd) != 0) {
		blog(BLOG_ERR, "journal: fdatasync: %s", strerror(errno));
		lost = unsynced; /* none of this commit is known to be on disk */
	}
	return lost;
}

static struct timespec deadline_in(int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

size_t journal_take(struct journal *j, struct journal_entry **out, size_t max, int wait_ms)
{
	struct timespec until = deadline_in(wait_ms);
	size_t n = 0;
	pthread_mutex_lock(&j->lock);
	while (!j->cursor && !j->closing) {
		if (pthread_cond_timedwait(&j->cond, &j->lock, &until) != 0) break;
	}
	while (j->cursor && n < max) {
		out[n++] = j->cursor;
		j->cursor = j->cursor->next;
	}
	pthread_mutex_unlock(&j->lock);
	return n;
}

void journal_done(struct journal *j, size_t n)
{
	pthread_mutex_lock(&j->lock);
	for (size_t i = 0; i < n && j->head; i++) {
		struct journal_entry *e = j->head;
		j->head = e->next;
		if (!j->head) j->tail = NULL;
		if (e->seg) {
			struct journal_segment *s = seg_find(j, e->seg);
			if (s) s->live--;
			j->records--;
			j->bytes -= e->disk;
		}
		entry_free(e);
	}
	trim(j);
	pthread_mutex_unlock(&j->lock);
}

void journal_wake_closing(struct journal *j)
{
	pthread_mutex_lock(&j->lock);
	j->closing = true;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

bool journal_idle(struct journal *j)
{
	pthread_mutex_lock(&j->lock);
	bool idle = j->cursor == NULL;
	pthread_mutex_unlock(&j->lock);
	return idle;
}

void journal_depth(struct journal *j, size_t *records, size_t *bytes, size_t *disk_bytes)
{
	pthread_mutex_lock(&j->lock);
	if (records) *records = j->records;
	if (bytes) *bytes = j->bytes;
	if (disk_bytes) *disk_bytes = j->disk_bytes;
	pthread_mutex_unlock(&j->lock);
}

void journal_close(struct journal *j)
{
	if (!j->dir) return;
	close_active(j);
	struct journal_segment *a = seg_find(j, j->active_seq);
	if (a && a->live == 0 && j->dir_fd >= 0) { /* nothing left to replay */
		char name[64];
		seg_name(a->seq, name, sizeof(name));
		unlinkat(j->dir_fd, name, 0);
	}
	while (j->head) {
		struct journal_entry *e = j->head;
		j->head = e->next;
		entry_free(e);
	}
	while (j->segs) {
		struct journal_segment *s = j->segs;
		j->segs = s->next;
		free(s);
	}
	free(j->wbuf);
	if (j->lock_fd >= 0) close(j->lock_fd);
	if (j->dir_fd >= 0) close(j->dir_fd);
	free(j->dir);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
	memset(j, 0, sizeof(*j));
}
