/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmee-server: admin endpoints (scenarios in the store, presets, applying and cancelling
 * scenarios on sessions). main.c has already checked the admin token. Scenarios act on a
 * session's market, which everyone watching that session sees; the application is recorded
 * in the session and announced on its topic (DESIGN.md, "Honest simulation"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* A scenario as JSON: its canonical text parsed back (new reference), or NULL. */
static json_t *scenario_to_json(const cmee_scenario *sc)
{
    size_t len;
    if (cmee_scenario_to_json(sc, NULL, 0, &len) != CMEE_OK)
        return NULL;
    char *text = malloc(len + 1);
    if (!text)
        return NULL;
    json_t *j = NULL;
    if (cmee_scenario_to_json(sc, text, len + 1, &len) == CMEE_OK)
        j = json_loadb(text, len, 0, NULL);
    free(text);
    return j;
}

/* Parse the request body as a scenario (validated against the global market's symbols). */
static cmee_scenario *body_scenario(srv *S, httpd_req *r)
{
    json_t *b = httpd_json_parse(r, SRV_JSON_DEPTH);
    if (!b)
        return NULL;
    size_t len;
    char *text = httpd_json_dumps(b, &len);
    json_decref(b);
    if (!text) {
        httpd_respond_error(r, 500, "out_of_memory", "out of memory");
        return NULL;
    }
    cmee_scenario *sc = NULL;
    cmee_error err;
    cmee_status st = cmee_scenario_from_json(text, len, S->market, NULL, &sc, &err);
    free(text);
    if (st != CMEE_OK) {
        httpd_respond_error(r, st == CMEE_ENOMEM ? 500 : 400,
                            st == CMEE_ENOMEM ? "out_of_memory" : "invalid_scenario", "%s",
                            err.text);
        return NULL;
    }
    return sc;
}

static void store_failed(srv *S, httpd_req *r, cmee_status st)
{
    const char *code = st == CMEE_ENOTFOUND ? "not_found"
                       : st == CMEE_EEXIST  ? "conflict"
                                            : status_code(st);
    httpd_respond_error(r, status_http(st), code, "%s", cmee_store_errmsg(S->store));
}

void h_admin_scenarios_list(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    size_t n = 0;
    (void)caps, (void)sess;
    cmee_status st = cmee_store_scenario_list(S->store, NULL, 0, &n);
    cmee_store_scenario_info *info = NULL;
    if (st == CMEE_OK && n) {
        info = calloc(n, sizeof *info);
        st = info ? cmee_store_scenario_list(S->store, info, n, &n) : CMEE_ENOMEM;
    }
    if (st != CMEE_OK) {
        free(info);
        store_failed(S, r, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:i,s:i,s:I,s:I}", "name", info[i].name,
                                             "latest", info[i].latest, "versions",
                                             info[i].versions, "created",
                                             (json_int_t)info[i].created, "updated",
                                             (json_int_t)info[i].updated));
    free(info);
    httpd_respond_json(r, 200, json_pack("{s:o}", "scenarios", arr));
}

static void save(srv *S, httpd_req *r, const char *path_name, cmee_store_save_mode mode)
{
    cmee_scenario *sc = body_scenario(S, r);
    if (!sc)
        return;
    if (path_name && strcmp(cmee_scenario_name(sc), path_name) != 0) {
        httpd_respond_error(r, 400, "invalid_parameter",
                            "name: the body names \"%.64s\", the path \"%.64s\"",
                            cmee_scenario_name(sc), path_name);
        cmee_scenario_free(sc);
        return;
    }
    int version = 0;
    cmee_status st = cmee_store_scenario_save(S->store, sc, mode, &version);
    if (st != CMEE_OK) {
        store_failed(S, r, st);
        cmee_scenario_free(sc);
        return;
    }
    char loc[160];
    snprintf(loc, sizeof loc, "/api/admin/scenarios/%s", cmee_scenario_name(sc));
    if (mode == CMEE_STORE_SAVE_CREATE)
        httpd_req_add_header(r, "Location", loc);
    httpd_respond_json(r, mode == CMEE_STORE_SAVE_CREATE ? 201 : 200,
                       json_pack("{s:s,s:i,s:o}", "name", cmee_scenario_name(sc), "version",
                                 version, "scenario", scenario_to_json(sc)));
    cmee_scenario_free(sc);
}

void h_admin_scenario_create(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    (void)caps, (void)sess;
    save(S, r, NULL, CMEE_STORE_SAVE_CREATE);
}

void h_admin_scenario_update(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    (void)sess;
    save(S, r, caps[0], CMEE_STORE_SAVE_UPDATE);
}

void h_admin_scenario_get(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    int64_t version = 0;
    cmee_scenario *sc;
    (void)sess;

    if (query_int(r, "version", &version) < 0)
        return;
    if (version < 0 || version > 1000000000) {
        httpd_respond_error(r, 400, "invalid_parameter", "version: must be >= 1");
        return;
    }
    cmee_status st = cmee_store_scenario_load(S->store, caps[0], (int)version, NULL, NULL, &sc);
    if (st != CMEE_OK) {
        store_failed(S, r, st);
        return;
    }
    size_t n = 0;
    json_t *versions = json_array();
    if (cmee_store_scenario_versions(S->store, caps[0], NULL, 0, &n) == CMEE_OK && n) {
        cmee_store_version_info *v = calloc(n, sizeof *v);
        if (v && cmee_store_scenario_versions(S->store, caps[0], v, n, &n) == CMEE_OK)
            for (size_t i = 0; i < n; i++)
                json_array_append_new(versions,
                                      json_pack("{s:i,s:I,s:I}", "version", v[i].version,
                                                "created", (json_int_t)v[i].created, "size",
                                                (json_int_t)v[i].size));
        free(v);
    }
    int shown = (int)version;
    if (shown == 0 && json_array_size(versions))
        shown = (int)json_integer_value(
            json_object_get(json_array_get(versions, json_array_size(versions) - 1), "version"));
    httpd_respond_json(r, 200,
                       json_pack("{s:s,s:i,s:o,s:o}", "name", cmee_scenario_name(sc), "version",
                                 shown, "scenario", scenario_to_json(sc), "versions", versions));
    cmee_scenario_free(sc);
}

void h_admin_scenario_delete(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    (void)sess;
    cmee_status st = cmee_store_scenario_delete(S->store, caps[0]);
    if (st != CMEE_OK) {
        store_failed(S, r, st);
        return;
    }
    httpd_respond_json(r, 200, json_pack("{s:s,s:b}", "name", caps[0], "deleted", 1));
}

void h_admin_presets(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    json_t *arr = json_array();
    (void)S, (void)caps, (void)sess;
    for (size_t i = 0; cmee_scenario_preset_name(i); i++) {
        cmee_scenario *sc;
        if (cmee_scenario_preset(cmee_scenario_preset_name(i), NULL, &sc, NULL) != CMEE_OK)
            continue;
        json_array_append_new(arr, json_pack("{s:s,s:s,s:I}", "name", cmee_scenario_name(sc),
                                             "description", cmee_scenario_description(sc),
                                             "duration",
                                             (json_int_t)cmee_scenario_duration(sc)));
        cmee_scenario_free(sc);
    }
    httpd_respond_json(r, 200, json_pack("{s:o}", "presets", arr));
}

void h_admin_preset_get(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    cmee_scenario *sc;
    cmee_error err;
    (void)S, (void)sess;
    if (cmee_scenario_preset(caps[0], NULL, &sc, &err) != CMEE_OK) {
        httpd_respond_error(r, 404, "not_found", "preset: no preset named \"%.64s\"", caps[0]);
        return;
    }
    httpd_respond_json(r, 200, scenario_to_json(sc));
    cmee_scenario_free(sc);
}

void h_admin_sessions(srv *S, httpd_req *r, char (*caps)[64], srv_session *sess)
{
    json_t *arr = json_array();
    (void)caps, (void)sess;
    for (size_t i = 0; i < S->nsessions; i++)
        json_array_append_new(arr, session_json(S, S->sessions[i]));
    httpd_respond_json(r, 200, json_pack("{s:o}", "sessions", arr));
}

void h_admin_apply(srv *S, httpd_req *r, char (*caps)[64], srv_session *unused)
{
    static const char *const allowed[] = {"preset", "name", "version", "scenario", NULL};
    const char *preset = NULL, *name = NULL;
    int64_t version = 0;
    cmee_scenario *sc = NULL;
    cmee_error err;
    cmee_status st;
    (void)unused;

    srv_session *ss = session_find(S, caps[0]);
    if (!ss) {
        httpd_respond_error(r, 404, "not_found", "session: no session \"%.40s\"", caps[0]);
        return;
    }
    json_t *b = httpd_json_parse(r, SRV_JSON_DEPTH);
    if (!b)
        return;
    if (httpd_json_only(r, b, allowed) != 0)
        goto out;
    if (body_string(r, b, "preset", &preset) < 0 || body_string(r, b, "name", &name) < 0 ||
        body_int(r, b, "version", &version) < 0)
        goto out;
    json_t *inl = json_object_get(b, "scenario");
    if (inl && json_is_null(inl))
        inl = NULL;
    if ((preset != NULL) + (name != NULL) + (inl != NULL) != 1) {
        httpd_respond_error(r, 400, "invalid_parameter",
                            "preset: give exactly one of preset, name (a stored scenario) or "
                            "scenario (inline)");
        goto out;
    }
    if (preset) {
        if (cmee_scenario_preset(preset, NULL, &sc, &err) != CMEE_OK) {
            httpd_respond_error(r, 400, "invalid_parameter", "preset: no preset named \"%.64s\"",
                                preset);
            goto out;
        }
    } else if (name) {
        if (version < 0 || version > 1000000000) {
            httpd_respond_error(r, 400, "invalid_parameter", "version: must be >= 1");
            goto out;
        }
        st = cmee_store_scenario_load(S->store, name, (int)version, S->market, NULL, &sc);
        if (st == CMEE_ENOTFOUND) {
            httpd_respond_error(r, 400, "invalid_parameter", "name: %s",
                                cmee_store_errmsg(S->store));
            goto out;
        }
        if (st != CMEE_OK) {
            store_failed(S, r, st);
            goto out;
        }
    } else {
        if (!json_is_object(inl)) {
            httpd_respond_error(r, 400, "invalid_parameter", "scenario: expected an object");
            goto out;
        }
        size_t len;
        char *text = httpd_json_dumps(inl, &len);
        st = text ? cmee_scenario_from_json(text, len, S->market, NULL, &sc, &err) : CMEE_ENOMEM;
        free(text);
        if (st != CMEE_OK) {
            httpd_respond_error(r, 400, "invalid_scenario", "scenario.%s", err.text);
            goto out;
        }
    }
    cmee_application_id id;
    st = cmee_session_apply_scenario(ss->s, sc, &id);
    if (st != CMEE_OK) {
        httpd_respond_error(r, st == CMEE_ESTATE || st == CMEE_ERANGE ? 422 : status_http(st),
                            st == CMEE_ESTATE || st == CMEE_ERANGE ? "refused" : status_code(st),
                            "%s", cmee_session_errmsg(ss->s));
        goto out;
    }
    const cmee_market *m = cmee_session_market(ss->s);
    cmee_application a = {0};
    for (size_t i = 0; i < cmee_scenario_application_count(m); i++) {
        cmee_application x;
        if (cmee_scenario_application_at(m, i, &x) == CMEE_OK && x.id == id)
            a = x;
    }
    httpd_respond_json(r, 201,
                       json_pack("{s:s,s:I,s:s,s:I,s:I}", "session", ss->id, "application",
                                 (json_int_t)id, "name", cmee_scenario_name(sc), "t0",
                                 (json_int_t)a.t0, "end", (json_int_t)a.end));
out:
    cmee_scenario_free(sc);
    json_decref(b);
}

void h_admin_cancel(srv *S, httpd_req *r, char (*caps)[64], srv_session *unused)
{
    int64_t app = 0;
    int has;
    (void)unused;

    srv_session *ss = session_find(S, caps[0]);
    if (!ss) {
        httpd_respond_error(r, 404, "not_found", "session: no session \"%.40s\"", caps[0]);
        return;
    }
    if ((has = query_int(r, "application", &app)) < 0)
        return;
    const cmee_market *m = cmee_session_market(ss->s);
    size_t n = cmee_scenario_application_count(m);
    if (!has) {
        if (n == 0) {
            httpd_respond_error(r, 404, "not_found", "this session has no scenario applied");
            return;
        }
        cmee_application last;
        cmee_scenario_application_at(m, n - 1, &last);
        app = last.id;
    }
    if (app < 0 || app > UINT32_MAX) {
        httpd_respond_error(r, 400, "invalid_parameter", "application: not an application id");
        return;
    }
    cmee_status st = cmee_session_cancel_scenario(ss->s, (cmee_application_id)app);
    if (st == CMEE_ENOTFOUND) {
        httpd_respond_error(r, 404, "not_found", "application %lld: no such application",
                            (long long)app);
        return;
    }
    if (st != CMEE_OK) {
        httpd_respond_error(r, st == CMEE_ESTATE ? 409 : status_http(st),
                            st == CMEE_ESTATE ? "conflict" : status_code(st), "%s",
                            cmee_session_errmsg(ss->s));
        return;
    }
    cmee_application a = {0};
    m = cmee_session_market(ss->s);
    for (size_t i = 0; i < cmee_scenario_application_count(m); i++) {
        cmee_application x;
        if (cmee_scenario_application_at(m, i, &x) == CMEE_OK && x.id == (cmee_application_id)app)
            a = x;
    }
    httpd_respond_json(r, 200,
                       json_pack("{s:s,s:I,s:s,s:I,s:I,s:b}", "session", ss->id, "application",
                                 (json_int_t)app, "name", a.name, "t0", (json_int_t)a.t0, "end",
                                 (json_int_t)a.end, "cancelled", 1));
}
