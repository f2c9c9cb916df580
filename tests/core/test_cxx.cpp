// SPDX-License-Identifier: GPL-3.0-or-later
// Every public header compiles as C++ and links from a C++ program.
#include <cmee.h>
#include <cmee/core.h>
#include <cmee/market.h>
#include <cmee/signals.h>

#include <cstdio>
#include <cstring>

int main()
{
    cmee_market *m = nullptr;
    if (cmee_market_new(1, nullptr, &m) != CMEE_OK)
        return 1;
    cmee_candle c[2];
    size_t n = 0;
    cmee_status st = cmee_market_candles_last(m, "EURUSD", CMEE_TF_1D, CMEE_ANCHOR_TIME, 2, c, 2, &n);
    cmee_market_free(m);
    if (st != CMEE_OK || n != 2 || std::strcmp(cmee_status_name(CMEE_ERANGE), "ERANGE") != 0)
        return 1;
    std::printf("ok\n");
    return 0;
}
