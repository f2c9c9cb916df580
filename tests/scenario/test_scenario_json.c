/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The JSON form of scenarios: reading with defaults and duration strings, every kind of bad
 * input naming its JSON path, the limits on size and nesting, the exact canonical text,
 * shortest round-tripping numbers, round trips of every preset, the buffer protocol of
 * cmee_scenario_to_json() and a failure of every allocation in turn. */
#include "cmee_test.h"

#define SC_SENTINEL ((cmee_scenario *)(uintptr_t)0x5ca1ab1e)
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

/* Read @p json (NUL-terminated), failing the test on error. */
static cmee_scenario *load(const char *json)
{
    cmee_scenario *sc = NULL;
    cmee_error err;
    cmee_status st = cmee_scenario_from_json(json, strlen(json), NULL, NULL, &sc, &err);
    if (st != CMEE_OK) {
        print_error("from_json: %s: %s\n  in %s\n", cmee_status_name(st), err.text, json);
        fail();
    }
    return sc;
}

/* The canonical text of @p sc in a new malloc'd string. */
static char *dump(const cmee_scenario *sc)
{
    size_t len = 0;
    assert_int_equal(cmee_scenario_to_json(sc, NULL, 0, &len), CMEE_OK);
    char *buf = malloc(len + 1);
    assert_non_null(buf);
    size_t len2 = 0;
    assert_int_equal(cmee_scenario_to_json(sc, buf, len + 1, &len2), CMEE_OK);
    assert_int_equal(len2, len);
    assert_int_equal(strlen(buf), len);
    return buf;
}

/* from_json must fail with @p want, name @p field and say @p needle. */
static void expect_fail(int line, const char *json, size_t len, const cmee_market *registry,
                        cmee_status want, const char *field, const char *needle)
{
    cmee_scenario *sc = SC_SENTINEL;
    cmee_error err;
    memset(&err, 0, sizeof err);
    cmee_status st = cmee_scenario_from_json(json, len, registry, NULL, &sc, &err);
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
#define BAD(json, field, needle)                                                                   \
    expect_fail(__LINE__, (json), strlen(json), NULL, CMEE_EINVAL, (field), (needle))

/* ---- reading ---------------------------------------------------------------------------- */

static void test_minimal_and_defaults(void **state)
{
    (void)state;
    cmee_scenario *sc = load("{\"name\":\"x\"}");
    assert_string_equal(cmee_scenario_name(sc), "x");
    assert_string_equal(cmee_scenario_description(sc), "");
    assert_int_equal(cmee_scenario_symbol_count(sc), 0);
    assert_int_equal(cmee_scenario_regime_count(sc), 0);
    assert_int_equal(cmee_scenario_event_count(sc), 0);
    assert_int_equal(cmee_scenario_duration(sc), 0);
    cmee_scenario_free(sc);

    /* A regime with only its span takes every cmee_regime_init() default. */
    sc = load(" {\n \"name\" : \"d\", \"symbols\": [], \"events\": [],\n"
              " \"regimes\": [ {\"end\": 7200000, \"start\": 3600000} ] }\n");
    cmee_regime want, got;
    cmee_regime_init(&want);
    want.start = HOUR_MS;
    want.end = 2 * HOUR_MS;
    assert_int_equal(cmee_scenario_regime_at(sc, 0, &got), CMEE_OK);
    assert_true(regime_eq(&got, &want));
    cmee_scenario_free(sc);

    /* Events: a spike's half_life defaults to one hour; a level of kind none needs no value. */
    sc = load("{\"name\":\"e\",\"events\":[{\"kind\":\"spike\",\"at\":0,\"size\":2.5}],"
              "\"regimes\":[{\"start\":0,\"end\":1,\"revert_to\":{\"kind\":\"none\"}}]}");
    cmee_event ev, wev;
    cmee_event_init(&wev, CMEE_EVENT_SPIKE);
    wev.size = 2.5;
    assert_int_equal(cmee_scenario_event_at(sc, 0, &ev), CMEE_OK);
    assert_true(event_eq(&ev, &wev));
    assert_int_equal(ev.half_life, HOUR_MS);
    cmee_scenario_free(sc);

    /* Every field given, integers accepted for numbers. */
    sc = load("{\"name\":\"full\",\"description\":\"all of it\",\"symbols\":[\"BTCUSD\",\"AAPL\"],"
              "\"regimes\":[{\"start\":\"1d\",\"end\":\"2d\",\"drift_mode\":\"annual\","
              "\"drift\":-0.5,\"vol_mult\":3,\"jump_rate\":12,\"jump_mean\":-0.25,"
              "\"jump_stdev\":0.125,\"revert_half_life\":\"2h\","
              "\"revert_to\":{\"kind\":\"price\",\"value\":250}}],"
              "\"events\":[{\"kind\":\"target\",\"at\":\"1h\",\"end\":\"2h\","
              "\"target\":{\"kind\":\"change\",\"value\":0.5}},"
              "{\"kind\":\"halt\",\"at\":\"3h\",\"end\":\"4h\"},"
              "{\"kind\":\"shock\",\"at\":0,\"size\":0.25},"
              "{\"kind\":\"spike\",\"at\":\"90s\",\"size\":5,\"half_life\":\"10m\"}]}");
    assert_string_equal(cmee_scenario_description(sc), "all of it");
    assert_int_equal(cmee_scenario_symbol_count(sc), 2);
    assert_string_equal(cmee_scenario_symbol_at(sc, 1), "AAPL");
    assert_int_equal(cmee_scenario_regime_at(sc, 0, &got), CMEE_OK);
    assert_int_equal(got.start, DAY_MS);
    assert_int_equal(got.end, 2 * DAY_MS);
    assert_int_equal(got.drift_mode, CMEE_DRIFT_ANNUAL);
    assert_true(got.drift == -0.5 && got.vol_mult == 3 && got.jump_rate == 12);
    assert_true(got.jump_mean == -0.25 && got.jump_stdev == 0.125);
    assert_int_equal(got.revert_half_life, 2 * HOUR_MS);
    assert_int_equal(got.revert_to.kind, CMEE_LEVEL_PRICE);
    assert_true(got.revert_to.value == 250);
    /* Sorted by at: shock 0, spike 90s, target 1h, halt 3h. */
    const cmee_event_kind kinds[] = {CMEE_EVENT_SHOCK, CMEE_EVENT_SPIKE, CMEE_EVENT_TARGET,
                                     CMEE_EVENT_HALT};
    const int64_t ats[] = {0, 90000, HOUR_MS, 3 * HOUR_MS};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(cmee_scenario_event_at(sc, i, &ev), CMEE_OK);
        assert_int_equal(ev.kind, kinds[i]);
        assert_int_equal(ev.at, ats[i]);
    }
    assert_int_equal(cmee_scenario_event_at(sc, 1, &ev), CMEE_OK);
    assert_int_equal(ev.half_life, 10 * MIN_MS);
    assert_true(ev.size == 5);
    assert_int_equal(cmee_scenario_event_at(sc, 2, &ev), CMEE_OK);
    assert_int_equal(ev.end, 2 * HOUR_MS);
    assert_int_equal(ev.target.kind, CMEE_LEVEL_CHANGE);
    assert_true(ev.target.value == 0.5);
    cmee_scenario_free(sc);
}

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ms;
    } good[] = {
        {"0ms", 0},
        {"250ms", 250},
        {"90s", 90000},
        {"30m", 30 * MIN_MS},
        {"2h", 2 * HOUR_MS},
        {"7d", 7 * DAY_MS},
        {"0d", 0},
        {"007m", 7 * MIN_MS},
        {"3652d", 3652 * DAY_MS},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char json[160];
        snprintf(json, sizeof json,
                 "{\"name\":\"t\",\"events\":[{\"kind\":\"shock\",\"at\":\"%s\",\"size\":0.1}]}",
                 good[i].text);
        cmee_scenario *sc = load(json);
        cmee_event e;
        assert_int_equal(cmee_scenario_event_at(sc, 0, &e), CMEE_OK);
        assert_int_equal(e.at, good[i].ms);
        cmee_scenario_free(sc);
    }
    static const char *const bad[] = {
        "",
        "h",
        "1.5h",
        "-1h",
        "+1h",
        "1w",
        "1 h",
        " 1h",
        "1h ",
        "1H",
        "1hh",
        "1mss",
        "ms",
        "99999999999999999999d",
        "9223372036854775807d",
        "106751991167301d",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[160], needle[64];
        snprintf(json, sizeof json,
                 "{\"name\":\"t\",\"events\":[{\"kind\":\"shock\",\"at\":\"%s\",\"size\":0.1}]}",
                 bad[i]);
        snprintf(needle, sizeof needle, "got \"%.20s", bad[i]);
        BAD(json, "events[0].at", "expected a duration such as");
        BAD(json, "events[0].at", needle);
    }
    /* A valid string past the limit is a validation error. */
    BAD("{\"name\":\"t\",\"events\":[{\"kind\":\"shock\",\"at\":\"3653d\",\"size\":0.1}]}",
        "events[0].at", "must be in [0, 315532800000], got 315619200000");
    /* Times are integers of ms or strings: not reals, even whole ones. */
    BAD("{\"name\":\"t\",\"events\":[{\"kind\":\"shock\",\"at\":1.0,\"size\":0.1}]}",
        "events[0].at",
        "expected a time: an integer of ms or a duration string like \"30m\", "
        "got a real number");
    BAD("{\"name\":\"t\",\"regimes\":[{\"start\":0,\"end\":null}]}", "regimes[0].end", "got null");
    BAD("{\"name\":\"t\",\"regimes\":[{\"start\":0,\"end\":1,\"revert_half_life\":true}]}",
        "regimes[0].revert_half_life", "got true");
    BAD("{\"name\":\"t\",\"events\":[{\"kind\":\"spike\",\"at\":0,\"size\":2,\"half_life\":[]}]}",
        "events[0].half_life", "got an array");
}

static void test_unknown_and_misplaced_keys(void **state)
{
    (void)state;
    BAD("{\"name\":\"x\",\"colour\":\"red\"}", "colour", "colour: unknown key");
    BAD("{\"Name\":\"x\"}", "Name", "unknown key");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0,\"end\":1,\"volmult\":2}]}",
        "regimes[0].volmult", "regimes[0].volmult: unknown key");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0,\"end\":1},{\"start\":1,\"end\":2,\"x\":0}]}",
        "regimes[1].x", "unknown key");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0,\"end\":1,"
        "\"revert_to\":{\"kind\":\"none\",\"level\":1}}]}",
        "regimes[0].revert_to.level", "unknown key");
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":\"shock\",\"at\":0,\"sise\":0.1}]}",
        "events[0].sise", "unknown key");
    /* Keys of another kind of event. */
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":\"halt\",\"at\":0,\"end\":1,\"size\":0.1}]}",
        "events[0].size", "events[0].size: not a field of a halt event");
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":\"shock\",\"at\":0,\"size\":0.1,\"end\":5}]}",
        "events[0].end", "not a field of a shock event");
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":\"shock\",\"at\":0,\"size\":0.1,"
        "\"half_life\":60000}]}",
        "events[0].half_life", "not a field of a shock event");
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":\"spike\",\"at\":0,\"size\":2,"
        "\"target\":{\"kind\":\"price\",\"value\":1}}]}",
        "events[0].target", "not a field of a spike event");
    BAD("{\"name\":\"x\",\"events\":[{\"at\":0,\"end\":1,\"size\":1,\"kind\":\"target\","
        "\"target\":{\"kind\":\"price\",\"value\":1}}]}",
        "events[0].size", "not a field of a target event");
    /* A long or odd key is cut and made printable in the path. */
    BAD("{\"name\":\"x\",\"abcdefghijklmnopqrstuvwxyz\":1}", "abcdefghijklmnopqrst...",
        "unknown key");
    BAD("{\"name\":\"x\",\"a\\nb\":1}", "a?b", "unknown key");
    /* Duplicate keys are refused by the parser. */
    BAD("{\"name\":\"x\",\"name\":\"y\"}", "json", "duplicate");
}

static void test_wrong_types(void **state)
{
    (void)state;
    BAD("[]", "json", "expected an object at the top level, got an array");
    BAD("{\"name\":5}", "name", "name: expected a string, got an integer");
    BAD("{\"name\":null}", "name", "got null");
    BAD("{\"name\":\"x\",\"description\":false}", "description", "expected a string, got false");
    BAD("{\"name\":\"x\",\"symbols\":\"BTCUSD\"}", "symbols", "expected an array, got a string");
    BAD("{\"name\":\"x\",\"symbols\":[\"BTCUSD\",1.5]}", "symbols[1]",
        "expected a string, got a real number");
    BAD("{\"name\":\"x\",\"regimes\":{}}", "regimes", "expected an array, got an object");
    BAD("{\"name\":\"x\",\"events\":7}", "events", "expected an array, got an integer");
    BAD("{\"name\":\"x\",\"regimes\":[3]}", "regimes[0]", "expected an object, got an integer");
    BAD("{\"name\":\"x\",\"events\":[[]]}", "events[0]", "expected an object, got an array");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0,\"end\":1,\"vol_mult\":\"2\"}]}",
        "regimes[0].vol_mult", "regimes[0].vol_mult: expected a number, got a string");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0,\"end\":1,\"drift\":null}]}", "regimes[0].drift",
        "expected a number, got null");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0,\"end\":1,\"drift_mode\":\"up\"}]}",
        "regimes[0].drift_mode", "expected \"keep\", \"span\" or \"annual\", got \"up\"");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0,\"end\":1,\"drift_mode\":1}]}",
        "regimes[0].drift_mode", "got an integer");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0,\"end\":1,\"revert_to\":\"none\"}]}",
        "regimes[0].revert_to", "expected an object {\"kind\", \"value\"}, got a string");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0,\"end\":1,"
        "\"revert_to\":{\"kind\":\"level\"}}]}",
        "regimes[0].revert_to.kind", "expected \"none\", \"price\" or \"change\", got \"level\"");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0,\"end\":1,"
        "\"revert_to\":{\"kind\":\"price\",\"value\":\"1\"}}]}",
        "regimes[0].revert_to.value", "expected a number, got a string");
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":\"boom\",\"at\":0}]}", "events[0].kind",
        "expected \"shock\", \"halt\", \"spike\" or \"target\", got \"boom\"");
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":0,\"at\":0}]}", "events[0].kind", "got an integer");
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":\"shock\",\"at\":0,\"size\":true}]}",
        "events[0].size", "expected a number, got true");
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":\"target\",\"at\":0,\"end\":1,\"target\":5}]}",
        "events[0].target", "got an integer");
}

static void test_missing_fields(void **state)
{
    (void)state;
    BAD("{}", "name", "name: missing, expected a string");
    BAD("{\"description\":\"no name\"}", "name", "missing");
    BAD("{\"name\":\"x\",\"regimes\":[{\"end\":1}]}", "regimes[0].start",
        "regimes[0].start: missing, expected a time");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0}]}", "regimes[0].end", "missing");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0,\"end\":1,\"revert_to\":{}}]}",
        "regimes[0].revert_to.kind", "missing");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0,\"end\":1,"
        "\"revert_to\":{\"kind\":\"change\"}}]}",
        "regimes[0].revert_to.value", "missing, expected a number");
    BAD("{\"name\":\"x\",\"events\":[{\"at\":0}]}", "events[0].kind", "missing");
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":\"shock\",\"size\":0.1}]}", "events[0].at",
        "missing");
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":\"shock\",\"at\":0}]}", "events[0].size", "missing");
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":\"spike\",\"at\":0}]}", "events[0].size", "missing");
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":\"halt\",\"at\":0}]}", "events[0].end", "missing");
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":\"target\",\"at\":0,\"end\":1}]}",
        "events[0].target", "missing");
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":\"target\",\"at\":0,\"target\":"
        "{\"kind\":\"price\",\"value\":1}}]}",
        "events[0].end", "missing");
}

/* Validation is that of cmee_scenario_new(), with the caller's (document) indices. */
static void test_validation_through_json(void **state)
{
    (void)state;
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":\"1h\",\"end\":\"2h\"},"
        "{\"start\":0,\"end\":\"1h\",\"vol_mult\":-2}]}",
        "regimes[1].vol_mult", "regimes[1].vol_mult: must be in (0, 20], got -2");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":\"1h\",\"end\":\"2h\"},"
        "{\"start\":0,\"end\":\"61m\"}]}",
        "regimes[0].start", "overlaps regimes[1], which ends at 3660000");
    BAD("{\"name\":\" x\"}", "name", "got \" x\"");
    BAD("{\"name\":\"x\",\"symbols\":[\"A\",\"A\"]}", "symbols[1]", "listed twice");
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":\"halt\",\"at\":0,\"end\":\"1h\"},"
        "{\"kind\":\"shock\",\"at\":\"30m\",\"size\":-0.1}]}",
        "events[1].at", "inside the halt events[0]");
    BAD("{\"name\":\"x\",\"events\":[{\"kind\":\"target\",\"at\":0,\"end\":1,"
        "\"target\":{\"kind\":\"none\"}}]}",
        "events[0].target.kind", "must be price or change");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":-5,\"end\":1}]}", "regimes[0].start", "got -5");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0,\"end\":1,\"drift\":0.5}]}", "regimes[0].drift",
        "must be 0 when drift_mode is keep");
    /* Huge reals overflow in the parser; huge integers too. */
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0,\"end\":1,\"vol_mult\":1e999}]}", "json",
        "line 1, column");
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0,\"end\":99999999999999999999}]}", "json",
        "too big");

    /* Registry. */
    cmee_market *m = cmee_test_market(42);
    const char *j = "{\"name\":\"x\",\"symbols\":[\"BTCUSD\",\"NOPE\"]}";
    expect_fail(__LINE__, j, strlen(j), m, CMEE_ENOTFOUND, "symbols[1]",
                "\"NOPE\" is not a symbol of the market");
    cmee_scenario *sc = NULL;
    assert_int_equal(cmee_scenario_from_json(j, strlen(j), NULL, NULL, &sc, NULL), CMEE_OK);
    cmee_scenario_free(sc);
    j = "{\"name\":\"x\",\"symbols\":[\"BTCUSD\",\"AAPL\"]}";
    assert_int_equal(cmee_scenario_from_json(j, strlen(j), m, NULL, &sc, NULL), CMEE_OK);
    assert_true(cmee_scenario_applies_to(sc, "AAPL"));
    assert_false(cmee_scenario_applies_to(sc, "MSFT"));
    cmee_scenario_free(sc);
    cmee_market_free(m);
}

static void test_malformed(void **state)
{
    (void)state;
    BAD("{\n  \"name\": \"x\",\n  oops\n}", "json",
        "json: line 3, column 6: string or '}' expected near 'oops'");
    BAD("{\"name\":\"x\"", "json", "line 1, column 11");
    BAD("", "json", "line 1, column 0");
    BAD("{\"name\":\"x\"} trailing", "json", "end of file expected");
    BAD("{\"name\":\"x\\u0000y\"}", "json", "\\u0000 is not allowed");
    BAD("{\"name\":\"\xff\"}", "json", "line 1");
    BAD("{\"name\":'x'}", "json", "line 1, column 9");
    /* NaN and infinity are not JSON. */
    BAD("{\"name\":\"x\",\"regimes\":[{\"start\":0,\"end\":1,\"vol_mult\":NaN}]}", "json",
        "line 1");
    /* The text need not be NUL-terminated: only len bytes are read. */
    const char *j = "{\"name\":\"cut\"}GARBAGE";
    cmee_scenario *sc = NULL;
    assert_int_equal(cmee_scenario_from_json(j, 14, NULL, NULL, &sc, NULL), CMEE_OK);
    assert_string_equal(cmee_scenario_name(sc), "cut");
    cmee_scenario_free(sc);
    expect_fail(__LINE__, j, 13, NULL, CMEE_EINVAL, "json", "line 1");
    /* An embedded NUL byte. */
    expect_fail(__LINE__, "{\"name\":\"x\"}\0 ", 14, NULL, CMEE_EINVAL, "json", "line 1");

    /* NULL arguments. */
    cmee_error err;
    sc = SC_SENTINEL;
    assert_int_equal(cmee_scenario_from_json(NULL, 0, NULL, NULL, &sc, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "json");
    assert_int_equal(cmee_scenario_from_json("{}", 2, NULL, NULL, NULL, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "out");
    cmee_allocator bad = {NULL, NULL, NULL, NULL};
    assert_int_equal(cmee_scenario_from_json("{\"name\":\"x\"}", 12, NULL, &bad, &sc, &err),
                     CMEE_EINVAL);
    assert_string_equal(err.field, "alloc");
    assert_ptr_equal(sc, SC_SENTINEL);
}

static void test_size_limit(void **state)
{
    (void)state;
    const size_t mib = (size_t)1 << 20;
    char *big = malloc(mib + 2);
    assert_non_null(big);
    /* Exactly 1 MiB (a valid document padded with spaces) is fine. */
    memset(big, ' ', mib + 1);
    memcpy(big, "{\"name\":\"big\"}", 14);
    big[mib + 1] = '\0';
    cmee_scenario *sc = NULL;
    cmee_error err;
    assert_int_equal(cmee_scenario_from_json(big, mib, NULL, NULL, &sc, &err), CMEE_OK);
    assert_string_equal(cmee_scenario_name(sc), "big");
    cmee_scenario_free(sc);
    /* One byte more is not. */
    expect_fail(__LINE__, big, mib + 1, NULL, CMEE_EINVAL, "json",
                "json: 1048577 bytes, more than the limit of 1048576");
    expect_fail(__LINE__, big, SIZE_MAX, NULL, CMEE_EINVAL, "json", "more than the limit");
    free(big);
}

static void test_nesting_limit(void **state)
{
    (void)state;
    /* 32 levels pass the nesting check (and fail on the schema); 33 do not. */
    char j[400];
    for (int depth = 32; depth <= 33; depth++) {
        size_t n = (size_t)snprintf(j, sizeof j, "{\"name\":\"x\",\"description\":");
        for (int i = 1; i < depth; i++)
            j[n++] = '[';
        for (int i = 1; i < depth; i++)
            j[n++] = ']';
        memcpy(j + n, "}", 2);
        if (depth == 32)
            BAD(j, "description", "expected a string, got an array");
        else
            BAD(j, "json", "json: line 1, column 58: nested deeper than 32 levels");
    }
    /* Very deep input is refused before it is parsed; brackets in strings do not count. */
    size_t deep = 100000;
    char *d = malloc(deep + 1);
    assert_non_null(d);
    memset(d, '[', deep);
    d[deep] = '\0';
    BAD(d, "json", "nested deeper than 32 levels");
    free(d);
    BAD("{\"name\":\"x\",\"description\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\"}"
        "\n{",
        "json", "line 2, column 1: end of file expected");
    cmee_scenario *sc =
        load("{\"name\":\"x\",\"description\":\"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\\\\\"}");
    assert_string_equal(cmee_scenario_description(sc),
                        "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\\");
    cmee_scenario_free(sc);
}

/* ---- writing ---------------------------------------------------------------------------- */

static const char small_json[] =
    "{\"name\":\"small\",\"description\":\"tiny \\\"q\\\"\\n\\u0001\\\\/ caf\xc3\xa9\","
    "\"symbols\":[\"ETHUSD\",\"BTCUSD\"],"
    "\"regimes\":[{\"start\":0,\"end\":3600000,\"drift_mode\":\"span\",\"drift\":0.1,"
    "\"vol_mult\":1.5,\"jump_rate\":0,\"jump_mean\":0,\"jump_stdev\":0,\"revert_half_life\":0,"
    "\"revert_to\":{\"kind\":\"none\",\"value\":0}},"
    "{\"start\":3600000,\"end\":86400000,\"drift_mode\":\"keep\",\"drift\":0,\"vol_mult\":1,"
    "\"jump_rate\":50,\"jump_mean\":-0.02,\"jump_stdev\":0.01,\"revert_half_life\":7200000,"
    "\"revert_to\":{\"kind\":\"change\",\"value\":-0.05}}],"
    "\"events\":[{\"kind\":\"spike\",\"at\":0,\"size\":2,\"half_life\":3600000},"
    "{\"kind\":\"shock\",\"at\":1800000,\"size\":-0.05},"
    "{\"kind\":\"halt\",\"at\":7200000,\"end\":10800000},"
    "{\"kind\":\"target\",\"at\":10800000,\"end\":14400000,"
    "\"target\":{\"kind\":\"price\",\"value\":123.5}}]}";

static cmee_scenario *small(void)
{
    const char *syms[] = {"ETHUSD", "BTCUSD"};
    cmee_regime r[2];
    cmee_regime_init(&r[0]);
    r[0].start = HOUR_MS;
    r[0].end = DAY_MS;
    r[0].jump_rate = 50;
    r[0].jump_mean = -0.02;
    r[0].jump_stdev = 0.01;
    r[0].revert_half_life = 2 * HOUR_MS;
    r[0].revert_to = (cmee_level){CMEE_LEVEL_CHANGE, -0.05};
    cmee_regime_init(&r[1]);
    r[1].end = HOUR_MS;
    r[1].drift_mode = CMEE_DRIFT_SPAN;
    r[1].drift = 0.1;
    r[1].vol_mult = 1.5;
    cmee_event e[4];
    cmee_event_init(&e[0], CMEE_EVENT_TARGET);
    e[0].at = 3 * HOUR_MS;
    e[0].end = 4 * HOUR_MS;
    e[0].target = (cmee_level){CMEE_LEVEL_PRICE, 123.5};
    cmee_event_init(&e[1], CMEE_EVENT_HALT);
    e[1].at = 2 * HOUR_MS;
    e[1].end = 3 * HOUR_MS;
    cmee_event_init(&e[2], CMEE_EVENT_SHOCK);
    e[2].at = 30 * MIN_MS;
    e[2].size = -0.05;
    cmee_event_init(&e[3], CMEE_EVENT_SPIKE);
    e[3].size = 2;
    cmee_scenario_spec spec = {
        .name = "small",
        .description = "tiny \"q\"\n\x01\\/ caf\xc3\xa9",
        .symbols = syms,
        .nsymbols = 2,
        .regimes = r,
        .nregimes = 2,
        .events = e,
        .nevents = 4,
    };
    cmee_scenario *sc = NULL;
    assert_int_equal(cmee_scenario_new(&spec, NULL, NULL, &sc, NULL), CMEE_OK);
    return sc;
}

static void test_canonical_text(void **state)
{
    (void)state;
    cmee_scenario *sc = small();
    char *text = dump(sc);
    assert_string_equal(text, small_json);
    /* Reading the canonical text back gives the same text, and the same values. */
    cmee_scenario *back = load(text);
    char *again = dump(back);
    assert_string_equal(again, small_json);
    assert_string_equal(cmee_scenario_description(back), cmee_scenario_description(sc));
    for (size_t i = 0; i < 2; i++) {
        cmee_regime a, b;
        assert_int_equal(cmee_scenario_regime_at(sc, i, &a), CMEE_OK);
        assert_int_equal(cmee_scenario_regime_at(back, i, &b), CMEE_OK);
        assert_true(regime_eq(&a, &b));
    }
    for (size_t i = 0; i < 4; i++) {
        cmee_event a, b;
        assert_int_equal(cmee_scenario_event_at(sc, i, &a), CMEE_OK);
        assert_int_equal(cmee_scenario_event_at(back, i, &b), CMEE_OK);
        assert_true(event_eq(&a, &b));
    }
    free(again);
    cmee_scenario_free(back);

    /* A human-written, reordered, spaced document with durations gives the same text. */
    back = load("{ \"events\": [\n"
                "  {\"size\": -0.05, \"at\": \"30m\", \"kind\": \"shock\"},\n"
                "  {\"kind\": \"target\", \"at\": \"3h\", \"end\": \"4h\",\n"
                "   \"target\": {\"value\": 123.5, \"kind\": \"price\"}},\n"
                "  {\"kind\": \"halt\", \"at\": \"2h\", \"end\": \"3h\"},\n"
                "  {\"kind\": \"spike\", \"at\": 0, \"size\": 2.0}],\n"
                " \"regimes\": [\n"
                "  {\"start\": \"1h\", \"end\": \"1d\", \"jump_rate\": 50, \"jump_mean\": -2e-2,\n"
                "   \"jump_stdev\": 0.010, \"revert_half_life\": \"2h\",\n"
                "   \"revert_to\": {\"kind\": \"change\", \"value\": -0.05}},\n"
                "  {\"start\": 0, \"end\": \"60m\", \"drift_mode\": \"span\", \"drift\": 1e-1,\n"
                "   \"vol_mult\": 1.50}],\n"
                " \"symbols\": [\"ETHUSD\", \"BTCUSD\"],\n"
                " \"description\": \"tiny \\\"q\\\"\\n\\u0001\\\\\\/ caf\\u00e9\",\n"
                " \"name\": \"small\" }\n");
    again = dump(back);
    assert_string_equal(again, small_json);
    free(again);
    cmee_scenario_free(back);
    free(text);
    cmee_scenario_free(sc);

    /* An empty scenario still writes every list. */
    sc = load("{\"name\":\"e\"}");
    text = dump(sc);
    assert_string_equal(text, "{\"name\":\"e\",\"description\":\"\",\"symbols\":[],\"regimes\":[],"
                              "\"events\":[]}");
    free(text);
    cmee_scenario_free(sc);
}

/* One regime with the given jump_mean and vol_mult, through C, then JSON and back. */
static void number_round_trip(double jump_mean, double vol_mult, const char *jm_text,
                              const char *vm_text)
{
    cmee_regime r;
    cmee_regime_init(&r);
    r.end = 1;
    r.jump_mean = jump_mean;
    r.vol_mult = vol_mult;
    cmee_scenario_spec spec = {.name = "n", .regimes = &r, .nregimes = 1};
    cmee_scenario *sc = NULL;
    cmee_error err;
    if (cmee_scenario_new(&spec, NULL, NULL, &sc, &err) != CMEE_OK) {
        print_error("%s\n", err.text);
        fail();
    }
    char *text = dump(sc);
    char want[80];
    if (jm_text) {
        snprintf(want, sizeof want, "\"jump_mean\":%s,", jm_text);
        if (!strstr(text, want)) {
            print_error("%s not in %s\n", want, text);
            fail();
        }
    }
    if (vm_text) {
        snprintf(want, sizeof want, "\"vol_mult\":%s,", vm_text);
        if (!strstr(text, want)) {
            print_error("%s not in %s\n", want, text);
            fail();
        }
    }
    cmee_scenario *back = load(text);
    cmee_regime got;
    assert_int_equal(cmee_scenario_regime_at(back, 0, &got), CMEE_OK);
    double jm = jump_mean == 0 ? 0.0 : jump_mean;
    assert_true(BITS_EQ(got.jump_mean, jm));
    assert_true(BITS_EQ(got.vol_mult, vol_mult));
    char *again = dump(back);
    assert_string_equal(again, text);
    free(again);
    free(text);
    cmee_scenario_free(back);
    cmee_scenario_free(sc);
}

static void test_shortest_numbers(void **state)
{
    (void)state;
    number_round_trip(0.1, 0.1, "0.1", "0.1");
    number_round_trip(1.0 / 3.0, 2.0 / 3.0, "0.3333333333333333", "0.6666666666666666");
    number_round_trip(-1.0 / 3.0, 20, "-0.3333333333333333", "20");
    number_round_trip(0.1 + 0.2, 1e-7, "0.30000000000000004", "1e-07");
    number_round_trip(-0.0, 5e-324, "0", "4.94065645841247e-324");
    number_round_trip(-1, nextafter(20.0, 0.0), "-1", "19.999999999999996");
    number_round_trip(0.25, 12.3456, "0.25", "12.3456");
    number_round_trip(1e-300, 1e-20, "1e-300", "1e-20");
    /* Many random doubles in range round-trip bit for bit. */
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 300; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double u = (double)(x >> 11) / 9007199254740992.0;
        number_round_trip(2 * u - 1, 20 * u + 1e-9, NULL, NULL);
    }
}

static void test_presets_round_trip(void **state)
{
    (void)state;
    size_t n = 0;
    for (size_t i = 0; cmee_scenario_preset_name(i); i++, n++) {
        cmee_scenario *sc = NULL;
        assert_int_equal(cmee_scenario_preset(cmee_scenario_preset_name(i), NULL, &sc, NULL),
                         CMEE_OK);
        char *text = dump(sc);
        cmee_scenario *back = load(text);
        char *again = dump(back);
        assert_string_equal(again, text);
        assert_string_equal(cmee_scenario_name(back), cmee_scenario_preset_name(i));
        assert_string_equal(cmee_scenario_description(back), cmee_scenario_description(sc));
        assert_int_equal(cmee_scenario_duration(back), cmee_scenario_duration(sc));
        assert_int_equal(cmee_scenario_regime_count(back), cmee_scenario_regime_count(sc));
        assert_int_equal(cmee_scenario_event_count(back), cmee_scenario_event_count(sc));
        for (size_t k = 0; k < cmee_scenario_regime_count(sc); k++) {
            cmee_regime a, b;
            assert_int_equal(cmee_scenario_regime_at(sc, k, &a), CMEE_OK);
            assert_int_equal(cmee_scenario_regime_at(back, k, &b), CMEE_OK);
            assert_true(regime_eq(&a, &b));
        }
        for (size_t k = 0; k < cmee_scenario_event_count(sc); k++) {
            cmee_event a, b;
            assert_int_equal(cmee_scenario_event_at(sc, k, &a), CMEE_OK);
            assert_int_equal(cmee_scenario_event_at(back, k, &b), CMEE_OK);
            assert_true(event_eq(&a, &b));
        }
        free(again);
        free(text);
        cmee_scenario_free(back);
        cmee_scenario_free(sc);
    }
    assert_int_equal(n, 9);

    /* One preset's exact text. */
    cmee_scenario *sc = NULL;
    assert_int_equal(cmee_scenario_preset("crash", NULL, &sc, NULL), CMEE_OK);
    char *text = dump(sc);
    char want[1024];
    snprintf(want, sizeof want,
             "{\"name\":\"crash\",\"description\":\"%s\",\"symbols\":[],"
             "\"regimes\":[{\"start\":0,\"end\":259200000,\"drift_mode\":\"span\","
             "\"drift\":-0.25,\"vol_mult\":2.5,\"jump_rate\":500,\"jump_mean\":-0.03,"
             "\"jump_stdev\":0.02,\"revert_half_life\":0,"
             "\"revert_to\":{\"kind\":\"none\",\"value\":0}}],"
             "\"events\":[{\"kind\":\"shock\",\"at\":0,\"size\":-0.1}]}",
             cmee_scenario_description(sc));
    assert_string_equal(text, want);
    free(text);
    cmee_scenario_free(sc);
}

static void test_to_json_buffers(void **state)
{
    (void)state;
    cmee_scenario *sc = small();
    const size_t full = strlen(small_json);
    size_t len = 0;
    /* Length only. */
    assert_int_equal(cmee_scenario_to_json(sc, NULL, 0, &len), CMEE_OK);
    assert_int_equal(len, full);
    /* Too small, including cap == length (no room for the NUL): nothing written. */
    char buf[2048];
    const size_t caps[] = {0, 1, full / 2, full - 1, full};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        memset(buf, 0xAB, sizeof buf);
        len = 7;
        assert_int_equal(cmee_scenario_to_json(sc, buf, caps[i], &len), CMEE_ENOSPACE);
        assert_int_equal(len, full);
        for (size_t k = 0; k < sizeof buf; k++)
            assert_int_equal((unsigned char)buf[k], 0xAB);
    }
    /* Exactly enough, and more. */
    memset(buf, 0xAB, sizeof buf);
    assert_int_equal(cmee_scenario_to_json(sc, buf, full + 1, &len), CMEE_OK);
    assert_int_equal(len, full);
    assert_string_equal(buf, small_json);
    memset(buf, 0xAB, sizeof buf);
    assert_int_equal(cmee_scenario_to_json(sc, buf, sizeof buf, &len), CMEE_OK);
    assert_string_equal(buf, small_json);
    assert_int_equal((unsigned char)buf[full + 1], 0xAB);
    /* NULL arguments. */
    len = 7;
    assert_int_equal(cmee_scenario_to_json(NULL, buf, sizeof buf, &len), CMEE_EINVAL);
    assert_int_equal(cmee_scenario_to_json(sc, buf, sizeof buf, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_scenario_to_json(sc, NULL, 10, &len), CMEE_EINVAL);
    assert_int_equal(len, 7);
    cmee_scenario_free(sc);
}

/* ---- allocation failures ---------------------------------------------------------------- */

static void test_alloc_failures(void **state)
{
    (void)state;
    /* Every allocation of from_json in turn: the arrays it reads into, then the scenario. */
    long needed = 0;
    for (long n = 1; n < 100; n++) {
        chaos c = {.fail_at = n};
        cmee_allocator a = chaos_allocator(&c);
        cmee_scenario *sc = SC_SENTINEL;
        cmee_error err;
        cmee_status st =
            cmee_scenario_from_json(small_json, strlen(small_json), NULL, &a, &sc, &err);
        if (st == CMEE_OK) {
            assert_true(c.calls < n);
            char *text = dump(sc);
            assert_string_equal(text, small_json);
            free(text);
            cmee_scenario_free(sc);
            assert_int_equal(c.live, 0);
            needed = n - 1;
            break;
        }
        assert_int_equal(st, CMEE_ENOMEM);
        assert_int_equal(err.status, CMEE_ENOMEM);
        assert_string_equal(err.field, "alloc");
        assert_ptr_equal(sc, SC_SENTINEL);
        assert_int_equal(c.live, 0);
    }
    /* Three arrays read, then struct, description, symbols, regimes and events. */
    assert_int_equal(needed, 8);

    /* A failing allocator with a bad document still reports the document's error. */
    chaos c = {.fail_all = true};
    cmee_allocator a = chaos_allocator(&c);
    cmee_scenario *sc = SC_SENTINEL;
    cmee_error err;
    assert_int_equal(cmee_scenario_from_json("{\"nam\":1}", 9, NULL, &a, &sc, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "nam");
    assert_int_equal(c.live, 0);
    assert_int_equal(cmee_scenario_from_json(small_json, strlen(small_json), NULL, &a, &sc, NULL),
                     CMEE_ENOMEM);
    assert_int_equal(c.live, 0);
    assert_ptr_equal(sc, SC_SENTINEL);
}

/* volume_mult: read, validated naming the field, written back only when it is not 1 (so the
 * text of scenarios from before the field existed does not change), 0 taken as 1. */
static void test_volume_mult_json(void **state)
{
    (void)state;
    const char *old = "{\"name\":\"o\",\"regimes\":[{\"start\":0,\"end\":60000,\"vol_mult\":2}]}";
    cmee_scenario *sc = load(old);
    cmee_regime r;
    assert_int_equal(cmee_scenario_regime_at(sc, 0, &r), CMEE_OK);
    assert_true(r.volume_mult == 1.0);
    char *text = dump(sc);
    assert_null(strstr(text, "volume_mult"));
    assert_string_equal(text, "{\"name\":\"o\",\"description\":\"\",\"symbols\":[],\"regimes\":"
                              "[{\"start\":0,\"end\":60000,\"drift_mode\":\"keep\",\"drift\":0,"
                              "\"vol_mult\":2,\"jump_rate\":0,\"jump_mean\":0,\"jump_stdev\":0,"
                              "\"revert_half_life\":0,\"revert_to\":{\"kind\":\"none\",\"value\":"
                              "0}}],\"events\":[]}");
    free(text);
    cmee_scenario_free(sc);

    sc = load("{\"name\":\"v\",\"regimes\":[{\"start\":0,\"end\":60000,\"volume_mult\":2.5}]}");
    assert_int_equal(cmee_scenario_regime_at(sc, 0, &r), CMEE_OK);
    assert_true(r.volume_mult == 2.5);
    text = dump(sc);
    assert_non_null(strstr(text, ",\"volume_mult\":2.5}"));
    cmee_scenario *back = load(text);
    char *again = dump(back);
    assert_string_equal(text, again);
    free(again);
    free(text);
    cmee_scenario_free(back);
    cmee_scenario_free(sc);

    sc = load("{\"name\":\"z\",\"regimes\":[{\"start\":0,\"end\":60000,\"volume_mult\":0}]}");
    assert_int_equal(cmee_scenario_regime_at(sc, 0, &r), CMEE_OK);
    assert_true(r.volume_mult == 1.0);
    cmee_scenario_free(sc);

    BAD("{\"name\":\"b\",\"regimes\":[{\"start\":0,\"end\":60000,\"volume_mult\":-1}]}",
        "regimes[0].volume_mult", "must be in (0, 100]");
    BAD("{\"name\":\"b\",\"regimes\":[{\"start\":0,\"end\":60000,\"volume_mult\":100.5}]}",
        "regimes[0].volume_mult", "must be in (0, 100]");
    BAD("{\"name\":\"b\",\"regimes\":[{\"start\":0,\"end\":60000,\"volume_mult\":\"x\"}]}",
        "regimes[0].volume_mult", "expected a number");

    /* Through the C struct, too. */
    cmee_regime_init(&r);
    r.end = 60000;
    r.volume_mult = 1e9;
    cmee_scenario_spec spec = {.name = "c", .regimes = &r, .nregimes = 1};
    cmee_error err;
    sc = NULL;
    assert_int_equal(cmee_scenario_new(&spec, NULL, NULL, &sc, &err), CMEE_EINVAL);
    assert_string_equal(err.field, "regimes[0].volume_mult");
    assert_null(sc);
    r.volume_mult = 100;
    assert_int_equal(cmee_scenario_new(&spec, NULL, NULL, &sc, &err), CMEE_OK);
    cmee_scenario_free(sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_and_defaults),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_unknown_and_misplaced_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_validation_through_json),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_canonical_text),
        cmocka_unit_test(test_shortest_numbers),
        cmocka_unit_test(test_presets_round_trip),
        cmocka_unit_test(test_to_json_buffers),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_volume_mult_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
