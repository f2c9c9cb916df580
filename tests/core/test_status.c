/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Status codes and version: the X-macro table, its names and messages, and the run-time
 * version against the header's. */
#include <stdlib.h>

#include "cmee_test.h"

/* Every row of the table, built from the X-macro itself so a new code is checked unasked. */
typedef struct status_row {
    cmee_status code;
    int value;
    const char *name;
    const char *msg;
} status_row;

static const status_row rows[] = {
#define ROW(name, value, msg) {CMEE_##name, value, #name, msg},
    CMEE_STATUS_MAP(ROW)
#undef ROW
};
#define NROWS (sizeof rows / sizeof rows[0])

/* CMEE_OK is 0 and every enum constant has the value its table row gives it. */
static void test_ok_is_zero(void **state)
{
    (void)state;
    assert_int_equal(CMEE_OK, 0);
    assert_int_equal(rows[0].code, CMEE_OK);
    assert_string_equal(rows[0].name, "OK");
    assert_true(NROWS >= 13);
    for (size_t i = 0; i < NROWS; i++)
        assert_int_equal((int)rows[i].code, rows[i].value);
}

/* Each code's name and message come back from the library exactly as the table has them. */
static void test_names_and_messages_match_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++) {
        const char *name = cmee_status_name(rows[i].code);
        const char *msg = cmee_status_str(rows[i].code);
        assert_non_null(name);
        assert_non_null(msg);
        assert_string_equal(name, rows[i].name);
        assert_string_equal(msg, rows[i].msg);
        assert_true(name[0] != '\0');
        assert_true(msg[0] != '\0');
        assert_string_not_equal(name, "UNKNOWN");
        assert_string_not_equal(msg, "unknown status");
    }
    assert_string_equal(cmee_status_name(CMEE_ERANGE), "ERANGE");
    assert_string_equal(cmee_status_str(CMEE_ERANGE), "out of range");
    assert_string_equal(cmee_status_str(CMEE_OK), "success");
}

/* Values, names and messages are pairwise distinct. */
static void test_codes_distinct(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++) {
        for (size_t j = i + 1; j < NROWS; j++) {
            assert_int_not_equal(rows[i].value, rows[j].value);
            assert_string_not_equal(cmee_status_name(rows[i].code), cmee_status_name(rows[j].code));
            assert_string_not_equal(cmee_status_str(rows[i].code), cmee_status_str(rows[j].code));
        }
    }
}

/* Values are dense from 0 (codes are appended, never skipped), so the one past the end is
 * unknown. */
static void test_values_dense(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++)
        assert_int_equal(rows[i].value, (int)i);
    cmee_status next = (cmee_status)NROWS;
    assert_string_equal(cmee_status_name(next), "UNKNOWN");
    assert_string_equal(cmee_status_str(next), "unknown status");
}

/* Values outside the table give the documented placeholders, never NULL. */
static void test_unknown_values(void **state)
{
    (void)state;
    const int bad[] = {999, -1, 13, 100, 0x7fffffff, -0x7fffffff - 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cmee_status st = (cmee_status)bad[i];
        assert_non_null(cmee_status_name(st));
        assert_non_null(cmee_status_str(st));
        assert_string_equal(cmee_status_name(st), "UNKNOWN");
        assert_string_equal(cmee_status_str(st), "unknown status");
    }
}

/* The library's version string and number equal the header's, and encode the same triple. */
static void test_version(void **state)
{
    (void)state;
    assert_non_null(cmee_version());
    assert_string_equal(cmee_version(), CMEE_VERSION_STRING);
    assert_int_equal(cmee_version_number(), CMEE_VERSION_NUMBER);
    assert_int_equal(CMEE_VERSION_NUMBER,
                     CMEE_VERSION_MAJOR * 10000 + CMEE_VERSION_MINOR * 100 + CMEE_VERSION_PATCH);
    assert_true(CMEE_VERSION_MINOR >= 0 && CMEE_VERSION_MINOR < 100);
    assert_true(CMEE_VERSION_PATCH >= 0 && CMEE_VERSION_PATCH < 100);
    assert_true(CMEE_VERSION_NUMBER > 0);
}

/* The string is exactly "MAJOR.MINOR.PATCH" in decimal, matching the three macros. */
static void test_version_string_parses(void **state)
{
    (void)state;
    const char *s = cmee_version();
    unsigned long part[3];
    for (int i = 0; i < 3; i++) {
        assert_true(*s >= '0' && *s <= '9');
        char *end = NULL;
        part[i] = strtoul(s, &end, 10);
        assert_true(end > s);
        if (i < 2) {
            assert_int_equal(*end, '.');
            s = end + 1;
        } else {
            assert_int_equal(*end, '\0');
        }
    }
    assert_int_equal(part[0], CMEE_VERSION_MAJOR);
    assert_int_equal(part[1], CMEE_VERSION_MINOR);
    assert_int_equal(part[2], CMEE_VERSION_PATCH);
    assert_int_equal(part[0] * 10000 + part[1] * 100 + part[2], cmee_version_number());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_is_zero),
        cmocka_unit_test(test_names_and_messages_match_table),
        cmocka_unit_test(test_codes_distinct),
        cmocka_unit_test(test_values_dense),
        cmocka_unit_test(test_unknown_values),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_version_string_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
