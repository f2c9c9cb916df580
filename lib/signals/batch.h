/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef CMEE_SIGNALS_BATCH_H
#define CMEE_SIGNALS_BATCH_H

#include "ind.h"

/* Run indicator id over a validated series with a dedicated loop, if it has one. */
bool cmee__batch_fast(cmee_ind_id id, const double *p, const cmee_series *in, double *const *out);

#endif
