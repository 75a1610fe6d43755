/*
 * logq — see logq.h.
 */
#include "logq.h"

#include <errno.h>
#include <string.h>

void logq_init(struct logq *q)
{
	memset(q->len, 0, sizeof q->len);
	q->head = q->count = 0;
	q->done = 0;
	q->writing = false;
	q->lost_bytes = 0;
}

bool logq_line(struct logq *q, const char *line, size_t n)
{
	if (n == 0 || n > LOGQ_CHUNK)
		return n == 0;
	unsigned tail = (q->head + q->count - 1) % LOGQ_CHUNKS;
	/* The newest chunk takes the line unless it is out being written. */
	bool newest_busy = q->writing && q->count == 1;
	if (q->count && !newest_busy && q->len[tail] + n <= LOGQ_CHUNK) {
		memcpy(q->buf[tail] + q->len[tail], line, n);
		q->len[tail] += n;
		return true;
	}
	if (q->count == LOGQ_CHUNKS)
		return false;
	tail = (q->head + q->count) % LOGQ_CHUNKS;
	memcpy(q->buf[tail], line, n);
	q->len[tail] = n;
	q->count++;
	return true;
}

const char *logq_next(struct logq *q, size_t *len)
{
	if (q->writing || q->count == 0)
		return NULL;
	q->writing = true;
	*len = q->len[q->head] - q->done;
	return q->buf[q->head] + q->done;
}

static void drop_oldest(struct logq *q)
{
	q->len[q->head] = 0;
	q->head = (q->head + 1) % LOGQ_CHUNKS;
	q->count--;
	q->done = 0;
}

void logq_written(struct logq *q, ssize_t res)
{
	q->writing = false;
	if (res == -EINTR || res == -EAGAIN)
		return; /* the same bytes again */
	if (res <= 0) { /* stderr is gone or broken: nowhere to say so */
		q->lost_bytes += q->len[q->head] - q->done;
		drop_oldest(q);
		return;
	}
	q->done += (size_t)res;
	if (q->done >= q->len[q->head])
		drop_oldest(q);
}

bool logq_empty(const struct logq *q)
{
	return q->count == 0;
}

bool logq_half_full(const struct logq *q)
{
	return q->count >= LOGQ_CHUNKS / 2;
}
