/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The servers' shared log and metrics code (examples/common/log.c, metrics.c), white-box:
 * slog_json_str() gives valid JSON that reads back for every byte, lines are whole JSON
 * objects with ts/level/msg first, levels filter, times format as RFC 3339; histograms put a
 * value equal to a bound in that bound's bucket and print cumulatively; request counters are
 * keyed by route, method and status; label values are escaped. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cmee_test.h"
#include "log.h"
#include "metrics.h"

static void test_json_str_every_byte(void **state)
{
    (void)state;
    char in[256], buf[2048];
    for (int i = 1; i < 256; i++)
        in[i - 1] = (char)i;
    in[255] = '\0';
    size_t n = slog_json_str(buf, sizeof buf, 0, in);
    assert_true(n < sizeof buf);
    assert_int_equal(strlen(buf), n);
    json_error_t err;
    json_t *j = json_loadb(buf, n, JSON_DECODE_ANY, &err);
    assert_non_null(j);
    assert_true(json_is_string(j));
    /* ASCII reads back as itself; every byte from 0x80 up is '?'. */
    const char *s = json_string_value(j);
    assert_int_equal(strlen(s), 255);
    for (int i = 1; i < 256; i++)
        assert_int_equal((unsigned char)s[i - 1], i < 0x80 ? i : '?');
    json_decref(j);

    /* Appending at an offset, NULL as "", and a buffer too small. */
    memcpy(buf, "ab", 2);
    assert_int_equal(slog_json_str(buf, sizeof buf, 2, NULL), 4);
    assert_string_equal(buf, "ab\"\"");
    char tiny[8];
    assert_int_equal(slog_json_str(tiny, sizeof tiny, 0, "abcdefgh"), sizeof tiny);
    assert_int_equal(slog_json_str(tiny, sizeof tiny, 0, "a\"b"), 6);
    assert_string_equal(tiny, "\"a\\\"b\"");
}

static void test_levels_and_time(void **state)
{
    (void)state;
    slog_level lv = SLOG_ERROR;
    assert_int_equal(slog_level_parse("debug", &lv), 0);
    assert_int_equal(lv, SLOG_DEBUG);
    assert_int_equal(slog_level_parse("warn", &lv), 0);
    assert_int_equal(lv, SLOG_WARN);
    lv = SLOG_INFO;
    assert_int_equal(slog_level_parse("WARN", &lv), -1);
    assert_int_equal(slog_level_parse("warning", &lv), -1);
    assert_int_equal(slog_level_parse("", &lv), -1);
    assert_int_equal(slog_level_parse(NULL, &lv), -1);
    assert_int_equal(lv, SLOG_INFO);
    assert_string_equal(slog_level_name(SLOG_ERROR), "error");
    assert_string_equal(slog_level_name((slog_level)99), "info");

    char t[32];
    slog_format_time(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00.000Z");
    slog_format_time(1795541293476LL, t);
    assert_string_equal(t, "2026-11-24T17:28:13.476Z");
    slog_format_time(-1, t);
    assert_string_equal(t, "1969-12-31T23:59:59.999Z");
}

/* Run the logging calls with stderr redirected to a file; return what was written. */
static char *capture(void (*fn)(void))
{
    char path[] = "/tmp/cmee-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    slog_flush();
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    assert_int_equal(pread(fd, text, (size_t)len, 0), len);
    close(fd);
    return text;
}

static void log_some(void)
{
    slog_set_level(SLOG_INFO);
    slog(SLOG_DEBUG, "not written %d", 1);
    slog(SLOG_INFO, "plain %s \"quoted\"\n", "text");
    slog_kv(SLOG_WARN, "with fields", "{s:s,s:i,s:f,s:s}", "knob", "speed", "n", 3, "x", 0.5,
            "msg", "ignored");
    slog_kv(SLOG_ERROR, "bad fields", "{s:s}", "k", NULL);
    slog_raw(SLOG_INFO, "raw", "\"a\":1", 5);
    slog_set_buffered(true);
    slog(SLOG_INFO, "buffered \xff");
    slog_set_buffered(false);
}

static void test_lines(void **state)
{
    (void)state;
    char *text = capture(log_some);
    static const char *const want_msg[] = {"plain text \"quoted\"\n", "with fields", "bad fields",
                                           "raw", "buffered ?"};
    static const char *const want_level[] = {"info", "warn", "error", "info", "info"};
    size_t k = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), k++) {
        assert_true(k < 5);
        json_error_t err;
        json_t *j = json_loads(line, JSON_DECODE_ANY, &err);
        if (!j)
            fail_msg("not JSON: %s (%s)", line, err.text);
        assert_true(json_is_object(j));
        /* ts, level, msg, in that order. */
        void *it = json_object_iter(j);
        assert_string_equal(json_object_iter_key(it), "ts");
        assert_int_equal(strlen(json_string_value(json_object_iter_value(it))), 24);
        it = json_object_iter_next(j, it);
        assert_string_equal(json_object_iter_key(it), "level");
        assert_string_equal(json_string_value(json_object_iter_value(it)), want_level[k]);
        it = json_object_iter_next(j, it);
        assert_string_equal(json_object_iter_key(it), "msg");
        assert_string_equal(json_string_value(json_object_iter_value(it)), want_msg[k]);
        if (k == 1) {
            assert_string_equal(json_string_value(json_object_get(j, "knob")), "speed");
            assert_int_equal(json_integer_value(json_object_get(j, "n")), 3);
            assert_true(json_real_value(json_object_get(j, "x")) == 0.5);
            assert_int_equal(json_object_size(j), 6);
        }
        if (k == 2)
            assert_non_null(json_object_get(j, "log_error"));
        if (k == 3)
            assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
        json_decref(j);
    }
    assert_int_equal(k, 5);
    free(text);
}

static void test_histogram(void **state)
{
    (void)state;
    static const double le[] = {0.1, 1, 10};
    metrics_hist h;
    metrics_hist_init(&h, le, 3);
    metrics_hist_observe(&h, 0.05);
    metrics_hist_observe(&h, 0.1); /* equal to a bound: in that bucket */
    metrics_hist_observe(&h, 5);
    metrics_hist_observe(&h, 11);
    metrics_hist_observe(&h, NAN);
    assert_int_equal(h.count, 4);
    assert_true(fabs(h.sum - 16.15) < 1e-12);
    metrics_text t = {0};
    metrics_family(&t, "x_seconds", "histogram", "help");
    metrics_hist_write(&t, "x_seconds", "a=\"b\"", &h);
    size_t len;
    const char *text = metrics_text_get(&t, &len);
    assert_non_null(text);
    assert_string_equal(text, "# HELP x_seconds help\n"
                              "# TYPE x_seconds histogram\n"
                              "x_seconds_bucket{a=\"b\",le=\"0.1\"} 2\n"
                              "x_seconds_bucket{a=\"b\",le=\"1\"} 2\n"
                              "x_seconds_bucket{a=\"b\",le=\"10\"} 3\n"
                              "x_seconds_bucket{a=\"b\",le=\"+Inf\"} 4\n"
                              "x_seconds_sum{a=\"b\"} 16.15\n"
                              "x_seconds_count{a=\"b\"} 4\n");
    assert_int_equal(len, strlen(text));
    metrics_text_free(&t);

    metrics_sample(&t, "g", NULL, 3);
    metrics_sample(&t, "g", "", INFINITY);
    metrics_sample(&t, "g", "q=\"x\"", 0.25);
    assert_string_equal(metrics_text_get(&t, NULL), "g 3\ng +Inf\ng{q=\"x\"} 0.25\n");
    metrics_text_free(&t);

    char esc[16];
    metrics_escape("a\"b\\c\nd", esc, sizeof esc);
    assert_string_equal(esc, "a\\\"b\\\\c\\nd");
    metrics_escape("abcdefghijklmnopqrstuvwxyz", esc, sizeof esc);
    assert_int_equal(strlen(esc), sizeof esc - 1);
}

static void test_http_counters(void **state)
{
    (void)state;
    static const char route_a[] = "/api/x/{id}";
    metrics_http *m = metrics_http_new();
    assert_non_null(m);
    for (int i = 0; i < 5; i++)
        metrics_http_observe(m, route_a, "GET", 200, 0.001);
    metrics_http_observe(m, route_a, "GET", 404, 0.002);
    metrics_http_observe(m, route_a, "POST", 200, 0.003);
    metrics_http_observe(m, NULL, "GET", 404, 0.0005);
    /* A different pointer to the same text is the same route. */
    char copy[sizeof route_a];
    memcpy(copy, route_a, sizeof copy);
    metrics_http_observe(m, copy, "GET", 200, 0.001);
    assert_int_equal(metrics_http_count(m, route_a, "GET", 200), 6);
    assert_int_equal(metrics_http_count(m, route_a, "GET", 404), 1);
    assert_int_equal(metrics_http_count(m, route_a, "POST", 200), 1);
    assert_int_equal(metrics_http_count(m, METRICS_ROUTE_OTHER, "GET", 404), 1);
    assert_int_equal(metrics_http_count(m, route_a, "DELETE", 200), 0);

    metrics_text t = {0};
    metrics_http_write(m, &t);
    const char *text = metrics_text_get(&t, NULL);
    assert_non_null(strstr(text, "cmee_http_requests_total{route=\"/api/x/{id}\",method=\"GET\","
                                 "status=\"200\"} 6\n"));
    assert_non_null(strstr(text, "cmee_http_requests_total{route=\"other\",method=\"GET\","
                                 "status=\"404\"} 1\n"));
    assert_non_null(strstr(text, "cmee_http_request_duration_seconds_count{route=\"/api/x/{id}\","
                                 "method=\"GET\"} 7\n"));
    assert_non_null(strstr(text, "cmee_http_request_duration_seconds_bucket{route=\"other\","
                                 "method=\"GET\",le=\"0.0005\"} 1\n"));
    metrics_text_free(&t);
    metrics_http_free(m);
    metrics_http_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_str_every_byte),
        cmocka_unit_test(test_levels_and_time),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_http_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
