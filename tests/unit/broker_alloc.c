/* SPDX-License-Identifier: MIT */
/*
 * The broker's allocator (mosquitto_malloc and friends) for the plugin
 * modules the unit tests link alone. Each block carries a header in front
 * of what the caller sees, so that memory from one allocator given to the
 * other fails loudly: free() of a mosquitto_malloc block is an invalid
 * free (glibc aborts, ASan reports it), and mosquitto_free of a libc block
 * finds no header and aborts (ASan reports the read before the block).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

#define BROKER_ALLOC_MAGIC 0x6d6f737175697474ull

/* 16 bytes, so the caller's block keeps malloc's alignment. */
struct broker_block {
	uint64_t magic;
	uint64_t size;
};

static struct broker_block *header(void *mem)
{
	struct broker_block *b = (struct broker_block *)mem - 1;
	if (b->magic != BROKER_ALLOC_MAGIC) abort(); /* not from mosquitto_malloc */
	return b;
}

void *mosquitto_malloc(size_t size)
{
	if (size > SIZE_MAX - sizeof(struct broker_block)) return NULL;
	struct broker_block *b = malloc(sizeof(*b) + size);
	if (!b) return NULL;
	b->magic = BROKER_ALLOC_MAGIC;
	b->size = size;
	return b + 1;
}

void *mosquitto_calloc(size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size) return NULL;
	void *p = mosquitto_malloc(nmemb * size);
	if (p) memset(p, 0, nmemb * size);
	return p;
}

void *mosquitto_realloc(void *mem, size_t size)
{
	if (!mem) return mosquitto_malloc(size);
	if (size > SIZE_MAX - sizeof(struct broker_block)) return NULL;
	struct broker_block *b = realloc(header(mem), sizeof(*b) + size);
	if (!b) return NULL;
	b->size = size;
	return b + 1;
}

char *mosquitto_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = mosquitto_malloc(n);
	if (p) memcpy(p, s, n);
	return p;
}

void mosquitto_free(void *mem)
{
	if (!mem) return;
	struct broker_block *b = header(mem);
	b->magic = 0; /* a second free aborts too */
	free(b);
}
