/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The results report (cmee/report.h): counts and money from the session's records, the equity
 * curve's statistics against a straightforward recomputation, reload, JSON, errors. */
#include <stdlib.h>
#include <string.h>

#include "cmee_test.h"

#define SCALE CMEE_MONEY_SCALE
static const int64_t START = INT64_C(1767225600000) + 9 * HOUR_MS; /* 2026-01-01 09:00 */

#define OK(s, call)                                                                                \
    do {                                                                                           \
        cmee_status st_ = (call);                                                                  \
        if (st_ != CMEE_OK) {                                                                      \
            print_error("%s: %s (%s)\n", #call, cmee_status_name(st_), cmee_session_errmsg(s)); \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

static cmee_session *manual(uint64_t seed, double fee_rate, cmee_store *store, const char *id)
{
    cmee_session_config c;
    cmee_session_config_init(&c);
    c.seed = seed;
    c.start_time = START;
    c.manual_clock = true;
    c.fee_rate = fee_rate;
    c.initial_balance = 100000 * SCALE;
    if (id)
        strcpy(c.id, id);
    cmee_session *s = NULL;
    cmee_error err;
    if (cmee_session_new(&c, store, NULL, &s, &err) != CMEE_OK) {
        print_error("%s\n", err.text);
        fail();
    }
    return s;
}

static cmee_order market(cmee_session *s, const char *sym, cmee_side side, double qty)
{
    cmee_order_request r;
    cmee_order o;
    cmee_order_request_init(&r, sym);
    r.side = side;
    r.quantity = qty;
    OK(s, cmee_session_order(s, &r, &o));
    return o;
}

/* A session that did nothing: zero everywhere, the interval is the whole [0, 1]. */
static void test_empty(void **state)
{
    cmee_session *s = manual(1, 0.001, NULL, NULL);
    OK(s, cmee_session_step(s, 10 * HOUR_MS + 30 * MIN_MS));
    cmee_report r;
    OK(s, cmee_session_report(s, NULL, &r));
    assert_int_equal(r.start, START);
    assert_int_equal(r.end, START + 10 * HOUR_MS + 30 * MIN_MS);
    assert_int_equal(r.initial_balance, 100000 * SCALE);
    assert_int_equal(r.final_equity, 100000 * SCALE);
    assert_int_equal(r.pnl, 0);
    assert_true(r.ret == 0 && r.max_drawdown == 0 && r.max_drawdown_pct == 0);
    assert_true(r.sharpe == 0 && r.sortino == 0);
    assert_int_equal(r.samples, 12); /* 09:00, 10:00, ..., 19:00 and the end at 19:30 */
    assert_int_equal(r.sample_ms, HOUR_MS);
    assert_int_equal(r.fills + r.trades + r.options, 0);
    assert_true(r.win_rate == 0 && r.win_rate_low == 0 && r.win_rate_high == 1);
    assert_true(r.exposure == 0);
    assert_string_equal(r.currency, "USD");
    assert_string_equal(r.session, cmee_session_id(s));
    cmee_session_free(s);
}

/* Scripted trading: counts, fees, P&L and exposure follow from the session's own records. */
static void test_counts_and_money(void **state)
{
    cmee_session *s = manual(7, 0.001, NULL, NULL);
    OK(s, cmee_session_step(s, HOUR_MS));
    cmee_order a = market(s, "ETHUSD", CMEE_SIDE_BUY, 2); /* open at 10:00 */
    OK(s, cmee_session_step(s, 2 * HOUR_MS));
    cmee_order b = market(s, "ETHUSD", CMEE_SIDE_SELL, 1); /* reduce at 12:00: a trade */
    OK(s, cmee_session_step(s, HOUR_MS));
    cmee_order c = market(s, "ETHUSD", CMEE_SIDE_SELL, 1); /* close at 13:00: a trade */
    cmee_option_request q;
    cmee_option o1, o2;
    cmee_option_request_init(&q, "BTCUSD");
    q.stake = 100 * SCALE;
    q.duration = 5 * MIN_MS;
    OK(s, cmee_session_option(s, &q, &o1));
    q.kind = CMEE_OPTION_PUT;
    OK(s, cmee_session_option(s, &q, &o2));
    OK(s, cmee_session_step(s, HOUR_MS)); /* both settle; 14:00 */

    cmee_report r;
    OK(s, cmee_session_report(s, NULL, &r));
    cmee_account acc;
    OK(s, cmee_session_account(s, &acc));
    assert_int_equal(r.final_equity, acc.equity);
    assert_int_equal(r.pnl, acc.equity - 100000 * SCALE);
    assert_true(r.ret == (double)r.pnl / (double)(100000 * SCALE));
    assert_int_equal(r.fills, 3);
    assert_int_equal(r.trades, 2);
    assert_int_equal(r.options, 2);

    static cmee_ledger_entry e[64];
    size_t n;
    OK(s, cmee_session_ledger(s, 0, e, 64, &n));
    int64_t fees = 0, net_b = 0, net_c = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].kind == CMEE_LEDGER_FEE)
            fees -= e[i].amount;
        if ((e[i].kind == CMEE_LEDGER_FEE || e[i].kind == CMEE_LEDGER_PNL) && e[i].ref == b.id)
            net_b += e[i].amount;
        if ((e[i].kind == CMEE_LEDGER_FEE || e[i].kind == CMEE_LEDGER_PNL) && e[i].ref == c.id)
            net_c += e[i].amount;
    }
    assert_int_equal(r.fees, fees);
    assert_true(fees > 0);
    assert_int_equal(r.trades_won, (size_t)(net_b > 0) + (size_t)(net_c > 0));

    cmee_option ops[2];
    OK(s, cmee_session_options(s, false, ops, 2, &n));
    size_t won = 0, lost = 0, tied = 0;
    int64_t nets[4] = {net_b, net_c, ops[0].paid - ops[0].stake, ops[1].paid - ops[1].stake};
    uint64_t refs[4] = {b.id, c.id, o1.id, o2.id};
    for (int i = 0; i < 2; i++) {
        won += ops[i].state == CMEE_OPTION_WON;
        lost += ops[i].state == CMEE_OPTION_LOST;
        tied += ops[i].state == CMEE_OPTION_TIE;
    }
    assert_int_equal(r.options_won, won);
    assert_int_equal(r.options_lost, lost);
    assert_int_equal(r.options_tied, tied);
    assert_int_equal(won + lost + tied, 2);
    size_t decided = 2 + won + lost, wins = r.trades_won + won;
    assert_true(r.win_rate == (double)wins / (double)decided);
    assert_true(r.win_rate_low <= r.win_rate && r.win_rate <= r.win_rate_high);
    assert_true(r.win_rate_low >= 0 && r.win_rate_high <= 1);
    int best = 0, worst = 0;
    for (int i = 1; i < 4; i++) {
        if (nets[i] > nets[best])
            best = i;
        if (nets[i] < nets[worst])
            worst = i;
    }
    assert_int_equal(r.best_trade, nets[best]);
    assert_int_equal(r.worst_trade, nets[worst]);
    assert_int_equal(r.best_ref, refs[best]);
    assert_int_equal(r.worst_ref, refs[worst]);
    /* A position was open from 10:00 to 13:00 of 09:00-14:00. */
    assert_true(r.exposure == 3.0 / 5.0);
    (void)a;
    cmee_session_free(s);
}

/* One long position held through a crash with no fees: the curve is the balance plus
 * q (price(t) - entry) at every sample; drawdown, Sharpe and Sortino recomputed here with
 * plain arrays agree with the report's streaming figures. */
static void test_curve_statistics(void **state)
{
    cmee_session *s = manual(11, 0.0, NULL, NULL);
    cmee_scenario *crash;
    assert_int_equal(cmee_scenario_preset("crash", NULL, &crash, NULL), CMEE_OK);
    OK(s, cmee_session_apply_scenario(s, crash, NULL));
    cmee_scenario_free(crash);
    cmee_order o = market(s, "SOLUSD", CMEE_SIDE_BUY, 50);
    OK(s, cmee_session_step(s, 3 * 86400000 + 17 * MIN_MS));
    cmee_report_config cfg;
    cmee_report_config_init(&cfg);
    cfg.sample_ms = 15 * MIN_MS;
    cmee_report r;
    OK(s, cmee_session_report(s, &cfg, &r));
    cmee_account acc;
    OK(s, cmee_session_account(s, &acc));

    const cmee_market *m = cmee_session_market(s);
    size_t n = 0;
    static double eq[400];
    int64_t bal = 100000 * SCALE;
    for (int64_t t = START; t < r.end; t += cfg.sample_ms) {
        double p;
        assert_int_equal(cmee_market_price(m, "SOLUSD", t, &p), CMEE_OK);
        eq[n++] = (double)bal + nearbyint((p - o.fill_price) * 50 * (double)SCALE);
    }
    eq[n++] = (double)acc.equity;
    assert_int_equal(r.samples, n);
    double peak = eq[0], mdd = 0, mdd_pct = 0, sum = 0, down = 0;
    double ret[400];
    for (size_t i = 0; i < n; i++) {
        if (eq[i] > peak)
            peak = eq[i];
        if (peak - eq[i] > mdd) {
            mdd = peak - eq[i];
            mdd_pct = mdd / peak;
        }
        if (i > 0) {
            ret[i - 1] = eq[i] / eq[i - 1] - 1;
            sum += ret[i - 1];
            down += ret[i - 1] < 0 ? ret[i - 1] * ret[i - 1] : 0;
        }
    }
    size_t k = n - 1;
    double mean = sum / (double)k, var = 0;
    for (size_t i = 0; i < k; i++)
        var += (ret[i] - mean) * (ret[i] - mean);
    var /= (double)(k - 1);
    double ann = sqrt(365.25 * 86400000.0 / (double)cfg.sample_ms);
    assert_int_equal(r.max_drawdown, (int64_t)mdd);
    assert_rel_near(r.max_drawdown_pct, mdd_pct, 1e-12);
    assert_true(r.max_drawdown > 0);
    assert_rel_near(r.sharpe, mean / sqrt(var) * ann, 1e-9);
    assert_rel_near(r.sortino, mean / sqrt(down / (double)k) * ann, 1e-9);
    assert_true(r.exposure == 1.0);
    assert_int_equal(r.trades, 0);
    assert_int_equal(r.fills, 1);
    /* max_samples caps the curve: the step grows to fit. */
    cfg.max_samples = 10;
    OK(s, cmee_session_report(s, &cfg, &r));
    assert_true(r.samples <= 10);
    assert_true(r.sample_ms > cfg.sample_ms);
    cmee_session_free(s);
}

/* The report of a reloaded session is the same, byte for byte. */
static void test_reload(void **state)
{
    cmee_store *store;
    assert_int_equal(cmee_store_open(":memory:", NULL, NULL, &store, NULL), CMEE_OK);
    cmee_session *s = manual(3, 0.001, store, "report-reload");
    OK(s, cmee_session_step(s, 30 * MIN_MS));
    market(s, "AAPL", CMEE_SIDE_BUY, 10);
    OK(s, cmee_session_step(s, 2 * HOUR_MS));
    market(s, "AAPL", CMEE_SIDE_SELL, 10);
    OK(s, cmee_session_step(s, HOUR_MS));
    cmee_report a, b;
    OK(s, cmee_session_report(s, NULL, &a));
    cmee_session_free(s);
    cmee_session *t = NULL;
    assert_int_equal(cmee_session_load(store, "report-reload", NULL, &t, NULL), CMEE_OK);
    OK(t, cmee_session_report(t, NULL, &b));
    assert_memory_equal(&a, &b, sizeof a);
    cmee_session_free(t);
    cmee_store_close(store);
}

static int64_t fake_wall(void *ud)
{
    return *(int64_t *)ud;
}

/* advance = false reports the session as last processed and processes nothing. */
static void test_no_advance(void **state)
{
    cmee_session_config c;
    cmee_session_config_init(&c);
    c.start_time = START;
    cmee_session *s = NULL;
    assert_int_equal(cmee_session_new(&c, NULL, NULL, &s, NULL), CMEE_OK);
    int64_t wall = 1000000;
    cmee_session_set_wall_clock(s, fake_wall, &wall);
    market(s, "EURUSD", CMEE_SIDE_BUY, 1000);
    cmee_clock before, after;
    OK(s, cmee_session_clock(s, &before));
    wall += HOUR_MS; /* an hour of wall time passes, unprocessed */
    cmee_report_config cfg;
    cmee_report_config_init(&cfg);
    assert_true(cfg.advance);
    cfg.advance = false;
    cmee_report r;
    OK(s, cmee_session_report(s, &cfg, &r));
    OK(s, cmee_session_clock(s, &after));
    assert_int_equal(after.processed, before.processed);
    assert_int_equal(r.end, before.processed);
    assert_true(r.exposure == 0 || r.end == r.start);
    cfg.advance = true;
    OK(s, cmee_session_report(s, &cfg, &r));
    assert_true(r.end >= before.processed + HOUR_MS);
    cmee_account acc;
    OK(s, cmee_session_account(s, &acc));
    assert_int_equal(r.final_equity, acc.equity);
    cmee_session_free(s);
}

/* JSON: exact money, every field, the length protocol, nothing written when short. */
static void test_json(void **state)
{
    cmee_report r;
    memset(&r, 0, sizeof r);
    strcpy(r.session, "abc_1");
    strcpy(r.currency, "EUR");
    r.initial_balance = 10000 * SCALE;
    r.final_equity = 10000 * SCALE + 1;
    r.pnl = 1;
    r.fees = 150000000; /* 1.5 */
    r.worst_trade = -2 * SCALE - 25000000;
    r.ret = 1e-12;
    r.win_rate_high = 1;
    r.exposure = 0.1;
    char buf[4096];
    size_t len = 0;
    assert_int_equal(cmee_report_to_json(&r, buf, sizeof buf, &len), CMEE_OK);
    assert_int_equal(len, strlen(buf));
    assert_non_null(strstr(buf, "\"session\":\"abc_1\",\"currency\":\"EUR\""));
    assert_non_null(strstr(buf, "\"initial_balance\":10000,"));
    assert_non_null(strstr(buf, "\"final_equity\":10000.00000001,"));
    assert_non_null(strstr(buf, "\"pnl\":0.00000001,"));
    assert_non_null(strstr(buf, "\"fees\":1.5,"));
    assert_non_null(strstr(buf, "\"worst_trade\":-2.25,"));
    assert_non_null(strstr(buf, "\"return\":9.9999999999999998e-13,") ||
                    strstr(buf, "\"return\":1e-12,"));
    assert_non_null(strstr(buf, "\"exposure\":0.1}"));
    size_t need = 0;
    assert_int_equal(cmee_report_to_json(&r, NULL, 0, &need), CMEE_OK);
    assert_int_equal(need, len);
    char small[16];
    memset(small, 'x', sizeof small);
    assert_int_equal(cmee_report_to_json(&r, small, sizeof small, &need), CMEE_ENOSPACE);
    assert_int_equal(need, len);
    for (size_t i = 0; i < sizeof small; i++)
        assert_int_equal(small[i], 'x');
    assert_int_equal(cmee_report_to_json(NULL, buf, sizeof buf, &len), CMEE_EINVAL);
    assert_int_equal(cmee_report_to_json(&r, NULL, 5, &len), CMEE_EINVAL);
}

static void test_errors(void **state)
{
    cmee_session *s = manual(1, 0.001, NULL, NULL);
    cmee_report r;
    memset(&r, 0x77, sizeof r);
    cmee_report copy = r;
    cmee_report_config cfg;
    cmee_report_config_init(&cfg);
    cfg.sample_ms = 999;
    assert_int_equal(cmee_session_report(s, &cfg, &r), CMEE_EINVAL);
    assert_non_null(strstr(cmee_session_errmsg(s), "sample_ms"));
    cfg.sample_ms = 31 * 86400000LL;
    assert_int_equal(cmee_session_report(s, &cfg, &r), CMEE_EINVAL);
    cmee_report_config_init(&cfg);
    cfg.max_samples = 1;
    assert_int_equal(cmee_session_report(s, &cfg, &r), CMEE_EINVAL);
    assert_non_null(strstr(cmee_session_errmsg(s), "max_samples"));
    assert_memory_equal(&r, &copy, sizeof r);
    assert_int_equal(cmee_session_report(s, NULL, NULL), CMEE_EINVAL);
    assert_int_equal(cmee_session_report(NULL, NULL, &r), CMEE_EINVAL);
    cmee_report_config_init(NULL);
    assert_int_equal(cmee_sizeof_report(), sizeof(cmee_report));
    cmee_session_free(s);
}

/* Every allocation of the report failing in turn: ENOMEM, nothing leaked, then success. */
static void test_alloc_failure(void **state)
{
    chaos c = {0};
    cmee_allocator al = chaos_allocator(&c);
    cmee_session_config cfg;
    cmee_session_config_init(&cfg);
    cfg.start_time = START;
    cfg.manual_clock = true;
    cmee_session *s = NULL;
    assert_int_equal(cmee_session_new(&cfg, NULL, &al, &s, NULL), CMEE_OK);
    market(s, "BTCUSD", CMEE_SIDE_BUY, 0.01);
    OK(s, cmee_session_step(s, HOUR_MS));
    long live = c.live;
    cmee_report r;
    cmee_status st;
    long n = 0;
    do {
        c.calls = 0;
        c.fail_at = ++n;
        st = cmee_session_report(s, NULL, &r);
        assert_true(st == CMEE_OK || st == CMEE_ENOMEM);
        assert_int_equal(c.live, live);
    } while (st != CMEE_OK);
    assert_true(n >= 4);
    c.fail_at = 0;
    cmee_session_free(s);
    assert_int_equal(c.live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_counts_and_money),
        cmocka_unit_test(test_curve_statistics),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_no_advance),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
