/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee-server: the web page's files (examples/web, docs/web.md). Only regular files under the
 * web root are served, and only through names made of plain segments: the request path is
 * checked against a whitelist before the file system sees it, and the resolved file must still
 * lie under the root (a symbolic link cannot lead out). There is no directory listing. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "static.h"

#define STATIC_MAX_FILE ((off_t)8 * 1024 * 1024) /* larger files are not served */
#define STATIC_MAX_NAME 256                      /* longest relative name */

static char web_root[PATH_MAX]; /* resolved, without a trailing '/' */
static size_t web_root_len;

int static_init(const char *root, bool required)
{
    struct stat sb;
    char *rp = realpath(root, NULL);

    web_root_len = 0;
    if (!rp || stat(rp, &sb) != 0 || !S_ISDIR(sb.st_mode) || strlen(rp) >= sizeof web_root) {
        int e = rp ? ENOTDIR : errno;
        free(rp);
        slog_kv(required ? SLOG_ERROR : SLOG_WARN,
                required ? "--web: no such directory" : "the web page is not served",
                "{s:s,s:s}", "web_root", root, "error", strerror(e));
        return required ? -1 : 0;
    }
    snprintf(web_root, sizeof web_root, "%s", rp);
    web_root_len = strlen(web_root);
    free(rp);
    return 0;
}

/* A relative name made of segments of [A-Za-z0-9._-], none empty and none starting with '.'
 * (so no ".", "..", hidden files, backslashes, '%' or control characters). */
static bool name_ok(const char *rel)
{
    size_t n = strlen(rel);

    if (n == 0 || n >= STATIC_MAX_NAME)
        return false;
    for (const char *seg = rel; *seg;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0 || seg[0] == '.')
            return false;
        for (size_t i = 0; i < len; i++) {
            char c = seg[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-'))
                return false;
        }
        if (!end)
            break;
        seg = end + 1;
        if (!*seg)
            return false; /* a trailing '/' names a directory */
    }
    return true;
}

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".md", "text/plain; charset=utf-8"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *base = strrchr(name, '/');
    const char *dot = strrchr(base ? base : name, '.');

    if (!dot)
        return "text/plain; charset=utf-8"; /* LICENSE, README */
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* The file's contents, or NULL if @p rel is not a regular file under the root. */
static char *load(const char *rel, size_t *len)
{
    char path[PATH_MAX];
    struct stat sb;

    if (snprintf(path, sizeof path, "%s/%s", web_root, rel) >= (int)sizeof path)
        return NULL;
    char *real = realpath(path, NULL);
    if (!real)
        return NULL;
    bool inside = strncmp(real, web_root, web_root_len) == 0 && real[web_root_len] == '/';
    int fd = inside ? open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) : -1;
    free(real);
    if (fd < 0)
        return NULL;
    char *buf = NULL;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size <= STATIC_MAX_FILE &&
        (buf = malloc((size_t)sb.st_size + 1)) != NULL) {
        size_t got = 0;
        while (got < (size_t)sb.st_size) {
            ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        *len = got;
    }
    close(fd);
    return buf;
}

/* @p path for an error message: JSON strings must be UTF-8, so anything but printable ASCII
 * is left out. */
static const char *printable(const char *path)
{
    for (const char *p = path; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return "path";
    return path;
}

bool static_serve(httpd_req *r)
{
    const char *path = httpd_req_path(r), *rel;

    if (strcmp(path, "/") == 0)
        rel = "index.html";
    else if (strncmp(path, "/web/", 5) == 0 || strcmp(path, "/web") == 0)
        rel = path[4] ? path + 5 : "";
    else
        return false;

    if (httpd_req_method(r) != HTTPD_GET) {
        httpd_req_add_header(r, "Allow", "GET");
        httpd_respond_error(r, 405, "method_not_allowed", "%s %.200s: allowed methods are GET",
                            httpd_method_name(httpd_req_method(r)), printable(path));
        return true;
    }
    size_t len = 0;
    char *body = web_root_len && name_ok(rel) ? load(rel, &len) : NULL;
    if (!body) {
        httpd_respond_error(r, 404, "not_found", "%.200s: no such file", printable(path));
        return true;
    }
    httpd_req_add_header(r, "Cache-Control", "no-cache");
    httpd_req_add_header(r, "X-Content-Type-Options", "nosniff");
    httpd_respond(r, 200, content_type(rel), body, len);
    free(body);
    return true;
}
