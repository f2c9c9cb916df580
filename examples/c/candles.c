/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The smallest libcmee program: the last five hourly candles of BTCUSD before the anchor date,
 * then the same window fetched again to show that the answer never changes.
 * Build against an installed libcmee with:  cc candles.c $(pkg-config --cflags --libs cmee) */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cmee.h>

int main(void)
{
    if (strcmp(cmee_version(), CMEE_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s but library %s\n", CMEE_VERSION_STRING, cmee_version());
        return 1;
    }
    cmee_market *m;
    cmee_status st = cmee_market_new(42, NULL, &m);
    if (st != CMEE_OK) {
        fprintf(stderr, "cmee_market_new: %s\n", cmee_status_str(st));
        return 1;
    }
    cmee_candle a[5], b[5];
    size_t n;
    st = cmee_market_candles_last(m, "BTCUSD", CMEE_TF_1H, CMEE_ANCHOR_TIME, 5, a, 5, &n);
    if (st == CMEE_OK)
        st = cmee_market_candles_last(m, "BTCUSD", CMEE_TF_1H, CMEE_ANCHOR_TIME, 5, b, 5, &n);
    if (st != CMEE_OK) {
        fprintf(stderr, "cmee: %s\n", cmee_market_errmsg(m));
        cmee_market_free(m);
        return 1;
    }
    printf("time,open,high,low,close,volume\n");
    for (size_t i = 0; i < n; i++)
        printf("%" PRId64 ",%.2f,%.2f,%.2f,%.2f,%.0f\n", a[i].time, a[i].open, a[i].high, a[i].low,
               a[i].close, a[i].volume);
    int same = memcmp(a, b, sizeof a) == 0;
    printf("deterministic: %s\n", same ? "yes" : "no");
    cmee_market_free(m);
    return same ? 0 : 1;
}
