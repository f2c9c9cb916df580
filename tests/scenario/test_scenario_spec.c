/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Building scenarios in C: the defaults of the init functions, every validation rule with its
 * status and message, the sorted copy and its accessors, the duration, the presets and a
 * failure of every allocation in turn. */
#include "cmee_test.h"

#define MAX_SPAN CMEE_SCENARIO_MAX_SPAN
#define SC_SENTINEL ((cmee_scenario *)(uintptr_t)0x5ca1ab1e)

static cmee_regime regime(int64_t start, int64_t end)
{
    cmee_regime r;
    cmee_regime_init(&r);
    r.start = start;
    r.end = end;
    return r;
}

static cmee_event event(cmee_event_kind kind, int64_t at)
{
    cmee_event e;
    cmee_event_init(&e, kind);
    e.at = at;
    return e;
}

/* Field-by-field equality (padding is not part of a value); doubles bit for bit. */
#define BITS_EQ(a, b) (memcmp(&(a), &(b), sizeof(double)) == 0)
static bool regime_eq(const cmee_regime *a, const cmee_regime *b)
{
    return a->start == b->start && a->end == b->end && a->drift_mode == b->drift_mode &&
           BITS_EQ(a->drift, b->drift) && BITS_EQ(a->vol_mult, b->vol_mult) &&
           BITS_EQ(a->jump_rate, b->jump_rate) && BITS_EQ(a->jump_mean, b->jump_mean) &&
           BITS_EQ(a->jump_stdev, b->jump_stdev) && a->revert_half_life == b->revert_half_life &&
           a->revert_to.kind == b->revert_to.kind &&
           BITS_EQ(a->revert_to.value, b->revert_to.value);
}

static bool event_eq(const cmee_event *a, const cmee_event *b)
{
    return a->kind == b->kind && a->at == b->at && a->end == b->end && BITS_EQ(a->size, b->size) &&
           a->half_life == b->half_life && a->target.kind == b->target.kind &&
           BITS_EQ(a->target.value, b->target.value);
}

/* A valid spec that each failure test breaks in one place. Regimes and events are given out
 * of time order on purpose. */
typedef struct fixture {
    const char *syms[3];
    cmee_regime regimes[2];
    cmee_event events[4];
    cmee_scenario_spec spec;
} fixture;

static void base(fixture *f)
{
    memset(f, 0, sizeof *f);
    f->syms[0] = "BTCUSD";
    f->syms[1] = "ETHUSD";
    f->regimes[0] = regime(HOUR_MS, 2 * HOUR_MS);
    f->regimes[0].drift_mode = CMEE_DRIFT_SPAN;
    f->regimes[0].drift = 0.1;
    f->regimes[1] = regime(0, HOUR_MS);
    f->regimes[1].vol_mult = 2;
    f->events[0] = event(CMEE_EVENT_SPIKE, 0);
    f->events[0].size = 3;
    f->events[1] = event(CMEE_EVENT_HALT, 2 * HOUR_MS);
    f->events[1].end = 3 * HOUR_MS;
    f->events[2] = event(CMEE_EVENT_SHOCK, HOUR_MS);
    f->events[2].size = -0.05;
    f->events[3] = event(CMEE_EVENT_TARGET, 3 * HOUR_MS);
    f->events[3].end = 4 * HOUR_MS;
    f->events[3].target = (cmee_level){CMEE_LEVEL_PRICE, 100};
    f->spec = (cmee_scenario_spec){
        .name = "base test",
        .description = "a scenario for the tests",
        .symbols = f->syms,
        .nsymbols = 2,
        .regimes = f->regimes,
        .nregimes = 2,
        .events = f->events,
        .nevents = 4,
    };
}

/* cmee_scenario_new must fail with @p want, leave *out alone and name @p field in err, with a
 * text that starts with the field and contains @p needle. */
static void expect_fail(int line, const cmee_scenario_spec *spec, const cmee_market *registry,
                        cmee_status want, const char *field, const char *needle)
{
    cmee_scenario *sc = SC_SENTINEL;
    cmee_error err;
    memset(&err, 0, sizeof err);
    cmee_status st = cmee_scenario_new(spec, registry, NULL, &sc, &err);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s: ", field);
    if (st != want || err.status != want || strcmp(err.field, field) != 0 ||
        strncmp(err.text, prefix, strlen(prefix)) != 0 || !strstr(err.text, needle) ||
        sc != SC_SENTINEL) {
        print_error("test line %d: got %s field \"%s\" text \"%s\"; want %s field \"%s\" with "
                    "\"%s\"\n",
                    line, cmee_status_name(st), err.field, err.text, cmee_status_name(want), field,
                    needle);
        if (st == CMEE_OK && sc != SC_SENTINEL)
            cmee_scenario_free(sc);
        fail();
    }
}
#define FAIL_IF(mutation, want, field, needle)                                                     \
    do {                                                                                           \
        fixture f;                                                                                 \
        base(&f);                                                                                  \
        mutation;                                                                                  \
        expect_fail(__LINE__, &f.spec, NULL, (want), (field), (needle));                           \
    } while (0)
#define BAD(mutation, field, needle) FAIL_IF(mutation, CMEE_EINVAL, field, needle)

static cmee_scenario *make(const cmee_scenario_spec *spec)
{
    cmee_scenario *sc = NULL;
    cmee_error err;
    cmee_status st = cmee_scenario_new(spec, NULL, NULL, &sc, &err);
    if (st != CMEE_OK) {
        print_error("cmee_scenario_new: %s: %s\n", cmee_status_name(st), err.text);
        fail();
    }
    return sc;
}

/* ---- init ------------------------------------------------------------------------------ */

static void test_init_defaults(void **state)
{
    (void)state;
    cmee_regime r;
    memset(&r, 0xAB, sizeof r);
    cmee_regime_init(&r);
    assert_int_equal(r.start, 0);
    assert_int_equal(r.end, 0);
    assert_int_equal(r.drift_mode, CMEE_DRIFT_KEEP);
    assert_true(r.drift == 0);
    assert_true(r.vol_mult == 1);
    assert_true(r.jump_rate == 0 && r.jump_mean == 0 && r.jump_stdev == 0);
    assert_int_equal(r.revert_half_life, 0);
    assert_int_equal(r.revert_to.kind, CMEE_LEVEL_NONE);
    assert_true(r.revert_to.value == 0);
    cmee_regime_init(NULL);

    const cmee_event_kind kinds[] = {CMEE_EVENT_SHOCK, CMEE_EVENT_HALT, CMEE_EVENT_SPIKE,
                                     CMEE_EVENT_TARGET};
    for (size_t k = 0; k < 4; k++) {
        cmee_event e;
        memset(&e, 0xAB, sizeof e);
        cmee_event_init(&e, kinds[k]);
        assert_int_equal(e.kind, kinds[k]);
        assert_int_equal(e.at, 0);
        assert_int_equal(e.end, 0);
        assert_true(e.size == 0);
        assert_int_equal(e.half_life, kinds[k] == CMEE_EVENT_SPIKE ? HOUR_MS : 0);
        assert_int_equal(e.target.kind, CMEE_LEVEL_NONE);
        assert_true(e.target.value == 0);
    }
    cmee_event_init(NULL, CMEE_EVENT_SHOCK);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(cmee_event_kind_name(CMEE_EVENT_SHOCK), "shock");
    assert_string_equal(cmee_event_kind_name(CMEE_EVENT_HALT), "halt");
    assert_string_equal(cmee_event_kind_name(CMEE_EVENT_SPIKE), "spike");
    assert_string_equal(cmee_event_kind_name(CMEE_EVENT_TARGET), "target");
    assert_null(cmee_event_kind_name((cmee_event_kind)4));
    assert_null(cmee_event_kind_name((cmee_event_kind)-1));
    assert_string_equal(cmee_drift_mode_name(CMEE_DRIFT_KEEP), "keep");
    assert_string_equal(cmee_drift_mode_name(CMEE_DRIFT_SPAN), "span");
    assert_string_equal(cmee_drift_mode_name(CMEE_DRIFT_ANNUAL), "annual");
    assert_null(cmee_drift_mode_name((cmee_drift_mode)3));
}

/* ---- validation ------------------------------------------------------------------------ */

static void test_base_is_valid(void **state)
{
    (void)state;
    fixture f;
    base(&f);
    cmee_error err;
    memset(&err, 0xCD, sizeof err);
    cmee_error pristine = err;
    cmee_scenario *sc = NULL;
    cmee_market *m = cmee_test_market(42);
    assert_int_equal(cmee_scenario_new(&f.spec, m, NULL, &sc, &err), CMEE_OK);
    assert_non_null(sc);
    /* err is filled only on failure. */
    assert_memory_equal(&err, &pristine, sizeof err);
    cmee_scenario_free(sc);
    cmee_market_free(m);
}

static void test_null_arguments(void **state)
{
    (void)state;
    fixture f;
    base(&f);
    cmee_scenario *sc = SC_SENTINEL;
    cmee_error err;
    assert_int_equal(cmee_scenario_new(NULL, NULL, NULL, &sc, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "spec");
    assert_ptr_equal(sc, SC_SENTINEL);
    assert_int_equal(cmee_scenario_new(&f.spec, NULL, NULL, NULL, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "out");
    /* err is optional. */
    assert_int_equal(cmee_scenario_new(NULL, NULL, NULL, &sc, NULL), CMEE_EINVAL);
    f.spec.name = "";
    assert_int_equal(cmee_scenario_new(&f.spec, NULL, NULL, &sc, NULL), CMEE_EINVAL);
    assert_ptr_equal(sc, SC_SENTINEL);
    /* An allocator without free. */
    base(&f);
    chaos c = {0};
    cmee_allocator a = chaos_allocator(&c);
    a.free = NULL;
    assert_int_equal(cmee_scenario_new(&f.spec, NULL, &a, &sc, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "alloc");
    assert_int_equal(c.calls, 0);
}

static void test_bad_name(void **state)
{
    (void)state;
    BAD(f.spec.name = NULL, "name", "is NULL");
    BAD(f.spec.name = "", "name", "got \"\"");
    BAD(f.spec.name = " lead", "name", "got \" lead\"");
    BAD(f.spec.name = "trail ", "name", "got \"trail \"");
    BAD(f.spec.name = "a/b", "name", "got \"a/b\"");
    BAD(f.spec.name = "tab\there", "name", "got \"tab?here\"");
    BAD(f.spec.name = "caf\xc3\xa9", "name", "1 to 63 characters");
    char n64[65];
    memset(n64, 'x', 64);
    n64[64] = '\0';
    BAD(f.spec.name = n64, "name", "got \"xxxxxxxxxxxxxxxxxxxxxxxx...\"");
    /* 63 characters and every allowed character are fine. */
    fixture f;
    base(&f);
    n64[63] = '\0';
    f.spec.name = n64;
    cmee_scenario *sc = make(&f.spec);
    assert_string_equal(cmee_scenario_name(sc), n64);
    cmee_scenario_free(sc);
    f.spec.name = "Az09_-. x";
    sc = make(&f.spec);
    assert_string_equal(cmee_scenario_name(sc), "Az09_-. x");
    cmee_scenario_free(sc);
}

static void test_bad_description(void **state)
{
    (void)state;
    char d[1100];
    memset(d, 'd', sizeof d);
    d[1024] = '\0';
    BAD(f.spec.description = d, "description", "at most 1023 bytes");
    BAD(f.spec.description = "bad \xff byte", "description", "not valid UTF-8 at byte 4");
    BAD(f.spec.description = "cut \xc3", "description", "not valid UTF-8 at byte 4");
    BAD(f.spec.description = "overlong \xc0\xaf", "description", "not valid UTF-8 at byte 9");
    BAD(f.spec.description = "surrogate \xed\xa0\x80", "description", "at byte 10");
    BAD(f.spec.description = "too big \xf4\x90\x80\x80", "description", "at byte 8");
    fixture f;
    base(&f);
    d[1023] = '\0';
    f.spec.description = d;
    cmee_scenario *sc = make(&f.spec);
    assert_int_equal(strlen(cmee_scenario_description(sc)), 1023);
    cmee_scenario_free(sc);
    f.spec.description = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x88\n\tok";
    sc = make(&f.spec);
    assert_string_equal(cmee_scenario_description(sc), f.spec.description);
    cmee_scenario_free(sc);
    f.spec.description = NULL;
    sc = make(&f.spec);
    assert_string_equal(cmee_scenario_description(sc), "");
    cmee_scenario_free(sc);
}

static void test_bad_symbols(void **state)
{
    (void)state;
    BAD(f.spec.symbols = NULL, "symbols", "is NULL with nsymbols 2");
    BAD(f.syms[1] = NULL, "symbols[1]", "is NULL");
    BAD(f.syms[0] = "btcusd", "symbols[0]", "got \"btcusd\"");
    BAD(f.syms[1] = "", "symbols[1]", "got \"\"");
    BAD(f.syms[1] = "ABCDEFGHIJKLMNOP", "symbols[1]", "got \"ABCDEFGHIJKLMNOP\"");
    BAD(f.syms[1] = "BTC USD", "symbols[1]", "got \"BTC USD\"");
    BAD((f.syms[2] = "BTCUSD", f.spec.nsymbols = 3), "symbols[2]",
        "\"BTCUSD\" is listed twice, first as symbols[0]");
    BAD(f.spec.nsymbols = CMEE_SCENARIO_MAX_ITEMS + 1, "nsymbols", "at most 256, got 257");

    /* Checked against a registry only when one is given. */
    cmee_market *m = cmee_test_market(42);
    fixture f;
    base(&f);
    f.syms[1] = "NOPE";
    expect_fail(__LINE__, &f.spec, m, CMEE_ENOTFOUND, "symbols[1]",
                "\"NOPE\" is not a symbol of the market");
    cmee_scenario *sc = make(&f.spec);
    assert_int_equal(cmee_scenario_symbol_count(sc), 2);
    cmee_scenario_free(sc);
    /* A user symbol counts once registered. */
    cmee_symbol_spec s;
    cmee_symbol_spec_init(&s, "NOPE");
    assert_int_equal(cmee_market_set_symbol(m, &s), CMEE_OK);
    assert_int_equal(cmee_scenario_new(&f.spec, m, NULL, &sc, NULL), CMEE_OK);
    cmee_scenario_free(sc);
    cmee_market_free(m);
}

static void test_bad_regimes(void **state)
{
    (void)state;
    BAD(f.regimes[0].start = -1, "regimes[0].start", "got -1");
    BAD(f.regimes[1].start = MAX_SPAN, "regimes[1].start", "got 315532800000");
    BAD(f.regimes[0].end = HOUR_MS, "regimes[0].end",
        "must be > start (3600000) and <= 315532800000, got 3600000");
    BAD(f.regimes[0].end = HOUR_MS - 1, "regimes[0].end", "got 3599999");
    BAD(f.regimes[1].end = MAX_SPAN + 1, "regimes[1].end", "got 315532800001");
    BAD(f.regimes[0].drift_mode = (cmee_drift_mode)3, "regimes[0].drift_mode",
        "unknown drift mode 3");
    BAD(f.regimes[1].drift = 0.1, "regimes[1].drift", "must be 0 when drift_mode is keep, got 0.1");
    BAD(f.regimes[0].drift = -1, "regimes[0].drift", "must be finite and > -1, got -1");
    BAD(f.regimes[0].drift = NAN, "regimes[0].drift", "got nan");
    BAD(f.regimes[0].drift = INFINITY, "regimes[0].drift", "got inf");
    BAD((f.regimes[0].drift_mode = CMEE_DRIFT_ANNUAL, f.regimes[0].drift = -1.5),
        "regimes[0].drift", "got -1.5");
    BAD(f.regimes[1].vol_mult = -2, "regimes[1].vol_mult", "must be in (0, 20], got -2");
    BAD(f.regimes[1].vol_mult = 0, "regimes[1].vol_mult", "got 0");
    BAD(f.regimes[1].vol_mult = 20.5, "regimes[1].vol_mult", "got 20.5");
    BAD(f.regimes[1].vol_mult = NAN, "regimes[1].vol_mult", "got nan");
    BAD(f.regimes[0].jump_rate = -1, "regimes[0].jump_rate", "must be in [0, 100000], got -1");
    BAD(f.regimes[0].jump_rate = 100001, "regimes[0].jump_rate", "got 100001");
    BAD(f.regimes[0].jump_rate = INFINITY, "regimes[0].jump_rate", "got inf");
    BAD(f.regimes[0].jump_mean = 1.5, "regimes[0].jump_mean", "must be in [-1, 1], got 1.5");
    BAD(f.regimes[0].jump_mean = -1.01, "regimes[0].jump_mean", "got -1.01");
    BAD(f.regimes[0].jump_stdev = -0.1, "regimes[0].jump_stdev", "must be in [0, 1], got -0.1");
    BAD(f.regimes[0].jump_stdev = NAN, "regimes[0].jump_stdev", "got nan");
    BAD(f.regimes[0].revert_half_life = 1000, "regimes[0].revert_half_life",
        "must be 0 (off) or in [3600000, 315532800000] ms, got 1000");
    BAD(f.regimes[0].revert_half_life = -1, "regimes[0].revert_half_life", "got -1");
    BAD(f.regimes[0].revert_half_life = MAX_SPAN + 1, "regimes[0].revert_half_life",
        "got 315532800001");
    BAD(f.regimes[0].revert_half_life = HOUR_MS, "regimes[0].revert_to.kind",
        "must be price or change when revert_half_life is 3600000");
    BAD(f.regimes[0].revert_to.kind = (cmee_level_kind)9, "regimes[0].revert_to.kind",
        "unknown level kind 9");
    BAD(f.regimes[0].revert_to = ((cmee_level){CMEE_LEVEL_PRICE, 0}), "regimes[0].revert_to.value",
        "a price must be finite and > 0, got 0");
    BAD(f.regimes[0].revert_to = ((cmee_level){CMEE_LEVEL_PRICE, INFINITY}),
        "regimes[0].revert_to.value", "got inf");
    BAD(f.regimes[0].revert_to = ((cmee_level){CMEE_LEVEL_CHANGE, -1}),
        "regimes[0].revert_to.value", "a change must be finite and > -1, got -1");
    BAD(f.regimes[0].revert_to = ((cmee_level){CMEE_LEVEL_CHANGE, NAN}),
        "regimes[0].revert_to.value", "got nan");
    BAD(f.regimes[0].revert_to = ((cmee_level){CMEE_LEVEL_NONE, 0.5}), "regimes[0].revert_to.value",
        "must be 0 when the kind is none, got 0.5");
    BAD(f.spec.regimes = NULL, "regimes", "is NULL with nregimes 2");
    BAD(f.spec.nregimes = CMEE_SCENARIO_MAX_ITEMS + 1, "nregimes", "at most 256, got 257");

    /* Overlap: indices are the caller's, not the sorted order. regimes[1] starts first. */
    BAD(f.regimes[1].end = HOUR_MS + 1, "regimes[0].start",
        "overlaps regimes[1], which ends at 3600001");
    BAD(f.regimes[1] = regime(HOUR_MS, 3 * HOUR_MS), "regimes[1].start",
        "overlaps regimes[0], which ends at 7200000");
    BAD(f.regimes[1] = regime(0, 5 * HOUR_MS), "regimes[0].start",
        "overlaps regimes[1], which ends at 18000000");

    /* Limits that are allowed. */
    fixture f;
    base(&f);
    f.regimes[1].vol_mult = 20;
    f.regimes[0].drift = -0.999;
    f.regimes[0].jump_rate = 1e5;
    f.regimes[0].jump_mean = -1;
    f.regimes[0].jump_stdev = 1;
    f.regimes[0].revert_half_life = HOUR_MS;
    f.regimes[0].revert_to = (cmee_level){CMEE_LEVEL_PRICE, 1e-9};
    f.regimes[1].revert_to = (cmee_level){CMEE_LEVEL_CHANGE, 5}; /* ignored, kept */
    f.regimes[1].end = MAX_SPAN;
    f.regimes[1].start = 2 * HOUR_MS;
    cmee_scenario *sc = make(&f.spec);
    cmee_regime r;
    assert_int_equal(cmee_scenario_regime_at(sc, 1, &r), CMEE_OK);
    assert_int_equal(r.end, MAX_SPAN);
    assert_int_equal(r.revert_to.kind, CMEE_LEVEL_CHANGE);
    assert_true(r.revert_to.value == 5);
    assert_int_equal(cmee_scenario_duration(sc), MAX_SPAN);
    cmee_scenario_free(sc);
}

static void test_bad_events(void **state)
{
    (void)state;
    BAD(f.events[0].kind = (cmee_event_kind)4, "events[0].kind", "unknown event kind 4");
    BAD(f.events[2].at = -1, "events[2].at", "got -1");
    BAD(f.events[2].at = MAX_SPAN + 1, "events[2].at", "must be in [0, 315532800000], got");
    BAD(f.events[2].size = -1, "events[2].size", "a shock must be in (-1, 10], got -1");
    BAD(f.events[2].size = 10.5, "events[2].size", "got 10.5");
    BAD(f.events[2].size = NAN, "events[2].size", "got nan");
    BAD(f.events[0].size = 1, "events[0].size", "a spike must be in (1, 20], got 1");
    BAD(f.events[0].size = 21, "events[0].size", "got 21");
    BAD(f.events[0].size = INFINITY, "events[0].size", "got inf");
    BAD(f.events[0].half_life = 59999, "events[0].half_life",
        "must be in [60000, 2592000000] ms, got 59999");
    BAD(f.events[0].half_life = 31 * DAY_MS, "events[0].half_life", "got 2678400000");
    BAD(f.events[0].at = MAX_SPAN - HOUR_MS, "events[0].at", "past 315532800000");
    BAD(f.events[1].end = 2 * HOUR_MS, "events[1].end",
        "must be > at (7200000) and <= 315532800000, got 7200000");
    BAD(f.events[3].end = MAX_SPAN + 1, "events[3].end", "got 315532800001");
    BAD(f.events[3].target.kind = CMEE_LEVEL_NONE, "events[3].target.value",
        "must be 0 when the kind is none, got 100");
    BAD(f.events[3].target = ((cmee_level){CMEE_LEVEL_NONE, 0}), "events[3].target.kind",
        "must be price or change, got none");
    BAD(f.events[3].target = ((cmee_level){CMEE_LEVEL_PRICE, -5}), "events[3].target.value",
        "got -5");
    BAD(f.events[3].target = ((cmee_level){CMEE_LEVEL_CHANGE, -1}), "events[3].target.value",
        "got -1");
    BAD(f.events[3].target.kind = (cmee_level_kind)3, "events[3].target.kind",
        "unknown level kind 3");
    BAD(f.spec.events = NULL, "events", "is NULL with nevents 4");
    BAD(f.spec.nevents = CMEE_SCENARIO_MAX_ITEMS + 1, "nevents", "at most 256, got 257");

    /* Halts and targets must not overlap one another, in any combination. */
    BAD(f.events[3].at = 3 * HOUR_MS - 1, "events[3].at",
        "target overlaps events[1] (halt), which ends at 10800000");
    BAD((f.events[1].at = 3 * HOUR_MS + 1, f.events[1].end = 5 * HOUR_MS), "events[1].at",
        "halt overlaps events[3] (target), which ends at 14400000");
    BAD((f.events[0] = f.events[1], f.events[0].at = 2 * HOUR_MS + 1), "events[0].at",
        "halt overlaps events[1] (halt), which ends at 10800000");
    BAD((f.events[0] = f.events[3], f.events[0].at = 0, f.events[0].end = 5 * HOUR_MS),
        "events[1].at", "halt overlaps events[0] (target), which ends at 18000000");
    /* No shock inside a halt. */
    BAD(f.events[2].at = 2 * HOUR_MS, "events[2].at",
        "shock at 7200000 falls inside the halt events[1] [7200000, 10800000)");
    BAD(f.events[2].at = 3 * HOUR_MS - 1, "events[2].at", "inside the halt events[1]");

    /* Allowed: touching spans, a shock at a halt's end, a shock inside a target, spikes
     * anywhere, the limits of sizes. */
    fixture f;
    base(&f);
    f.events[2].at = 3 * HOUR_MS;
    f.events[2].size = 10;
    f.events[0].size = 20;
    f.events[0].half_life = 30 * DAY_MS;
    f.events[0].at = 2 * HOUR_MS + 30 * MIN_MS;
    cmee_scenario *sc = make(&f.spec);
    assert_int_equal(cmee_scenario_event_count(sc), 4);
    cmee_scenario_free(sc);
    f.events[2].size = -0.999999;
    f.events[0].size = 1.000001;
    f.events[0].half_life = MIN_MS;
    sc = make(&f.spec);
    cmee_scenario_free(sc);
    /* A spike whose span ends exactly at the limit. */
    int64_t span = (int64_t)ceil((double)HOUR_MS * log2(2.0 / 0.01));
    f.events[0].size = 3;
    f.events[0].half_life = HOUR_MS;
    f.events[0].at = MAX_SPAN - span;
    sc = make(&f.spec);
    assert_int_equal(cmee_scenario_duration(sc), MAX_SPAN);
    cmee_scenario_free(sc);
    f.events[0].at++;
    expect_fail(__LINE__, &f.spec, NULL, CMEE_EINVAL, "events[0].at", "acts until");
}

/* Fields a kind ignores may hold anything, and are stored as their defaults. */
static void test_ignored_fields(void **state)
{
    (void)state;
    cmee_event e[4];
    e[0] = event(CMEE_EVENT_SHOCK, 5 * MIN_MS);
    e[0].size = 0.5;
    e[0].end = -7;
    e[0].half_life = 77;
    e[0].target = (cmee_level){(cmee_level_kind)42, NAN};
    e[1] = event(CMEE_EVENT_HALT, 0);
    e[1].end = MIN_MS;
    e[1].size = NAN;
    e[1].half_life = -1;
    e[2] = event(CMEE_EVENT_SPIKE, 0);
    e[2].size = 2;
    e[2].end = 99;
    e[2].target = (cmee_level){CMEE_LEVEL_PRICE, 3};
    e[3] = event(CMEE_EVENT_TARGET, MIN_MS);
    e[3].end = 2 * MIN_MS;
    e[3].size = INFINITY;
    e[3].half_life = 5;
    e[3].target = (cmee_level){CMEE_LEVEL_CHANGE, -0.0};
    cmee_scenario_spec spec = {.name = "ignored", .events = e, .nevents = 4};
    cmee_scenario *sc = make(&spec);
    /* Sorted by at, stable: halt (0), spike (0), target (1m), shock (5m). */
    cmee_event got[4], want[4];
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(cmee_scenario_event_at(sc, i, &got[i]), CMEE_OK);
    want[0] = event(CMEE_EVENT_HALT, 0);
    want[0].end = MIN_MS;
    want[1] = event(CMEE_EVENT_SPIKE, 0);
    want[1].size = 2;
    want[2] = event(CMEE_EVENT_TARGET, MIN_MS);
    want[2].end = 2 * MIN_MS;
    want[2].target = (cmee_level){CMEE_LEVEL_CHANGE, 0.0};
    want[3] = event(CMEE_EVENT_SHOCK, 5 * MIN_MS);
    want[3].size = 0.5;
    for (size_t i = 0; i < 4; i++)
        assert_true(event_eq(&got[i], &want[i]));
    /* -0 is stored as +0. */
    assert_false(signbit(got[2].target.value));
    cmee_scenario_free(sc);
}

/* ---- accessors, order, duration -------------------------------------------------------- */

static void test_accessors(void **state)
{
    (void)state;
    fixture f;
    base(&f);
    cmee_scenario *sc = make(&f.spec);
    assert_string_equal(cmee_scenario_name(sc), "base test");
    assert_string_equal(cmee_scenario_description(sc), "a scenario for the tests");
    assert_int_equal(cmee_scenario_symbol_count(sc), 2);
    assert_string_equal(cmee_scenario_symbol_at(sc, 0), "BTCUSD");
    assert_string_equal(cmee_scenario_symbol_at(sc, 1), "ETHUSD");
    assert_null(cmee_scenario_symbol_at(sc, 2));
    assert_true(cmee_scenario_applies_to(sc, "BTCUSD"));
    assert_true(cmee_scenario_applies_to(sc, "ETHUSD"));
    assert_false(cmee_scenario_applies_to(sc, "XAUUSD"));
    assert_false(cmee_scenario_applies_to(sc, "BTCUSDT"));
    assert_false(cmee_scenario_applies_to(sc, "BTC"));
    assert_false(cmee_scenario_applies_to(sc, NULL));

    /* Regimes sorted by start: [0, 1h) with vol 2, then [1h, 2h) with drift. */
    assert_int_equal(cmee_scenario_regime_count(sc), 2);
    cmee_regime r;
    assert_int_equal(cmee_scenario_regime_at(sc, 0, &r), CMEE_OK);
    assert_true(regime_eq(&r, &f.regimes[1]));
    assert_int_equal(cmee_scenario_regime_at(sc, 1, &r), CMEE_OK);
    assert_true(regime_eq(&r, &f.regimes[0]));
    assert_int_equal(cmee_scenario_regime_at(sc, 2, &r), CMEE_ERANGE);
    assert_int_equal(cmee_scenario_regime_at(sc, 0, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_scenario_regime_at(NULL, 0, &r), CMEE_EINVAL);

    /* Events sorted by at: spike 0, shock 1h, halt 2h, target 3h. */
    assert_int_equal(cmee_scenario_event_count(sc), 4);
    const size_t order[] = {0, 2, 1, 3};
    for (size_t i = 0; i < 4; i++) {
        cmee_event e;
        assert_int_equal(cmee_scenario_event_at(sc, i, &e), CMEE_OK);
        assert_true(event_eq(&e, &f.events[order[i]]));
    }
    cmee_event e;
    assert_int_equal(cmee_scenario_event_at(sc, 4, &e), CMEE_ERANGE);
    assert_int_equal(cmee_scenario_event_at(sc, 0, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_scenario_event_at(NULL, 0, &e), CMEE_EINVAL);

    /* The copy does not depend on the caller's arrays. */
    f.regimes[1].vol_mult = 7;
    f.syms[0] = "XXX";
    assert_int_equal(cmee_scenario_regime_at(sc, 0, &r), CMEE_OK);
    assert_true(r.vol_mult == 2);
    assert_string_equal(cmee_scenario_symbol_at(sc, 0), "BTCUSD");

    /* Duration: the target ends at 4h, but the spike of size 3 and half-life 1h acts for
     * 1h x log2(200) = 7.64h. */
    int64_t spike = (int64_t)ceil((double)HOUR_MS * log2(200.0));
    assert_int_equal(spike, 27517883);
    assert_int_equal(cmee_scenario_duration(sc), spike);
    cmee_scenario_free(sc);

    /* NULL scenario. */
    assert_string_equal(cmee_scenario_name(NULL), "");
    assert_string_equal(cmee_scenario_description(NULL), "");
    assert_int_equal(cmee_scenario_symbol_count(NULL), 0);
    assert_null(cmee_scenario_symbol_at(NULL, 0));
    assert_false(cmee_scenario_applies_to(NULL, "BTCUSD"));
    assert_int_equal(cmee_scenario_regime_count(NULL), 0);
    assert_int_equal(cmee_scenario_event_count(NULL), 0);
    assert_int_equal(cmee_scenario_duration(NULL), 0);
    cmee_scenario_free(NULL);
}

static void test_stable_event_order(void **state)
{
    (void)state;
    cmee_event e[CMEE_SCENARIO_MAX_ITEMS];
    /* 256 shocks at 8 distinct times, given in reverse time order: sorted by at, and within
     * one time in the caller's order (told apart by size). */
    for (size_t i = 0; i < CMEE_SCENARIO_MAX_ITEMS; i++) {
        e[i] = event(CMEE_EVENT_SHOCK, (int64_t)(7 - i % 8) * HOUR_MS);
        e[i].size = (double)i / 1000.0;
    }
    cmee_scenario_spec spec = {.name = "many", .events = e, .nevents = CMEE_SCENARIO_MAX_ITEMS};
    cmee_scenario *sc = make(&spec);
    assert_int_equal(cmee_scenario_event_count(sc), CMEE_SCENARIO_MAX_ITEMS);
    cmee_event prev;
    for (size_t i = 0; i < CMEE_SCENARIO_MAX_ITEMS; i++) {
        cmee_event cur;
        assert_int_equal(cmee_scenario_event_at(sc, i, &cur), CMEE_OK);
        assert_int_equal(cur.at, (int64_t)(i / 32) * HOUR_MS);
        if (i > 0 && cur.at == prev.at)
            assert_true(cur.size > prev.size);
        prev = cur;
    }
    assert_int_equal(cmee_scenario_duration(sc), 7 * HOUR_MS);
    cmee_scenario_free(sc);
}

static void test_many_regimes(void **state)
{
    (void)state;
    cmee_regime r[CMEE_SCENARIO_MAX_ITEMS];
    /* Touching regimes given in reverse order. */
    for (size_t i = 0; i < CMEE_SCENARIO_MAX_ITEMS; i++) {
        size_t k = CMEE_SCENARIO_MAX_ITEMS - 1 - i;
        r[i] = regime((int64_t)k * DAY_MS, (int64_t)(k + 1) * DAY_MS);
        r[i].vol_mult = 1 + (double)k / 100.0;
    }
    cmee_scenario_spec spec = {.name = "many", .regimes = r, .nregimes = CMEE_SCENARIO_MAX_ITEMS};
    cmee_scenario *sc = make(&spec);
    for (size_t i = 0; i < CMEE_SCENARIO_MAX_ITEMS; i++) {
        cmee_regime got;
        assert_int_equal(cmee_scenario_regime_at(sc, i, &got), CMEE_OK);
        assert_int_equal(got.start, (int64_t)i * DAY_MS);
        assert_true(got.vol_mult == 1 + (double)i / 100.0);
    }
    assert_int_equal(cmee_scenario_duration(sc), 256 * DAY_MS);
    cmee_scenario_free(sc);
    /* One regime overlapping its neighbour by one ms in the middle. */
    r[100].end++;
    expect_fail(__LINE__, &spec, NULL, CMEE_EINVAL, "regimes[99].start",
                "overlaps regimes[100], which ends at 13478400001");
}

static void test_duration(void **state)
{
    (void)state;
    /* Empty: valid, lasts 0 and applies to every symbol. */
    cmee_scenario_spec spec = {.name = "empty"};
    cmee_scenario *sc = make(&spec);
    assert_int_equal(cmee_scenario_duration(sc), 0);
    assert_int_equal(cmee_scenario_regime_count(sc), 0);
    assert_int_equal(cmee_scenario_event_count(sc), 0);
    assert_int_equal(cmee_scenario_symbol_count(sc), 0);
    assert_true(cmee_scenario_applies_to(sc, "ANYTHING"));
    cmee_scenario_free(sc);

    /* A shock counts at its time. */
    cmee_event e[3];
    e[0] = event(CMEE_EVENT_SHOCK, 5 * HOUR_MS);
    e[0].size = 0.1;
    spec.events = e;
    spec.nevents = 1;
    sc = make(&spec);
    assert_int_equal(cmee_scenario_duration(sc), 5 * HOUR_MS);
    cmee_scenario_free(sc);

    /* A halt and a target count at their ends; a regime at its end. */
    e[1] = event(CMEE_EVENT_HALT, 5 * HOUR_MS + 1);
    e[1].end = 6 * HOUR_MS + 1;
    spec.nevents = 2;
    sc = make(&spec);
    assert_int_equal(cmee_scenario_duration(sc), 6 * HOUR_MS + 1);
    cmee_scenario_free(sc);
    e[2] = event(CMEE_EVENT_TARGET, 7 * HOUR_MS);
    e[2].end = 9 * HOUR_MS;
    e[2].target = (cmee_level){CMEE_LEVEL_PRICE, 50};
    spec.nevents = 3;
    cmee_regime r = regime(DAY_MS, 2 * DAY_MS);
    spec.regimes = &r;
    spec.nregimes = 1;
    sc = make(&spec);
    assert_int_equal(cmee_scenario_duration(sc), 2 * DAY_MS);
    cmee_scenario_free(sc);

    /* A spike lasts until its excess falls below 1 %: size 1.005 has none to speak of. */
    e[0] = event(CMEE_EVENT_SPIKE, 3 * HOUR_MS);
    e[0].size = 1.005;
    spec.nevents = 1;
    spec.nregimes = 0;
    sc = make(&spec);
    assert_int_equal(cmee_scenario_duration(sc), 3 * HOUR_MS);
    cmee_scenario_free(sc);
    /* Size 2 with half-life 10 minutes: 10m x log2(100) = 66.44 minutes. */
    e[0].size = 2;
    e[0].half_life = 10 * MIN_MS;
    sc = make(&spec);
    assert_int_equal(cmee_scenario_duration(sc), 3 * HOUR_MS + 3986314);
    cmee_scenario_free(sc);
}

/* ---- presets --------------------------------------------------------------------------- */

static cmee_scenario *preset(const char *name)
{
    cmee_scenario *sc = NULL;
    cmee_error err;
    cmee_status st = cmee_scenario_preset(name, NULL, &sc, &err);
    if (st != CMEE_OK) {
        print_error("preset %s: %s: %s\n", name, cmee_status_name(st), err.text);
        fail();
    }
    return sc;
}

static void test_preset_list(void **state)
{
    (void)state;
    static const char *const names[] = {
        "calm",           "bull_trend",           "bear_trend",
        "crash",          "flash_crash_recovery", "volatility_spike",
        "sideways_range", "trading_halt",         "recovery",
    };
    size_t n = sizeof names / sizeof names[0];
    for (size_t i = 0; i < n; i++) {
        assert_non_null(cmee_scenario_preset_name(i));
        assert_string_equal(cmee_scenario_preset_name(i), names[i]);
        cmee_scenario *sc = preset(names[i]);
        assert_string_equal(cmee_scenario_name(sc), names[i]);
        assert_true(strlen(cmee_scenario_description(sc)) > 20);
        assert_null(strchr(cmee_scenario_description(sc), '\n'));
        assert_int_equal(cmee_scenario_symbol_count(sc), 0);
        assert_true(cmee_scenario_applies_to(sc, "BTCUSD"));
        assert_true(cmee_scenario_duration(sc) > 0);
        assert_true(cmee_scenario_regime_count(sc) + cmee_scenario_event_count(sc) > 0);
        cmee_scenario_free(sc);
    }
    assert_null(cmee_scenario_preset_name(n));
    assert_null(cmee_scenario_preset_name(SIZE_MAX));

    cmee_scenario *sc = SC_SENTINEL;
    cmee_error err;
    assert_int_equal(cmee_scenario_preset("Calm", NULL, &sc, &err), CMEE_ENOTFOUND);
    assert_int_equal(err.status, CMEE_ENOTFOUND);
    assert_string_equal(err.field, "name");
    assert_string_equal(err.text, "name: no preset called \"Calm\"");
    assert_int_equal(cmee_scenario_preset("", NULL, &sc, NULL), CMEE_ENOTFOUND);
    assert_int_equal(cmee_scenario_preset(NULL, NULL, &sc, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "name");
    assert_int_equal(cmee_scenario_preset("calm", NULL, NULL, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "out");
    assert_ptr_equal(sc, SC_SENTINEL);
}

static void check_regime(const cmee_scenario *sc, size_t i, int64_t start, int64_t end,
                         cmee_drift_mode mode, double drift, double vol_mult)
{
    cmee_regime r;
    assert_int_equal(cmee_scenario_regime_at(sc, i, &r), CMEE_OK);
    assert_int_equal(r.start, start);
    assert_int_equal(r.end, end);
    assert_int_equal(r.drift_mode, mode);
    assert_true(r.drift == drift);
    assert_true(r.vol_mult == vol_mult);
}

static void test_preset_timelines(void **state)
{
    (void)state;
    cmee_regime r;
    cmee_event e;

    cmee_scenario *sc = preset("calm");
    assert_int_equal(cmee_scenario_regime_count(sc), 1);
    assert_int_equal(cmee_scenario_event_count(sc), 0);
    check_regime(sc, 0, 0, 7 * DAY_MS, CMEE_DRIFT_KEEP, 0, 0.5);
    assert_int_equal(cmee_scenario_duration(sc), 7 * DAY_MS);
    cmee_scenario_free(sc);

    sc = preset("bull_trend");
    check_regime(sc, 0, 0, 30 * DAY_MS, CMEE_DRIFT_SPAN, 0.25, 1);
    cmee_scenario_free(sc);
    sc = preset("bear_trend");
    check_regime(sc, 0, 0, 30 * DAY_MS, CMEE_DRIFT_SPAN, -0.20, 1);
    cmee_scenario_free(sc);
    sc = preset("recovery");
    check_regime(sc, 0, 0, 14 * DAY_MS, CMEE_DRIFT_SPAN, 0.15, 1.2);
    cmee_scenario_free(sc);

    sc = preset("crash");
    assert_int_equal(cmee_scenario_regime_count(sc), 1);
    check_regime(sc, 0, 0, 3 * DAY_MS, CMEE_DRIFT_SPAN, -0.25, 2.5);
    assert_int_equal(cmee_scenario_regime_at(sc, 0, &r), CMEE_OK);
    assert_true(r.jump_rate == 500 && r.jump_mean == -0.03 && r.jump_stdev == 0.02);
    assert_int_equal(r.revert_half_life, 0);
    assert_int_equal(cmee_scenario_event_count(sc), 1);
    assert_int_equal(cmee_scenario_event_at(sc, 0, &e), CMEE_OK);
    assert_int_equal(e.kind, CMEE_EVENT_SHOCK);
    assert_int_equal(e.at, 0);
    assert_true(e.size == -0.10);
    assert_int_equal(cmee_scenario_duration(sc), 3 * DAY_MS);
    cmee_scenario_free(sc);

    sc = preset("flash_crash_recovery");
    assert_int_equal(cmee_scenario_regime_count(sc), 0);
    assert_int_equal(cmee_scenario_event_count(sc), 3);
    /* Stable order at 0: the first target, then the spike; then the second target. */
    assert_int_equal(cmee_scenario_event_at(sc, 0, &e), CMEE_OK);
    assert_int_equal(e.kind, CMEE_EVENT_TARGET);
    assert_int_equal(e.at, 0);
    assert_int_equal(e.end, 15 * MIN_MS);
    assert_int_equal(e.target.kind, CMEE_LEVEL_CHANGE);
    assert_true(e.target.value == -0.10);
    assert_int_equal(cmee_scenario_event_at(sc, 1, &e), CMEE_OK);
    assert_int_equal(e.kind, CMEE_EVENT_SPIKE);
    assert_int_equal(e.at, 0);
    assert_true(e.size == 3);
    assert_int_equal(e.half_life, 30 * MIN_MS);
    assert_int_equal(cmee_scenario_event_at(sc, 2, &e), CMEE_OK);
    assert_int_equal(e.kind, CMEE_EVENT_TARGET);
    assert_int_equal(e.at, 15 * MIN_MS);
    assert_int_equal(e.end, 3 * HOUR_MS);
    assert_true(e.target.value == 0.111);
    /* The spike (30m x log2(200)) outlasts the second target. */
    assert_int_equal(cmee_scenario_duration(sc), (int64_t)ceil(30.0 * MIN_MS * log2(200.0)));
    cmee_scenario_free(sc);

    sc = preset("volatility_spike");
    assert_int_equal(cmee_scenario_event_count(sc), 1);
    assert_int_equal(cmee_scenario_event_at(sc, 0, &e), CMEE_OK);
    assert_int_equal(e.kind, CMEE_EVENT_SPIKE);
    assert_true(e.size == 4);
    assert_int_equal(e.half_life, 2 * HOUR_MS);
    assert_int_equal(cmee_scenario_duration(sc), (int64_t)ceil(2.0 * HOUR_MS * log2(300.0)));
    cmee_scenario_free(sc);

    sc = preset("sideways_range");
    check_regime(sc, 0, 0, 14 * DAY_MS, CMEE_DRIFT_SPAN, 0, 0.8);
    assert_int_equal(cmee_scenario_regime_at(sc, 0, &r), CMEE_OK);
    assert_int_equal(r.revert_half_life, 6 * HOUR_MS);
    assert_int_equal(r.revert_to.kind, CMEE_LEVEL_CHANGE);
    assert_true(r.revert_to.value == 0);
    cmee_scenario_free(sc);

    sc = preset("trading_halt");
    assert_int_equal(cmee_scenario_event_count(sc), 1);
    assert_int_equal(cmee_scenario_event_at(sc, 0, &e), CMEE_OK);
    assert_int_equal(e.kind, CMEE_EVENT_HALT);
    assert_int_equal(e.at, 0);
    assert_int_equal(e.end, 30 * MIN_MS);
    assert_int_equal(cmee_scenario_duration(sc), 30 * MIN_MS);
    cmee_scenario_free(sc);
}

/* ---- allocation failures --------------------------------------------------------------- */

static void test_alloc_failures(void **state)
{
    (void)state;
    fixture f;
    base(&f);
    long needed = 0;
    for (long n = 1; n < 100; n++) {
        chaos c = {.fail_at = n};
        cmee_allocator a = chaos_allocator(&c);
        cmee_scenario *sc = SC_SENTINEL;
        cmee_error err;
        cmee_status st = cmee_scenario_new(&f.spec, NULL, &a, &sc, &err);
        if (st == CMEE_OK) {
            assert_true(c.calls < n);
            assert_true(c.live > 0);
            assert_string_equal(cmee_scenario_name(sc), "base test");
            cmee_scenario_free(sc);
            assert_int_equal(c.live, 0);
            needed = n - 1;
            break;
        }
        assert_int_equal(st, CMEE_ENOMEM);
        assert_int_equal(err.status, CMEE_ENOMEM);
        assert_string_equal(err.field, "alloc");
        assert_non_null(strstr(err.text, "base test"));
        assert_ptr_equal(sc, SC_SENTINEL);
        assert_int_equal(c.live, 0);
    }
    /* The struct, the description, the symbols, the regimes and the events. */
    assert_int_equal(needed, 5);

    chaos c = {.fail_all = true};
    cmee_allocator a = chaos_allocator(&c);
    cmee_scenario *sc = SC_SENTINEL;
    assert_int_equal(cmee_scenario_new(&f.spec, NULL, &a, &sc, NULL), CMEE_ENOMEM);
    assert_int_equal(c.live, 0);

    /* Every preset, every allocation. */
    for (size_t i = 0; cmee_scenario_preset_name(i); i++) {
        for (long n = 1; n < 100; n++) {
            chaos cp = {.fail_at = n};
            cmee_allocator ap = chaos_allocator(&cp);
            sc = SC_SENTINEL;
            cmee_status st = cmee_scenario_preset(cmee_scenario_preset_name(i), &ap, &sc, NULL);
            if (st == CMEE_OK) {
                cmee_scenario_free(sc);
                assert_int_equal(cp.live, 0);
                break;
            }
            assert_int_equal(st, CMEE_ENOMEM);
            assert_ptr_equal(sc, SC_SENTINEL);
            assert_int_equal(cp.live, 0);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_defaults),  cmocka_unit_test(test_names),
        cmocka_unit_test(test_base_is_valid),  cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_bad_name),       cmocka_unit_test(test_bad_description),
        cmocka_unit_test(test_bad_symbols),    cmocka_unit_test(test_bad_regimes),
        cmocka_unit_test(test_bad_events),     cmocka_unit_test(test_ignored_fields),
        cmocka_unit_test(test_accessors),      cmocka_unit_test(test_stable_event_order),
        cmocka_unit_test(test_many_regimes),   cmocka_unit_test(test_duration),
        cmocka_unit_test(test_preset_list),    cmocka_unit_test(test_preset_timelines),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
