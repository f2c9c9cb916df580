/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Creating scenarios: validation of a cmee_scenario_spec, the sorted internal copy that
 * apply.c reads, and the accessors. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "scenario_int.h"

#define DAY_MS INT64_C(86400000)
/* Bounds of the fields, as documented in cmee/scenario.h and docs/scenarios.md. */
#define MAX_VOL_MULT 20.0
#define MAX_VOLUME_MULT 100.0
#define MAX_JUMP_RATE 1e5
#define MIN_REVERT_HALF_LIFE INT64_C(3600000)
#define MIN_SHOCK (-1.0)
#define MAX_SHOCK 10.0
#define MAX_SPIKE 20.0
#define MIN_SPIKE_HALF_LIFE INT64_C(60000)
#define MAX_SPIKE_HALF_LIFE (30 * DAY_MS)
#define DESCRIPTION_MAX 1023

/* ---- errors --------------------------------------------------------------------------- */

/* Fill @p err (if any) with @p st, @p field and the text "field: <message>". */
__attribute__((format(printf, 4, 5))) static cmee_status
fail(cmee_error *err, cmee_status st, const char *field, const char *fmt, ...)
{
    if (err) {
        char msg[sizeof err->text];
        va_list ap;
        va_start(ap, fmt);
        cmee__vfmt(msg, sizeof msg, fmt, ap);
        va_end(ap);
        err->status = st;
        cmee__fmt(err->field, sizeof err->field, "%s", field);
        cmee__fmt(err->text, sizeof err->text, "%s: %s", field, msg);
    }
    return st;
}

/* "list[i].member", or "list[i]" without a member. */
static void item_field(char *buf, size_t cap, const char *list, size_t i, const char *member)
{
    if (member)
        cmee__fmt(buf, cap, "%s[%zu].%s", list, i, member);
    else
        cmee__fmt(buf, cap, "%s[%zu]", list, i);
}

/* A caller's string made safe to quote in a message: at most 24 bytes, with quotes and
 * non-printable bytes shown as '?' and "..." when cut. */
static void quote_safe(char *buf, size_t cap, const char *s)
{
    size_t n = 0;
    size_t i = 0;
    for (; s[i] && i < 24 && n + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[n++] = (c < 0x20 || c >= 0x7f || c == '"') ? '?' : (char)c;
    }
    if (s[i] && n + 4 < cap) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
}

/* ---- names ---------------------------------------------------------------------------- */

const char *cmee_event_kind_name(cmee_event_kind kind)
{
    switch (kind) {
    case CMEE_EVENT_SHOCK:
        return "shock";
    case CMEE_EVENT_HALT:
        return "halt";
    case CMEE_EVENT_SPIKE:
        return "spike";
    case CMEE_EVENT_TARGET:
        return "target";
    }
    return NULL;
}

const char *cmee_drift_mode_name(cmee_drift_mode mode)
{
    switch (mode) {
    case CMEE_DRIFT_KEEP:
        return "keep";
    case CMEE_DRIFT_SPAN:
        return "span";
    case CMEE_DRIFT_ANNUAL:
        return "annual";
    }
    return NULL;
}

static const char *level_kind_name(cmee_level_kind kind)
{
    switch (kind) {
    case CMEE_LEVEL_NONE:
        return "none";
    case CMEE_LEVEL_PRICE:
        return "price";
    case CMEE_LEVEL_CHANGE:
        return "change";
    }
    return NULL;
}

/* ---- init ----------------------------------------------------------------------------- */

void cmee_regime_init(cmee_regime *r)
{
    if (!r)
        return;
    /* memset first so padding is zero too: scenarios compare equal byte for byte. */
    memset(r, 0, sizeof *r);
    r->drift_mode = CMEE_DRIFT_KEEP;
    r->vol_mult = 1.0;
    r->volume_mult = 1.0;
    r->revert_to.kind = CMEE_LEVEL_NONE;
}

void cmee_event_init(cmee_event *e, cmee_event_kind kind)
{
    if (!e)
        return;
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->target.kind = CMEE_LEVEL_NONE;
    if (kind == CMEE_EVENT_SPIKE)
        e->half_life = INT64_C(3600000);
}

/* ---- validation ----------------------------------------------------------------------- */

static bool name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ' ';
}

static cmee_status check_name(const char *name, cmee_error *err)
{
    if (!name)
        return fail(err, CMEE_EINVAL, "name", "is NULL");
    size_t n = strnlen(name, CMEE_SCENARIO_NAME_MAX);
    bool ok = n > 0 && n < CMEE_SCENARIO_NAME_MAX && name[0] != ' ' && name[n - 1] != ' ';
    for (size_t i = 0; ok && i < n; i++)
        ok = name_char(name[i]);
    if (!ok) {
        char q[32];
        quote_safe(q, sizeof q, name);
        return fail(err, CMEE_EINVAL, "name",
                    "must be 1 to 63 characters from A-Z a-z 0-9 _ - . and space, not starting "
                    "or ending with a space, got \"%s\"",
                    q);
    }
    return CMEE_OK;
}

/* Whether @p s holds @p n bytes of well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF): the JSON form must be readable back. */
static bool valid_utf8(const unsigned char *s, size_t n, size_t *bad)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            *bad = i;
            return false;
        }
        if (n - i < len) {
            *bad = i;
            return false;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                *bad = i;
                return false;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            *bad = i;
            return false;
        }
        i += len;
    }
    return true;
}

static cmee_status check_description(const char *d, cmee_error *err)
{
    if (!d)
        return CMEE_OK;
    size_t n = strnlen(d, DESCRIPTION_MAX + 1);
    if (n > DESCRIPTION_MAX)
        return fail(err, CMEE_EINVAL, "description", "must be at most %d bytes, got %zu or more",
                    DESCRIPTION_MAX, n);
    size_t bad = 0;
    if (!valid_utf8((const unsigned char *)d, n, &bad))
        return fail(err, CMEE_EINVAL, "description", "is not valid UTF-8 at byte %zu", bad);
    return CMEE_OK;
}

static bool symbol_name_ok(const char *s)
{
    size_t n = strnlen(s, CMEE_SYMBOL_MAX);
    if (n == 0 || n >= CMEE_SYMBOL_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
            return false;
    }
    return true;
}

static bool registered(const cmee_market *m, const char *s)
{
    /* symbol_at rather than cmee_market_symbol(): a miss must not rewrite the market's
     * errmsg, which belongs to the market's own callers. */
    size_t n = cmee_market_symbol_count(m);
    for (size_t i = 0; i < n; i++) {
        cmee_symbol_spec spec;
        if (cmee_market_symbol_at(m, i, &spec) == CMEE_OK &&
            strncmp(spec.symbol, s, CMEE_SYMBOL_MAX) == 0)
            return true;
    }
    return false;
}

static cmee_status check_symbols(const cmee_scenario_spec *spec, const cmee_market *registry,
                                 cmee_error *err)
{
    char f[32], q[32];
    if (spec->nsymbols > CMEE_SCENARIO_MAX_ITEMS)
        return fail(err, CMEE_EINVAL, "nsymbols", "must be at most %d, got %zu",
                    CMEE_SCENARIO_MAX_ITEMS, spec->nsymbols);
    if (spec->nsymbols > 0 && !spec->symbols)
        return fail(err, CMEE_EINVAL, "symbols", "is NULL with nsymbols %zu", spec->nsymbols);
    for (size_t i = 0; i < spec->nsymbols; i++) {
        const char *s = spec->symbols[i];
        item_field(f, sizeof f, "symbols", i, NULL);
        if (!s)
            return fail(err, CMEE_EINVAL, f, "is NULL");
        if (!symbol_name_ok(s)) {
            quote_safe(q, sizeof q, s);
            return fail(err, CMEE_EINVAL, f,
                        "must be 1 to 15 characters from A-Z 0-9 . - _, got \"%s\"", q);
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(spec->symbols[j], s) == 0)
                return fail(err, CMEE_EINVAL, f, "\"%s\" is listed twice, first as symbols[%zu]", s,
                            j);
    }
    if (registry) {
        for (size_t i = 0; i < spec->nsymbols; i++) {
            if (!registered(registry, spec->symbols[i])) {
                item_field(f, sizeof f, "symbols", i, NULL);
                return fail(err, CMEE_ENOTFOUND, f, "\"%s\" is not a symbol of the market",
                            spec->symbols[i]);
            }
        }
    }
    return CMEE_OK;
}

/* Check a level; @p list/@p i/@p member name it ("regimes", 2, "revert_to"). */
static cmee_status check_level(const cmee_level *l, const char *list, size_t i, const char *member,
                               cmee_error *err)
{
    char f[32], m[24];
    cmee__fmt(m, sizeof m, "%s.kind", member);
    item_field(f, sizeof f, list, i, m);
    if (!level_kind_name(l->kind))
        return fail(err, CMEE_EINVAL, f, "unknown level kind %d", (int)l->kind);
    cmee__fmt(m, sizeof m, "%s.value", member);
    item_field(f, sizeof f, list, i, m);
    switch (l->kind) {
    case CMEE_LEVEL_NONE:
        if (!(l->value == 0))
            return fail(err, CMEE_EINVAL, f, "must be 0 when the kind is none, got %g", l->value);
        break;
    case CMEE_LEVEL_PRICE:
        if (!(l->value > 0) || !isfinite(l->value))
            return fail(err, CMEE_EINVAL, f, "a price must be finite and > 0, got %g", l->value);
        break;
    case CMEE_LEVEL_CHANGE:
        if (!(l->value > -1) || !isfinite(l->value))
            return fail(err, CMEE_EINVAL, f, "a change must be finite and > -1, got %g", l->value);
        break;
    }
    return CMEE_OK;
}

static cmee_status check_regime(const cmee_regime *r, size_t i, cmee_error *err)
{
    char f[32];
#define BAD(member, ...)                                                                           \
    do {                                                                                           \
        item_field(f, sizeof f, "regimes", i, member);                                             \
        return fail(err, CMEE_EINVAL, f, __VA_ARGS__);                                             \
    } while (0)
    if (r->start < 0 || r->start >= CMEE_SCENARIO_MAX_SPAN)
        BAD("start", "must be in [0, %" PRId64 "), got %" PRId64, CMEE_SCENARIO_MAX_SPAN, r->start);
    if (r->end <= r->start || r->end > CMEE_SCENARIO_MAX_SPAN)
        BAD("end", "must be > start (%" PRId64 ") and <= %" PRId64 ", got %" PRId64, r->start,
            CMEE_SCENARIO_MAX_SPAN, r->end);
    if (!cmee_drift_mode_name(r->drift_mode))
        BAD("drift_mode", "unknown drift mode %d", (int)r->drift_mode);
    if (r->drift_mode == CMEE_DRIFT_KEEP) {
        if (!(r->drift == 0))
            BAD("drift", "must be 0 when drift_mode is keep, got %g", r->drift);
    } else if (!(r->drift > -1) || !isfinite(r->drift)) {
        BAD("drift", "must be finite and > -1, got %g", r->drift);
    }
    if (!(r->vol_mult > 0 && r->vol_mult <= MAX_VOL_MULT))
        BAD("vol_mult", "must be in (0, 20], got %g", r->vol_mult);
    if (!(r->volume_mult == 0 || (r->volume_mult > 0 && r->volume_mult <= MAX_VOLUME_MULT)))
        BAD("volume_mult", "must be in (0, 100], got %g", r->volume_mult);
    if (!(r->jump_rate >= 0 && r->jump_rate <= MAX_JUMP_RATE))
        BAD("jump_rate", "must be in [0, 100000], got %g", r->jump_rate);
    if (!(r->jump_mean >= -1 && r->jump_mean <= 1))
        BAD("jump_mean", "must be in [-1, 1], got %g", r->jump_mean);
    if (!(r->jump_stdev >= 0 && r->jump_stdev <= 1))
        BAD("jump_stdev", "must be in [0, 1], got %g", r->jump_stdev);
    if (r->revert_half_life != 0 && (r->revert_half_life < MIN_REVERT_HALF_LIFE ||
                                     r->revert_half_life > CMEE_SCENARIO_MAX_SPAN))
        BAD("revert_half_life", "must be 0 (off) or in [3600000, %" PRId64 "] ms, got %" PRId64,
            CMEE_SCENARIO_MAX_SPAN, r->revert_half_life);
    cmee_status st = check_level(&r->revert_to, "regimes", i, "revert_to", err);
    if (st != CMEE_OK)
        return st;
    if (r->revert_half_life > 0 && r->revert_to.kind == CMEE_LEVEL_NONE)
        BAD("revert_to.kind", "must be price or change when revert_half_life is %" PRId64,
            r->revert_half_life);
#undef BAD
    return CMEE_OK;
}

static cmee_status check_event(const cmee_event *e, size_t i, cmee_error *err)
{
    char f[32];
#define BAD(member, ...)                                                                           \
    do {                                                                                           \
        item_field(f, sizeof f, "events", i, member);                                              \
        return fail(err, CMEE_EINVAL, f, __VA_ARGS__);                                             \
    } while (0)
    if (!cmee_event_kind_name(e->kind))
        BAD("kind", "unknown event kind %d", (int)e->kind);
    if (e->at < 0 || e->at > CMEE_SCENARIO_MAX_SPAN)
        BAD("at", "must be in [0, %" PRId64 "], got %" PRId64, CMEE_SCENARIO_MAX_SPAN, e->at);
    switch (e->kind) {
    case CMEE_EVENT_SHOCK:
        if (!(e->size > MIN_SHOCK && e->size <= MAX_SHOCK))
            BAD("size", "a shock must be in (-1, 10], got %g", e->size);
        break;
    case CMEE_EVENT_SPIKE:
        if (!(e->size > 1 && e->size <= MAX_SPIKE))
            BAD("size", "a spike must be in (1, 20], got %g", e->size);
        if (e->half_life < MIN_SPIKE_HALF_LIFE || e->half_life > MAX_SPIKE_HALF_LIFE)
            BAD("half_life", "must be in [60000, %" PRId64 "] ms, got %" PRId64,
                MAX_SPIKE_HALF_LIFE, e->half_life);
        if (cmee__spike_span(e->size, e->half_life) > CMEE_SCENARIO_MAX_SPAN - e->at)
            BAD("at",
                "a spike at %" PRId64 " of size %g and half_life %" PRId64 " acts until %" PRId64
                ", past %" PRId64,
                e->at, e->size, e->half_life, e->at + cmee__spike_span(e->size, e->half_life),
                CMEE_SCENARIO_MAX_SPAN);
        break;
    case CMEE_EVENT_HALT:
    case CMEE_EVENT_TARGET:
        if (e->end <= e->at || e->end > CMEE_SCENARIO_MAX_SPAN)
            BAD("end", "must be > at (%" PRId64 ") and <= %" PRId64 ", got %" PRId64, e->at,
                CMEE_SCENARIO_MAX_SPAN, e->end);
        if (e->kind == CMEE_EVENT_TARGET) {
            cmee_status st = check_level(&e->target, "events", i, "target", err);
            if (st != CMEE_OK)
                return st;
            if (e->target.kind == CMEE_LEVEL_NONE)
                BAD("target.kind", "must be price or change, got none");
        }
        break;
    }
#undef BAD
    return CMEE_OK;
}

/* Stable insertion sort of the indices 0..n-1 by key[] (n is at most 256). */
static void sort_indices(size_t *idx, const int64_t *key, size_t n)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = 1; i < n; i++) {
        size_t v = idx[i];
        size_t j = i;
        while (j > 0 && key[idx[j - 1]] > key[v]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

static cmee_status check_regime_overlap(const cmee_regime *r, size_t n, size_t *order,
                                        cmee_error *err)
{
    int64_t key[CMEE_SCENARIO_MAX_ITEMS];
    for (size_t i = 0; i < n; i++)
        key[i] = r[i].start;
    sort_indices(order, key, n);
    /* Sorted by start and disjoint so far, the previous regime has the latest end. */
    for (size_t k = 1; k < n; k++) {
        const cmee_regime *prev = &r[order[k - 1]], *cur = &r[order[k]];
        if (cur->start < prev->end) {
            char f[32];
            item_field(f, sizeof f, "regimes", order[k], "start");
            return fail(err, CMEE_EINVAL, f, "overlaps regimes[%zu], which ends at %" PRId64,
                        order[k - 1], prev->end);
        }
    }
    return CMEE_OK;
}

static cmee_status check_event_overlap(const cmee_event *e, size_t n, cmee_error *err)
{
    char f[32];
    size_t span[CMEE_SCENARIO_MAX_ITEMS], order[CMEE_SCENARIO_MAX_ITEMS];
    int64_t key[CMEE_SCENARIO_MAX_ITEMS];
    size_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].kind == CMEE_EVENT_HALT || e[i].kind == CMEE_EVENT_TARGET) {
            key[ns] = e[i].at;
            span[ns++] = i;
        }
    }
    sort_indices(order, key, ns);
    for (size_t k = 1; k < ns; k++) {
        const cmee_event *prev = &e[span[order[k - 1]]], *cur = &e[span[order[k]]];
        if (cur->at < prev->end) {
            item_field(f, sizeof f, "events", span[order[k]], "at");
            return fail(err, CMEE_EINVAL, f, "%s overlaps events[%zu] (%s), which ends at %" PRId64,
                        cmee_event_kind_name(cur->kind), span[order[k - 1]],
                        cmee_event_kind_name(prev->kind), prev->end);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (e[i].kind != CMEE_EVENT_SHOCK)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (e[j].kind == CMEE_EVENT_HALT && e[i].at >= e[j].at && e[i].at < e[j].end) {
                item_field(f, sizeof f, "events", i, "at");
                return fail(err, CMEE_EINVAL, f,
                            "shock at %" PRId64 " falls inside the halt events[%zu] [%" PRId64
                            ", %" PRId64 ")",
                            e[i].at, j, e[j].at, e[j].end);
            }
        }
    }
    return CMEE_OK;
}

/* -0 and +0 are the same value; keep one so equal scenarios are equal byte for byte. */
static double unsign_zero(double x)
{
    return x == 0 ? 0.0 : x;
}

/* The stored form of a valid regime or event: fields a kind ignores are reset to their
 * defaults, so equal scenarios compare and serialise identically. Written in place (not
 * returned by value) so that padding stays zeroed too. */
static void normal_regime(cmee_regime *n, const cmee_regime *r)
{
    cmee_regime_init(n);
    n->start = r->start;
    n->end = r->end;
    n->drift_mode = r->drift_mode;
    n->drift = unsign_zero(r->drift);
    n->vol_mult = r->vol_mult;
    n->volume_mult = r->volume_mult == 0 ? 1.0 : r->volume_mult; /* 0: unset (see the header) */
    n->jump_rate = unsign_zero(r->jump_rate);
    n->jump_mean = unsign_zero(r->jump_mean);
    n->jump_stdev = unsign_zero(r->jump_stdev);
    n->revert_half_life = r->revert_half_life;
    n->revert_to.kind = r->revert_to.kind;
    n->revert_to.value = unsign_zero(r->revert_to.value);
}

static void normal_event(cmee_event *n, const cmee_event *e)
{
    cmee_event_init(n, e->kind);
    n->at = e->at;
    switch (e->kind) {
    case CMEE_EVENT_SHOCK:
        n->size = unsign_zero(e->size);
        break;
    case CMEE_EVENT_HALT:
        n->end = e->end;
        break;
    case CMEE_EVENT_SPIKE:
        n->size = e->size;
        n->half_life = e->half_life;
        break;
    case CMEE_EVENT_TARGET:
        n->end = e->end;
        n->target.kind = e->target.kind;
        n->target.value = unsign_zero(e->target.value);
        break;
    }
}

static int64_t compute_duration(const cmee_scenario *sc)
{
    int64_t d = 0;
    for (size_t i = 0; i < sc->nregimes; i++)
        if (sc->regimes[i].end > d)
            d = sc->regimes[i].end;
    for (size_t i = 0; i < sc->nevents; i++) {
        const cmee_event *e = &sc->events[i];
        int64_t end = e->at;
        if (e->kind == CMEE_EVENT_HALT || e->kind == CMEE_EVENT_TARGET)
            end = e->end;
        else if (e->kind == CMEE_EVENT_SPIKE)
            end = e->at + cmee__spike_span(e->size, e->half_life);
        if (end > d)
            d = end;
    }
    return d;
}

static cmee_status check_spec(const cmee_scenario_spec *spec, const cmee_market *registry,
                              size_t *regime_order, cmee_error *err)
{
    cmee_status st = check_name(spec->name, err);
    if (st == CMEE_OK)
        st = check_description(spec->description, err);
    if (st != CMEE_OK)
        return st;
    if (spec->nregimes > CMEE_SCENARIO_MAX_ITEMS)
        return fail(err, CMEE_EINVAL, "nregimes", "must be at most %d, got %zu",
                    CMEE_SCENARIO_MAX_ITEMS, spec->nregimes);
    if (spec->nregimes > 0 && !spec->regimes)
        return fail(err, CMEE_EINVAL, "regimes", "is NULL with nregimes %zu", spec->nregimes);
    if (spec->nevents > CMEE_SCENARIO_MAX_ITEMS)
        return fail(err, CMEE_EINVAL, "nevents", "must be at most %d, got %zu",
                    CMEE_SCENARIO_MAX_ITEMS, spec->nevents);
    if (spec->nevents > 0 && !spec->events)
        return fail(err, CMEE_EINVAL, "events", "is NULL with nevents %zu", spec->nevents);
    for (size_t i = 0; i < spec->nregimes; i++)
        if ((st = check_regime(&spec->regimes[i], i, err)) != CMEE_OK)
            return st;
    if ((st = check_regime_overlap(spec->regimes, spec->nregimes, regime_order, err)) != CMEE_OK)
        return st;
    for (size_t i = 0; i < spec->nevents; i++)
        if ((st = check_event(&spec->events[i], i, err)) != CMEE_OK)
            return st;
    if ((st = check_event_overlap(spec->events, spec->nevents, err)) != CMEE_OK)
        return st;
    /* Symbols last: ENOTFOUND is about the market, the rest about the scenario itself. */
    return check_symbols(spec, registry, err);
}

/* ---- creation ------------------------------------------------------------------------- */

cmee_status cmee_scenario_new(const cmee_scenario_spec *spec, const cmee_market *registry,
                              const cmee_allocator *alloc, cmee_scenario **out, cmee_error *err)
{
    if (!spec)
        return fail(err, CMEE_EINVAL, "spec", "is NULL");
    if (!out)
        return fail(err, CMEE_EINVAL, "out", "is NULL");
    cmee__alloc al;
    if (cmee__alloc_init(&al, alloc) != CMEE_OK)
        return fail(err, CMEE_EINVAL, "alloc", "an allocator needs malloc, realloc and free");
    size_t regime_order[CMEE_SCENARIO_MAX_ITEMS];
    cmee_status st = check_spec(spec, registry, regime_order, err);
    if (st != CMEE_OK)
        return st;

    cmee_scenario *sc = cmee__calloc(&al, 1, sizeof *sc);
    if (!sc)
        goto nomem;
    sc->al = al;
    size_t dlen = spec->description ? strlen(spec->description) : 0;
    sc->description = cmee__malloc(&al, dlen + 1);
    if (!sc->description)
        goto nomem;
    if (dlen)
        memcpy(sc->description, spec->description, dlen);
    sc->description[dlen] = '\0';
    if (spec->nsymbols) {
        sc->symbols = cmee__calloc(&al, spec->nsymbols, sizeof *sc->symbols);
        if (!sc->symbols)
            goto nomem;
        for (size_t i = 0; i < spec->nsymbols; i++)
            memcpy(sc->symbols[i], spec->symbols[i], strlen(spec->symbols[i]) + 1);
        sc->nsymbols = spec->nsymbols;
    }
    if (spec->nregimes) {
        sc->regimes = cmee__calloc(&al, spec->nregimes, sizeof *sc->regimes);
        if (!sc->regimes)
            goto nomem;
        for (size_t k = 0; k < spec->nregimes; k++)
            normal_regime(&sc->regimes[k], &spec->regimes[regime_order[k]]);
        sc->nregimes = spec->nregimes;
    }
    if (spec->nevents) {
        sc->events = cmee__calloc(&al, spec->nevents, sizeof *sc->events);
        if (!sc->events)
            goto nomem;
        size_t order[CMEE_SCENARIO_MAX_ITEMS];
        int64_t key[CMEE_SCENARIO_MAX_ITEMS];
        for (size_t i = 0; i < spec->nevents; i++)
            key[i] = spec->events[i].at;
        sort_indices(order, key, spec->nevents);
        for (size_t k = 0; k < spec->nevents; k++)
            normal_event(&sc->events[k], &spec->events[order[k]]);
        sc->nevents = spec->nevents;
    }
    memcpy(sc->name, spec->name, strlen(spec->name) + 1);
    sc->duration = compute_duration(sc);
    *out = sc;
    return CMEE_OK;

nomem:
    cmee_scenario_free(sc);
    char q[32];
    quote_safe(q, sizeof q, spec->name);
    return fail(err, CMEE_ENOMEM, "alloc", "out of memory making scenario \"%s\"", q);
}

void cmee_scenario_free(cmee_scenario *sc)
{
    if (!sc)
        return;
    cmee__alloc al = sc->al;
    cmee__free(&al, sc->description);
    cmee__free(&al, sc->symbols);
    cmee__free(&al, sc->regimes);
    cmee__free(&al, sc->events);
    cmee__free(&al, sc);
}

/* ---- accessors ------------------------------------------------------------------------ */

const char *cmee_scenario_name(const cmee_scenario *sc)
{
    return sc ? sc->name : "";
}

const char *cmee_scenario_description(const cmee_scenario *sc)
{
    return sc ? sc->description : "";
}

size_t cmee_scenario_symbol_count(const cmee_scenario *sc)
{
    return sc ? sc->nsymbols : 0;
}

const char *cmee_scenario_symbol_at(const cmee_scenario *sc, size_t i)
{
    if (!sc || i >= sc->nsymbols)
        return NULL;
    return sc->symbols[i];
}

bool cmee_scenario_applies_to(const cmee_scenario *sc, const char *symbol)
{
    if (!sc || !symbol)
        return false;
    if (sc->nsymbols == 0)
        return true;
    for (size_t i = 0; i < sc->nsymbols; i++)
        if (strncmp(sc->symbols[i], symbol, CMEE_SYMBOL_MAX) == 0)
            return true;
    return false;
}

size_t cmee_scenario_regime_count(const cmee_scenario *sc)
{
    return sc ? sc->nregimes : 0;
}

cmee_status cmee_scenario_regime_at(const cmee_scenario *sc, size_t i, cmee_regime *out)
{
    if (!sc || !out)
        return CMEE_EINVAL;
    if (i >= sc->nregimes)
        return CMEE_ERANGE;
    memcpy(out, &sc->regimes[i], sizeof *out);
    return CMEE_OK;
}

size_t cmee_scenario_event_count(const cmee_scenario *sc)
{
    return sc ? sc->nevents : 0;
}

cmee_status cmee_scenario_event_at(const cmee_scenario *sc, size_t i, cmee_event *out)
{
    if (!sc || !out)
        return CMEE_EINVAL;
    if (i >= sc->nevents)
        return CMEE_ERANGE;
    memcpy(out, &sc->events[i], sizeof *out);
    return CMEE_OK;
}

int64_t cmee_scenario_duration(const cmee_scenario *sc)
{
    return sc ? sc->duration : 0;
}
