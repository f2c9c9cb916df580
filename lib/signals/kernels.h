/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Every indicator kernel, and the list that drives the batch loop and the stream:
 * K(ID, prefix, inputs mask, number of outputs). */
#ifndef CMEE_SIGNALS_KERNELS_H
#define CMEE_SIGNALS_KERNELS_H

#include "k_ma.h"
#include "k_osc.h"
#include "k_rsi_macd.h"
#include "k_vol.h"

#define CMEE__KERNELS(K)                                                                           \
    K(SMA, sma, CMEE_IN_CLOSE, 1)                                                                  \
    K(EMA, ema, CMEE_IN_CLOSE, 1)                                                                  \
    K(WMA, wma, CMEE_IN_CLOSE, 1)                                                                  \
    K(DEMA, dema, CMEE_IN_CLOSE, 1)                                                                \
    K(TEMA, tema, CMEE_IN_CLOSE, 1)                                                                \
    K(RSI, rsi, CMEE_IN_CLOSE, 1)                                                                  \
    K(MACD, macd, CMEE_IN_CLOSE, 3)                                                                \
    K(BBANDS, bbands, CMEE_IN_CLOSE, 3)                                                            \
    K(ATR, atr, CMEE_IN_HIGH | CMEE_IN_LOW | CMEE_IN_CLOSE, 1)                                     \
    K(NATR, natr, CMEE_IN_HIGH | CMEE_IN_LOW | CMEE_IN_CLOSE, 1)                                   \
    K(STOCH, stoch, CMEE_IN_HIGH | CMEE_IN_LOW | CMEE_IN_CLOSE, 2)                                 \
    K(STOCHRSI, stochrsi, CMEE_IN_CLOSE, 2)                                                        \
    K(ADX, adx, CMEE_IN_HIGH | CMEE_IN_LOW | CMEE_IN_CLOSE, 3)                                     \
    K(CCI, cci, CMEE_IN_HIGH | CMEE_IN_LOW | CMEE_IN_CLOSE, 1)                                     \
    K(MOM, mom, CMEE_IN_CLOSE, 1)                                                                  \
    K(ROC, roc, CMEE_IN_CLOSE, 1)                                                                  \
    K(WILLR, willr, CMEE_IN_HIGH | CMEE_IN_LOW | CMEE_IN_CLOSE, 1)                                 \
    K(OBV, obv, CMEE_IN_CLOSE | CMEE_IN_VOLUME, 1)                                                 \
    K(SAR, sar, CMEE_IN_HIGH | CMEE_IN_LOW, 1)                                                     \
    K(VWAP, vwap, CMEE_IN_HIGH | CMEE_IN_LOW | CMEE_IN_CLOSE | CMEE_IN_VOLUME, 1)                  \
    K(STDDEV, stddev, CMEE_IN_CLOSE, 1)

#endif
