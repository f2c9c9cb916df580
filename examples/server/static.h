/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee-server: the web page (examples/web, docs/web.md) served as static files. */
#ifndef CMEE_SERVER_STATIC_H
#define CMEE_SERVER_STATIC_H

#include <stdbool.h>

#include "httpd.h"

/* Serve the files under @p root. @p required: fail (-1, reason printed) when @p root is not a
 * readable directory; otherwise only note it on stderr and serve no page. @returns 0 or -1. */
int static_init(const char *root, bool required);

/* Answer @p r if its path is the page's: "/" (root/index.html) or "/web/<file>" (root/<file>).
 * Anything there that is not a regular file under the root, reached by plain segments of
 * [A-Za-z0-9._-] not starting with '.', is 404; methods other than GET are 405.
 * @returns true if it answered, false for any other path. */
bool static_serve(httpd_req *r);

#endif /* CMEE_SERVER_STATIC_H */
