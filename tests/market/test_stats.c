/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Contract 6: with no scenario, log returns have the configured drift and volatility, high and
 * low are those of a continuous random walk, and the optional fat tails, clustering, jumps and
 * correlation show up as they should. Tolerances come from the sample sizes: a few standard
 * errors, so a correct generator passes and a wrong one (off by a few percent) fails.
 * Statistics use GSL.
 */
#include <stdlib.h>

#include <gsl/gsl_statistics_double.h>

#include "cmee_test.h"

#define YEAR_MIN (365.25 * 1440.0)

/* At a CMEE_TEST_SCALE below 1 (cmee_test.h) every sample is that fraction of its size. Bounds
 * written as k standard errors follow by themselves; the few fixed ones are widened by
 * 1/sqrt(scale), the way a standard error grows when the sample shrinks. */
static double widen(double tol)
{
    return tol / sqrt(cmee_test_scale());
}

/* A custom symbol with a tiny tick, so rounding to the grid does not disturb the statistics. */
static void add_symbol(cmee_market *m, const char *name, double vol, double drift, double dof,
                       double clustering, double jumps)
{
    cmee_symbol_spec s;
    cmee_symbol_spec_init(&s, name);
    s.seed_price = 100.0;
    s.tick_size = 1e-8;
    s.precision = 8;
    s.volatility = vol;
    s.drift = drift;
    s.tail_dof = dof;
    s.clustering = clustering;
    s.jump_rate = jumps;
    s.jump_mean = -0.02;
    s.jump_stdev = 0.04;
    s.volume = 1000;
    assert_status(m, cmee_market_set_symbol(m, &s), CMEE_OK);
}

/* Log returns close/open of every candle in [from, from + n tf). Caller frees. */
static double *log_returns(cmee_market *m, const char *sym, cmee_timeframe tf, int64_t from,
                           size_t n, cmee_candle **candles)
{
    cmee_candle *c;
    size_t got;
    assert_status(m,
                  cmee_market_candles_alloc(m, sym, tf, from,
                                            from + (int64_t)n * cmee_timeframe_ms(tf), &c, &got),
                  CMEE_OK);
    assert_int_equal(got, n);
    double *r = malloc(n * sizeof *r);
    assert_non_null(r);
    for (size_t i = 0; i < n; i++)
        r[i] = log(c[i].close / c[i].open);
    if (candles)
        *candles = c;
    else
        cmee_market_release(m, c);
    return r;
}

/* Variance of 1m log returns and the Parkinson estimator both recover sigma^2 dt; the mean of
 * returns pooled over independent seeds recovers drift - sigma^2/2. */
static void test_gbm_moments(void **state)
{
    const double vol = 0.5, drift = 0.4;
    const size_t n = cmee_test_scaled(400 * 1440); /* 400 days of 1m candles */
    cmee_market *m = cmee_test_market(11);
    add_symbol(m, "GBM", vol, drift, 0, 0, 0);
    cmee_candle *c;
    double *r = log_returns(m, "GBM", CMEE_TF_1M, CMEE_ANCHOR_TIME, n, &c);

    double var_want = vol * vol / YEAR_MIN;
    double var = gsl_stats_variance(r, 1, n);
    /* The sample variance of n Gaussian values has relative standard error sqrt(2/n). */
    double se_var = sqrt(2.0 / (double)n);
    print_message("1m variance / expected = %.5f (4 se = %.5f)\n", var / var_want, 4 * se_var);
    assert_rel_near(var, var_want, 4 * se_var);

    /* Parkinson: sqrt(mean(ln(H/L)^2) / (4 ln 2)) recovers sigma; the issue asks for 3 %, and
     * the estimator's own standard error here is about 0.1 %. */
    double s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double hl = log(c[i].high / c[i].low);
        s2 += hl * hl;
    }
    double park = sqrt(s2 / (double)n / (4.0 * log(2.0)));
    double sd_want = sqrt(var_want);
    print_message("Parkinson sigma / expected = %.5f\n", park / sd_want);
    assert_rel_near(park, sd_want, 0.03);
    assert_rel_near(park, sd_want, widen(0.005)); /* and much better than the 3 % asked */
    cmee_market_release(m, c);
    free(r);
    cmee_market_free(m);

    /* Drift: daily returns of 8 seeds x 25 years. The mean log return per year is
     * drift - vol^2/2 with standard error vol / sqrt(total years). */
    double sum = 0;
    size_t days = cmee_test_scaled(25 * 365), total = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        cmee_market *mm = cmee_test_market(seed);
        add_symbol(mm, "GBM", vol, drift, 0, 0, 0);
        double *d = log_returns(mm, "GBM", CMEE_TF_1D, CMEE_TIME_MIN + 365 * DAY_MS, days, NULL);
        for (size_t i = 0; i < days; i++)
            sum += d[i];
        total += days;
        free(d);
        cmee_market_free(mm);
    }
    double years = (double)total / 365.25;
    double mu = sum / years, mu_want = drift - vol * vol / 2;
    double se_mu = vol / sqrt(years);
    print_message("annual mean log return %.4f, expected %.4f (4 se = %.4f)\n", mu, mu_want,
                  4 * se_mu);
    assert_near(mu, mu_want, 4 * se_mu);
}

/* Without extensions returns are Gaussian (excess kurtosis near 0); with fat tails clearly
 * positive. */
static void test_fat_tails(void **state)
{
    const size_t n = cmee_test_scaled(200 * 1440);
    cmee_market *m = cmee_test_market(12);
    add_symbol(m, "GAUSS", 0.6, 0, 0, 0, 0);
    add_symbol(m, "FAT", 0.6, 0, 4.0, 0, 0);
    double *g = log_returns(m, "GAUSS", CMEE_TF_1M, CMEE_ANCHOR_TIME, n, NULL);
    double *f = log_returns(m, "FAT", CMEE_TF_1M, CMEE_ANCHOR_TIME, n, NULL);
    double kg = gsl_stats_kurtosis(g, 1, n), kf = gsl_stats_kurtosis(f, 1, n);
    double se_k = sqrt(24.0 / (double)n);
    print_message("excess kurtosis: gaussian %.3f (4 se = %.3f), fat tails %.3f\n", kg, 4 * se_k,
                  kf);
    assert_near(kg, 0.0, 4 * se_k);
    assert_true(kf > 1.0);
    /* Variance is unchanged by the tails: they reshape, not rescale. */
    double vg = gsl_stats_variance(g, 1, n), vf = gsl_stats_variance(f, 1, n);
    assert_rel_near(vf, vg, widen(0.05));
    free(g);
    free(f);
    cmee_market_free(m);
}

static double autocorr(const double *x, size_t n, size_t lag)
{
    double mean = gsl_stats_mean(x, 1, n), num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        den += (x[i] - mean) * (x[i] - mean);
        if (i + lag < n)
            num += (x[i] - mean) * (x[i + lag] - mean);
    }
    return num / den;
}

/* With clustering, squared 5m returns are autocorrelated at lags of minutes to hours while
 * returns are not; without it, neither is. */
static void test_clustering(void **state)
{
    /* Full size at any CMEE_TEST_SCALE: "beats 10 se" is a bound on the effect size here. */
    const size_t n = 300 * 288; /* 300 days of 5m */
    cmee_market *m = cmee_test_market(13);
    add_symbol(m, "CALM", 0.5, 0, 0, 0, 0);
    add_symbol(m, "CLUST", 0.5, 0, 0, 1.0, 0);
    double *a = log_returns(m, "CALM", CMEE_TF_5M, CMEE_ANCHOR_TIME, n, NULL);
    double *b = log_returns(m, "CLUST", CMEE_TF_5M, CMEE_ANCHOR_TIME, n, NULL);
    double *a2 = malloc(n * sizeof *a2), *b2 = malloc(n * sizeof *b2);
    assert_non_null(a2);
    assert_non_null(b2);
    for (size_t i = 0; i < n; i++) {
        a2[i] = a[i] * a[i];
        b2[i] = b[i] * b[i];
    }
    double se = 1.0 / sqrt((double)n);
    size_t lags[] = {1, 12, 48};
    for (size_t i = 0; i < 3; i++) {
        double ra = autocorr(a, n, lags[i]), rb = autocorr(b, n, lags[i]);
        double sa = autocorr(a2, n, lags[i]), sb = autocorr(b2, n, lags[i]);
        print_message("lag %zu: returns %.4f %.4f, squared %.4f %.4f (se %.4f)\n", lags[i], ra,
                      rb, sa, sb, se);
        assert_near(ra, 0.0, 5 * se);
        assert_near(sa, 0.0, 5 * se);
        /* Squared returns are heavy-tailed with clustering; 5 se of a Gaussian is generous
         * for the returns themselves, and the squared ones must beat 10 se. */
        assert_near(rb, 0.0, 5 * se);
        assert_true(sb > 10 * se);
    }
    free(a);
    free(b);
    free(a2);
    free(b2);
    cmee_market_free(m);
}

/* Jumps: big moves appear about as often as the rate says, and they fatten the tails. */
static void test_jumps(void **state)
{
    const size_t n = cmee_test_scaled(365 * 1440);
    const double rate = 200; /* per year */
    cmee_market *m = cmee_test_market(14);
    add_symbol(m, "JUMPY", 0.3, 0, 0, 0, rate);
    double *r = log_returns(m, "JUMPY", CMEE_TF_1M, CMEE_ANCHOR_TIME, n, NULL);
    double sd = 0.3 / sqrt(YEAR_MIN);
    size_t big = 0;
    for (size_t i = 0; i < n; i++)
        big += fabs(r[i]) > 8 * sd;
    /* Jumps are N(-0.02, 0.04^2) against 8 sd = 0.0033: P(|J| > 8 sd) = 0.941. The count over
     * a year is Poisson with mean rate * 0.941 = 188 and sd 13.7; the chance that the Brownian
     * part alone moves 8 sd in 525,960 minutes is negligible. A smaller CMEE_TEST_SCALE
     * scales the expected count with the sample. */
    const double expect = rate * 0.941 * (double)n / (365 * 1440.0);
    print_message("moves beyond 8 sd: %zu, expected about %.0f\n", big, expect);
    assert_true(fabs((double)big - expect) < 5 * sqrt(expect));
    assert_true(gsl_stats_kurtosis(r, 1, n) > 10);
    free(r);
    cmee_market_free(m);
}

/* Correlated symbols: the sample correlation of 1m returns is the configured one. */
static void test_correlation(void **state)
{
    const size_t n = cmee_test_scaled(100 * 1440);
    const double rho = 0.7;
    cmee_market *m = cmee_test_market(15);
    add_symbol(m, "AAA", 0.4, 0, 0, 0, 0);
    add_symbol(m, "BBB", 0.8, 0, 0, 0, 0);
    const char *g[] = {"AAA", "BBB"};
    const double mat[] = {1, rho, rho, 1};
    assert_status(m, cmee_market_set_correlation(m, g, 2, mat), CMEE_OK);
    double *a = log_returns(m, "AAA", CMEE_TF_1M, CMEE_ANCHOR_TIME, n, NULL);
    double *b = log_returns(m, "BBB", CMEE_TF_1M, CMEE_ANCHOR_TIME, n, NULL);
    double c = gsl_stats_correlation(a, 1, b, 1, n);
    double se = (1 - rho * rho) / sqrt((double)n);
    print_message("correlation %.4f, expected %.2f (4 se = %.4f)\n", c, rho, 4 * se);
    assert_near(c, rho, 4 * se);
    /* Each keeps its own volatility. */
    assert_rel_near(gsl_stats_sd(b, 1, n), 0.8 / sqrt(YEAR_MIN), widen(0.01));
    free(a);
    free(b);
    cmee_market_free(m);
}

/* Mean volume of a 1m candle is the configured one. */
static void test_volume(void **state)
{
    const size_t n = 30 * 1440;
    cmee_market *m = cmee_test_market(16);
    cmee_candle *c;
    size_t got;
    assert_status(m, cmee_market_candles_alloc(m, "ETHUSD", CMEE_TF_1M, CMEE_ANCHOR_TIME,
                                               CMEE_ANCHOR_TIME + (int64_t)n * MIN_MS, &c, &got),
                  CMEE_OK);
    double sum = 0;
    for (size_t i = 0; i < got; i++)
        sum += c[i].volume;
    cmee_symbol_spec s;
    assert_status(m, cmee_market_symbol(m, "ETHUSD", &s), CMEE_OK);
    print_message("mean 1m volume %.2f, configured %.2f\n", sum / (double)got, s.volume);
    assert_rel_near(sum / (double)got, s.volume, 0.02);
    cmee_market_release(m, c);
    cmee_market_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gbm_moments), cmocka_unit_test(test_fat_tails),
        cmocka_unit_test(test_clustering),  cmocka_unit_test(test_jumps),
        cmocka_unit_test(test_correlation), cmocka_unit_test(test_volume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
