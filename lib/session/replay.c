/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Replay: a session rebuilt from its configuration and its action log, and the comparison of
 * two sessions' records bit for bit.
 *
 * The replay goes through the same public calls the user made (cmee_session_order(), ...), so
 * whatever a call does — fills, margin checks, market impact — it does again. Only the clock
 * is driven: while replaying, the session's clock reads the time each action took effect
 * (cmee_session::forced), so every call processes the market exactly up to that time first.
 * Processing is chunk-invariant (the market between two times is processed in time order, the
 * same whether in one advance or many), which is what makes the reads and advances the user
 * made between actions irrelevant: they are not in the log and need not be.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "session/session_int.h"

cmee_status cmee_session_actions(const cmee_session *s, uint64_t after, cmee_session_action *buf,
                                 size_t cap, size_t *n)
{
    if (!s || !n)
        return CMEE_EINVAL;
    size_t from = after < s->nacts ? (size_t)after : s->nacts, count = s->nacts - from;
    if (!buf) {
        if (cap != 0)
            return CMEE_EINVAL;
        *n = count;
        return CMEE_OK;
    }
    if (cap < count)
        return CMEE_ENOSPACE;
    if (count > 0)
        memcpy(buf, s->acts + from, count * sizeof *buf);
    *n = count;
    return CMEE_OK;
}

bool cmee_session_replayable(const cmee_session *s)
{
    return s && s->replayable;
}

/* Re-make action @p a on @p r. @p napply counts the scenario applications so far: the k-th
 * APPLY_SCENARIO action made the source's k-th scenario record, whose JSON is the scenario. */
static cmee_status redo(cmee_session *r, const cmee_session *src, const cmee_session_action *a,
                        size_t *napply)
{
    /* A step's clock starts where it stood when the step was made: the target less the step. */
    r->forced_now = a->kind == CMEE_ACTION_STEP ? a->time - a->ms : a->time;
    switch (a->kind) {
    case CMEE_ACTION_ORDER:
        return cmee_session_order(r, &a->order, NULL);
    case CMEE_ACTION_CANCEL_ORDER:
        return cmee_session_cancel_order(r, a->ref);
    case CMEE_ACTION_PROTECT:
        return cmee_session_protect(r, a->symbol, a->stop_loss, a->take_profit);
    case CMEE_ACTION_OPTION:
        return cmee_session_option(r, &a->option, NULL);
    case CMEE_ACTION_APPLY_SCENARIO: {
        if (*napply >= src->nsapps)
            return cmee__session_fail(r, CMEE_ECORRUPT, "no scenario record for this action");
        const char *json = src->sapps[(*napply)++].json;
        cmee_scenario *sc = NULL;
        cmee_error e;
        cmee_status st = cmee_scenario_from_json(json, strlen(json), NULL, &r->al.a, &sc, &e);
        if (st != CMEE_OK)
            return cmee__session_fail(r, st, "scenario: %s", e.text);
        st = cmee_session_apply_scenario(r, sc, NULL);
        cmee_scenario_free(sc);
        return st;
    }
    case CMEE_ACTION_CANCEL_SCENARIO:
        return cmee_session_cancel_scenario(r, (cmee_application_id)a->ref);
    case CMEE_ACTION_PAUSE:
        return cmee_session_pause(r);
    case CMEE_ACTION_RESUME:
        return cmee_session_resume(r);
    case CMEE_ACTION_SET_SPEED:
        return cmee_session_set_speed(r, a->speed);
    case CMEE_ACTION_STEP:
        return cmee_session_step(r, a->ms);
    case CMEE_ACTION_SEEK:
        return cmee_session_seek(r, a->ms);
    }
    return cmee__session_fail(r, CMEE_ECORRUPT, "unknown action kind %d", (int)a->kind);
}

/* The replay; on an action refused, @p bad (if not NULL) gets its index and status and the
 * call fails with CMEE_ECORRUPT. */
static cmee_status replay(const cmee_session *s, const cmee_allocator *alloc, cmee_session **out,
                          cmee_error *err, size_t *bad, cmee_status *bad_st, char *bad_msg,
                          size_t bad_cap)
{
    if (!s->replayable) {
        cmee__session_set_err(err, CMEE_ESTATE, "session",
                "session \"%s\": stored before the action log existed (store schema version 6 "
                "or older), so what its user did is not known exactly: it cannot be replayed "
                "until it is reset",
                s->cfg.id);
        return CMEE_ESTATE;
    }
    cmee_session_config cfg = s->cfg;
    cfg.scenario = NULL; /* its scenario is the log's first action */
    cmee_session *r = NULL;
    cmee_status st = cmee_session_new(&cfg, NULL, alloc, &r, err);
    if (st != CMEE_OK)
        return st;
    /* The replay is of the epoch: its records carry its number. */
    r->epoch = s->epoch;
    for (size_t i = 0; i < r->nledger; i++)
        r->ledger[i].epoch = s->epoch;
    r->forced = true;
    r->forced_now = cfg.start_time;
    size_t napply = 0;
    for (size_t i = 0; i < s->nacts; i++) {
        const cmee_session_action *a = &s->acts[i];
        st = redo(r, s, a, &napply);
        if (st != CMEE_OK) {
            if (st == CMEE_ENOMEM) {
                cmee__session_set_err(err, st, "", "out of memory");
            } else {
                cmee__session_set_err(err, CMEE_ECORRUPT, "actions",
                        "action %" PRIu64 " (%s at %" PRId64 "): refused on replay: %s: %s",
                        a->seq, cmee_action_kind_name(a->kind) ? cmee_action_kind_name(a->kind)
                                                                : "?",
                        a->time, cmee_status_name(st), r->errmsg);
                if (bad) {
                    *bad = i;
                    *bad_st = st;
                    cmee__fmt(bad_msg, bad_cap, "%s", r->errmsg);
                }
                st = CMEE_ECORRUPT;
            }
            cmee_session_free(r);
            return st;
        }
    }
    /* The time passed after the last action. */
    r->forced_now = s->processed;
    st = cmee_session_advance(r, NULL);
    if (st != CMEE_OK && st != CMEE_ERANGE) {
        cmee__session_set_err(err, st, "", "%s", r->errmsg);
        cmee_session_free(r);
        return st;
    }
    r->forced = false;
    r->base_sim = r->processed;
    r->base_wall = r->wall(r->wall_ud);
    r->errmsg[0] = '\0';
    *out = r;
    return CMEE_OK;
}

cmee_status cmee_session_replay(const cmee_session *s, const cmee_allocator *alloc,
                                cmee_session **out, cmee_error *err)
{
    if (!s || !out) {
        cmee__session_set_err(err, CMEE_EINVAL, !s ? "s" : "out", "%s: must not be NULL",
                              !s ? "s" : "out");
        return CMEE_EINVAL;
    }
    return replay(s, alloc, out, err, NULL, NULL, NULL, 0);
}

/* ---- comparing ------------------------------------------------------------------------------ */

typedef struct cmp {
    cmee_replay_result *r;
    const char *record;
    uint64_t index;
} cmp;

static bool differ(cmp *c, const char *field, const char *fmt_a, const char *fmt_b)
{
    cmee_replay_result *r = c->r;
    r->same = false;
    cmee__fmt(r->record, sizeof r->record, "%s", c->record);
    r->index = c->index;
    cmee__fmt(r->field, sizeof r->field, "%s", field);
    cmee__fmt(r->original, sizeof r->original, "%s", fmt_a);
    cmee__fmt(r->replayed, sizeof r->replayed, "%s", fmt_b);
    return true;
}

static bool d_i(cmp *c, const char *field, int64_t a, int64_t b)
{
    if (a == b)
        return false;
    char x[32], y[32];
    cmee__fmt(x, sizeof x, "%" PRId64, a);
    cmee__fmt(y, sizeof y, "%" PRId64, b);
    return differ(c, field, x, y);
}

static bool d_u(cmp *c, const char *field, uint64_t a, uint64_t b)
{
    if (a == b)
        return false;
    char x[32], y[32];
    cmee__fmt(x, sizeof x, "%" PRIu64, a);
    cmee__fmt(y, sizeof y, "%" PRIu64, b);
    return differ(c, field, x, y);
}

/* Doubles by their bits: -0.0 and 0.0 differ, and so do two NaNs of different payloads. */
static bool d_f(cmp *c, const char *field, double a, double b)
{
    if (memcmp(&a, &b, sizeof a) == 0)
        return false;
    char x[40], y[40];
    cmee__fmt(x, sizeof x, "%.17g", a);
    cmee__fmt(y, sizeof y, "%.17g", b);
    return differ(c, field, x, y);
}

static bool d_s(cmp *c, const char *field, const char *a, const char *b, size_t cap)
{
    if (strncmp(a, b, cap) == 0)
        return false;
    char x[64], y[64];
    cmee__fmt(x, sizeof x, "%.*s", (int)cap, a);
    cmee__fmt(y, sizeof y, "%.*s", (int)cap, b);
    return differ(c, field, x, y);
}

static bool d_count(cmp *c, const char *record, size_t a, size_t b)
{
    c->record = record;
    c->index = 0;
    return d_u(c, "count", a, b);
}

static bool cmp_action(cmp *c, const cmee_session_action *a, const cmee_session_action *b)
{
    c->record = "action";
    c->index = a->seq;
    const cmee_order_request *p = &a->order, *q = &b->order;
    const cmee_option_request *o = &a->option, *v = &b->option;
    return d_u(c, "seq", a->seq, b->seq) || d_i(c, "time", a->time, b->time) ||
           d_i(c, "kind", a->kind, b->kind) ||
           d_s(c, "order.symbol", p->symbol, q->symbol, CMEE_SYMBOL_MAX) ||
           d_i(c, "order.side", p->side, q->side) || d_i(c, "order.type", p->type, q->type) ||
           d_f(c, "order.quantity", p->quantity, q->quantity) ||
           d_f(c, "order.price", p->price, q->price) ||
           d_f(c, "order.stop_loss", p->stop_loss, q->stop_loss) ||
           d_f(c, "order.take_profit", p->take_profit, q->take_profit) ||
           d_s(c, "option.symbol", o->symbol, v->symbol, CMEE_SYMBOL_MAX) ||
           d_i(c, "option.kind", o->kind, v->kind) || d_i(c, "option.stake", o->stake, v->stake) ||
           d_i(c, "option.duration", o->duration, v->duration) ||
           d_f(c, "option.payout", o->payout, v->payout) ||
           d_s(c, "symbol", a->symbol, b->symbol, CMEE_SYMBOL_MAX) ||
           d_f(c, "stop_loss", a->stop_loss, b->stop_loss) ||
           d_f(c, "take_profit", a->take_profit, b->take_profit) || d_u(c, "ref", a->ref, b->ref) ||
           d_f(c, "speed", a->speed, b->speed) || d_i(c, "ms", a->ms, b->ms) ||
           d_s(c, "scenario", a->scenario, b->scenario, CMEE_SCENARIO_NAME_MAX);
}

static bool cmp_order(cmp *c, const cmee_order *a, const cmee_order *b)
{
    c->record = "order";
    c->index = a->id;
    return d_u(c, "id", a->id, b->id) || d_s(c, "symbol", a->symbol, b->symbol, CMEE_SYMBOL_MAX) ||
           d_i(c, "side", a->side, b->side) || d_i(c, "type", a->type, b->type) ||
           d_i(c, "state", a->state, b->state) || d_f(c, "quantity", a->quantity, b->quantity) ||
           d_f(c, "price", a->price, b->price) || d_f(c, "stop_loss", a->stop_loss, b->stop_loss) ||
           d_f(c, "take_profit", a->take_profit, b->take_profit) ||
           d_i(c, "created", a->created, b->created) || d_i(c, "closed", a->closed, b->closed) ||
           d_f(c, "fill_price", a->fill_price, b->fill_price) || d_i(c, "fee", a->fee, b->fee) ||
           d_u(c, "epoch", a->epoch, b->epoch);
}

static bool cmp_option(cmp *c, const cmee_option *a, const cmee_option *b)
{
    c->record = "option";
    c->index = a->id;
    return d_u(c, "id", a->id, b->id) || d_s(c, "symbol", a->symbol, b->symbol, CMEE_SYMBOL_MAX) ||
           d_i(c, "kind", a->kind, b->kind) || d_i(c, "state", a->state, b->state) ||
           d_i(c, "stake", a->stake, b->stake) || d_f(c, "payout", a->payout, b->payout) ||
           d_i(c, "opened", a->opened, b->opened) || d_i(c, "expires", a->expires, b->expires) ||
           d_f(c, "strike", a->strike, b->strike) ||
           d_f(c, "settle_price", a->settle_price, b->settle_price) ||
           d_i(c, "paid", a->paid, b->paid) || d_u(c, "epoch", a->epoch, b->epoch);
}

static bool cmp_ledger(cmp *c, const cmee_ledger_entry *a, const cmee_ledger_entry *b)
{
    c->record = "ledger";
    c->index = a->seq;
    return d_u(c, "seq", a->seq, b->seq) || d_i(c, "time", a->time, b->time) ||
           d_i(c, "kind", a->kind, b->kind) || d_i(c, "amount", a->amount, b->amount) ||
           d_i(c, "balance", a->balance, b->balance) || d_u(c, "ref", a->ref, b->ref) ||
           d_s(c, "symbol", a->symbol, b->symbol, CMEE_SYMBOL_MAX) ||
           d_u(c, "epoch", a->epoch, b->epoch);
}

static bool cmp_position(cmp *c, size_t i, const cmee__pos *a, const cmee__pos *b)
{
    c->record = "position";
    c->index = i + 1;
    return d_s(c, "symbol", a->symbol, b->symbol, CMEE_SYMBOL_MAX) ||
           d_f(c, "quantity", a->qty, b->qty) || d_f(c, "avg_price", a->avg, b->avg) ||
           d_i(c, "realised", a->realised, b->realised) || d_f(c, "stop_loss", a->sl, b->sl) ||
           d_f(c, "take_profit", a->tp, b->tp);
}

cmee_status cmee_session_compare(const cmee_session *a, const cmee_session *b,
                                 cmee_replay_result *out)
{
    if (!a || !b || !out)
        return CMEE_EINVAL;
    cmee_replay_result r;
    memset(&r, 0, sizeof r);
    r.same = true;
    r.orders = a->norders;
    r.options = a->noptions;
    r.ledger_entries = a->nledger;
    cmp c = {&r, "", 0};
    bool d = d_count(&c, "action", a->nacts, b->nacts);
    for (size_t i = 0; !d && i < a->nacts; i++)
        d = cmp_action(&c, &a->acts[i], &b->acts[i]);
    d = d || d_count(&c, "order", a->norders, b->norders);
    for (size_t i = 0; !d && i < a->norders; i++)
        d = cmp_order(&c, &a->orders[i], &b->orders[i]);
    d = d || d_count(&c, "option", a->noptions, b->noptions);
    for (size_t i = 0; !d && i < a->noptions; i++)
        d = cmp_option(&c, &a->options[i], &b->options[i]);
    d = d || d_count(&c, "ledger", a->nledger, b->nledger);
    for (size_t i = 0; !d && i < a->nledger; i++)
        d = cmp_ledger(&c, &a->ledger[i], &b->ledger[i]);
    d = d || d_count(&c, "position", a->npos, b->npos);
    for (size_t i = 0; !d && i < a->npos; i++)
        d = cmp_position(&c, i, &a->pos[i], &b->pos[i]);
    if (!d) {
        c.record = "account";
        c.index = 0;
        d = d_u(&c, "epoch", a->epoch, b->epoch) ||
            d_i(&c, "balance", a->balance, b->balance) ||
            d_i(&c, "processed", a->processed, b->processed) ||
            d_i(&c, "margin_call", a->margin_called, b->margin_called);
    }
    (void)d;
    *out = r;
    return CMEE_OK;
}

cmee_status cmee_session_replay_check(const cmee_session *s, cmee_replay_result *out)
{
    if (!s || !out)
        return CMEE_EINVAL;
    cmee_session *r = NULL;
    cmee_error err;
    size_t bad = 0;
    cmee_status bad_st = CMEE_OK;
    char msg[64] = "";
    cmee_status st = replay(s, &s->al.a, &r, &err, &bad, &bad_st, msg, sizeof msg);
    if (st == CMEE_ECORRUPT && bad_st != CMEE_OK) {
        cmee_replay_result res;
        memset(&res, 0, sizeof res);
        res.actions = bad;
        cmee__fmt(res.record, sizeof res.record, "action");
        res.index = s->acts[bad].seq;
        cmee__fmt(res.field, sizeof res.field, "status");
        cmee__fmt(res.original, sizeof res.original, "%s", cmee_status_name(CMEE_OK));
        cmee__fmt(res.replayed, sizeof res.replayed, "%s: %s", cmee_status_name(bad_st), msg);
        *out = res;
        return CMEE_OK;
    }
    if (st != CMEE_OK)
        return st;
    cmee_replay_result res;
    cmee_session_compare(s, r, &res);
    res.actions = s->nacts;
    cmee_session_free(r);
    *out = res;
    return CMEE_OK;
}
