/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The results report of a session (cmee/report.h): computed from the ledger, the orders, the
 * options and the session's market, so it is a pure function of what the session recorded. */
#include <gsl/gsl_cdf.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmee/report.h>

#include "session/session_int.h"

#define YEAR_MS (365.25 * 86400000.0)

void cmee_report_config_init(cmee_report_config *c)
{
    if (!c)
        return;
    c->sample_ms = INT64_C(3600000);
    c->max_samples = 100000;
    c->advance = true;
}

/* A position rebuilt from the fills. */
typedef struct rpos {
    char symbol[CMEE_SYMBOL_MAX];
    double q, avg;
} rpos;

typedef struct rstate {
    rpos *pos;
    size_t npos;
} rstate;

static rpos *find_pos(rstate *st, const char *sym)
{
    for (size_t i = 0; i < st->npos; i++)
        if (strcmp(st->pos[i].symbol, sym) == 0)
            return &st->pos[i];
    return NULL;
}

/* Apply a fill with the session's rules; returns true when it reduced a position. */
static bool apply_fill(rstate *st, const cmee_order *o)
{
    rpos *p = find_pos(st, o->symbol);
    if (!p) {
        p = &st->pos[st->npos++]; /* capacity: one per filled order */
        memset(p, 0, sizeof *p);
        memcpy(p->symbol, o->symbol, CMEE_SYMBOL_MAX);
    }
    double sgn = o->side == CMEE_SIDE_BUY ? 1.0 : -1.0, qty = o->quantity, q0 = p->q;
    if (q0 == 0 || (q0 > 0) == (sgn > 0)) {
        double q1 = q0 + sgn * qty;
        p->avg = (fabs(q0) * p->avg + qty * o->fill_price) / fabs(q1);
        p->q = q1;
        return false;
    }
    double closed = qty < fabs(q0) ? qty : fabs(q0), rest = qty - closed;
    if (rest > 1e-12 * qty) {
        p->q = sgn * rest;
        p->avg = o->fill_price;
    } else {
        p->q = q0 + sgn * qty;
        if (fabs(p->q) <= 1e-12 * fabs(q0))
            p->q = 0;
    }
    return true;
}

static size_t open_count(const rstate *st)
{
    size_t n = 0;
    for (size_t i = 0; i < st->npos; i++)
        n += st->pos[i].q != 0;
    return n;
}

static int cmp_fill(const void *a, const void *b)
{
    const cmee_order *x = *(const cmee_order *const *)a, *y = *(const cmee_order *const *)b;
    if (x->closed != y->closed)
        return x->closed < y->closed ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

static void wilson(size_t k, size_t m, double *lo, double *hi)
{
    double z = gsl_cdf_ugaussian_Pinv(0.975);
    double nn = (double)m, p = (double)k / nn, z2 = z * z;
    double den = 1.0 + z2 / nn;
    double centre = (p + z2 / (2.0 * nn)) / den;
    double half = z / den * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
    *lo = fmax(0.0, centre - half);
    *hi = fmin(1.0, centre + half);
}

/* The ledger's balance after every entry with time <= t (entries are in time order). */
static int64_t balance_at(const cmee_session *s, size_t *cursor, int64_t t, int64_t bal)
{
    while (*cursor < s->nledger && s->ledger[*cursor].time <= t) {
        bal = s->ledger[*cursor].balance;
        (*cursor)++;
    }
    return bal;
}

static void track(cmee_report *r, int64_t net, uint64_t ref, bool *any)
{
    if (!*any || net > r->best_trade) {
        r->best_trade = net;
        r->best_ref = ref;
    }
    if (!*any || net < r->worst_trade) {
        r->worst_trade = net;
        r->worst_ref = ref;
    }
    *any = true;
}

cmee_status cmee_session_report(cmee_session *s, const cmee_report_config *cfg, cmee_report *out)
{
    if (!s)
        return CMEE_EINVAL;
    if (!out)
        return cmee__session_fail(s, CMEE_EINVAL, "out: must not be NULL");
    cmee_report_config def;
    if (!cfg) {
        cmee_report_config_init(&def);
        cfg = &def;
    }
    if (cfg->sample_ms < 1000 || cfg->sample_ms > 30 * INT64_C(86400000))
        return cmee__session_fail(s, CMEE_EINVAL, "sample_ms: must be in [1000, %" PRId64
                                  "], got %" PRId64, 30 * INT64_C(86400000), cfg->sample_ms);
    if (cfg->max_samples < 2 || cfg->max_samples > 10000000)
        return cmee__session_fail(s, CMEE_EINVAL,
                                  "max_samples: must be in [2, 10000000], got %zu",
                                  cfg->max_samples);
    cmee_account acc;
    if (cfg->advance) {
        cmee_status st = cmee_session_account(s, &acc);
        if (st != CMEE_OK)
            return st;
    }

    cmee_report r;
    memset(&r, 0, sizeof r);
    memcpy(r.session, s->cfg.id, sizeof r.session);
    memcpy(r.currency, s->cfg.currency, sizeof r.currency);
    r.start = s->cfg.start_time;
    r.end = s->processed > r.start ? s->processed : r.start;
    r.initial_balance = s->cfg.initial_balance;

    /* Fees, and the P&L and fee of every order from the ledger. */
    size_t nf = 0;
    for (size_t i = 0; i < s->norders; i++)
        nf += s->orders[i].state == CMEE_ORDER_FILLED;
    const cmee_order **fills = cmee__malloc(&s->al, (nf ? nf : 1) * sizeof *fills);
    rpos *pos = cmee__malloc(&s->al, (nf ? nf : 1) * sizeof *pos);
    int64_t *pnl = cmee__calloc(&s->al, s->norders ? s->norders : 1, sizeof *pnl);
    int64_t *fee = cmee__calloc(&s->al, s->norders ? s->norders : 1, sizeof *fee);
    if (!fills || !pos || !pnl || !fee) {
        cmee__free(&s->al, (void *)fills);
        cmee__free(&s->al, pos);
        cmee__free(&s->al, pnl);
        cmee__free(&s->al, fee);
        return cmee__session_fail(s, CMEE_ENOMEM, "out of memory for the report");
    }
    for (size_t i = 0; i < s->nledger; i++) {
        const cmee_ledger_entry *e = &s->ledger[i];
        if (e->kind == CMEE_LEDGER_FEE) {
            r.fees -= e->amount;
            if (e->ref >= 1 && e->ref <= s->norders)
                fee[e->ref - 1] += e->amount;
        } else if (e->kind == CMEE_LEDGER_PNL && e->ref >= 1 && e->ref <= s->norders) {
            pnl[e->ref - 1] += e->amount;
        }
    }
    nf = 0;
    for (size_t i = 0; i < s->norders; i++)
        if (s->orders[i].state == CMEE_ORDER_FILLED)
            fills[nf++] = &s->orders[i];
    qsort((void *)fills, nf, sizeof *fills, cmp_fill);
    r.fills = nf;

    /* Trades and exposure: replay the fills. */
    rstate ps = {pos, 0};
    bool any = false;
    int64_t exposed = 0, open_since = 0;
    for (size_t i = 0; i < nf; i++) {
        const cmee_order *o = fills[i];
        bool was_open = open_count(&ps) > 0;
        if (apply_fill(&ps, o)) {
            int64_t net = pnl[o->id - 1] + fee[o->id - 1];
            r.trades++;
            r.trades_won += net > 0;
            track(&r, net, o->id, &any);
        }
        bool is_open = open_count(&ps) > 0;
        if (!was_open && is_open)
            open_since = o->closed;
        else if (was_open && !is_open)
            exposed += o->closed - open_since;
    }
    if (open_count(&ps) > 0)
        exposed += r.end - open_since;
    r.exposure = r.end > r.start ? (double)exposed / (double)(r.end - r.start) : 0.0;
    if (r.exposure > 1.0)
        r.exposure = 1.0;

    /* Options. */
    size_t decided = r.trades;
    size_t won = r.trades_won;
    for (size_t i = 0; i < s->noptions; i++) {
        const cmee_option *op = &s->options[i];
        r.options++;
        if (op->state == CMEE_OPTION_OPEN)
            continue;
        r.options_won += op->state == CMEE_OPTION_WON;
        r.options_lost += op->state == CMEE_OPTION_LOST;
        r.options_tied += op->state == CMEE_OPTION_TIE;
        if (op->state != CMEE_OPTION_TIE) {
            decided++;
            won += op->state == CMEE_OPTION_WON;
        }
        track(&r, op->paid - op->stake, op->id, &any);
    }
    if (decided > 0) {
        r.win_rate = (double)won / (double)decided;
        wilson(won, decided, &r.win_rate_low, &r.win_rate_high);
    } else {
        r.win_rate_low = 0.0;
        r.win_rate_high = 1.0;
    }

    /* The equity curve: sampled balance plus positions marked at the last trade price, then
     * the account's equity at now. Streaming statistics, nothing stored. */
    int64_t span = r.end - r.start;
    int64_t step = cfg->sample_ms;
    int64_t need = (int64_t)cfg->max_samples - 1;
    if (span / step >= need)
        step = span / need + 1;
    r.sample_ms = step;
    ps.npos = 0;
    size_t fi = 0, lc = 0;
    int64_t bal = 0;
    double prev = 0.0, peak = 0.0, sum = 0.0, sum2 = 0.0, down2 = 0.0;
    size_t nret = 0;
    for (int64_t t = r.start;; t += step) {
        bool last = t >= r.end;
        double eq;
        if (last)
            t = r.end;
        if (last && cfg->advance) {
            eq = (double)acc.equity;
        } else {
            while (fi < nf && fills[fi]->closed <= t)
                apply_fill(&ps, fills[fi++]);
            bal = balance_at(s, &lc, t, bal);
            double unreal = 0.0;
            for (size_t i = 0; i < ps.npos; i++) {
                double mark;
                if (ps.pos[i].q == 0 ||
                    cmee_market_price(s->market, ps.pos[i].symbol, t, &mark) != CMEE_OK)
                    continue;
                unreal += (mark - ps.pos[i].avg) * ps.pos[i].q * (double)CMEE_MONEY_SCALE;
            }
            eq = (double)bal + nearbyint(unreal);
        }
        if (r.samples > 0 && prev > 0) {
            double ret = eq / prev - 1.0;
            sum += ret;
            sum2 += ret * ret;
            down2 += ret < 0 ? ret * ret : 0.0;
            nret++;
        }
        if (r.samples == 0 || eq > peak)
            peak = eq;
        if (peak - eq > (double)r.max_drawdown) {
            r.max_drawdown = (int64_t)(peak - eq);
            r.max_drawdown_pct = peak > 0 ? (peak - eq) / peak : 0.0;
        }
        prev = eq;
        r.samples++;
        if (last) {
            r.final_equity = (int64_t)eq;
            break;
        }
    }
    r.pnl = r.final_equity - r.initial_balance;
    r.ret = (double)r.pnl / (double)r.initial_balance;
    if (nret >= 2) {
        double mean = sum / (double)nret;
        double var = (sum2 - sum * mean) / (double)(nret - 1);
        double ann = sqrt(YEAR_MS / (double)step);
        if (var > 0)
            r.sharpe = mean / sqrt(var) * ann;
        double dd = sqrt(down2 / (double)nret);
        if (dd > 0)
            r.sortino = mean / dd * ann;
    }
    cmee__free(&s->al, (void *)fills);
    cmee__free(&s->al, pos);
    cmee__free(&s->al, pnl);
    cmee__free(&s->al, fee);
    *out = r;
    return CMEE_OK;
}

/* Money units as an exact decimal: -12.5, 0, 10000.00000001. */
static int money_text(char *b, size_t cap, int64_t units)
{
    uint64_t u = units < 0 ? (uint64_t)0 - (uint64_t)units : (uint64_t)units;
    uint64_t whole = u / (uint64_t)CMEE_MONEY_SCALE, frac = u % (uint64_t)CMEE_MONEY_SCALE;
    if (!frac)
        return snprintf(b, cap, "%s%" PRIu64, units < 0 ? "-" : "", whole);
    char f[16];
    snprintf(f, sizeof f, "%08" PRIu64, frac);
    size_t l = strlen(f);
    while (l > 0 && f[l - 1] == '0')
        f[--l] = '\0';
    return snprintf(b, cap, "%s%" PRIu64 ".%s", units < 0 ? "-" : "", whole, f);
}

/* The shortest of %.15g, %.16g and %.17g that reads back to @p v (finite by construction). */
static const char *num(char *b, size_t cap, double v)
{
    for (int p = 15; p <= 17; p++) {
        snprintf(b, cap, "%.*g", p, v);
        if (strtod(b, NULL) == v)
            break;
    }
    return b;
}

cmee_status cmee_report_to_json(const cmee_report *r, char *buf, size_t cap, size_t *len)
{
    if (!r || (!buf && cap))
        return CMEE_EINVAL;
    char d[8][32];
    char m[7][40];
    money_text(m[0], sizeof m[0], r->initial_balance);
    money_text(m[1], sizeof m[1], r->final_equity);
    money_text(m[2], sizeof m[2], r->pnl);
    money_text(m[3], sizeof m[3], r->fees);
    money_text(m[4], sizeof m[4], r->max_drawdown);
    money_text(m[5], sizeof m[5], r->best_trade);
    money_text(m[6], sizeof m[6], r->worst_trade);
    char sess[CMEE_SESSION_ID_MAX], cur[CMEE_CURRENCY_MAX];
    /* Ids and currencies are validated to [A-Za-z0-9_-]; keep only those to be safe. */
    size_t j = 0;
    for (size_t i = 0; i < sizeof sess - 1 && r->session[i]; i++)
        if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
                   r->session[i]))
            sess[j++] = r->session[i];
    sess[j] = '\0';
    j = 0;
    for (size_t i = 0; i < sizeof cur - 1 && r->currency[i]; i++)
        if (r->currency[i] >= 'A' && r->currency[i] <= 'Z')
            cur[j++] = r->currency[i];
    cur[j] = '\0';
    char text[2048];
    int n = snprintf(
        text, sizeof text,
        "{\"session\":\"%s\",\"currency\":\"%s\",\"start\":%" PRId64 ",\"end\":%" PRId64
        ",\"initial_balance\":%s,\"final_equity\":%s,\"pnl\":%s,\"return\":%s,\"fees\":%s,"
        "\"max_drawdown\":%s,\"max_drawdown_pct\":%s,\"sharpe\":%s,\"sortino\":%s,"
        "\"sample_ms\":%" PRId64 ",\"samples\":%zu,\"fills\":%zu,\"trades\":%zu,"
        "\"trades_won\":%zu,\"options\":%zu,\"options_won\":%zu,\"options_lost\":%zu,"
        "\"options_tied\":%zu,\"win_rate\":%s,\"win_rate_low\":%s,"
        "\"win_rate_high\":%s,\"best_trade\":%s,\"best_ref\":%" PRIu64 ",\"worst_trade\":%s,"
        "\"worst_ref\":%" PRIu64 ",\"exposure\":%s}",
        sess, cur, r->start, r->end, m[0], m[1], m[2], num(d[0], 32, r->ret), m[3], m[4],
        num(d[1], 32, r->max_drawdown_pct), num(d[2], 32, r->sharpe), num(d[3], 32, r->sortino),
        r->sample_ms, r->samples, r->fills, r->trades, r->trades_won, r->options,
        r->options_won, r->options_lost, r->options_tied, num(d[4], 32, r->win_rate),
        num(d[5], 32, r->win_rate_low), num(d[6], 32, r->win_rate_high), m[5], r->best_ref, m[6],
        r->worst_ref, num(d[7], 32, r->exposure));
    if (n < 0 || (size_t)n >= sizeof text)
        return CMEE_ENOMEM; /* cannot happen: every field is bounded */
    if (len)
        *len = (size_t)n;
    if (!buf)
        return CMEE_OK;
    if ((size_t)n >= cap)
        return CMEE_ENOSPACE;
    memcpy(buf, text, (size_t)n + 1);
    return CMEE_OK;
}

size_t cmee_sizeof_report(void)
{
    return sizeof(cmee_report);
}
