/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The built-in symbol registry. Seed prices are round figures near the market on the anchor
 * date (2025-01-01); volatilities are typical annualised values of recent years; volumes are
 * typical 1m volumes in whole units (coins, FX ticks, contracts, shares). */
#include <string.h>

#include "market/market_int.h"

typedef struct builtin {
    const char *symbol;
    cmee_asset_class cls;
    double price, tick;
    int precision;
    double vol, volume;
} builtin;

static const builtin builtins[] = {
    /* crypto */
    {"BTCUSD", CMEE_CLASS_CRYPTO, 93500.00, 0.01, 2, 0.55, 25},
    {"ETHUSD", CMEE_CLASS_CRYPTO, 3350.00, 0.01, 2, 0.70, 300},
    {"SOLUSD", CMEE_CLASS_CRYPTO, 190.00, 0.01, 2, 0.90, 4000},
    {"BNBUSD", CMEE_CLASS_CRYPTO, 700.00, 0.01, 2, 0.60, 600},
    {"XRPUSD", CMEE_CLASS_CRYPTO, 2.0800, 0.0001, 4, 0.95, 900000},
    {"ADAUSD", CMEE_CLASS_CRYPTO, 0.8500, 0.0001, 4, 0.95, 1500000},
    {"DOGEUSD", CMEE_CLASS_CRYPTO, 0.32000, 0.00001, 5, 1.00, 5000000},
    /* fx: volume is tick volume */
    {"EURUSD", CMEE_CLASS_FX, 1.03550, 0.00001, 5, 0.07, 120},
    {"GBPUSD", CMEE_CLASS_FX, 1.25150, 0.00001, 5, 0.08, 110},
    {"USDJPY", CMEE_CLASS_FX, 157.200, 0.001, 3, 0.10, 130},
    {"AUDUSD", CMEE_CLASS_FX, 0.61900, 0.00001, 5, 0.10, 90},
    {"USDCHF", CMEE_CLASS_FX, 0.90700, 0.00001, 5, 0.08, 80},
    {"USDCAD", CMEE_CLASS_FX, 1.43800, 0.00001, 5, 0.06, 80},
    {"NZDUSD", CMEE_CLASS_FX, 0.56000, 0.00001, 5, 0.11, 70},
    /* metals: troy ounces */
    {"XAUUSD", CMEE_CLASS_METAL, 2625.00, 0.01, 2, 0.15, 300},
    {"XAGUSD", CMEE_CLASS_METAL, 28.900, 0.001, 3, 0.28, 2000},
    /* indices: contracts */
    {"SPX500", CMEE_CLASS_INDEX, 5880.00, 0.25, 2, 0.17, 500},
    {"NAS100", CMEE_CLASS_INDEX, 21000.00, 0.25, 2, 0.22, 400},
    {"US30", CMEE_CLASS_INDEX, 42500.0, 1.0, 0, 0.16, 150},
    {"GER40", CMEE_CLASS_INDEX, 19900.0, 0.5, 1, 0.18, 200},
    /* stocks: shares */
    {"AAPL", CMEE_CLASS_STOCK, 250.40, 0.01, 2, 0.25, 60000},
    {"MSFT", CMEE_CLASS_STOCK, 421.50, 0.01, 2, 0.24, 25000},
    {"NVDA", CMEE_CLASS_STOCK, 134.30, 0.01, 2, 0.50, 300000},
    {"TSLA", CMEE_CLASS_STOCK, 403.80, 0.01, 2, 0.60, 90000},
    {"AMZN", CMEE_CLASS_STOCK, 219.40, 0.01, 2, 0.30, 40000},
    {"GOOGL", CMEE_CLASS_STOCK, 189.30, 0.01, 2, 0.28, 30000},
    /* commodities */
    {"WTIUSD", CMEE_CLASS_COMMODITY, 71.70, 0.01, 2, 0.35, 800},
};

size_t cmee__builtin_count(void)
{
    return sizeof builtins / sizeof builtins[0];
}

void cmee__builtin_spec(size_t i, cmee_symbol_spec *out)
{
    const builtin *b = &builtins[i];
    cmee_symbol_spec_init(out, b->symbol);
    out->asset_class = b->cls;
    out->seed_price = b->price;
    out->tick_size = b->tick;
    out->precision = b->precision;
    out->volatility = b->vol;
    out->volume = b->volume;
}

void cmee_symbol_spec_init(cmee_symbol_spec *spec, const char *symbol)
{
    if (!spec)
        return;
    memset(spec, 0, sizeof *spec);
    if (symbol) {
        size_t n = strlen(symbol);
        if (n > CMEE_SYMBOL_MAX - 1)
            n = CMEE_SYMBOL_MAX - 1;
        memcpy(spec->symbol, symbol, n);
    }
    spec->asset_class = CMEE_CLASS_OTHER;
    spec->seed_price = 100.0;
    spec->tick_size = 0.01;
    spec->precision = 2;
    spec->volatility = 0.2;
    spec->drift = 0.0;
    spec->volume = 100.0;
    spec->ticks_per_minute = 60;
}
