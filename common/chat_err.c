/* SPDX-License-Identifier: MIT */
/*
 * Text for the shared error codes, used in log lines and in the reasons the
 * plugin puts into inbox notices.
 */
#include "chat_err.h"

const char *chat_strerror(int err)
{
	switch (err) {
	case CHAT_OK: return "ok";
	case CHAT_ERR_NOMEM: return "out of memory";
	case CHAT_ERR_INVAL: return "invalid input";
	case CHAT_ERR_UTF8: return "invalid UTF-8";
	case CHAT_ERR_JSON: return "malformed JSON";
	case CHAT_ERR_TOO_LARGE: return "too large";
	case CHAT_ERR_NOTFOUND: return "not found";
	case CHAT_ERR_IO: return "I/O error";
	case CHAT_ERR_EMPTY: return "missing text or data";
	case CHAT_ERR_EXISTS: return "already exists";
	default: return "unknown error";
	}
}
