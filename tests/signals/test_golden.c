/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Golden vectors: every indicator against TA-Lib's own output (tests/data/signals, made with the
 * real TA-Lib, see its README) to a relative error of 1e-9, with the same lookback. The test
 * fails if any indicator of the table has no reference file (VWAP, which TA-Lib lacks, is
 * checked against a direct computation in test_stream).
 */
#include <dirent.h>
#include <stdlib.h>

#include "cmee_test.h"

#define MAXN 4000
#define REL_TOL 1e-9

typedef struct input {
    char stem[64];
    double col[5][MAXN]; /* open high low close volume */
    size_t n;
} input;

static input inputs[8];
static size_t ninputs;
static const char *datadir;

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[len] = '\0';
    fclose(f);
    return buf;
}

static const input *load_input(const char *stem)
{
    for (size_t i = 0; i < ninputs; i++)
        if (strcmp(inputs[i].stem, stem) == 0)
            return &inputs[i];
    assert_true(ninputs < 8);
    input *in = &inputs[ninputs];
    char path[1024];
    if (snprintf(path, sizeof path, "%s/%s.csv", datadir, stem) >= (int)sizeof path)
        fail_msg("path too long: %s", stem);
    char *text = read_file(path);
    if (!text)
        fail_msg("cannot read input %s", path);
    char *line = strtok(text, "\n");
    assert_string_equal(line, "time,open,high,low,close,volume");
    size_t n = 0;
    while ((line = strtok(NULL, "\n")) && n < MAXN) {
        char *p = strchr(line, ',');
        assert_non_null(p);
        for (int k = 0; k < 5; k++) {
            in->col[k][n] = strtod(p + 1, &p);
            assert_true(*p == ',' || *p == '\0' || *p == '\r');
        }
        n++;
    }
    in->n = n;
    snprintf(in->stem, sizeof in->stem, "%s", stem);
    ninputs++;
    free(text);
    return in;
}

typedef struct stats {
    size_t files, values, skipped;
    double worst;
} stats;

/* Compare one reference file; returns the worst relative error seen. */
static void check_file(const char *name, stats *per_ind)
{
    char base[256];
    if (snprintf(base, sizeof base, "%s", name) >= (int)sizeof base)
        fail_msg("file name too long: %s", name);
    base[strlen(base) - 4] = '\0'; /* drop .csv */
    char *ind_name = strstr(base, "__");
    assert_non_null(ind_name);
    *ind_name = '\0';
    ind_name += 2;
    char *param_text = strstr(ind_name, "__");
    assert_non_null(param_text);
    *param_text = '\0';
    param_text += 2;

    cmee_ind_id id;
    if (cmee_ind_find(ind_name, &id) != CMEE_OK)
        fail_msg("%s: unknown indicator %s", name, ind_name);
    const cmee_ind_info *info = cmee_ind_info_get(id);
    double params[CMEE_IND_MAX_PARAMS] = {0};
    size_t np = 0;
    for (char *tok = strtok(param_text, "_"); tok; tok = strtok(NULL, "_"))
        params[np++] = strtod(tok, NULL);
    assert_int_equal(np, info->nparams);

    const input *in = load_input(base);
    cmee_series s = {in->col[0], in->col[1], in->col[2], in->col[3], in->col[4], in->n};
    static double outbuf[CMEE_IND_MAX_OUTPUTS][MAXN];
    double *out[CMEE_IND_MAX_OUTPUTS] = {outbuf[0], outbuf[1], outbuf[2]};
    cmee_error err;
    cmee_status st = cmee_ind_compute(id, np ? params : NULL, &s, out, &err);
    if (st != CMEE_OK)
        fail_msg("%s: %s", name, err.text);
    size_t lookback;
    assert_int_equal(cmee_ind_lookback(id, np ? params : NULL, &lookback, NULL), CMEE_OK);

    char path[1024];
    if (snprintf(path, sizeof path, "%s/%s", datadir, name) >= (int)sizeof path)
        fail_msg("path too long: %s", name);
    char *text = read_file(path);
    assert_non_null(text);
    char *save;
    char *line = strtok_r(text, "\n", &save);
    /* Header: index,<outputs> in the table's order. */
    char expect[128] = "index";
    for (size_t k = 0; k < info->noutputs; k++) {
        strcat(expect, ",");
        strcat(expect, info->output_names[k]);
    }
    if (strcmp(line, expect) != 0)
        fail_msg("%s: header %s, expected %s", name, line, expect);

    static double ref[CMEE_IND_MAX_OUTPUTS][MAXN];
    size_t n = 0;
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *p = strchr(line, ',');
        for (size_t k = 0; k < info->noutputs; k++) {
            assert_non_null(p);
            p++;
            if (*p == ',' || *p == '\0' || *p == '\r') {
                ref[k][n] = NAN;
            } else {
                ref[k][n] = strtod(p, &p);
            }
            p = strchr(p, ',') ? strchr(p, ',') : p + strlen(p);
        }
        n++;
    }
    free(text);
    assert_int_equal(n, in->n);

    /* STOCHRSI's %K is (rsi - min) / (max - min) over k RSI values: where those are equal up to
     * rounding, %K is 0/0 and flips between 0 and 100 on the last bit of the RSI (TA-Lib's own
     * output is noise there). Such bars, and the %D bars averaging them, are not compared. */
    static bool ill[MAXN];
    memset(ill, 0, sizeof ill);
    if (id == CMEE_IND_STOCHRSI) {
        static double rsi[MAXN];
        double *ro[1] = {rsi};
        assert_int_equal(cmee_ind_compute(CMEE_IND_RSI, params, &s, ro, NULL), CMEE_OK);
        size_t k = (size_t)params[1], d = (size_t)params[2];
        for (size_t i = 0; i < in->n; i++) {
            if (isnan(rsi[i]) || i + 1 < k || isnan(rsi[i + 1 - k]))
                continue;
            double lo = rsi[i], hi = rsi[i];
            for (size_t j = i + 1 - k; j <= i; j++) {
                lo = fmin(lo, rsi[j]);
                hi = fmax(hi, rsi[j]);
            }
            if (hi - lo < 1e-6)
                for (size_t j = i; j < i + d && j < in->n; j++)
                    ill[j] = true;
        }
    }

    stats *sp = &per_ind[id];
    sp->files++;
    for (size_t k = 0; k < info->noutputs; k++) {
        double colmax = 0;
        size_t first = n;
        for (size_t i = 0; i < n; i++) {
            if (!isnan(ref[k][i])) {
                colmax = fmax(colmax, fabs(ref[k][i]));
                if (first == n)
                    first = i;
            }
        }
        /* TA-Lib starts +DI and -DI earlier than ADX; libcmee's three outputs share ADX's
         * lookback. Everything else starts exactly where TA-Lib does. */
        bool shared = id == CMEE_IND_ADX && k > 0;
        if (shared ? first > lookback : first != lookback && first != n)
            fail_msg("%s %s: TA-Lib starts at %zu, lookback says %zu", name,
                     info->output_names[k], first, lookback);
        for (size_t i = 0; i < n; i++) {
            double a = out[k][i], b = ref[k][i];
            if (i < lookback) {
                if (!isnan(a))
                    fail_msg("%s %s[%zu] = %.17g inside the lookback %zu", name,
                             info->output_names[k], i, a, lookback);
                continue;
            }
            if (ill[i]) {
                sp->skipped++;
                continue;
            }
            if (isnan(b) || isnan(a))
                fail_msg("%s %s[%zu]: ours %.17g, TA-Lib %.17g", name, info->output_names[k], i,
                         a, b);
            /* Near-zero cells are rounding leftovers in TA-Lib too (slowk -2.5e-13 where the
             * window is flat): below a thousandth of the column's size the error is measured
             * against that size. */
            double scale = fmax(fabs(b), 1e-3 * colmax);
            double rel = scale > 0 ? fabs(a - b) / scale : fabs(a - b);
            if (rel > sp->worst)
                sp->worst = rel;
            if (rel > REL_TOL)
                fail_msg("%s %s[%zu]: ours %.17g, TA-Lib %.17g (relative error %.3g)", name,
                         info->output_names[k], i, a, b, rel);
            sp->values++;
        }
    }
}

static void test_golden(void **state)
{
    datadir = getenv("CMEE_SIGNALS_DATA");
    assert_non_null(datadir);
    DIR *d = opendir(datadir);
    if (!d)
        fail_msg("cannot open %s", datadir);
    static char names[512][128];
    size_t nfiles = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nfiles < 512) {
        size_t len = strlen(e->d_name);
        if (strstr(e->d_name, "__") && len > 4 && strcmp(e->d_name + len - 4, ".csv") == 0)
            if (snprintf(names[nfiles++], sizeof names[0], "%s", e->d_name) >=
                (int)sizeof names[0])
                fail_msg("file name too long: %s", e->d_name);
    }
    closedir(d);
    stats per_ind[CMEE_IND_COUNT];
    memset(per_ind, 0, sizeof per_ind);
    for (size_t i = 0; i < nfiles; i++)
        check_file(names[i], per_ind);
    size_t total = 0;
    for (int id = 0; id < CMEE_IND_COUNT; id++) {
        const cmee_ind_info *info = cmee_ind_info_get((cmee_ind_id)id);
        print_message("%-9s %3zu files %7zu values, worst relative error %.3g%s\n", info->name,
                      per_ind[id].files, per_ind[id].values, per_ind[id].worst,
                      per_ind[id].skipped ? " (ill-conditioned bars skipped)" : "");
        total += per_ind[id].values;
        /* Tulip's habit: an indicator in the table that no reference covers fails the test. */
        if (id != CMEE_IND_VWAP && per_ind[id].files == 0)
            fail_msg("%s has no reference vectors", info->name);
    }
    print_message("%zu files, %zu values\n", nfiles, total);
    assert_true(nfiles >= 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
