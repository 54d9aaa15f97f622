/* SPDX-License-Identifier: MIT */
/*
 * Reader for "key value" configuration files in mosquitto.conf style: one
 * setting per line, '#' starts a comment line, blank lines are skipped, the
 * value is the rest of the line after the key and its blanks, trailing
 * blanks trimmed.
 */
#ifndef CHAT_KVCONF_H
#define CHAT_KVCONF_H

#include <stddef.h>

/*
 * Called once per setting, with its line number (from 1), so that checks
 * made later can still name it. Return 0 to go on, or a negative code
 * after writing a reason (no file or line: the parser adds them) into why
 * (capacity whylen).
 */
typedef int (*kvconf_cb)(const char *key, const char *value, unsigned line, void *ud, char *why,
			 size_t whylen);

/*
 * Parses path. Returns 0, or the callback's code / CHAT_ERR_IO /
 * CHAT_ERR_INVAL with "file:line: reason: <the line>" in err (capacity
 * errlen).
 */
int kvconf_parse_file(const char *path, kvconf_cb cb, void *ud, char *err, size_t errlen);

/* The same over a buffer; name is used in messages in place of a path. */
int kvconf_parse_buf(const char *name, const char *buf, size_t len, kvconf_cb cb, void *ud, char *err,
		     size_t errlen);

#endif
