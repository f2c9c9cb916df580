/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Sessions: the clock, the market view and the paper-trading account. Persistence is in
 * persist.c; this file keeps the state in memory and calls it once per logical change.
 *
 * Every state-changing call follows one shape: advance to the clock's now (fills and
 * settlements in time order), check the request against the state (refusals change nothing),
 * apply it, then commit — one store transaction — and only then tell the listener.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scenario/scenario_int.h"
#include "session/session_int.h"

#define MIN_MS INT64_C(60000)
#define DAY_MS INT64_C(86400000)
#define MAX_NOTIONAL 1e10 /* currency units per fill: keeps money units inside int64 */

/* ---- small helpers ---------------------------------------------------------------------- */

cmee_status cmee__session_fail(cmee_session *s, cmee_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cmee__vfmt(s->errmsg, sizeof s->errmsg, fmt, ap);
    va_end(ap);
    return st;
}

static int64_t money(double currency_units)
{
    return (int64_t)llround(currency_units * (double)CMEE_MONEY_SCALE);
}

static double units(int64_t m)
{
    return (double)m / (double)CMEE_MONEY_SCALE;
}

static int64_t real_wall(void *ud)
{
    (void)ud;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static bool valid_id(const char *id)
{
    size_t n = strnlen(id, CMEE_SESSION_ID_MAX);
    if (n == 0 || n >= CMEE_SESSION_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool valid_currency(const char *c)
{
    size_t n = strnlen(c, CMEE_CURRENCY_MAX);
    if (n == 0 || n >= CMEE_CURRENCY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (c[i] < 'A' || c[i] > 'Z')
            return false;
    return true;
}

void cmee__session_set_err(cmee_error *err, cmee_status st, const char *field, const char *fmt,
                           ...)
{
    if (!err)
        return;
    err->status = st;
    cmee__fmt(err->field, sizeof err->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    cmee__vfmt(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
}

/* Generated ids: 32 hex digits from the wall clock, the address of the session and a counter
 * hashed together (unique enough for a simulator; pass your own id for anything stricter). */
static void generate_id(char *out, const void *salt)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    uint64_t a = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
    uint64_t b = (uint64_t)(uintptr_t)salt ^ ((uint64_t)clock() << 32);
    for (int i = 0; i < 3; i++) { /* splitmix64 rounds */
        a += UINT64_C(0x9e3779b97f4a7c15);
        uint64_t z = a ^ b;
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        b = z ^ (z >> 31);
    }
    snprintf(out, CMEE_SESSION_ID_MAX, "%016llx%016llx", (unsigned long long)a,
             (unsigned long long)b);
}

_Static_assert(CMEE_CLASS_OTHER + 1 == CMEE_SESSION_CLASSES,
               "max_leverage has one cap per asset class");

void cmee_session_config_init(cmee_session_config *c)
{
    if (!c)
        return;
    memset(c, 0, sizeof *c);
    c->seed = 42;
    c->start_time = CMEE_ANCHOR_TIME;
    c->speed = 1.0;
    c->initial_balance = 10000 * CMEE_MONEY_SCALE;
    memcpy(c->currency, "USD", 4);
    c->fee_rate = 0.001;
    c->spread_bps = 2.0;
    c->option_payout = 0.8;
    c->fill_model = CMEE_FILL_BOOK;
    /* A cash account unless asked; the caps are those of retail brokers' usual limits. */
    static const double caps[CMEE_SESSION_CLASSES] = {5, 50, 20, 20, 5, 10, 5};
    c->leverage = 1.0;
    memcpy(c->max_leverage, caps, sizeof caps);
    c->margin_call_level = 1.0;
    c->maintenance_level = 0.5;
    cmee__impact_config_init(&c->impact);
}

void cmee_order_request_init(cmee_order_request *r, const char *symbol)
{
    if (!r)
        return;
    memset(r, 0, sizeof *r);
    if (symbol)
        snprintf(r->symbol, sizeof r->symbol, "%s", symbol);
}

void cmee_option_request_init(cmee_option_request *r, const char *symbol)
{
    if (!r)
        return;
    memset(r, 0, sizeof *r);
    if (symbol)
        snprintf(r->symbol, sizeof r->symbol, "%s", symbol);
    r->duration = MIN_MS;
}

const char *cmee_session_event_kind_name(cmee_session_event_kind kind)
{
    static const char *const names[] = {"order_filled",     "order_rejected",
                                        "option_settled",   "scenario_applied",
                                        "scenario_cancelled", "clock_changed",
                                        "margin_call",      "liquidation"};
    return (unsigned)kind < sizeof names / sizeof *names ? names[kind] : NULL;
}

size_t cmee_sizeof_session_struct(const char *name)
{
    static const struct {
        const char *name;
        size_t size;
    } t[] = {
        {"cmee_session_config", sizeof(cmee_session_config)},
        {"cmee_clock", sizeof(cmee_clock)},
        {"cmee_quote", sizeof(cmee_quote)},
        {"cmee_order_request", sizeof(cmee_order_request)},
        {"cmee_order", sizeof(cmee_order)},
        {"cmee_position", sizeof(cmee_position)},
        {"cmee_option_request", sizeof(cmee_option_request)},
        {"cmee_option", sizeof(cmee_option)},
        {"cmee_ledger_entry", sizeof(cmee_ledger_entry)},
        {"cmee_account", sizeof(cmee_account)},
        {"cmee_session_event", sizeof(cmee_session_event)},
        {"cmee_impact_config", sizeof(cmee_impact_config)},
        {"cmee_session_action", sizeof(cmee_session_action)},
        {"cmee_replay_result", sizeof(cmee_replay_result)},
    };
    for (size_t i = 0; name && i < sizeof t / sizeof *t; i++)
        if (strcmp(t[i].name, name) == 0)
            return t[i].size;
    return 0;
}

/* ---- construction ----------------------------------------------------------------------- */

void cmee__session_symbols_text(const cmee_session_config *c, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < c->nsymbols && i < CMEE_SESSION_MAX_SYMBOLS; i++) {
        int k = snprintf(buf + used, cap - used, "%s%.*s", i ? " " : "", CMEE_SYMBOL_MAX - 1,
                         c->symbols[i]);
        if (k < 0 || (size_t)k >= cap - used)
            break;
        used += (size_t)k;
    }
}

bool cmee__session_symbols_parse(cmee_session_config *c, const char *text)
{
    c->nsymbols = 0;
    memset(c->symbols, 0, sizeof c->symbols);
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || len >= CMEE_SYMBOL_MAX || c->nsymbols == CMEE_SESSION_MAX_SYMBOLS)
            return false;
        memcpy(c->symbols[c->nsymbols++], p, len);
        p += len + (e ? 1 : 0);
    }
    return true;
}

static cmee_status validate_config(const cmee_session_config *c, cmee_error *err)
{
#define BAD(field, ...)                                                                            \
    do {                                                                                           \
        cmee__session_set_err(err, CMEE_EINVAL, field, __VA_ARGS__);                               \
        return CMEE_EINVAL;                                                                        \
    } while (0)
    if (c->id[0] && !valid_id(c->id))
        BAD("id", "id: must be 1 to 39 characters from A-Z a-z 0-9 _ -, got \"%.*s\"",
            CMEE_SESSION_ID_MAX, c->id);
    if (strnlen(c->label, CMEE_SESSION_LABEL_MAX) >= CMEE_SESSION_LABEL_MAX)
        BAD("label", "label: must be NUL-terminated within %d bytes", CMEE_SESSION_LABEL_MAX);
    if (c->start_time < CMEE_TIME_MIN || c->start_time >= CMEE_TIME_MAX - DAY_MS) {
        cmee__session_set_err(err, CMEE_ERANGE, "start_time",
                              "start_time: %lld is outside the series", (long long)c->start_time);
        return CMEE_ERANGE;
    }
    if (!(c->speed > 0 && c->speed <= 1e6))
        BAD("speed", "speed: must be in (0, 1e6], got %g", c->speed);
    if (c->initial_balance <= 0 || c->initial_balance > INT64_C(10000000000) * CMEE_MONEY_SCALE)
        BAD("initial_balance", "initial_balance: must be in (0, 1e10] currency units, got %.8f",
            units(c->initial_balance));
    if (!valid_currency(c->currency))
        BAD("currency", "currency: must be 1 to 7 letters A-Z, got \"%.*s\"", CMEE_CURRENCY_MAX,
            c->currency);
    if (!(c->fee_rate >= 0 && c->fee_rate <= 0.1))
        BAD("fee_rate", "fee_rate: must be in [0, 0.1], got %g", c->fee_rate);
    if (!(c->spread_bps >= 0 && c->spread_bps <= 1000))
        BAD("spread_bps", "spread_bps: must be in [0, 1000], got %g", c->spread_bps);
    if (!(c->option_payout > 0 && c->option_payout <= 10))
        BAD("option_payout", "option_payout: must be in (0, 10], got %g", c->option_payout);
    if (c->fill_model != CMEE_FILL_QUOTE && c->fill_model != CMEE_FILL_BOOK)
        BAD("fill_model", "fill_model: must be quote (0) or book (1), got %d", (int)c->fill_model);
    if (!(c->leverage >= 1 && c->leverage <= 1000))
        BAD("leverage", "leverage: must be in [1, 1000], got %g", c->leverage);
    for (int i = 0; i < CMEE_SESSION_CLASSES; i++)
        if (!(c->max_leverage[i] >= 1 && c->max_leverage[i] <= 1000))
            BAD("max_leverage", "max_leverage[%s]: must be in [1, 1000], got %g",
                cmee_asset_class_name((cmee_asset_class)i), c->max_leverage[i]);
    if (!(c->margin_call_level >= 0 && c->margin_call_level <= 10))
        BAD("margin_call_level", "margin_call_level: must be in [0, 10], got %g",
            c->margin_call_level);
    if (!(c->maintenance_level >= 0 && c->maintenance_level <= 1) ||
        (c->margin_call_level > 0 && c->maintenance_level > c->margin_call_level))
        BAD("maintenance_level",
            "maintenance_level: must be in [0, 1] and at most margin_call_level (%g), got %g",
            c->margin_call_level, c->maintenance_level);
    if (cmee__impact_validate(&c->impact, err) != CMEE_OK)
        return CMEE_EINVAL;
    if (c->nsymbols > CMEE_SESSION_MAX_SYMBOLS)
        BAD("nsymbols", "nsymbols: at most %d, got %zu", CMEE_SESSION_MAX_SYMBOLS, c->nsymbols);
    for (size_t i = 0; i < c->nsymbols; i++) {
        if (strnlen(c->symbols[i], CMEE_SYMBOL_MAX) == 0 ||
            strnlen(c->symbols[i], CMEE_SYMBOL_MAX) >= CMEE_SYMBOL_MAX)
            BAD("symbols", "symbols[%zu]: must be a symbol name", i);
        for (size_t j = 0; j < i; j++)
            if (strncmp(c->symbols[i], c->symbols[j], CMEE_SYMBOL_MAX) == 0)
                BAD("symbols", "symbols[%zu]: \"%s\" is listed twice", i, c->symbols[i]);
    }
#undef BAD
    return CMEE_OK;
}

cmee_status cmee__session_reserve(cmee_session *s, size_t ledger, size_t orders, size_t options,
                                  size_t positions)
{
#define GROW(arr, n, cap, want)                                                                    \
    if ((n) + (want) > (cap)) {                                                                    \
        size_t nc = (cap) ? (cap) : 8;                                                             \
        while (nc < (n) + (want))                                                                  \
            nc *= 2;                                                                               \
        void *p = cmee__realloc(&s->al, (arr), nc * sizeof *(arr));                                \
        if (!p)                                                                                    \
            return CMEE_ENOMEM;                                                                    \
        (arr) = p;                                                                                 \
        (cap) = nc;                                                                                \
    }
    GROW(s->ledger, s->nledger, s->capledger, ledger);
    if (s->norders + orders > s->caporders) {
        size_t cap = s->caporders;
        GROW(s->orders, s->norders, cap, orders);
        bool *d = cmee__realloc(&s->al, s->order_dirty, cap * sizeof *d);
        if (!d)
            return CMEE_ENOMEM; /* orders grew, caporders not yet: retried next time */
        s->order_dirty = d;
        s->caporders = cap;
    }
    if (s->noptions + options > s->capoptions) {
        size_t cap = s->capoptions;
        GROW(s->options, s->noptions, cap, options);
        bool *d = cmee__realloc(&s->al, s->option_dirty, cap * sizeof *d);
        if (!d)
            return CMEE_ENOMEM;
        s->option_dirty = d;
        s->capoptions = cap;
    }
    GROW(s->pos, s->npos, s->cappos, positions);
    GROW(s->rsym, s->nrsym, s->caprsym, positions);
#undef GROW
    return CMEE_OK;
}

static void free_contents(cmee_session *s)
{
    for (size_t i = 0; i < s->nsapps; i++)
        cmee__free(&s->al, s->sapps[i].json);
    cmee__free(&s->al, s->sapps);
    cmee__free(&s->al, s->ledger);
    cmee__free(&s->al, s->orders);
    cmee__free(&s->al, s->order_dirty);
    cmee__free(&s->al, s->options);
    cmee__free(&s->al, s->option_dirty);
    cmee__free(&s->al, s->pos);
    cmee__free(&s->al, s->rsym);
    cmee__free(&s->al, s->events);
    cmee__free(&s->al, s->acts);
    cmee__session_free_past(s);
    cmee_market_free(s->market);
}

void cmee_session_free(cmee_session *s)
{
    if (!s)
        return;
    cmee__alloc al = s->al;
    free_contents(s);
    cmee__free(&al, s);
}

cmee_status cmee__session_shell(const cmee_session_config *cfg, cmee_store *store,
                                const cmee_allocator *alloc, cmee_session **out,
                                cmee_error *err)
{
    cmee__alloc al;
    if (cmee__alloc_init(&al, alloc) != CMEE_OK) {
        cmee__session_set_err(err, CMEE_EINVAL, "alloc", "alloc: every function must be set");
        return CMEE_EINVAL;
    }
    cmee_status st = validate_config(cfg, err);
    if (st != CMEE_OK)
        return st;
    cmee_session *s = cmee__calloc(&al, 1, sizeof *s);
    if (!s) {
        cmee__session_set_err(err, CMEE_ENOMEM, "", "out of memory");
        return CMEE_ENOMEM;
    }
    s->al = al;
    s->cfg = *cfg;
    s->cfg.scenario = NULL;
    /* A level of -0.0 is 0 (none); the store keeps +0.0, so the session does too. */
    if (s->cfg.margin_call_level == 0)
        s->cfg.margin_call_level = 0.0;
    if (s->cfg.maintenance_level == 0)
        s->cfg.maintenance_level = 0.0;
    if (!s->cfg.id[0])
        generate_id(s->cfg.id, s);
    s->store = store;
    s->wall = real_wall;
    st = cmee_market_new(cfg->seed, alloc, &s->market);
    if (st != CMEE_OK) {
        cmee__free(&al, s);
        cmee__session_set_err(err, st, "", "out of memory creating the market");
        return st;
    }
    for (size_t i = 0; i < cfg->nsymbols; i++) {
        cmee_symbol_spec spec;
        if (cmee_market_symbol(s->market, cfg->symbols[i], &spec) != CMEE_OK) {
            cmee__session_set_err(err, CMEE_ENOTFOUND, "symbols",
                                  "symbols[%zu]: unknown symbol \"%.*s\"", i, CMEE_SYMBOL_MAX,
                                  cfg->symbols[i]);
            cmee_market_free(s->market);
            cmee__free(&al, s);
            return CMEE_ENOTFOUND;
        }
    }
    s->epoch = 1;
    s->base_sim = s->processed = cfg->start_time;
    s->base_wall = s->wall(s->wall_ud);
    s->speed = cfg->speed;
    s->paused = cfg->paused || cfg->manual_clock;
    s->manual = cfg->manual_clock;
    *out = s;
    return CMEE_OK;
}

/* ---- events ------------------------------------------------------------------------------- */

static void raise_event(cmee_session *s, cmee_session_event_kind kind, int64_t time,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void raise_event(cmee_session *s, cmee_session_event_kind kind, int64_t time,
                        const char *fmt, ...)
{
    if (!s->listener)
        return;
    if (s->nevents == s->capevents) {
        size_t cap = s->capevents ? 2 * s->capevents : 8;
        cmee__sev *p = cmee__realloc(&s->al, s->events, cap * sizeof *p);
        if (!p)
            return; /* an event lost to memory pressure; the state itself is complete */
        s->events = p;
        s->capevents = cap;
    }
    cmee__sev *e = &s->events[s->nevents++];
    e->kind = kind;
    e->time = time;
    va_list ap;
    va_start(ap, fmt);
    cmee__vfmt(e->json, sizeof e->json, fmt, ap);
    va_end(ap);
}

static void deliver_events(cmee_session *s)
{
    size_t n = s->nevents;
    s->nevents = 0;
    for (size_t i = 0; i < n && s->listener; i++) {
        cmee_session_event ev = {s->events[i].kind, s->events[i].time, s->cfg.id,
                                 s->events[i].json};
        s->listener(s->listener_ud, &ev);
    }
}

void cmee_session_set_listener(cmee_session *s, void (*fn)(void *ud, const cmee_session_event *ev),
                               void *ud)
{
    if (!s)
        return;
    s->listener = fn;
    s->listener_ud = ud;
}

/* Commit the call's changes (one transaction) and deliver its events; on a failed write the
 * session goes back to its last committed state. */
static cmee_status commit(cmee_session *s)
{
    cmee_status st = CMEE_OK;
    if (s->store) {
        st = cmee__session_persist(s, false);
        if (st != CMEE_OK) {
            char msg[CMEE__ERRMSG_MAX];
            cmee__fmt(msg, sizeof msg, "%s", s->errmsg);
            s->nevents = 0;
            if (cmee__session_restore(s) != CMEE_OK)
                s->broken = true; /* memory and store disagree: refuse until reloaded */
            cmee__fmt(s->errmsg, sizeof s->errmsg, "%s", msg);
            return st;
        }
    } else {
        if (s->norders > 0)
            memset(s->order_dirty, 0, s->norders * sizeof *s->order_dirty);
        if (s->noptions > 0)
            memset(s->option_dirty, 0, s->noptions * sizeof *s->option_dirty);
        s->saved_ledger = s->nledger;
        s->saved_sapps = s->nsapps;
        s->saved_acts = s->nacts;
        s->sapps_dirty = false;
    }
    deliver_events(s);
    return st;
}

/* ---- the action log ---------------------------------------------------------------------- */

const char *cmee_action_kind_name(cmee_action_kind kind)
{
    static const char *const names[] = {"order",     "cancel_order",    "protect",
                                        "option",    "apply_scenario",  "cancel_scenario",
                                        "pause",     "resume",          "set_speed",
                                        "step",      "seek"};
    return (unsigned)kind < sizeof names / sizeof *names ? names[kind] : NULL;
}

cmee_status cmee__session_reserve_action(cmee_session *s)
{
    if (s->nacts < s->capacts)
        return CMEE_OK;
    size_t cap = s->capacts ? 2 * s->capacts : 16;
    cmee_session_action *p = cmee__realloc(&s->al, s->acts, cap * sizeof *p);
    if (!p)
        return cmee__session_fail(s, CMEE_ENOMEM, "out of memory");
    s->acts = p;
    s->capacts = cap;
    return CMEE_OK;
}

/* Append an action taking effect at @p t; room was reserved before the call changed anything,
 * and it is appended once the change is made, just before the commit. */
static cmee_session_action *log_action(cmee_session *s, cmee_action_kind kind, int64_t t)
{
    cmee_session_action *a = &s->acts[s->nacts++];
    memset(a, 0, sizeof *a);
    a->seq = s->nacts;
    a->time = t;
    a->kind = kind;
    return a;
}

/* ---- the clock -------------------------------------------------------------------------- */

/* The clock's reading at wall time @p wall. */
static int64_t clock_at(const cmee_session *s, int64_t wall)
{
    int64_t now = s->base_sim;
    if (s->forced) {
        now = s->forced_now; /* a replay sets the time of each action */
    } else if (!s->paused && !s->manual) {
        double d = (double)(wall - s->base_wall) * s->speed;
        if (d > 0)
            now += d < 9e15 ? (int64_t)d : INT64_C(9000000000000000);
    }
    if (now < s->processed)
        now = s->processed; /* never backward, whatever the wall clock does */
    int64_t last = CMEE_TIME_MAX - DAY_MS;
    return now > last ? last : now;
}

static int64_t clock_now(const cmee_session *s)
{
    return clock_at(s, s->wall(s->wall_ud));
}

/* Fix the clock at its current value (before a change of speed or pause); one wall reading,
 * so no sim time slips between the two fields. */
static void rebase(cmee_session *s)
{
    int64_t wall = s->wall(s->wall_ud);
    s->base_sim = clock_at(s, wall);
    s->base_wall = wall;
}

cmee_status cmee_session_clock(const cmee_session *s, cmee_clock *out)
{
    if (!s || !out)
        return CMEE_EINVAL;
    out->now = clock_now(s);
    out->speed = s->speed;
    out->paused = s->paused;
    out->manual = s->manual;
    out->processed = s->processed;
    out->epoch = s->epoch;
    return CMEE_OK;
}

void cmee_session_set_wall_clock(cmee_session *s, int64_t (*now_ms)(void *ud), void *ud)
{
    if (!s)
        return;
    rebase(s);
    s->wall = now_ms ? now_ms : real_wall;
    s->wall_ud = now_ms ? ud : NULL;
    s->base_wall = s->wall(s->wall_ud);
}

/* ---- prices --------------------------------------------------------------------------------- */

typedef struct symctx {
    cmee_symbol_spec spec;
    double half;   /* half spread as a fraction */
    double pow10;
    int64_t tick_units;
} symctx;

static cmee_status symbol_ctx(cmee_session *s, const char *symbol, symctx *c)
{
    if (!symbol)
        return cmee__session_fail(s, CMEE_EINVAL, "symbol: must not be NULL");
    if (cmee_market_symbol(s->market, symbol, &c->spec) != CMEE_OK)
        return cmee__session_fail(s, CMEE_ENOTFOUND, "symbol: unknown symbol \"%.*s\"",
                                  CMEE_SYMBOL_MAX, symbol);
    if (s->cfg.nsymbols > 0) {
        bool listed = false;
        for (size_t i = 0; i < s->cfg.nsymbols && !listed; i++)
            listed = strncmp(s->cfg.symbols[i], symbol, CMEE_SYMBOL_MAX) == 0;
        if (!listed)
            return cmee__session_fail(s, CMEE_ENOTFOUND,
                                      "symbol: %.*s is not one of this session's symbols",
                                      CMEE_SYMBOL_MAX, symbol);
    }
    c->half = s->cfg.spread_bps / 20000.0;
    c->pow10 = pow(10.0, c->spec.precision);
    c->tick_units = llround(c->spec.tick_size * c->pow10);
    return CMEE_OK;
}

/* Ask and bid of a mid price: on the tick grid, the ask rounded up and the bid down. */
static double ask_of(const symctx *c, double mid)
{
    if (c->half == 0)
        return mid;
    double k = ceil(mid * (1.0 + c->half) / c->spec.tick_size - 1e-9);
    return k * (double)c->tick_units / c->pow10;
}

static double bid_of(const symctx *c, double mid)
{
    if (c->half == 0)
        return mid;
    double k = floor(mid * (1.0 - c->half) / c->spec.tick_size + 1e-9);
    if (k < 1)
        k = 1;
    return k * (double)c->tick_units / c->pow10;
}

static cmee_status mid_at(cmee_session *s, const char *symbol, int64_t t, double *p)
{
    if (cmee_market_price(s->market, symbol, t, p) != CMEE_OK)
        return cmee__session_fail(s, CMEE_EINTERNAL, "price of %s at %lld: %s", symbol,
                                  (long long)t, cmee_market_errmsg(s->market));
    return CMEE_OK;
}

/* ---- the book fill model -------------------------------------------------------------------- */

static bool book_model(const cmee_session *s)
{
    return s->cfg.fill_model == CMEE_FILL_BOOK;
}

/* The market's order book in force at @p t, every level it shows. */
static cmee_status book_at(cmee_session *s, const char *symbol, int64_t t, cmee_book *b)
{
    if (cmee_market_book(s->market, symbol, t, CMEE_BOOK_MAX_DEPTH, b) != CMEE_OK)
        return cmee__session_fail(s, CMEE_EINTERNAL, "book of %s at %lld: %s", symbol,
                                  (long long)t, cmee_market_errmsg(s->market));
    return CMEE_OK;
}

/* The price of a fill of @p qty walking @p b: a buy takes the asks from the touch outwards, a
 * sell the bids, at most to @p limit (0 = no limit). When the levels taken hold the whole
 * quantity the price is their size-weighted average, exactly as cmee_book_walk() gives it.
 * Fills are all or nothing, so what they do not hold fills at once too: at the limit when the
 * limit stopped the walk (as if that part had waited at its price and filled there), else at
 * the last displayed level (the book shows no more; the rest is assumed to trade there). */
static double walk_price(const cmee_book *b, cmee_side side, double qty, double limit)
{
    bool buy = side == CMEE_SIDE_BUY;
    const cmee_book_level *lv = buy ? b->asks : b->bids;
    size_t n = buy ? b->nasks : b->nbids, k = 0;
    double depth = 0.0;
    while (k < n && (limit <= 0 || (buy ? lv[k].price <= limit : lv[k].price >= limit)))
        depth += lv[k++].size;
    if (k == 0)
        return limit > 0 ? limit : (buy ? b->ask : b->bid);
    cmee_book_fill f;
    if (k == n) {
        cmee_book_walk(b, buy ? CMEE_AGGRESSOR_BUY : CMEE_AGGRESSOR_SELL, qty, &f);
    } else {
        cmee_book part = *b;
        if (buy)
            part.nasks = k;
        else
            part.nbids = k;
        cmee_book_walk(&part, buy ? CMEE_AGGRESSOR_BUY : CMEE_AGGRESSOR_SELL, qty, &f);
    }
    double px = f.avg_price;
    if (depth < qty) {
        double rest = k < n ? limit : f.worst_price;
        px = (f.avg_price * f.filled + (qty - f.filled) * rest) / qty;
    }
    if (limit > 0)
        px = buy ? fmin(px, limit) : fmax(px, limit); /* never past the limit by a rounding */
    return px;
}

/* The price at which a market order of @p qty fills against the book at @p t. */
static cmee_status book_fill_price(cmee_session *s, const char *symbol, int64_t t, cmee_side side,
                                   double qty, double *px)
{
    cmee_book b;
    cmee_status st = book_at(s, symbol, t, &b);
    if (st == CMEE_OK)
        *px = walk_price(&b, side, qty, 0.0);
    return st;
}

/* The last price (@p last, may be NULL) and the quote at @p t, by the session's fill model:
 * the touch of the market's book, or the spread around the tick price. */
static cmee_status touch_at(cmee_session *s, const symctx *c, const char *symbol, int64_t t,
                            double *last, double *bid, double *ask)
{
    if (book_model(s)) {
        cmee_bbo q;
        if (cmee_market_bbo(s->market, symbol, t, &q) != CMEE_OK)
            return cmee__session_fail(s, CMEE_EINTERNAL, "quote of %s at %lld: %s", symbol,
                                      (long long)t, cmee_market_errmsg(s->market));
        if (last)
            *last = q.last;
        *bid = q.bid;
        *ask = q.ask;
        return CMEE_OK;
    }
    double mid;
    cmee_status st = mid_at(s, symbol, t, &mid);
    if (st != CMEE_OK)
        return st;
    if (last)
        *last = mid;
    *bid = bid_of(c, mid);
    *ask = ask_of(c, mid);
    return CMEE_OK;
}

/* ---- positions and fills ------------------------------------------------------------------ */

static ptrdiff_t find_pos(const cmee_session *s, const char *symbol)
{
    for (size_t i = 0; i < s->npos; i++)
        if (strncmp(s->pos[i].symbol, symbol, CMEE_SYMBOL_MAX) == 0)
            return (ptrdiff_t)i;
    return -1;
}

static cmee__rsym *find_rsym(cmee_session *s, const char *symbol)
{
    for (size_t i = 0; i < s->nrsym; i++)
        if (strncmp(s->rsym[i].symbol, symbol, CMEE_SYMBOL_MAX) == 0)
            return &s->rsym[i];
    return NULL;
}

static void book(cmee_session *s, int64_t time, cmee_ledger_kind kind, int64_t amount,
                 uint64_t ref, const char *symbol)
{
    /* Capacity is reserved by the caller before any change. */
    cmee_ledger_entry *e = &s->ledger[s->nledger];
    memset(e, 0, sizeof *e);
    e->seq = s->nledger + 1;
    e->time = time;
    e->kind = kind;
    e->amount = amount;
    s->balance += amount;
    e->balance = s->balance;
    e->ref = ref;
    e->epoch = s->epoch;
    if (symbol)
        snprintf(e->symbol, sizeof e->symbol, "%s", symbol);
    s->nledger++;
}

/* ---- margin ------------------------------------------------------------------------------ */

/* A margin account: leverage above 1, margin calls and liquidation. A cash account (leverage 1)
 * keeps the rules it had before margin accounts existed. */
static bool margin_account(const cmee_session *s)
{
    return s->cfg.leverage > 1.0;
}

/* The leverage of a position in @p symbol: the session's, capped by its asset class's. */
static double pos_leverage(const cmee_session *s, const char *symbol)
{
    if (!margin_account(s))
        return 1.0;
    cmee_symbol_spec spec;
    if (cmee_market_symbol(s->market, symbol, &spec) != CMEE_OK)
        return 1.0; /* not reached: positions are of the market's symbols */
    unsigned cls = (unsigned)spec.asset_class;
    double cap = s->cfg.max_leverage[cls < CMEE_SESSION_CLASSES ? cls : CMEE_CLASS_OTHER];
    return s->cfg.leverage < cap ? s->cfg.leverage : cap;
}

/* Margin of a position: its notional at the average price over its leverage. The entry price,
 * not the mark, so that the margin stays put between fills: the margin level then moves with
 * equity alone, which rises and falls with each price, and a minute's extremes bound it. With
 * leverage 1 this is the rule of cash accounts, |q| x avg, to the bit (x / 1.0 == x). */
static int64_t pos_margin(double qty, double avg, double lev)
{
    return money(fabs(qty) * avg / lev);
}

/* equity / used margin; +infinity without used margin. */
static double level_of(int64_t equity, int64_t used)
{
    return used > 0 ? (double)equity / (double)used : HUGE_VAL;
}

/* Unrealised P&L and used margin of every position at @p t, except the one at @p skip. */
static cmee_status exposure(cmee_session *s, int64_t t, ptrdiff_t skip, int64_t *unreal,
                            int64_t *used)
{
    int64_t u = 0, m = 0;
    for (size_t i = 0; i < s->npos; i++) {
        if ((ptrdiff_t)i == skip)
            continue;
        double mark;
        cmee_status st = mid_at(s, s->pos[i].symbol, t, &mark);
        if (st != CMEE_OK)
            return st;
        u += money((mark - s->pos[i].avg) * s->pos[i].qty);
        m += pos_margin(s->pos[i].qty, s->pos[i].avg, pos_leverage(s, s->pos[i].symbol));
    }
    *unreal = u;
    *used = m;
    return CMEE_OK;
}

/* What a fill would do to a position. */
typedef struct fillplan {
    double q1, avg1;
    int64_t pnl, fee;
    bool increases; /* adds exposure (needs margin) */
} fillplan;

static void plan_fill(double q0, double avg0, cmee_side side, double qty, double price,
                      double fee_rate, fillplan *p)
{
    double sgn = side == CMEE_SIDE_BUY ? 1.0 : -1.0;
    p->fee = money(qty * price * fee_rate);
    p->pnl = 0;
    if (q0 == 0 || (q0 > 0) == (sgn > 0)) {
        p->q1 = q0 + sgn * qty;
        p->avg1 = (fabs(q0) * avg0 + qty * price) / fabs(p->q1);
        p->increases = true;
        return;
    }
    double closed = qty < fabs(q0) ? qty : fabs(q0);
    p->pnl = money((price - avg0) * closed * (q0 > 0 ? 1.0 : -1.0));
    double rest = qty - closed;
    if (rest > 1e-12 * qty) {
        p->q1 = sgn * rest;
        p->avg1 = price;
        p->increases = true;
    } else {
        p->q1 = q0 + sgn * qty;
        if (fabs(p->q1) <= 1e-12 * fabs(q0))
            p->q1 = 0;
        p->avg1 = avg0;
        p->increases = false;
    }
}

/* Fill @p qty of @p symbol at @p price at time @p t for order @p ref: check the margin when the
 * fill adds exposure, then book fee and P&L and move the position. Reserves what it needs
 * first, so a refusal or ENOMEM changes nothing. Without @p check_margin (a liquidation, which
 * only closes) neither the margin nor the notional limit of a request applies. */
static cmee_status fill(cmee_session *s, const char *symbol, cmee_side side, double qty,
                        double price, int64_t t, uint64_t ref, bool check_margin, int64_t *fee)
{
    if (check_margin && qty * price > MAX_NOTIONAL)
        return cmee__session_fail(s, CMEE_EINVAL,
                                  "quantity: a notional of %g is above the limit of %g",
                                  qty * price, MAX_NOTIONAL);
    if (cmee__session_reserve(s, 2, 0, 0, 1) != CMEE_OK)
        return cmee__session_fail(s, CMEE_ENOMEM, "out of memory");
    ptrdiff_t pi = find_pos(s, symbol);
    double q0 = pi >= 0 ? s->pos[pi].qty : 0.0, avg0 = pi >= 0 ? s->pos[pi].avg : 0.0;
    fillplan p;
    plan_fill(q0, avg0, side, qty, price, s->cfg.fee_rate, &p);
    if (check_margin && p.increases) {
        int64_t unreal, used;
        cmee_status st = exposure(s, t, pi, &unreal, &used);
        if (st != CMEE_OK)
            return st;
        double mark;
        st = mid_at(s, symbol, t, &mark);
        if (st != CMEE_OK)
            return st;
        /* Leverage lets a position outgrow a fill's notional limit: its own is kept within
         * that limit too, so that its money stays far inside int64. */
        if (margin_account(s) && fabs(p.q1) * p.avg1 > MAX_NOTIONAL)
            return cmee__session_fail(s, CMEE_EINVAL,
                                      "quantity: a position of notional %g in %s would be above "
                                      "the limit of %g",
                                      fabs(p.q1) * p.avg1, symbol, MAX_NOTIONAL);
        int64_t margin = pos_margin(p.q1, p.avg1, pos_leverage(s, symbol));
        int64_t equity = s->balance - p.fee + p.pnl + unreal + money((mark - p.avg1) * p.q1);
        int64_t need = used + margin;
        if (need > equity)
            return cmee__session_fail(s, CMEE_ENOSPACE,
                                      "quantity: insufficient funds: %s %g %s at %g needs margin "
                                      "%.2f and fee %.2f, free margin is %.2f",
                                      side == CMEE_SIDE_BUY ? "buying" : "selling", qty, symbol,
                                      price, units(margin), units(p.fee),
                                      units(equity + p.fee - p.pnl - used -
                                            money((mark - p.avg1) * p.q1)));
    }
    cmee__rsym *r = find_rsym(s, symbol);
    if (!r) {
        r = &s->rsym[s->nrsym++];
        memset(r, 0, sizeof *r);
        snprintf(r->symbol, sizeof r->symbol, "%s", symbol);
    }
    if (p.fee != 0)
        book(s, t, CMEE_LEDGER_FEE, -p.fee, ref, symbol);
    if (p.pnl != 0)
        book(s, t, CMEE_LEDGER_PNL, p.pnl, ref, symbol);
    r->realised += p.pnl;
    if (p.q1 == 0) {
        if (pi >= 0) {
            memmove(&s->pos[pi], &s->pos[pi + 1], (s->npos - (size_t)pi - 1) * sizeof *s->pos);
            s->npos--;
        }
    } else if (pi >= 0) {
        cmee__pos *ps = &s->pos[pi];
        if ((ps->qty > 0) != (p.q1 > 0))
            ps->sl = ps->tp = 0; /* flipped: the old protection belonged to the other side */
        ps->qty = p.q1;
        ps->avg = p.avg1;
    } else {
        size_t at = 0;
        while (at < s->npos && strncmp(s->pos[at].symbol, symbol, CMEE_SYMBOL_MAX) < 0)
            at++;
        memmove(&s->pos[at + 1], &s->pos[at], (s->npos - at) * sizeof *s->pos);
        cmee__pos *ps = &s->pos[at];
        memset(ps, 0, sizeof *ps);
        snprintf(ps->symbol, sizeof ps->symbol, "%s", symbol);
        ps->qty = p.q1;
        ps->avg = p.avg1;
        s->npos++;
    }
    if (fee)
        *fee = p.fee;
    return CMEE_OK;
}

/* ---- advancing: triggers and settlements in time order --------------------------------------- */

/* A trigger: an open order, or a position's stop-loss (kind 1) or take-profit (kind 2). */
typedef struct trig {
    int kind;      /* 0 order, 1 stop-loss, 2 take-profit */
    size_t index;  /* order index or position index */
    bool on_ask;   /* watches the ask (a buy) or the bid (a sell) */
    bool up;       /* fires when the watched price is >= level (else <=) */
    double level;
    bool strict;   /* a limit (or take-profit): on the tape it needs a print through the level */
} trig;

static size_t symbol_triggers(const cmee_session *s, const char *symbol, trig *out, size_t cap)
{
    size_t n = 0;
    ptrdiff_t pi = find_pos(s, symbol);
    if (pi >= 0) {
        const cmee__pos *p = &s->pos[pi];
        bool is_long = p->qty > 0;
        /* Closing a long sells on the bid; closing a short buys on the ask. */
        if (p->sl > 0 && n < cap)
            out[n++] = (trig){1, (size_t)pi, !is_long, !is_long, p->sl, false};
        if (p->tp > 0 && n < cap)
            out[n++] = (trig){2, (size_t)pi, !is_long, is_long, p->tp, true};
    }
    for (size_t i = 0; i < s->norders && n < cap; i++) {
        const cmee_order *o = &s->orders[i];
        if (o->state != CMEE_ORDER_OPEN || strncmp(o->symbol, symbol, CMEE_SYMBOL_MAX) != 0)
            continue;
        bool buy = o->side == CMEE_SIDE_BUY;
        bool up = o->type == CMEE_ORDER_LIMIT ? !buy : buy;
        out[n++] = (trig){0, i, buy, up, o->price, o->type == CMEE_ORDER_LIMIT};
    }
    return n;
}

static bool fires(const trig *t, double bid, double ask)
{
    double v = t->on_ask ? ask : bid;
    return t->up ? v >= t->level : v <= t->level;
}

/* The book model: does a trade printed at @p p fire @p t? A stop fires on a print at or
 * through its level, a limit only on one strictly through it. */
static bool fires_on_trade(const trig *t, double p)
{
    if (t->up)
        return t->strict ? p > t->level : p >= t->level;
    return t->strict ? p < t->level : p <= t->level;
}

/* Does @p t fire at a tick of price @p mid: on its bid or ask (quote model), or on the trade
 * printed there (book model)? */
static bool fires_at(bool book, const trig *t, double mid, double bid, double ask)
{
    return book ? fires_on_trade(t, mid) : fires(t, bid, ask);
}

/* The book model's first_trigger: the first trade of the tape in the range that fires a
 * trigger. The trades of a 1m candle lie within its [low, high], so only minutes whose range
 * reaches a trigger are looked at. */
static cmee_status first_trade_trigger(cmee_session *s, const char *symbol, const trig *tr,
                                       size_t nt, int64_t after, bool inclusive, int64_t until,
                                       int64_t *at)
{
    int64_t m0 = after - (after - CMEE_TIME_MIN) % MIN_MS;
    cmee_candle buf[240];
    for (int64_t from = m0; from <= until; from += 240 * MIN_MS) {
        int64_t to = from + 240 * MIN_MS;
        if (to > until + 1)
            to = until + 1;
        size_t n;
        if (cmee_market_candles(s->market, symbol, CMEE_TF_1M, from, to, buf, 240, &n) != CMEE_OK)
            return cmee__session_fail(s, CMEE_EINTERNAL, "candles of %s: %s", symbol,
                                      cmee_market_errmsg(s->market));
        for (size_t i = 0; i < n; i++) {
            bool maybe = false;
            for (size_t k = 0; k < nt && !maybe; k++)
                maybe = fires_on_trade(&tr[k], tr[k].up ? buf[i].high : buf[i].low);
            if (!maybe)
                continue;
            int64_t end = buf[i].time + MIN_MS;
            if (end > until + 1)
                end = until + 1;
            cmee_trade trades[600];
            size_t nk;
            if (cmee_market_trades(s->market, symbol, buf[i].time, end, trades, 600, &nk) !=
                CMEE_OK)
                return cmee__session_fail(s, CMEE_EINTERNAL, "trades of %s: %s", symbol,
                                          cmee_market_errmsg(s->market));
            for (size_t k = 0; k < nk; k++) {
                int64_t t = trades[k].time;
                if (t < after || (t == after && !inclusive))
                    continue;
                for (size_t j = 0; j < nt; j++)
                    if (fires_on_trade(&tr[j], trades[k].price)) {
                        bool halted = false;
                        cmee_market_halted(s->market, symbol, t, &halted);
                        if (halted)
                            break;
                        *at = t;
                        return CMEE_OK;
                    }
            }
        }
    }
    return CMEE_OK;
}

/* The first tick of @p symbol in (after, until] (or [after, until] when @p inclusive) at which
 * one of its triggers fires. Scans 1m candles and looks at ticks only in minutes whose range
 * reaches a trigger. */
static cmee_status first_trigger(cmee_session *s, const char *symbol, int64_t after, bool inclusive,
                                 int64_t until, int64_t *at)
{
    trig tr[256];
    size_t nt = symbol_triggers(s, symbol, tr, 256);
    *at = -1;
    if (nt == 0 || until < after)
        return CMEE_OK;
    if (book_model(s))
        return first_trade_trigger(s, symbol, tr, nt, after, inclusive, until, at);
    symctx c;
    cmee_status st = symbol_ctx(s, symbol, &c);
    if (st != CMEE_OK)
        return st;
    int64_t m0 = after - (after - CMEE_TIME_MIN) % MIN_MS;
    cmee_candle buf[240];
    for (int64_t from = m0; from <= until; from += 240 * MIN_MS) {
        int64_t to = from + 240 * MIN_MS;
        if (to > until + 1)
            to = until + 1;
        size_t n;
        if (cmee_market_candles(s->market, symbol, CMEE_TF_1M, from, to, buf, 240, &n) != CMEE_OK)
            return cmee__session_fail(s, CMEE_EINTERNAL, "candles of %s: %s", symbol,
                                      cmee_market_errmsg(s->market));
        for (size_t i = 0; i < n; i++) {
            double bl = bid_of(&c, buf[i].low), bh = bid_of(&c, buf[i].high);
            double al = ask_of(&c, buf[i].low), ah = ask_of(&c, buf[i].high);
            bool maybe = false;
            for (size_t k = 0; k < nt && !maybe; k++)
                maybe = fires(&tr[k], tr[k].up ? bh : bl, tr[k].up ? ah : al);
            if (!maybe)
                continue;
            cmee_tick ticks[600];
            size_t nk;
            if (cmee_market_ticks(s->market, symbol, buf[i].time, ticks, 600, &nk) != CMEE_OK)
                return cmee__session_fail(s, CMEE_EINTERNAL, "ticks of %s: %s", symbol,
                                          cmee_market_errmsg(s->market));
            for (size_t k = 0; k < nk; k++) {
                int64_t t = ticks[k].time;
                if (t > until)
                    break;
                if (t < after || (t == after && !inclusive))
                    continue;
                double bid = bid_of(&c, ticks[k].price), ask = ask_of(&c, ticks[k].price);
                for (size_t j = 0; j < nt; j++)
                    if (fires(&tr[j], bid, ask)) {
                        bool halted = false;
                        cmee_market_halted(s->market, symbol, t, &halted);
                        if (halted)
                            break;
                        *at = t;
                        return CMEE_OK;
                    }
            }
        }
    }
    return CMEE_OK;
}

static void order_json(const cmee_order *o, char *buf, size_t cap)
{
    cmee__fmt(buf, cap,
              "{\"order_id\":%llu,\"symbol\":\"%s\",\"side\":\"%s\",\"type\":\"%s\","
              "\"quantity\":%.17g,\"fill_price\":%.17g,\"fee\":%.8f}",
              (unsigned long long)o->id, o->symbol, o->side == CMEE_SIDE_BUY ? "buy" : "sell",
              o->type == CMEE_ORDER_MARKET ? "market"
              : o->type == CMEE_ORDER_LIMIT ? "limit"
              : o->type == CMEE_ORDER_STOP  ? "stop"
                                            : "liquidation",
              o->quantity, o->fill_price, units(o->fee));
}

static cmee_status new_order(cmee_session *s, const cmee_order_request *r, int64_t t,
                             cmee_order **out)
{
    if (cmee__session_reserve(s, 0, 1, 0, 0) != CMEE_OK)
        return cmee__session_fail(s, CMEE_ENOMEM, "out of memory");
    cmee_order *o = &s->orders[s->norders];
    memset(o, 0, sizeof *o);
    o->id = s->norders + 1;
    snprintf(o->symbol, sizeof o->symbol, "%s", r->symbol);
    o->side = r->side;
    o->type = r->type;
    o->state = CMEE_ORDER_OPEN;
    o->quantity = r->quantity;
    o->price = r->type == CMEE_ORDER_MARKET ? 0.0 : r->price;
    o->stop_loss = r->stop_loss;
    o->take_profit = r->take_profit;
    o->created = t;
    o->epoch = s->epoch;
    *out = o;
    return CMEE_OK;
}

/* Fill order @p o at @p price at @p t; a refused fill marks it rejected when @p reject. */
static cmee_status execute(cmee_session *s, cmee_order *o, double price, int64_t t, bool reject)
{
    int64_t fee = 0;
    cmee_status st = fill(s, o->symbol, o->side, o->quantity, price, t, o->id,
                          o->type != CMEE_ORDER_LIQUIDATION, &fee);
    size_t i = (size_t)(o - s->orders);
    if (st != CMEE_OK) {
        if (!reject || st == CMEE_ENOMEM || st == CMEE_EINTERNAL)
            return st;
        o->state = CMEE_ORDER_REJECTED;
        o->closed = t;
        s->order_dirty[i] = true;
        raise_event(s, CMEE_SESSION_EV_ORDER_REJECTED, t,
                    "{\"order_id\":%llu,\"symbol\":\"%s\",\"reason\":\"insufficient funds\"}",
                    (unsigned long long)o->id, o->symbol);
        return CMEE_OK;
    }
    o->state = CMEE_ORDER_FILLED;
    o->closed = t;
    o->fill_price = price;
    o->fee = fee;
    s->order_dirty[i] = true;
    cmee__impact_fill(s, o); /* the session's own prices after t */
    ptrdiff_t pi = find_pos(s, o->symbol);
    if (pi >= 0 && (o->stop_loss > 0 || o->take_profit > 0)) {
        s->pos[pi].sl = o->stop_loss;
        s->pos[pi].tp = o->take_profit;
    }
    char json[400];
    order_json(o, json, sizeof json);
    raise_event(s, CMEE_SESSION_EV_ORDER_FILLED, t, "%s", json);
    return CMEE_OK;
}

/* Process every trigger of @p symbol that fires at tick time @p t (with the book model, a
 * trade time: the tick's price is the print's). */
static cmee_status fire_at(cmee_session *s, const char *symbol, int64_t t)
{
    symctx c;
    cmee_status st = symbol_ctx(s, symbol, &c);
    double mid;
    if (st == CMEE_OK)
        st = mid_at(s, symbol, t, &mid);
    if (st != CMEE_OK)
        return st;
    bool bm = book_model(s);
    double bid = bid_of(&c, mid), ask = ask_of(&c, mid);
    trig tr[256];
    size_t nt = symbol_triggers(s, symbol, tr, 256);
    for (size_t k = 0; k < nt; k++) {
        if (!fires_at(bm, &tr[k], mid, bid, ask))
            continue;
        if (tr[k].kind == 0) {
            cmee_order *o = &s->orders[tr[k].index];
            if (o->state != CMEE_ORDER_OPEN)
                continue;
            double px = o->type == CMEE_ORDER_LIMIT ? o->price : (tr[k].on_ask ? ask : bid);
            if (bm && o->type == CMEE_ORDER_STOP)
                st = book_fill_price(s, symbol, t, o->side, o->quantity, &px);
            if (st == CMEE_OK)
                st = execute(s, o, px, t, true);
        } else {
            ptrdiff_t pi = find_pos(s, symbol);
            if (pi < 0)
                continue; /* closed by an earlier trigger at this tick */
            const cmee__pos *p = &s->pos[pi];
            cmee_order_request r;
            cmee_order_request_init(&r, symbol);
            r.side = p->qty > 0 ? CMEE_SIDE_SELL : CMEE_SIDE_BUY;
            r.type = tr[k].kind == 1 ? CMEE_ORDER_STOP : CMEE_ORDER_LIMIT;
            r.quantity = fabs(p->qty);
            r.price = tr[k].level;
            double px = tr[k].kind == 2 ? tr[k].level : (tr[k].on_ask ? ask : bid);
            if (bm && tr[k].kind == 1)
                st = book_fill_price(s, symbol, t, r.side, r.quantity, &px);
            cmee_order *o;
            if (st == CMEE_OK)
                st = new_order(s, &r, t, &o);
            if (st == CMEE_OK)
                st = execute(s, o, px, t, false);
            if (st == CMEE_OK)
                s->norders++; /* recorded only once filled: a failed close leaves no order */
        }
        if (st != CMEE_OK)
            return st;
        nt = symbol_triggers(s, symbol, tr, 256); /* the set changed */
        k = (size_t)-1;
        /* re-scan from the start: a fill may have removed or added triggers */
        bool any = false;
        for (size_t j = 0; j < nt; j++)
            any = any || fires_at(bm, &tr[j], mid, bid, ask);
        if (!any)
            break;
    }
    return CMEE_OK;
}

static cmee_status settle(cmee_session *s, cmee_option *o)
{
    if (cmee__session_reserve(s, 1, 0, 0, 0) != CMEE_OK)
        return cmee__session_fail(s, CMEE_ENOMEM, "out of memory");
    double p;
    cmee_status st = mid_at(s, o->symbol, o->expires, &p);
    if (st != CMEE_OK)
        return st;
    o->settle_price = p;
    bool up = p > o->strike, down = p < o->strike;
    if (!up && !down) {
        o->state = CMEE_OPTION_TIE;
        o->paid = o->stake;
    } else if ((o->kind == CMEE_OPTION_CALL) == up) {
        o->state = CMEE_OPTION_WON;
        o->paid = o->stake + (int64_t)llround((double)o->stake * o->payout);
    } else {
        o->state = CMEE_OPTION_LOST;
        o->paid = 0;
    }
    if (o->paid > 0)
        book(s, o->expires, CMEE_LEDGER_OPTION_PAYOUT, o->paid, o->id, o->symbol);
    s->option_dirty[o - s->options] = true;
    static const char *const res[] = {"open", "won", "lost", "tie"};
    raise_event(s, CMEE_SESSION_EV_OPTION_SETTLED, o->expires,
                "{\"option_id\":%llu,\"symbol\":\"%s\",\"kind\":\"%s\",\"strike\":%.17g,"
                "\"settle_price\":%.17g,\"result\":\"%s\",\"paid\":%.8f}",
                (unsigned long long)o->id, o->symbol,
                o->kind == CMEE_OPTION_CALL ? "call" : "put", o->strike, p, res[o->state],
                units(o->paid));
    return CMEE_OK;
}

/* ---- margin calls and liquidation ------------------------------------------------------------ */

/* A number for an event's JSON: JSON has no infinity, so a level without used margin is null. */
static const char *json_level(double v, char *buf, size_t cap)
{
    if (isfinite(v))
        cmee__fmt(buf, cap, "%.17g", v);
    else
        cmee__fmt(buf, cap, "null");
    return buf;
}

/* Close the positions of a margin account whose level @p lv is below the maintenance level at
 * @p t: at the market (the book, or the quote model's bid or ask), the position with the lowest
 * unrealised P&L first, until the level is back at the maintenance level or nothing is left
 * that can trade (a halted symbol cannot). Each close is an order of type liquidation with its
 * fee and P&L in the ledger; one liquidation event follows them. */
static cmee_status liquidate(cmee_session *s, int64_t t, double lv, int64_t equity, int64_t used)
{
    double maint = s->cfg.maintenance_level, before = lv;
    uint64_t first = s->norders + 1;
    size_t closed = 0;
    while (lv < maint && s->npos > 0) {
        ptrdiff_t worst = -1;
        int64_t worst_u = 0;
        for (size_t i = 0; i < s->npos; i++) {
            bool halted = false;
            cmee_market_halted(s->market, s->pos[i].symbol, t, &halted);
            if (halted)
                continue;
            double mark;
            cmee_status st = mid_at(s, s->pos[i].symbol, t, &mark);
            if (st != CMEE_OK)
                return st;
            int64_t u = money((mark - s->pos[i].avg) * s->pos[i].qty);
            if (worst < 0 || u < worst_u) {
                worst = (ptrdiff_t)i;
                worst_u = u;
            }
        }
        if (worst < 0)
            break; /* only halted positions left: the next tick after the halt tries again */
        char sym[CMEE_SYMBOL_MAX];
        memcpy(sym, s->pos[worst].symbol, sizeof sym);
        cmee_order_request r;
        cmee_order_request_init(&r, sym);
        r.side = s->pos[worst].qty > 0 ? CMEE_SIDE_SELL : CMEE_SIDE_BUY;
        r.type = CMEE_ORDER_LIQUIDATION;
        r.quantity = fabs(s->pos[worst].qty);
        double px;
        cmee_status st;
        if (book_model(s)) {
            st = book_fill_price(s, sym, t, r.side, r.quantity, &px);
        } else {
            symctx c;
            double mid = 0;
            st = symbol_ctx(s, sym, &c);
            if (st == CMEE_OK)
                st = mid_at(s, sym, t, &mid);
            px = r.side == CMEE_SIDE_SELL ? bid_of(&c, mid) : ask_of(&c, mid);
        }
        cmee_order *o;
        if (st == CMEE_OK)
            st = new_order(s, &r, t, &o);
        if (st == CMEE_OK)
            st = execute(s, o, px, t, false);
        if (st != CMEE_OK)
            return st;
        s->norders++; /* recorded once filled, as a stop-loss close is */
        closed++;
        int64_t unreal;
        st = exposure(s, t, -1, &unreal, &used);
        if (st != CMEE_OK)
            return st;
        lv = level_of(s->balance + unreal, used);
    }
    if (closed > 0) {
        char b0[32], b1[32];
        raise_event(s, CMEE_SESSION_EV_LIQUIDATION, t,
                    "{\"margin_level\":%s,\"equity\":%.8f,\"maintenance_level\":%.17g,"
                    "\"first_order_id\":%llu,\"orders\":%zu,\"positions_left\":%zu,"
                    "\"margin_level_after\":%s}",
                    json_level(before, b0, sizeof b0), units(equity), maint,
                    (unsigned long long)first, closed, s->npos, json_level(lv, b1, sizeof b1));
    }
    return CMEE_OK;
}

/* Check a margin account at @p t, after whatever changed it: raise a margin call when the level
 * has crossed below the call level since the last one, liquidate below the maintenance level,
 * and re-arm the call once the level is back at or above the call level. */
static cmee_status margin_at(cmee_session *s, int64_t t)
{
    if (!margin_account(s))
        return CMEE_OK;
    int64_t unreal, used;
    cmee_status st = exposure(s, t, -1, &unreal, &used);
    if (st != CMEE_OK)
        return st;
    int64_t equity = s->balance + unreal;
    double lv = level_of(equity, used), call = s->cfg.margin_call_level;
    if (call > 0 && !s->margin_called && lv < call) {
        char b[32];
        s->margin_called = true;
        raise_event(s, CMEE_SESSION_EV_MARGIN_CALL, t,
                    "{\"margin_level\":%s,\"equity\":%.8f,\"used_margin\":%.8f,"
                    "\"margin_call_level\":%.17g}",
                    json_level(lv, b, sizeof b), units(equity), units(used), call);
    }
    if (s->cfg.maintenance_level > 0 && lv < s->cfg.maintenance_level) {
        st = liquidate(s, t, lv, equity, used);
        if (st != CMEE_OK)
            return st;
        st = exposure(s, t, -1, &unreal, &used);
        if (st != CMEE_OK)
            return st;
        lv = level_of(s->balance + unreal, used);
    }
    if (s->margin_called && !(lv < call))
        s->margin_called = false;
    return CMEE_OK;
}

/* Room to liquidate every position of a margin account and @p more besides, taken by a call
 * before it changes anything: margin_at() after the change then cannot run out of memory half
 * way. */
static cmee_status reserve_liquidation(cmee_session *s, size_t more)
{
    if (cmee__impact_reserve_fills(s, NULL) != CMEE_OK)
        return CMEE_ENOMEM;
    if (!margin_account(s))
        return CMEE_OK;
    size_t n = s->npos + more;
    if (cmee__session_reserve(s, 2 * n, n, 0, 0) != CMEE_OK)
        return cmee__session_fail(s, CMEE_ENOMEM, "out of memory");
    return CMEE_OK;
}

/* Does a level reached by some tick between @p lw and @p lb (the worst and best cases) change
 * the margin state? Below the maintenance level, a crossing of the call level while armed, or a
 * recovery to it while called. */
static bool margin_may_change(const cmee_session *s, double lw, double lb)
{
    double call = s->cfg.margin_call_level, maint = s->cfg.maintenance_level;
    if (maint > 0 && lw < maint)
        return true;
    if (call > 0 && !s->margin_called && lw < call)
        return true;
    return call > 0 && s->margin_called && !(lb < call);
}

/* One position as the margin scan follows it through a minute's ticks. */
typedef struct mpos {
    double q, avg;
    int64_t u;          /* unrealised at the current moment */
    cmee_tick *ticks;   /* the minute's ticks */
    size_t nt, k;       /* how many, and the next one to take */
    int tpm;            /* ticks per minute of its symbol */
} mpos;

#define MSCAN_MINUTES 60

/* The margin scan's working memory, taken before processing starts (so that running out of
 * memory stops it before anything changed): room for @p npos positions and @p nticks ticks. */
typedef struct mscratch {
    char *mem;
    size_t npos, nticks;
} mscratch;

static size_t mscratch_bytes(size_t npos, size_t nticks)
{
    return npos * (sizeof(mpos) + MSCAN_MINUTES * sizeof(cmee_candle)) +
           nticks * sizeof(cmee_tick);
}

/* The first tick moment in (after, until] at which a margin account's state changes (see
 * margin_may_change): equity depends on every position's price at the same instant, so the
 * moments are the ticks of all the symbols held, merged in time order. A minute is skipped
 * whole when even its worst case — each position at its adverse extreme of the 1m candle, the
 * low for a long and the high for a short — changes nothing (and, while called, its best case
 * does not recover): the ticks of a minute lie within its candle and each unrealised P&L is
 * monotonic in its price. Writes -1 when there is none. */
static cmee_status margin_scan(cmee_session *s, const mscratch *sc, int64_t after,
                               int64_t until, int64_t *at)
{
    *at = -1;
    size_t np = s->npos;
    if (!margin_account(s) || np == 0 || until <= after)
        return CMEE_OK;
    int64_t used = 0;
    size_t ntick = 0;
    cmee_symbol_spec spec;
    for (size_t i = 0; i < np; i++) {
        if (cmee_market_symbol(s->market, s->pos[i].symbol, &spec) != CMEE_OK)
            return cmee__session_fail(s, CMEE_EINTERNAL, "margin: %s",
                                      cmee_market_errmsg(s->market));
        ntick += (size_t)spec.ticks_per_minute;
        used += pos_margin(s->pos[i].qty, s->pos[i].avg, pos_leverage(s, s->pos[i].symbol));
    }
    if (!sc->mem || np > sc->npos || ntick > sc->nticks)
        return cmee__session_fail(s, CMEE_EINTERNAL, "margin: scan memory for %zu positions",
                                  np);
    char *mem = sc->mem;
    mpos *mp = (mpos *)mem;
    cmee_candle *cand = (cmee_candle *)(mem + np * sizeof(mpos));
    cmee_tick *tk = (cmee_tick *)(cand + np * MSCAN_MINUTES);
    for (size_t i = 0; i < np; i++) {
        cmee_market_symbol(s->market, s->pos[i].symbol, &spec);
        mp[i] = (mpos){s->pos[i].qty, s->pos[i].avg, 0, tk, 0, 0, spec.ticks_per_minute};
        tk += spec.ticks_per_minute;
    }
    cmee_status st = CMEE_OK;
    int64_t m0 = after - (after - CMEE_TIME_MIN) % MIN_MS;
    for (int64_t from = m0; from <= until && *at < 0 && st == CMEE_OK;
         from += MSCAN_MINUTES * MIN_MS) {
        int64_t to = from + MSCAN_MINUTES * MIN_MS;
        if (to > until + 1)
            to = until + 1;
        size_t n = 0;
        for (size_t i = 0; i < np && st == CMEE_OK; i++) {
            size_t ni;
            if (cmee_market_candles(s->market, s->pos[i].symbol, CMEE_TF_1M, from, to,
                                    cand + i * MSCAN_MINUTES, MSCAN_MINUTES, &ni) != CMEE_OK ||
                (i > 0 && ni != n))
                st = cmee__session_fail(s, CMEE_EINTERNAL, "margin: candles of %s: %s",
                                        s->pos[i].symbol, cmee_market_errmsg(s->market));
            n = ni;
        }
        for (size_t j = 0; j < n && *at < 0 && st == CMEE_OK; j++) {
            int64_t ew = s->balance, eb = s->balance;
            for (size_t i = 0; i < np; i++) {
                const cmee_candle *c = &cand[i * MSCAN_MINUTES + j];
                double adverse = mp[i].q > 0 ? c->low : c->high;
                double favour = mp[i].q > 0 ? c->high : c->low;
                ew += money((adverse - mp[i].avg) * mp[i].q);
                eb += money((favour - mp[i].avg) * mp[i].q);
            }
            if (!margin_may_change(s, level_of(ew, used), level_of(eb, used)))
                continue;
            int64_t minute = cand[j].time, equity = s->balance;
            for (size_t i = 0; i < np && st == CMEE_OK; i++) {
                if (cmee_market_ticks(s->market, s->pos[i].symbol, minute, mp[i].ticks,
                                      (size_t)mp[i].tpm, &mp[i].nt) != CMEE_OK ||
                    mp[i].nt == 0 || mp[i].ticks[0].time != minute) {
                    st = cmee__session_fail(s, CMEE_EINTERNAL, "margin: ticks of %s: %s",
                                            s->pos[i].symbol, cmee_market_errmsg(s->market));
                    break;
                }
                /* Every symbol ticks at the minute's open: all prices are known from there. */
                mp[i].u = money((mp[i].ticks[0].price - mp[i].avg) * mp[i].q);
                mp[i].k = 1;
                equity += mp[i].u;
            }
            int64_t t = minute;
            while (st == CMEE_OK && t <= until) {
                if (t > after) {
                    double lv = level_of(equity, used);
                    if (margin_may_change(s, lv, lv)) {
                        *at = t;
                        break;
                    }
                }
                int64_t next = -1;
                for (size_t i = 0; i < np; i++)
                    if (mp[i].k < mp[i].nt && (next < 0 || mp[i].ticks[mp[i].k].time < next))
                        next = mp[i].ticks[mp[i].k].time;
                if (next < 0)
                    break;
                for (size_t i = 0; i < np; i++)
                    if (mp[i].k < mp[i].nt && mp[i].ticks[mp[i].k].time == next) {
                        int64_t u = money((mp[i].ticks[mp[i].k].price - mp[i].avg) * mp[i].q);
                        equity += u - mp[i].u;
                        mp[i].u = u;
                        mp[i].k++;
                    }
                t = next;
            }
        }
    }
    return st;
}

/* Process everything due in (processed, target], in time order: at equal times, symbols in
 * registry order, then option expiries, then the margin of a margin account (checked after
 * each of them and at every tick of the symbols it holds). */
static cmee_status process_loop(cmee_session *s, int64_t target, const mscratch *msc);

static cmee_status process_to(cmee_session *s, int64_t target)
{
    size_t nsym = cmee_market_symbol_count(s->market);
    /* Reserve first whatever processing may append, so that running out of memory stops it
     * before anything has changed: each open order fills at most once and each fill may arm a
     * stop-loss or take-profit, which closes its position at most once (one more order);
     * a fill books at most two ledger entries, an option settlement one. In a margin account
     * each position there is or that a fill opens may also be liquidated once. */
    size_t open_orders = 0, open_options = 0;
    for (size_t i = 0; i < s->norders; i++)
        open_orders += s->orders[i].state == CMEE_ORDER_OPEN;
    for (size_t i = 0; i < s->noptions; i++)
        open_options += s->options[i].state == CMEE_OPTION_OPEN;
    size_t closes = s->npos + open_orders, fills = open_orders + closes;
    size_t held = margin_account(s) ? s->npos + open_orders : 0; /* at most, at any time */
    if (cmee__session_reserve(s, 2 * (fills + held) + open_options, closes + held, 0,
                              fills < nsym ? fills : nsym) != CMEE_OK)
        return cmee__session_fail(s, CMEE_ENOMEM, "out of memory");
    if (cmee__impact_reserve_fills(s, NULL) != CMEE_OK)
        return CMEE_ENOMEM;
    /* The margin scan's memory: every symbol it may follow is held now or that of an open
     * order. */
    mscratch msc = {NULL, held, 0};
    if (held > 0) {
        cmee_symbol_spec spec;
        for (size_t i = 0; i < s->npos; i++)
            if (cmee_market_symbol(s->market, s->pos[i].symbol, &spec) == CMEE_OK)
                msc.nticks += (size_t)spec.ticks_per_minute;
        for (size_t i = 0; i < s->norders; i++)
            if (s->orders[i].state == CMEE_ORDER_OPEN &&
                cmee_market_symbol(s->market, s->orders[i].symbol, &spec) == CMEE_OK)
                msc.nticks += (size_t)spec.ticks_per_minute;
        msc.mem = cmee__malloc(&s->al, mscratch_bytes(msc.npos, msc.nticks));
        if (!msc.mem)
            return cmee__session_fail(s, CMEE_ENOMEM, "out of memory");
    }
    cmee_status st = process_loop(s, target, &msc);
    cmee__free(&s->al, msc.mem);
    return st;
}

static cmee_status process_loop(cmee_session *s, int64_t target, const mscratch *msc)
{
    int64_t cur = s->processed;
    size_t nsym = cmee_market_symbol_count(s->market);
    size_t done_upto = 0; /* symbols whose ticks at time cur are already processed */
    bool first = true;
    for (;;) {
        /* The next option expiry. */
        cmee_option *next = NULL;
        for (size_t i = 0; i < s->noptions; i++) {
            cmee_option *o = &s->options[i];
            if (o->state == CMEE_OPTION_OPEN && o->expires <= target &&
                (!next || o->expires < next->expires))
                next = o;
        }
        int64_t horizon = next ? next->expires : target;
        /* The next trigger before it. */
        int64_t best = -1;
        size_t best_sym = 0;
        for (size_t k = 0; k < nsym; k++) {
            cmee_symbol_spec sp;
            cmee_market_symbol_at(s->market, k, &sp);
            bool inclusive = !first && k >= done_upto;
            int64_t at;
            cmee_status st = first_trigger(s, sp.symbol, cur, inclusive, horizon, &at);
            if (st != CMEE_OK)
                return st;
            if (at >= 0 && (best < 0 || at < best)) {
                best = at;
                best_sym = k;
            }
        }
        /* A margin account's first change of margin state at a tick before them (one at the
         * same time as a trigger or an expiry is checked after it). */
        if (margin_account(s) && s->npos > 0) {
            int64_t limit = best >= 0 ? best : horizon, tm;
            cmee_status st = margin_scan(s, msc, cur, limit, &tm);
            if (st == CMEE_OK && tm >= 0 && (tm < limit || (best < 0 && !next)))
                st = margin_at(s, tm);
            if (st != CMEE_OK)
                return st;
            if (tm >= 0 && (tm < limit || (best < 0 && !next))) {
                cur = tm;
                done_upto = nsym; /* no trigger fired at tm: they come before the margin */
                first = false;
                continue;
            }
        }
        if (best >= 0) {
            cmee_symbol_spec sp;
            cmee_market_symbol_at(s->market, best_sym, &sp);
            cmee_status st = fire_at(s, sp.symbol, best);
            if (st == CMEE_OK)
                st = margin_at(s, best);
            if (st != CMEE_OK)
                return st;
            cur = best;
            done_upto = best_sym + 1;
            first = false;
            continue;
        }
        if (next) {
            cmee_status st = settle(s, next);
            if (st == CMEE_OK)
                st = margin_at(s, next->expires);
            if (st != CMEE_OK)
                return st;
            cur = next->expires;
            done_upto = nsym; /* every tick at that time is done */
            first = false;
            continue;
        }
        break;
    }
    s->processed = target;
    return CMEE_OK;
}

/* Advance to the clock's now without committing (the caller commits once). */
static cmee_status advance(cmee_session *s)
{
    if (s->broken)
        return cmee__session_fail(s, CMEE_ESTATE,
                                  "session: a failed write left it out of step with its store; "
                                  "free it and load it again");
    int64_t now = clock_now(s);
    if (now <= s->processed)
        return CMEE_OK;
    return process_to(s, now);
}

cmee_status cmee_session_advance(cmee_session *s, int64_t *now)
{
    if (!s)
        return CMEE_EINVAL;
    int64_t before = s->processed;
    size_t nl = s->nledger;
    cmee_status st = advance(s);
    if (st != CMEE_OK)
        return st;
    /* A quiet advance of an in-memory clock needs no write; a stored one records its time
     * only when something happened or a minute has passed, to keep writes bounded. */
    bool changed = s->nledger != nl || s->nevents > 0;
    if (changed || (s->store && s->processed - before >= MIN_MS) || !s->store)
        st = commit(s);
    if (st == CMEE_OK && now)
        *now = s->processed;
    return st;
}

/* ---- clock controls ------------------------------------------------------------------------ */

static cmee_status clock_event(cmee_session *s, const char *what)
{
    raise_event(s, CMEE_SESSION_EV_CLOCK_CHANGED, s->processed,
                "{\"change\":\"%s\",\"now\":%lld,\"speed\":%.17g,\"paused\":%s}", what,
                (long long)s->processed, s->speed, s->paused ? "true" : "false");
    return commit(s);
}

cmee_status cmee_session_pause(cmee_session *s)
{
    if (!s)
        return CMEE_EINVAL;
    if (s->paused) {
        cmee_status st = advance(s);
        return st != CMEE_OK ? st : commit(s);
    }
    cmee_status st = cmee__session_reserve_action(s);
    if (st != CMEE_OK)
        return st;
    /* Freeze the clock first, then process exactly up to where it stands: the committed now
     * is the paused now, so a reload shows the same time. */
    rebase(s);
    s->paused = true;
    st = advance(s);
    if (st != CMEE_OK)
        return st;
    log_action(s, CMEE_ACTION_PAUSE, s->processed);
    return clock_event(s, "pause");
}

cmee_status cmee_session_resume(cmee_session *s)
{
    if (!s)
        return CMEE_EINVAL;
    if (s->manual)
        return cmee__session_fail(s, CMEE_ESTATE, "resume: the session has a manual clock");
    cmee_status st = advance(s);
    if (st != CMEE_OK)
        return st;
    if (!s->paused)
        return CMEE_OK;
    if ((st = cmee__session_reserve_action(s)) != CMEE_OK)
        return st;
    s->base_wall = s->wall(s->wall_ud);
    s->paused = false;
    log_action(s, CMEE_ACTION_RESUME, s->processed);
    return clock_event(s, "resume");
}

cmee_status cmee_session_set_speed(cmee_session *s, double speed)
{
    if (!s)
        return CMEE_EINVAL;
    if (!(speed > 0 && speed <= 1e6))
        return cmee__session_fail(s, CMEE_EINVAL, "speed: must be in (0, 1e6], got %g", speed);
    cmee_status st = cmee__session_reserve_action(s);
    if (st != CMEE_OK)
        return st;
    rebase(s); /* fix the clock, then process exactly up to it */
    st = advance(s);
    if (st != CMEE_OK)
        return st;
    s->speed = speed;
    log_action(s, CMEE_ACTION_SET_SPEED, s->processed)->speed = speed;
    return clock_event(s, "speed");
}

static cmee_status move_to(cmee_session *s, int64_t t, const char *what, cmee_action_kind kind,
                           int64_t arg)
{
    cmee_status st = advance(s);
    if (st == CMEE_OK)
        st = cmee__session_reserve_action(s);
    if (st != CMEE_OK)
        return st;
    int64_t now = clock_now(s);
    int64_t last = CMEE_TIME_MAX - DAY_MS;
    if (t > last)
        return cmee__session_fail(s, CMEE_ERANGE, "%s: %lld is past the end of the series", what,
                                  (long long)t);
    if (t < now)
        return cmee__session_fail(s, CMEE_ESTATE,
                                  "%s: %lld is before now (%lld): the clock never goes back",
                                  what, (long long)t, (long long)now);
    st = process_to(s, t);
    if (st != CMEE_OK)
        return st;
    s->base_sim = t;
    s->base_wall = s->wall(s->wall_ud);
    log_action(s, kind, t)->ms = arg;
    return clock_event(s, what);
}

cmee_status cmee_session_step(cmee_session *s, int64_t ms)
{
    if (!s)
        return CMEE_EINVAL;
    if (ms < 0)
        return cmee__session_fail(s, CMEE_EINVAL, "ms: must be >= 0, got %lld", (long long)ms);
    int64_t now = clock_now(s);
    if (ms > CMEE_TIME_MAX - now)
        return cmee__session_fail(s, CMEE_ERANGE, "ms: %lld is past the end of the series",
                                  (long long)ms);
    return move_to(s, now + ms, "step", CMEE_ACTION_STEP, ms);
}

cmee_status cmee_session_seek(cmee_session *s, int64_t t)
{
    if (!s)
        return CMEE_EINVAL;
    return move_to(s, t, "seek", CMEE_ACTION_SEEK, t);
}

/* ---- public: construction and queries ------------------------------------------------------ */

static cmee_status record_scenario(cmee_session *s, const cmee_scenario *sc, int64_t t0,
                                   cmee_application_id *id)
{
    size_t len;
    cmee_status st = cmee_scenario_to_json(sc, NULL, 0, &len);
    if (st != CMEE_OK)
        return cmee__session_fail(s, st, "scenario: cannot serialise it");
    if (s->nsapps == s->capsapps) {
        size_t cap = s->capsapps ? 2 * s->capsapps : 4;
        cmee__sapp *p = cmee__realloc(&s->al, s->sapps, cap * sizeof *p);
        if (!p)
            return cmee__session_fail(s, CMEE_ENOMEM, "out of memory");
        s->sapps = p;
        s->capsapps = cap;
    }
    char *json = cmee__malloc(&s->al, len + 1);
    if (!json)
        return cmee__session_fail(s, CMEE_ENOMEM, "out of memory");
    cmee_scenario_to_json(sc, json, len + 1, &len);
    cmee_application_id aid;
    st = cmee_scenario_apply(s->market, sc, t0, &aid);
    if (st != CMEE_OK) {
        cmee__free(&s->al, json);
        return cmee__session_fail(s, st, "%s", cmee_market_errmsg(s->market));
    }
    s->sapps[s->nsapps++] = (cmee__sapp){json, t0, 0, aid};
    if (id)
        *id = aid;
    raise_event(s, CMEE_SESSION_EV_SCENARIO_APPLIED, t0,
                "{\"application_id\":%u,\"name\":\"%s\",\"t0\":%lld}", aid, sc->name,
                (long long)t0);
    return CMEE_OK;
}

cmee_status cmee__session_reapply(cmee_session *s, size_t i)
{
    cmee__sapp *a = &s->sapps[i];
    cmee_scenario *sc = NULL;
    cmee_error err;
    cmee_status st = cmee_scenario_from_json(a->json, strlen(a->json), NULL, &s->al.a, &sc, &err);
    if (st != CMEE_OK)
        return cmee__session_fail(s, st == CMEE_ENOMEM ? st : CMEE_ECORRUPT,
                                  "stored scenario %zu: %s", i, err.text);
    st = cmee_scenario_apply(s->market, sc, a->t0, &a->id);
    cmee_scenario_free(sc);
    if (st == CMEE_OK && a->cancelled)
        st = cmee_scenario_cancel(s->market, a->id, a->cancelled);
    if (st != CMEE_OK)
        return cmee__session_fail(s, st == CMEE_ENOMEM ? st : CMEE_ECORRUPT,
                                  "stored scenario %zu: %s", i, cmee_market_errmsg(s->market));
    return CMEE_OK;
}

cmee_status cmee_session_new(const cmee_session_config *config, cmee_store *store,
                             const cmee_allocator *alloc, cmee_session **out, cmee_error *err)
{
    if (!config || !out) {
        cmee__session_set_err(err, CMEE_EINVAL, "config", "config, out: must not be NULL");
        return CMEE_EINVAL;
    }
    cmee_session *s = NULL;
    cmee_status st = cmee__session_shell(config, store, alloc, &s, err);
    if (st != CMEE_OK)
        return st;
    st = cmee__session_reserve(s, 1, 0, 0, 0);
    if (st == CMEE_OK)
        st = cmee__session_reserve_action(s);
    s->replayable = true;
    if (st == CMEE_OK) {
        book(s, config->start_time, CMEE_LEDGER_DEPOSIT, config->initial_balance, 0, NULL);
        cmee_application_id aid;
        if (config->scenario)
            st = record_scenario(s, config->scenario, config->start_time, &aid);
        if (config->scenario && st == CMEE_OK) {
            cmee_session_action *a = log_action(s, CMEE_ACTION_APPLY_SCENARIO, config->start_time);
            a->ref = aid;
            cmee__fmt(a->scenario, sizeof a->scenario, "%s", config->scenario->name);
        }
    } else {
        cmee__session_fail(s, st, "out of memory");
    }
    if (st == CMEE_OK && store)
        st = cmee__session_persist(s, true);
    if (st != CMEE_OK) {
        cmee__session_set_err(err, st, "", "%s", s->errmsg);
        cmee_session_free(s);
        return st;
    }
    if (!store) {
        s->saved_ledger = s->nledger;
        s->saved_sapps = s->nsapps;
        s->saved_acts = s->nacts;
    }
    s->nevents = 0;
    *out = s;
    return CMEE_OK;
}

const char *cmee_session_errmsg(const cmee_session *s)
{
    return s ? s->errmsg : "session: NULL";
}

const char *cmee_session_id(const cmee_session *s)
{
    return s ? s->cfg.id : "";
}

cmee_status cmee_session_config_get(const cmee_session *s, cmee_session_config *out)
{
    if (!s || !out)
        return CMEE_EINVAL;
    *out = s->cfg;
    out->scenario = NULL;
    return CMEE_OK;
}

const cmee_market *cmee_session_market(const cmee_session *s)
{
    return s ? s->market : NULL;
}

cmee_status cmee_session_quote(cmee_session *s, const char *symbol, cmee_quote *out)
{
    if (!s)
        return CMEE_EINVAL;
    if (!out)
        return cmee__session_fail(s, CMEE_EINVAL, "out: must not be NULL");
    symctx c;
    cmee_status st = symbol_ctx(s, symbol, &c);
    if (st == CMEE_OK)
        st = cmee_session_advance(s, NULL);
    if (st != CMEE_OK)
        return st;
    double mid, bid, ask;
    st = touch_at(s, &c, symbol, s->processed, &mid, &bid, &ask);
    if (st != CMEE_OK)
        return st;
    memset(out, 0, sizeof *out);
    snprintf(out->symbol, sizeof out->symbol, "%s", symbol);
    out->time = s->processed;
    out->price = mid;
    out->bid = bid;
    out->ask = ask;
    cmee_market_halted(s->market, symbol, s->processed, &out->halted);
    return CMEE_OK;
}

cmee_status cmee_session_candles(cmee_session *s, const char *symbol, cmee_timeframe tf,
                                 size_t count, cmee_candle *buf, size_t cap, size_t *written)
{
    if (!s)
        return CMEE_EINVAL;
    if (!written)
        return cmee__session_fail(s, CMEE_EINVAL, "written: must not be NULL");
    if (count == 0)
        return cmee__session_fail(s, CMEE_EINVAL, "count: must be at least 1");
    if (!buf) {
        if (cap != 0)
            return cmee__session_fail(s, CMEE_EINVAL, "buf: NULL with a capacity of %zu", cap);
        *written = count;
        return CMEE_OK;
    }
    if (cap < count)
        return cmee__session_fail(s, CMEE_ENOSPACE, "cap: %zu candles needed, %zu given", count,
                                  cap);
    symctx c;
    cmee_status st = symbol_ctx(s, symbol, &c);
    if (st != CMEE_OK)
        return st;
    if (!cmee_timeframe_name(tf))
        return cmee__session_fail(s, CMEE_EINVAL, "timeframe: unknown timeframe %d", (int)tf);
    st = cmee_session_advance(s, NULL);
    if (st != CMEE_OK)
        return st;
    int64_t now = s->processed, tfms = cmee_timeframe_ms(tf);
    int64_t open = now - (now - CMEE_TIME_MIN) % tfms; /* the forming candle's open time */
    size_t complete = count - 1, got = 0;
    if (complete > 0) {
        st = cmee_market_candles_last(s->market, symbol, tf, open, complete, buf, cap, &got);
        if (st != CMEE_OK)
            return cmee__session_fail(s, st, "%s", cmee_market_errmsg(s->market));
    }
    /* The forming candle: its complete minutes, then the ticks of this minute up to now. */
    cmee_candle *f = &buf[got];
    int64_t minute = now - (now - CMEE_TIME_MIN) % MIN_MS;
    bool have = false;
    if (minute > open) {
        /* Aggregate of the full minutes [open, minute). */
        cmee_candle *mins = NULL;
        size_t n = 0;
        st = cmee_market_candles_alloc(s->market, symbol, CMEE_TF_1M, open, minute, &mins, &n);
        if (st != CMEE_OK)
            return cmee__session_fail(s, st, "%s", cmee_market_errmsg(s->market));
        *f = mins[0];
        f->time = open;
        for (size_t i = 1; i < n; i++) {
            f->high = fmax(f->high, mins[i].high);
            f->low = fmin(f->low, mins[i].low);
            f->close = mins[i].close;
            f->volume += mins[i].volume;
        }
        cmee_market_release(s->market, mins);
        have = true;
    }
    cmee_tick ticks[600];
    size_t nk;
    if (cmee_market_ticks(s->market, symbol, now, ticks, 600, &nk) != CMEE_OK)
        return cmee__session_fail(s, CMEE_EINTERNAL, "%s", cmee_market_errmsg(s->market));
    for (size_t k = 0; k < nk && ticks[k].time <= now; k++) {
        if (!have) {
            *f = (cmee_candle){open, ticks[k].price, ticks[k].price, ticks[k].price,
                               ticks[k].price, 0.0};
            have = true;
        }
        f->high = fmax(f->high, ticks[k].price);
        f->low = fmin(f->low, ticks[k].price);
        f->close = ticks[k].price;
        f->volume += ticks[k].volume;
    }
    *written = got + 1;
    return CMEE_OK;
}

cmee_status cmee_session_apply_scenario(cmee_session *s, const cmee_scenario *sc,
                                        cmee_application_id *id)
{
    if (!s)
        return CMEE_EINVAL;
    if (!sc)
        return cmee__session_fail(s, CMEE_EINVAL, "scenario: must not be NULL");
    cmee_status st = advance(s);
    if (st == CMEE_OK)
        st = reserve_liquidation(s, 0);
    if (st == CMEE_OK)
        st = cmee__session_reserve_action(s);
    cmee_application_id aid = 0;
    if (st == CMEE_OK)
        st = record_scenario(s, sc, s->processed, &aid);
    if (st == CMEE_OK)
        st = margin_at(s, s->processed); /* in case its prices at now differ */
    if (st != CMEE_OK)
        return st;
    cmee_session_action *a = log_action(s, CMEE_ACTION_APPLY_SCENARIO, s->processed);
    a->ref = aid;
    cmee__fmt(a->scenario, sizeof a->scenario, "%s", sc->name);
    st = commit(s);
    if (st == CMEE_OK && id)
        *id = aid;
    return st;
}

cmee_status cmee_session_cancel_scenario(cmee_session *s, cmee_application_id id)
{
    if (!s)
        return CMEE_EINVAL;
    cmee_status st = advance(s);
    if (st != CMEE_OK)
        return st;
    cmee__sapp *a = NULL;
    for (size_t i = 0; i < s->nsapps; i++)
        if (s->sapps[i].id == id)
            a = &s->sapps[i];
    if (!a)
        return cmee__session_fail(s, CMEE_ENOTFOUND, "id: no scenario application %u", id);
    if ((st = reserve_liquidation(s, 0)) != CMEE_OK ||
        (st = cmee__session_reserve_action(s)) != CMEE_OK)
        return st;
    st = cmee_scenario_cancel(s->market, id, s->processed);
    if (st != CMEE_OK)
        return cmee__session_fail(s, st, "%s", cmee_market_errmsg(s->market));
    if (!a->cancelled) {
        a->cancelled = s->processed;
        s->sapps_dirty = true;
        raise_event(s, CMEE_SESSION_EV_SCENARIO_CANCELLED, s->processed,
                    "{\"application_id\":%u}", id);
    }
    if ((st = margin_at(s, s->processed)) != CMEE_OK)
        return st;
    log_action(s, CMEE_ACTION_CANCEL_SCENARIO, s->processed)->ref = id;
    return commit(s);
}

/* ---- public: trading ------------------------------------------------------------------------ */

static cmee_status check_open(cmee_session *s, const char *symbol)
{
    bool halted = false;
    cmee_market_halted(s->market, symbol, s->processed, &halted);
    if (halted)
        return cmee__session_fail(s, CMEE_ESTATE, "symbol: trading in %s is halted at %lld",
                                  symbol, (long long)s->processed);
    return CMEE_OK;
}

static cmee_status check_protection(cmee_session *s, bool is_long, double ref, double sl,
                                    double tp)
{
    if (!(sl >= 0 && isfinite(sl)))
        return cmee__session_fail(s, CMEE_EINVAL, "stop_loss: must be >= 0 and finite, got %g", sl);
    if (!(tp >= 0 && isfinite(tp)))
        return cmee__session_fail(s, CMEE_EINVAL, "take_profit: must be >= 0 and finite, got %g",
                                  tp);
    if (sl > 0 && (is_long ? sl >= ref : sl <= ref))
        return cmee__session_fail(s, CMEE_EINVAL, "stop_loss: must be %s %g for a %s, got %g",
                                  is_long ? "below" : "above", ref, is_long ? "long" : "short", sl);
    if (tp > 0 && (is_long ? tp <= ref : tp >= ref))
        return cmee__session_fail(s, CMEE_EINVAL, "take_profit: must be %s %g for a %s, got %g",
                                  is_long ? "above" : "below", ref, is_long ? "long" : "short", tp);
    return CMEE_OK;
}

cmee_status cmee_session_order(cmee_session *s, const cmee_order_request *req, cmee_order *out)
{
    if (!s)
        return CMEE_EINVAL;
    if (!req)
        return cmee__session_fail(s, CMEE_EINVAL, "request: must not be NULL");
    char sym[CMEE_SYMBOL_MAX] = ""; /* zeroed: it is copied whole into the records */
    snprintf(sym, sizeof sym, "%.*s", CMEE_SYMBOL_MAX - 1, req->symbol);
    symctx c;
    cmee_status st = symbol_ctx(s, sym, &c);
    if (st != CMEE_OK)
        return st;
    if (req->side != CMEE_SIDE_BUY && req->side != CMEE_SIDE_SELL)
        return cmee__session_fail(s, CMEE_EINVAL, "side: must be buy or sell, got %d",
                                  (int)req->side);
    if (req->type < CMEE_ORDER_MARKET || req->type > CMEE_ORDER_STOP)
        return cmee__session_fail(s, CMEE_EINVAL, "type: must be market, limit or stop, got %d",
                                  (int)req->type);
    if (!(req->quantity > 0 && req->quantity <= 1e12))
        return cmee__session_fail(s, CMEE_EINVAL, "quantity: must be in (0, 1e12], got %g",
                                  req->quantity);
    if (req->type != CMEE_ORDER_MARKET && !(req->price > 0 && isfinite(req->price)))
        return cmee__session_fail(s, CMEE_EINVAL, "price: must be > 0 for a %s order, got %g",
                                  req->type == CMEE_ORDER_LIMIT ? "limit" : "stop", req->price);
    st = advance(s);
    if (st != CMEE_OK)
        return st;
    st = check_open(s, sym);
    if (st != CMEE_OK)
        return st;
    bool bm = book_model(s);
    double mid = 0;
    cmee_book bk;
    if (bm) {
        st = book_at(s, sym, s->processed, &bk);
        if (st == CMEE_OK && req->type == CMEE_ORDER_STOP)
            st = mid_at(s, sym, s->processed, &mid); /* the last price, for the trigger */
    } else {
        st = mid_at(s, sym, s->processed, &mid);
    }
    if (st != CMEE_OK)
        return st;
    double bid = bm ? bk.bid : bid_of(&c, mid), ask = bm ? bk.ask : ask_of(&c, mid);
    bool buy = req->side == CMEE_SIDE_BUY;
    double ref = req->type == CMEE_ORDER_MARKET ? (buy ? ask : bid) : req->price;
    st = check_protection(s, buy, ref, req->stop_loss, req->take_profit);
    if (st != CMEE_OK)
        return st;
    cmee_order_request r = *req;
    memcpy(r.symbol, sym, sizeof sym);
    /* The order and its fill, then a liquidation of every position, one more included. */
    st = reserve_liquidation(s, 2);
    if (st == CMEE_OK)
        st = cmee__impact_reserve_fills(s, sym);
    if (st == CMEE_OK)
        st = cmee__session_reserve_action(s);
    if (st != CMEE_OK)
        return st;
    cmee_order *o;
    st = new_order(s, &r, s->processed, &o);
    if (st != CMEE_OK)
        return st;
    double now_px = buy ? ask : bid;
    bool now_fill =
        req->type == CMEE_ORDER_MARKET ||
        (req->type == CMEE_ORDER_LIMIT && (buy ? ask <= req->price : bid >= req->price)) ||
        (req->type == CMEE_ORDER_STOP && (buy ? ask >= req->price : bid <= req->price));
    if (bm) {
        /* A stop is reached by the last price; a marketable limit walks the book up to its
         * price, anything else the whole book. */
        if (req->type == CMEE_ORDER_STOP)
            now_fill = buy ? mid >= req->price : mid <= req->price;
        if (now_fill)
            now_px = walk_price(&bk, req->side, req->quantity,
                                req->type == CMEE_ORDER_LIMIT ? req->price : 0.0);
    }
    if (now_fill) {
        /* A fill now is all or nothing: refused, the order is not recorded. */
        st = execute(s, o, now_px, s->processed, false);
        if (st != CMEE_OK)
            return st;
    }
    s->order_dirty[s->norders] = true;
    s->norders++;
    cmee_order copy = *o;
    if (now_fill && (st = margin_at(s, s->processed)) != CMEE_OK)
        return st;
    cmee_session_action *a = log_action(s, CMEE_ACTION_ORDER, s->processed);
    a->order = r;
    a->ref = copy.id;
    st = commit(s);
    if (st == CMEE_OK && out)
        *out = copy;
    return st;
}

cmee_status cmee_session_cancel_order(cmee_session *s, uint64_t order_id)
{
    if (!s)
        return CMEE_EINVAL;
    cmee_status st = advance(s);
    if (st != CMEE_OK)
        return st;
    if (order_id == 0 || order_id > s->norders)
        return cmee__session_fail(s, CMEE_ENOTFOUND, "order_id: no order %llu",
                                  (unsigned long long)order_id);
    cmee_order *o = &s->orders[order_id - 1];
    if (o->state != CMEE_ORDER_OPEN) {
        commit(s);
        return cmee__session_fail(s, CMEE_ESTATE, "order_id: order %llu is not open",
                                  (unsigned long long)order_id);
    }
    if ((st = cmee__session_reserve_action(s)) != CMEE_OK)
        return st;
    o->state = CMEE_ORDER_CANCELLED;
    o->closed = s->processed;
    s->order_dirty[order_id - 1] = true;
    log_action(s, CMEE_ACTION_CANCEL_ORDER, s->processed)->ref = order_id;
    return commit(s);
}

cmee_status cmee_session_protect(cmee_session *s, const char *symbol, double stop_loss,
                                 double take_profit)
{
    if (!s)
        return CMEE_EINVAL;
    symctx c;
    cmee_status st = symbol_ctx(s, symbol, &c);
    if (st == CMEE_OK)
        st = advance(s);
    if (st != CMEE_OK)
        return st;
    ptrdiff_t pi = find_pos(s, symbol);
    if (pi < 0)
        return cmee__session_fail(s, CMEE_ENOTFOUND, "symbol: no open position in %s", symbol);
    double bid, ask;
    st = touch_at(s, &c, symbol, s->processed, NULL, &bid, &ask);
    if (st != CMEE_OK)
        return st;
    bool is_long = s->pos[pi].qty > 0;
    st = check_protection(s, is_long, is_long ? bid : ask, stop_loss, take_profit);
    if (st == CMEE_OK)
        st = cmee__session_reserve_action(s);
    if (st != CMEE_OK)
        return st;
    s->pos[pi].sl = stop_loss;
    s->pos[pi].tp = take_profit;
    cmee_session_action *a = log_action(s, CMEE_ACTION_PROTECT, s->processed);
    memcpy(a->symbol, s->pos[pi].symbol, sizeof a->symbol);
    a->stop_loss = stop_loss;
    a->take_profit = take_profit;
    return commit(s);
}

cmee_status cmee_session_close_position(cmee_session *s, const char *symbol, cmee_order *out)
{
    if (!s)
        return CMEE_EINVAL;
    symctx c;
    cmee_status st = symbol_ctx(s, symbol, &c);
    if (st == CMEE_OK)
        st = advance(s);
    if (st != CMEE_OK)
        return st;
    ptrdiff_t pi = find_pos(s, symbol);
    if (pi < 0)
        return cmee__session_fail(s, CMEE_ENOTFOUND, "symbol: no open position in %s", symbol);
    cmee_order_request r;
    cmee_order_request_init(&r, symbol);
    r.side = s->pos[pi].qty > 0 ? CMEE_SIDE_SELL : CMEE_SIDE_BUY;
    r.quantity = fabs(s->pos[pi].qty);
    return cmee_session_order(s, &r, out);
}

cmee_status cmee_session_option(cmee_session *s, const cmee_option_request *req,
                                cmee_option *out)
{
    if (!s)
        return CMEE_EINVAL;
    if (!req)
        return cmee__session_fail(s, CMEE_EINVAL, "request: must not be NULL");
    char sym[CMEE_SYMBOL_MAX] = ""; /* zeroed: it is copied whole into the records */
    snprintf(sym, sizeof sym, "%.*s", CMEE_SYMBOL_MAX - 1, req->symbol);
    symctx c;
    cmee_status st = symbol_ctx(s, sym, &c);
    if (st != CMEE_OK)
        return st;
    if (req->kind != CMEE_OPTION_CALL && req->kind != CMEE_OPTION_PUT)
        return cmee__session_fail(s, CMEE_EINVAL, "kind: must be call or put, got %d",
                                  (int)req->kind);
    if (req->stake <= 0 || req->stake > INT64_C(10000000000) * CMEE_MONEY_SCALE)
        return cmee__session_fail(s, CMEE_EINVAL, "stake: must be > 0, got %.8f",
                                  units(req->stake));
    if (req->duration < 1000 || req->duration > 30 * DAY_MS)
        return cmee__session_fail(s, CMEE_EINVAL,
                                  "duration: must be 1 s to 30 days in ms, got %lld",
                                  (long long)req->duration);
    double payout = req->payout == 0 ? s->cfg.option_payout : req->payout;
    if (!(payout > 0 && payout <= 10))
        return cmee__session_fail(s, CMEE_EINVAL, "payout: must be in (0, 10], got %g", payout);
    st = advance(s);
    if (st != CMEE_OK)
        return st;
    st = check_open(s, sym);
    if (st != CMEE_OK)
        return st;
    if (s->processed + req->duration >= CMEE_TIME_MAX - DAY_MS)
        return cmee__session_fail(s, CMEE_ERANGE, "duration: expiry is past the series end");
    int64_t unreal, used;
    st = exposure(s, s->processed, -1, &unreal, &used);
    if (st != CMEE_OK)
        return st;
    int64_t free_margin = s->balance + unreal - used;
    if (req->stake > free_margin)
        return cmee__session_fail(s, CMEE_ENOSPACE,
                                  "stake: insufficient funds: %.2f asked, free margin is %.2f",
                                  units(req->stake), units(free_margin));
    double mid;
    st = mid_at(s, sym, s->processed, &mid);
    if (st == CMEE_OK)
        st = reserve_liquidation(s, 1); /* the stake's entry, then a liquidation */
    if (st != CMEE_OK)
        return st;
    if (cmee__session_reserve(s, 1, 0, 1, 0) != CMEE_OK)
        return cmee__session_fail(s, CMEE_ENOMEM, "out of memory");
    if ((st = cmee__session_reserve_action(s)) != CMEE_OK)
        return st;
    cmee_option *o = &s->options[s->noptions];
    memset(o, 0, sizeof *o);
    o->id = s->noptions + 1;
    memcpy(o->symbol, sym, sizeof sym);
    o->kind = req->kind;
    o->state = CMEE_OPTION_OPEN;
    o->stake = req->stake;
    o->payout = payout;
    o->opened = s->processed;
    o->expires = s->processed + req->duration;
    o->strike = mid;
    o->epoch = s->epoch;
    s->option_dirty[s->noptions] = true;
    s->noptions++;
    book(s, s->processed, CMEE_LEDGER_OPTION_STAKE, -req->stake, o->id, sym);
    cmee_option copy = *o;
    if ((st = margin_at(s, s->processed)) != CMEE_OK)
        return st;
    cmee_session_action *a = log_action(s, CMEE_ACTION_OPTION, s->processed);
    a->option = *req;
    memcpy(a->option.symbol, sym, sizeof sym);
    a->ref = copy.id;
    st = commit(s);
    if (st == CMEE_OK && out)
        *out = copy;
    return st;
}

cmee_status cmee_session_account(cmee_session *s, cmee_account *out)
{
    if (!s)
        return CMEE_EINVAL;
    if (!out)
        return cmee__session_fail(s, CMEE_EINVAL, "out: must not be NULL");
    cmee_status st = cmee_session_advance(s, NULL);
    if (st != CMEE_OK)
        return st;
    int64_t unreal, used;
    st = exposure(s, s->processed, -1, &unreal, &used);
    if (st != CMEE_OK)
        return st;
    memset(out, 0, sizeof *out);
    memcpy(out->currency, s->cfg.currency, sizeof out->currency);
    out->balance = s->balance;
    out->unrealised = unreal;
    out->equity = s->balance + unreal;
    out->used_margin = used;
    out->free_margin = out->equity - used;
    out->margin_level = level_of(out->equity, used);
    out->margin_call = s->margin_called;
    out->positions = s->npos;
    for (size_t i = 0; i < s->norders; i++)
        out->open_orders += s->orders[i].state == CMEE_ORDER_OPEN;
    for (size_t i = 0; i < s->noptions; i++)
        out->open_options += s->options[i].state == CMEE_OPTION_OPEN;
    out->ledger_entries = s->nledger;
    out->epoch = s->epoch;
    return CMEE_OK;
}

#define LIST_PROLOGUE(count)                                                                      \
    if (!s || !n)                                                                                  \
        return CMEE_EINVAL;                                                                        \
    if (!buf) {                                                                                    \
        if (cap != 0)                                                                              \
            return CMEE_EINVAL;                                                                    \
        *n = (count);                                                                              \
        return CMEE_OK;                                                                            \
    }                                                                                              \
    if (cap < (count))                                                                             \
        return CMEE_ENOSPACE;

cmee_status cmee_session_positions(const cmee_session *s, cmee_position *buf, size_t cap,
                                   size_t *n)
{
    LIST_PROLOGUE(s->npos);
    for (size_t i = 0; i < s->npos; i++) {
        const cmee__pos *p = &s->pos[i];
        double mark = p->avg;
        cmee_market_price(s->market, p->symbol, s->processed, &mark);
        cmee_position *o = &buf[i];
        memset(o, 0, sizeof *o);
        memcpy(o->symbol, p->symbol, sizeof o->symbol);
        o->quantity = p->qty;
        o->avg_price = p->avg;
        o->mark = mark;
        o->unrealised = money((mark - p->avg) * p->qty);
        for (size_t k = 0; k < s->nrsym; k++)
            if (strncmp(s->rsym[k].symbol, p->symbol, CMEE_SYMBOL_MAX) == 0)
                o->realised = s->rsym[k].realised;
        o->stop_loss = p->sl;
        o->take_profit = p->tp;
        o->leverage = pos_leverage(s, p->symbol);
        o->margin = pos_margin(p->qty, p->avg, o->leverage);
    }
    *n = s->npos;
    return CMEE_OK;
}

cmee_status cmee_session_orders(const cmee_session *s, bool open_only, cmee_order *buf,
                                size_t cap, size_t *n)
{
    size_t count = 0;
    for (size_t i = 0; s && i < s->norders; i++)
        count += !open_only || s->orders[i].state == CMEE_ORDER_OPEN;
    LIST_PROLOGUE(count);
    size_t j = 0;
    for (size_t i = 0; i < s->norders; i++)
        if (!open_only || s->orders[i].state == CMEE_ORDER_OPEN)
            buf[j++] = s->orders[i];
    *n = j;
    return CMEE_OK;
}

cmee_status cmee_session_options(const cmee_session *s, bool open_only, cmee_option *buf,
                                 size_t cap, size_t *n)
{
    size_t count = 0;
    for (size_t i = 0; s && i < s->noptions; i++)
        count += !open_only || s->options[i].state == CMEE_OPTION_OPEN;
    LIST_PROLOGUE(count);
    size_t j = 0;
    for (size_t i = 0; i < s->noptions; i++)
        if (!open_only || s->options[i].state == CMEE_OPTION_OPEN)
            buf[j++] = s->options[i];
    *n = j;
    return CMEE_OK;
}

cmee_status cmee_session_ledger(const cmee_session *s, uint64_t after, cmee_ledger_entry *buf,
                                size_t cap, size_t *n)
{
    size_t from = s && after < s->nledger ? (size_t)after : (s ? s->nledger : 0);
    LIST_PROLOGUE(s->nledger - from);
    memcpy(buf, s->ledger + from, (s->nledger - from) * sizeof *buf);
    *n = s->nledger - from;
    return CMEE_OK;
}

/* ---- reset and epochs ------------------------------------------------------------------------ */

void cmee__session_free_past(cmee_session *s)
{
    for (size_t i = 0; i < s->npast; i++) {
        cmee__free(&s->al, s->past[i].orders);
        cmee__free(&s->al, s->past[i].options);
        cmee__free(&s->al, s->past[i].ledger);
        cmee__free(&s->al, s->past[i].acts);
    }
    cmee__free(&s->al, s->past);
    s->past = NULL;
    s->npast = s->cappast = 0;
}

/* The config's scenario, if the epoch has one: the first scenario record, applied at the start
 * by cmee_session_new() (the first action of a logged epoch; for a session stored before the
 * log, a first record applied at the start time). */
static const cmee__sapp *initial_scenario(const cmee_session *s)
{
    if (s->nsapps == 0 || s->sapps[0].t0 != s->cfg.start_time)
        return NULL;
    if (s->replayable && !(s->nacts > 0 && s->acts[0].kind == CMEE_ACTION_APPLY_SCENARIO &&
                           s->acts[0].seq == 1 && s->acts[0].time == s->cfg.start_time))
        return NULL;
    return &s->sapps[0];
}

cmee_status cmee_session_reset(cmee_session *s)
{
    if (!s)
        return CMEE_EINVAL;
    /* The old epoch complete up to now, committed on its own: the reset archives what is
     * stored. */
    cmee_status st = advance(s);
    if (st == CMEE_OK)
        st = commit(s);
    if (st != CMEE_OK)
        return st;
    /* Everything the new epoch needs, made before anything changes. */
    const cmee__sapp *init = initial_scenario(s);
    cmee_market *m = NULL;
    cmee_scenario *sc = NULL;
    cmee__sapp *sapps = NULL;
    char *json = NULL;
    cmee_session_action *acts = NULL;
    cmee_ledger_entry *ledger = NULL;
    cmee_application_id aid = 0;
    if (s->npast == s->cappast) {
        size_t cap = s->cappast ? 2 * s->cappast : 4;
        cmee__epoch *p = cmee__realloc(&s->al, s->past, cap * sizeof *p);
        if (!p)
            return cmee__session_fail(s, CMEE_ENOMEM, "out of memory");
        s->past = p;
        s->cappast = cap;
    }
    st = cmee_market_new(s->cfg.seed, &s->al.a, &m);
    ledger = cmee__calloc(&s->al, 8, sizeof *ledger);
    acts = cmee__calloc(&s->al, 16, sizeof *acts);
    sapps = cmee__calloc(&s->al, 4, sizeof *sapps);
    if (st == CMEE_OK && (!ledger || !acts || !sapps))
        st = CMEE_ENOMEM;
    if (st == CMEE_OK && init) {
        cmee_error e;
        json = cmee__malloc(&s->al, strlen(init->json) + 1);
        if (!json)
            st = CMEE_ENOMEM;
        else
            memcpy(json, init->json, strlen(init->json) + 1);
        if (st == CMEE_OK)
            st = cmee_scenario_from_json(init->json, strlen(init->json), NULL, &s->al.a, &sc, &e);
        if (st == CMEE_OK)
            st = cmee_scenario_apply(m, sc, s->cfg.start_time, &aid);
    }
    if (st != CMEE_OK) {
        cmee_scenario_free(sc);
        cmee_market_free(m);
        cmee__free(&s->al, ledger);
        cmee__free(&s->al, acts);
        cmee__free(&s->al, sapps);
        cmee__free(&s->al, json);
        return cmee__session_fail(s, st == CMEE_ENOMEM ? st : CMEE_EINTERNAL,
                                  "reset: %s", st == CMEE_ENOMEM ? "out of memory"
                                                                 : "cannot rebuild the market");
    }
    /* The old epoch goes into the past, whole. */
    s->past[s->npast++] = (cmee__epoch){s->epoch,  s->orders, s->norders, s->options,
                                        s->noptions, s->ledger, s->nledger, s->acts, s->nacts};
    for (size_t i = 0; i < s->nsapps; i++)
        cmee__free(&s->al, s->sapps[i].json);
    cmee__free(&s->al, s->sapps);
    cmee__free(&s->al, s->order_dirty);
    cmee__free(&s->al, s->option_dirty);
    cmee_market_free(s->market);
    s->market = m;
    s->epoch++;
    s->orders = NULL;
    s->order_dirty = NULL;
    s->norders = s->caporders = 0;
    s->options = NULL;
    s->option_dirty = NULL;
    s->noptions = s->capoptions = 0;
    s->ledger = ledger;
    s->nledger = 0;
    s->capledger = 8;
    s->acts = acts;
    s->nacts = 0;
    s->capacts = 16;
    s->sapps = sapps;
    s->nsapps = 0;
    s->capsapps = 4;
    s->npos = s->nrsym = 0;
    s->balance = 0;
    s->margin_called = false;
    s->replayable = true;
    /* The clock as the config made it. */
    s->processed = s->base_sim = s->cfg.start_time;
    s->speed = s->cfg.speed;
    s->paused = s->cfg.paused || s->cfg.manual_clock;
    s->manual = s->cfg.manual_clock;
    s->base_wall = s->wall(s->wall_ud);
    book(s, s->cfg.start_time, CMEE_LEDGER_DEPOSIT, s->cfg.initial_balance, 0, NULL);
    if (sc) {
        s->sapps[s->nsapps++] = (cmee__sapp){json, s->cfg.start_time, 0, aid};
        cmee_session_action *a = log_action(s, CMEE_ACTION_APPLY_SCENARIO, s->cfg.start_time);
        a->ref = aid;
        cmee__fmt(a->scenario, sizeof a->scenario, "%s", sc->name);
        cmee_scenario_free(sc);
    }
    s->saved_ledger = s->saved_sapps = s->saved_acts = 0;
    s->sapps_dirty = false;
    s->archive_pending = s->store != NULL;
    raise_event(s, CMEE_SESSION_EV_CLOCK_CHANGED, s->processed,
                "{\"change\":\"reset\",\"epoch\":%llu,\"now\":%lld,\"speed\":%.17g,\"paused\":%s}",
                (unsigned long long)s->epoch, (long long)s->processed, s->speed,
                s->paused ? "true" : "false");
    return commit(s);
}

uint64_t cmee_session_epoch(const cmee_session *s)
{
    return s ? s->epoch : 0;
}

/* The records of epoch @p epoch: the current one's or a past one's. */
static cmee_status epoch_of(const cmee_session *s, uint64_t epoch, cmee__epoch *out)
{
    if (!s)
        return CMEE_EINVAL;
    if (epoch == s->epoch) {
        *out = (cmee__epoch){s->epoch,  s->orders, s->norders, s->options,
                             s->noptions, s->ledger, s->nledger, s->acts, s->nacts};
        return CMEE_OK;
    }
    for (size_t i = 0; i < s->npast; i++)
        if (s->past[i].epoch == epoch) {
            *out = s->past[i];
            return CMEE_OK;
        }
    return CMEE_ENOTFOUND;
}

#define EPOCH_LIST(arr, count)                                                                    \
    cmee__epoch e;                                                                                 \
    if (!n)                                                                                        \
        return CMEE_EINVAL;                                                                        \
    cmee_status st = epoch_of(s, epoch, &e);                                                       \
    if (st != CMEE_OK)                                                                             \
        return st;                                                                                 \
    if (!buf) {                                                                                    \
        if (cap != 0)                                                                              \
            return CMEE_EINVAL;                                                                    \
        *n = e.count;                                                                              \
        return CMEE_OK;                                                                            \
    }                                                                                              \
    if (cap < e.count)                                                                             \
        return CMEE_ENOSPACE;                                                                      \
    if (e.count > 0)                                                                               \
        memcpy(buf, e.arr, e.count * sizeof *buf);                                                 \
    *n = e.count;                                                                                  \
    return CMEE_OK;

cmee_status cmee_session_epoch_orders(const cmee_session *s, uint64_t epoch, cmee_order *buf,
                                      size_t cap, size_t *n)
{
    EPOCH_LIST(orders, norders)
}

cmee_status cmee_session_epoch_options(const cmee_session *s, uint64_t epoch, cmee_option *buf,
                                       size_t cap, size_t *n)
{
    EPOCH_LIST(options, noptions)
}

cmee_status cmee_session_epoch_ledger(const cmee_session *s, uint64_t epoch,
                                      cmee_ledger_entry *buf, size_t cap, size_t *n)
{
    EPOCH_LIST(ledger, nledger)
}

cmee_status cmee_session_epoch_actions(const cmee_session *s, uint64_t epoch,
                                       cmee_session_action *buf, size_t cap, size_t *n)
{
    EPOCH_LIST(acts, nacts)
}
