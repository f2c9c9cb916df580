/* SPDX-License-Identifier: GPL-3.0-or-later */
/* White-box tests of the cmee tool's number formatting and argument parsing (examples/cli/util.c):
 * the fast decimal path must print exactly what the %.15g/%.16g/%.17g rule prints. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

/* The contract's rule, spelled out the slow way. */
static void rule(char *buf, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, CLI_NUM_MAX, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void check_fmt(double v)
{
    char got[CLI_NUM_MAX], want[CLI_NUM_MAX];
    size_t n = cli_fmt_double(got, v);

    rule(want, v);
    if (strcmp(got, want) != 0 || n != strlen(got)) {
        print_error("%.17g: printed '%s' (length %zu), the rule gives '%s'\n", v, got, n, want);
        fail();
    }
}

static uint64_t rng_state = UINT64_C(88172645463325252);

static uint64_t xorshift(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_fmt_edges(void **state)
{
    /* clang-format off */
    static const double v[] = {
        0.0, -0.0, 1e-4, 0.00012, 1e-5, 0.00001234, 999999999999999.0, 1e15, 99999999999999.9,
        123456.7890123, 67234.51, 0.1 + 0.2, 1, 10, 100, 153, 0.5, 2.5, 1e14, 5e-324,
        1.7976931348623157e308, -67234.51, -1e-300, 93500, 1.0355, 0.0001, 42500,
    };
    /* clang-format on */

    (void)state;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        check_fmt(v[i]);
        check_fmt(nextafter(v[i], 0));
        check_fmt(nextafter(v[i], INFINITY));
    }
}

static void test_fmt_known_text(void **state)
{
    char buf[CLI_NUM_MAX];

    (void)state;
    /* The reason for the rule: a tick-rounded price prints as the tick grid says. */
    cli_fmt_double(buf, 6723451 / 100.0);
    assert_string_equal(buf, "67234.51");
    cli_fmt_double(buf, 153);
    assert_string_equal(buf, "153");
    cli_fmt_double(buf, 0.1 + 0.2);
    assert_string_equal(buf, "0.30000000000000004");
    cli_fmt_double(buf, 1e-5);
    assert_string_equal(buf, "1e-05");
}

static void test_fmt_random(void **state)
{
    (void)state;
    /* CMEE_TEST_SCALE in (0, 1] runs a fraction of the values (tests/cmee_test.h). */
    const char *sc = getenv("CMEE_TEST_SCALE");
    double scale = sc ? strtod(sc, NULL) : 1.0;
    int count = scale > 0 && scale < 1 ? (int)(1000000 * scale) : 1000000;
    for (int i = 0; i < count; i++) {
        double v;
        switch (i % 4) {
        case 0: /* tick-grid prices: k / 10^p */
            v = (double)(xorshift() % UINT64_C(1000000000000000)) / pow(10, (int)(xorshift() % 11));
            break;
        case 1: /* short decimals */
            v = (double)(xorshift() % 100000000) / pow(10, (int)(xorshift() % 11));
            break;
        case 2: { /* any finite bit pattern */
            uint64_t u = xorshift();
            memcpy(&v, &u, sizeof v);
            if (!isfinite(v))
                continue;
            break;
        }
        default: /* binary fractions */
            v = ldexp((double)(xorshift() >> 11), -(int)(xorshift() % 80));
            break;
        }
        check_fmt(v);
    }
}

static void test_int64(void **state)
{
    char buf[24];

    (void)state;
    assert_int_equal(cli_int64(buf, 0), 1);
    assert_string_equal(buf, "0");
    cli_int64(buf, INT64_C(1735689600000));
    assert_string_equal(buf, "1735689600000");
    cli_int64(buf, -5);
    assert_string_equal(buf, "-5");
    cli_int64(buf, INT64_MIN);
    assert_string_equal(buf, "-9223372036854775808");
    cli_int64(buf, INT64_MAX);
    assert_string_equal(buf, "9223372036854775807");
}

static void test_parse_u64(void **state)
{
    uint64_t v = 7;

    (void)state;
    assert_true(cli_parse_u64("0", &v) && v == 0);
    assert_true(cli_parse_u64("42", &v) && v == 42);
    assert_true(cli_parse_u64("18446744073709551615", &v) && v == UINT64_MAX);
    v = 7;
    assert_false(cli_parse_u64("18446744073709551616", &v));
    assert_false(cli_parse_u64("", &v));
    assert_false(cli_parse_u64("-1", &v));
    assert_false(cli_parse_u64("+1", &v));
    assert_false(cli_parse_u64(" 1", &v));
    assert_false(cli_parse_u64("1x", &v));
    assert_int_equal(v, 7); /* untouched on failure */
}

static void test_parse_time(void **state)
{
    static const struct {
        const char *text;
        int64_t ms;
    } good[] = {
        {"0", 0},
        {"-1", -1},
        {"1735689600000", INT64_C(1735689600000)},
        {"1970-01-01T00:00:00Z", 0},
        {"2000-01-01T00:00:00Z", INT64_C(946684800000)},
        {"2025-01-01T00:00:00Z", INT64_C(1735689600000)},
        {"2024-02-29T12:00:00Z", INT64_C(1709208000000)},
        {"2030-03-01T00:00:00Z", INT64_C(1898553600000)},
        {"2030-03-01T00:00:00.5Z", INT64_C(1898553600500)},
        {"2030-03-01T00:00:00.05Z", INT64_C(1898553600050)},
        {"2030-03-01T00:00:00.123Z", INT64_C(1898553600123)},
        {"2100-02-28T23:59:59.999Z", INT64_C(4107542399999)},
        {"2179-06-07T00:00:00Z", INT64_C(6608995200000)}, /* CMEE_TIME_MAX */
        {"1969-12-31T23:59:59Z", -1000},
        {"0000-03-01T00:00:00Z", INT64_C(-62162035200000)},
        {"9223372036854775807", INT64_MAX},
    };
    /* clang-format off */
    static const char *const bad[] = {
        "", "-", "--1", "1.5", "1e3", " 1", "1 ", "now", "9223372036854775808",
        "2030-13-01T00:00:00Z", "2030-00-01T00:00:00Z", "2030-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z", "2030-04-31T00:00:00Z", "2030-03-00T00:00:00Z",
        "2030-03-01T24:00:00Z", "2030-03-01T00:60:00Z", "2030-03-01T00:00:60Z",
        "2030-03-01t00:00:00Z", "2030-03-01T00:00:00z", "2030-03-01 00:00:00Z",
        "2030-03-01T00:00:00", "2030-03-01T00:00:00+00:00", "2030-03-01T00:00:00.Z",
        "2030-03-01T00:00:00.1234Z", "2030-03-01T00:00:00ZZ", "2030-03-01", "2030-3-01T00:00:00Z",
        "20300-03-01T00:00:00Z", "2030-03-01T00:00Z",
    };
    /* clang-format on */
    int64_t ms;
    const char *why;

    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        why = NULL;
        if (!cli_parse_time(good[i].text, &ms, &why) || ms != good[i].ms) {
            print_error("'%s': expected %lld (%s)\n", good[i].text, (long long)good[i].ms,
                        why ? why : "parsed to another value");
            fail();
        }
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        ms = 12345;
        if (cli_parse_time(bad[i], &ms, &why)) {
            print_error("'%s' was accepted as %lld\n", bad[i], (long long)ms);
            fail();
        }
        assert_non_null(why);
        assert_true(why[0] != '\0' && strchr(why, '\n') == NULL);
        assert_int_equal(ms, 12345);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_edges),  cmocka_unit_test(test_fmt_known_text),
        cmocka_unit_test(test_fmt_random), cmocka_unit_test(test_int64),
        cmocka_unit_test(test_parse_u64),  cmocka_unit_test(test_parse_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
