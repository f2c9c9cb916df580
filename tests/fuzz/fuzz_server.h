/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared by the server fuzz targets: a cmee-server state (examples/server/server.h) without
 * the network, as main() builds it: the global market, a :memory: store, a broadcaster, a
 * driver and the stream table. Requests are httpd_req_detached_new() ones. */
#ifndef CMEE_FUZZ_SERVER_H
#define CMEE_FUZZ_SERVER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static inline void fuzz_die(const char *what)
{
    fprintf(stderr, "fuzz setup: %s\n", what);
    abort();
}

static inline void fuzz_srv_open(srv *S)
{
    memset(S, 0, sizeof *S);
    S->seed = 42;
    S->db_path = ":memory:";
    if (cmee_market_new(S->seed, NULL, &S->market) != CMEE_OK)
        fuzz_die("market");
    if (cmee_store_open(":memory:", NULL, NULL, &S->store, NULL) != CMEE_OK)
        fuzz_die("store");
    if (cmee_broadcaster_new(NULL, &S->bc) != CMEE_OK ||
        cmee_driver_new(S->bc, NULL, &S->driver) != CMEE_OK)
        fuzz_die("broadcaster");
    S->nstreams = cmee_market_symbol_count(S->market);
    S->streams = calloc(S->nstreams ? S->nstreams : 1, sizeof *S->streams);
    if (!S->streams)
        fuzz_die("streams");
    for (size_t i = 0; i < S->nstreams; i++) {
        cmee_symbol_spec sp;
        cmee_market_symbol_at(S->market, i, &sp);
        snprintf(S->streams[i].symbol, sizeof S->streams[i].symbol, "%s", sp.symbol);
        S->streams[i].cache_minute = -1;
    }
    memset(S->secret, 7, sizeof S->secret);
    if (knobs_load(S) != 0)
        fuzz_die("knobs");
}

static inline void fuzz_srv_close(srv *S)
{
    sessions_free(S);
    cmee_driver_free(S->driver);
    cmee_broadcaster_free(S->bc);
    cmee_store_close(S->store);
    knobs_free(S);
    market_cache_free(S);
    cmee_market_free(S->market);
    free(S->streams);
    memset(S, 0, sizeof *S);
}

/* Run handler @p fn on a detached request; abort unless it answered once with a JSON body and
 * a status it may give. @returns the status. */
static inline int fuzz_call(srv *S, route_fn fn, httpd_method m, const char *path,
                            const char *query, const void *body, size_t len, srv_session *ss,
                            char (*caps)[64])
{
    httpd_req *r = httpd_req_detached_new(m, path, query, body, len);
    const char *out;
    size_t outlen;
    if (!r)
        return 0; /* out of memory: not what is fuzzed */
    fn(S, r, caps, ss);
    int status = httpd_req_detached_result(r, &out, &outlen);
    if (status < 200 || status > 599 || (status >= 500 && status != 503)) {
        fprintf(stderr, "%s: answered %d: %.*s\n", path, status, (int)outlen, out);
        abort();
    }
    json_error_t err;
    json_t *j = json_loadb(out, outlen, 0, &err);
    if (!j || !json_is_object(j)) {
        fprintf(stderr, "%s: answer is not a JSON object: %.*s\n", path, (int)outlen, out);
        abort();
    }
    json_decref(j);
    httpd_req_detached_free(r);
    return status;
}

#endif
