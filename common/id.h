/* SPDX-License-Identifier: MIT */
/*
 * Server message ids: 26 characters of Crockford base32 that sort in time
 * order as plain strings, and stay unique across broker restarts and across
 * brokers. Layout, most significant first:
 *
 *   48 bits  unix time in ms          (10 chars)
 *   20 bits  node (hash of node_id)   ( 4 chars)
 *   20 bits  boot salt, random        ( 4 chars)
 *   40 bits  sequence                 ( 8 chars)
 *
 * Within one generator ids strictly increase even if the clock steps back:
 * the time part never goes below the last one used and the sequence counts
 * on. Two brokers differ in node or boot salt, and a restarted broker in its
 * boot salt.
 */
#ifndef CHAT_ID_H
#define CHAT_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ID_LEN 26

struct id_gen {
	uint64_t last_ms;
	uint64_t seq;
	uint32_t node; /* 20 bits */
	uint32_t boot; /* 20 bits */
	char head[18]; /* the id's first 18 chars (last_ms, node, boot), kept between ids */
	char tail[8];  /* the last id's sequence chars */
};

/* Sets up g for node_id (any string; NULL or "" = the host name) with
 * boot salt `boot` (pass a random value; tests pass a fixed one). */
void id_gen_init(struct id_gen *g, const char *node_id, uint32_t boot);

/* Writes the next id for time now_ms into out (ID_LEN chars + NUL). */
void id_next(struct id_gen *g, uint64_t now_ms, char out[ID_LEN + 1]);

/* Reads the time part of an id; returns 0 for a malformed id. */
uint64_t id_time_ms(const char *id);

/* True for a well-formed id (ID_LEN chars of the alphabet). */
bool id_valid(const char *id, size_t len);

#endif
