/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee-server: GET /api/sessions/{id}/report, the session's results (cmee/report.h). */
#include <string.h>

#include "server.h"

void h_session_report(srv *S, httpd_req *r, char (*caps)[64], srv_session *ss)
{
    (void)S, (void)caps;
    cmee_report_config cfg;
    cmee_report_config_init(&cfg);
    int64_t step = cfg.sample_ms;
    if (query_int(r, "sample_ms", &step) < 0)
        return;
    cfg.sample_ms = step;
    cmee_report rep;
    cmee_status st = cmee_session_report(ss->s, &cfg, &rep);
    if (st != CMEE_OK) {
        if (st == CMEE_EINVAL)
            httpd_respond_error(r, 400, "invalid_parameter", "%s", cmee_session_errmsg(ss->s));
        else
            httpd_respond_error(r, status_http(st), "session_error", "%s",
                                cmee_session_errmsg(ss->s));
        return;
    }
    /* The library's JSON as is: money as exact decimals, the same text as `cmee report`. */
    char text[4096];
    size_t len = 0;
    if (cmee_report_to_json(&rep, text, sizeof text, &len) != CMEE_OK) {
        httpd_respond_error(r, 500, "internal_error", "report: cannot encode");
        return;
    }
    httpd_respond(r, 200, "application/json", text, len);
}
