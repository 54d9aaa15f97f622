/* SPDX-License-Identifier: MIT */
/*
 * One error enum for everything in common/. Functions return 0 on success
 * or one of these negative codes; yes/no questions return bool instead.
 * The plugin maps these to MOSQ_ERR_* and the bridge to log lines.
 */
#ifndef CHAT_ERR_H
#define CHAT_ERR_H

enum chat_err {
	CHAT_OK = 0,
	CHAT_ERR_NOMEM = -1,     /* allocation failed */
	CHAT_ERR_INVAL = -2,     /* malformed argument or input */
	CHAT_ERR_UTF8 = -3,      /* text is not valid UTF-8 */
	CHAT_ERR_JSON = -4,      /* malformed JSON */
	CHAT_ERR_TOO_LARGE = -5, /* over a configured size limit */
	CHAT_ERR_NOTFOUND = -6,  /* no such key, file or entry */
	CHAT_ERR_IO = -7,        /* read/write failed; errno says why */
	CHAT_ERR_EMPTY = -8,     /* required content missing (no text, no data) */
	CHAT_ERR_EXISTS = -9,    /* already present */
};

/* Static English text for a code; never NULL. */
const char *chat_strerror(int err);

#endif
