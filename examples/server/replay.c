/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee-server: POST /api/sessions/{id}/reset and GET /api/sessions/{id}/replay-check, a
 * session's reset to its start state in a new epoch and the audit of its action log
 * (docs/sessions.md, "Replay and reset"). */
#include <string.h>

#include "server.h"

void h_session_reset(srv *S, httpd_req *r, char (*caps)[64], srv_session *ss)
{
    (void)S, (void)caps;
    cmee_status st = cmee_session_reset(ss->s);
    if (st != CMEE_OK) {
        httpd_respond_error(r, status_http(st), status_code(st), "%s",
                            cmee_session_errmsg(ss->s));
        return;
    }
    cmee_clock c;
    cmee_session_clock(ss->s, &c);
    httpd_respond_json(r, 200,
                       json_pack("{s:s,s:I,s:I,s:b,s:f}", "id", ss->id, "epoch",
                                 (json_int_t)c.epoch, "now", (json_int_t)c.now, "paused",
                                 c.paused, "speed", c.speed));
}

void h_session_replay_check(srv *S, httpd_req *r, char (*caps)[64], srv_session *ss)
{
    (void)S, (void)caps;
    cmee_replay_result res;
    cmee_status st = cmee_session_replay_check(ss->s, &res);
    if (st == CMEE_ESTATE) {
        httpd_respond_error(r, 409, "not_replayable",
                            "session %s was stored before the action log: it cannot be "
                            "replayed until it is reset",
                            ss->id);
        return;
    }
    if (st != CMEE_OK) {
        httpd_respond_error(r, status_http(st), status_code(st), "replay: %s",
                            cmee_status_name(st));
        return;
    }
    json_t *o = json_pack("{s:s,s:I,s:b,s:I,s:I,s:I,s:I}", "id", ss->id, "epoch",
                          (json_int_t)cmee_session_epoch(ss->s), "same", res.same, "actions",
                          (json_int_t)res.actions, "orders", (json_int_t)res.orders, "options",
                          (json_int_t)res.options, "ledger_entries",
                          (json_int_t)res.ledger_entries);
    if (o && !res.same)
        json_object_set_new(o, "difference",
                            json_pack("{s:s,s:I,s:s,s:s,s:s}", "record", res.record, "index",
                                      (json_int_t)res.index, "field", res.field, "original",
                                      res.original, "replayed", res.replayed));
    else if (o)
        json_object_set_new(o, "difference", json_null());
    httpd_respond_json(r, 200, o);
}
