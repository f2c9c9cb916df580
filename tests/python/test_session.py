# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the cmee Python bindings' session face: Session with a manual clock, fills at the
ask and bid ("quote" fill model) and against the book ("book"), exact Decimal money, the
ledger, limit orders, binary options, refusals, halts, the clock with a fake wall clock,
candles, persistence in a Store, the event listener and the structure layouts.

Run against a build (meson runs it as suite `python`):
    cd tests/python && CMEE_LIBRARY=build/lib/libcmee.so PYTHONPATH=bindings/python \\
        python3 -m unittest -v test_session
"""

import contextlib
import ctypes
import datetime as dt
import io
import math
import os
import pathlib
import random
import re
import subprocess
import sys
import tempfile
import threading
import unittest
from decimal import Decimal

import cmee
from cmee import _lib
from test_scenario import c_layout

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
T0 = 1_898_553_600_000               # 2030-03-01T00:00:00Z
M = 60_000
H = 3_600_000
D = 86_400_000
SCALE = 100_000_000


def units(d):
    """A Decimal amount as int units of 1e-8 (exact)."""
    q = d * SCALE
    assert q == q.to_integral_value(), d
    return int(q)


def c_money(x):
    """What the library books for a float amount: llround(x * 1e8), half away from zero."""
    v = x * 1e8
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def session(**kw):
    kw.setdefault("seed", 7)
    kw.setdefault("start", T0)
    kw.setdefault("manual_clock", True)
    return cmee.Session(**kw)


def state(s):
    """Everything a refusal must leave alone."""
    return (s.account(), s.ledger(), s.orders(), s.options(), s.positions(), s.clock)


class TestCreate(unittest.TestCase):
    def test_defaults_and_config(self):
        with cmee.Session(manual_clock=True) as s:
            c = s.config
            self.assertIsInstance(c, cmee.SessionConfig)
            self.assertEqual(c.seed, 42)
            self.assertEqual(c.start, cmee.ANCHOR_TIME)
            self.assertEqual(c.balance, Decimal(10000))
            self.assertEqual((c.currency, c.fee_rate, c.spread_bps, c.option_payout),
                             ("USD", 0.001, 2.0, 0.8))
            self.assertEqual(c.symbols, ())
            self.assertEqual(c.fill_model, "book")
            self.assertRegex(s.id, r"^[0-9a-f]{32}$")
            self.assertEqual(s.clock.now, cmee.ANCHOR_TIME)
            self.assertTrue(s.clock.manual)
            self.assertIn("BTCUSD", [x.symbol for x in s.symbols()])
            self.assertIn(s.id, repr(s))
        self.assertTrue(s.closed)
        self.assertEqual(repr(s), "<cmee.Session closed>")
        with self.assertRaises(cmee.StateError):
            s.quote("BTCUSD")
        s.close()  # idempotent

    def test_fields(self):
        with session(balance="1234.56789012", currency="EUR", fee_rate=0.002, spread_bps=5,
                     option_payout=1.5, symbols=["ETHUSD", "BTCUSD"], id="bob_1",
                     label="Bob's", start=dt.datetime(2030, 3, 1)) as s:
            c = s.config
            self.assertEqual(c.balance, Decimal("1234.56789012"))
            self.assertEqual((c.id, c.label, c.currency, c.start), ("bob_1", "Bob's", "EUR", T0))
            self.assertEqual(c.symbols, ("ETHUSD", "BTCUSD"))
            self.assertEqual([x.symbol for x in s.market.symbols()], ["BTCUSD", "ETHUSD"])
            self.assertEqual(s.account().balance, Decimal("1234.56789012"))
            self.assertEqual(s.account().currency, "EUR")
            with self.assertRaises(cmee.NotFoundError):
                s.quote("EURUSD")       # not one of the session's symbols

    def test_bad_config(self):
        for kw, cls, field in (
                ({"currency": "usd"}, cmee.InvalidArgumentError, "currency"),
                ({"speed": 0}, cmee.InvalidArgumentError, "speed"),
                ({"fee_rate": 0.5}, cmee.InvalidArgumentError, "fee_rate"),
                ({"balance": 0}, cmee.InvalidArgumentError, "initial_balance"),
                ({"balance": "1.000000001"}, cmee.InvalidArgumentError, "balance"),
                ({"id": "no spaces"}, cmee.InvalidArgumentError, "id"),
                ({"start": 0}, cmee.RangeError, "start_time"),
                ({"symbols": ["NOPE"]}, cmee.NotFoundError, "symbols"),
                ({"symbols": ["BTCUSD"] * 33}, cmee.InvalidArgumentError, "symbols"),
                ({"fill_model": "tape"}, cmee.InvalidArgumentError, "fill_model")):
            with self.subTest(kw=kw), self.assertRaises(cls) as cm:
                session(**kw)
            self.assertEqual(cm.exception.field, field)
            self.assertIn(field.split("_")[0], str(cm.exception))
        for kw in ({"balance": 100.5}, {"seed": "1"}, {"scenario": 3}, {"store": "x.db"},
                   {"balance": None}, {"fill_model": 1}):
            with self.subTest(kw=kw), self.assertRaises(TypeError):
                session(**kw)

    def test_scenario_at_start(self):
        with session(scenario="trading_halt") as s:
            self.assertTrue(s.quote("BTCUSD").halted)
        with session(scenario=cmee.Scenario.preset("crash")) as s, session() as plain:
            s.step(H)
            plain.step(H)
            self.assertLess(s.quote("BTCUSD").price, plain.quote("BTCUSD").price * 0.95)


class TestTrading(unittest.TestCase):
    def setUp(self):
        self.s = session(symbols=["BTCUSD", "ETHUSD", "EURUSD"])
        self.addCleanup(self.s.close)

    def test_buy_at_ask_sell_at_bid(self):
        s = session(symbols=["BTCUSD", "ETHUSD", "EURUSD"], fill_model="quote")
        self.addCleanup(s.close)
        self.assertEqual(s.config.fill_model, "quote")
        q = s.quote("BTCUSD")
        self.assertEqual((q.symbol, q.time), ("BTCUSD", T0))
        self.assertLess(q.bid, q.price)
        self.assertLess(q.price, q.ask)
        o = s.buy("BTCUSD", 0.02)
        self.assertEqual((o.id, o.side, o.type, o.state), (1, "buy", "market", "filled"))
        self.assertEqual(o.fill_price, q.ask)
        self.assertEqual((o.price, o.stop_loss, o.take_profit), (None, None, None))
        self.assertEqual((o.created, o.closed), (T0, T0))
        fee1 = c_money(0.02 * q.ask * 0.001)
        self.assertEqual(o.fee, Decimal(fee1) / SCALE)
        self.assertIsInstance(o.fee, Decimal)
        p = s.positions()
        self.assertEqual(len(p), 1)
        self.assertEqual((p[0].symbol, p[0].quantity, p[0].avg_price), ("BTCUSD", 0.02, q.ask))
        s.step(30 * M)
        q2 = s.quote("BTCUSD")
        o2 = s.sell("BTCUSD", 0.02)
        self.assertEqual(o2.fill_price, q2.bid)
        fee2 = c_money(0.02 * q2.bid * 0.001)
        pnl = c_money((q2.bid - q.ask) * 0.02)
        self.assertEqual(s.positions(), [])
        led = s.ledger()
        self.assertEqual([(e.kind, units(e.amount)) for e in led],
                         [("deposit", 10000 * SCALE), ("fee", -fee1), ("fee", -fee2),
                          ("pnl", pnl)])
        a = s.account()
        self.assertEqual(units(a.balance), 10000 * SCALE - fee1 - fee2 + pnl)
        self.assertEqual(a.balance, sum(e.amount for e in led))
        self.assertEqual(a.balance, led[-1].balance)
        self.assertEqual((a.equity, a.used_margin, a.unrealised), (a.balance, 0, 0))
        self.assertEqual((a.positions, a.open_orders, a.ledger_entries), (0, 0, 4))
        self.assertEqual([e.seq for e in led], [1, 2, 3, 4])
        self.assertEqual(s.ledger(after=2), led[2:])
        self.assertEqual(led[1].ref, 1)
        self.assertEqual(led[1].symbol, "BTCUSD")

    def test_book_fills_walk_the_levels(self):
        # The default model: the quote is the book's touch, the price the last trade (one of
        # them); a small order pays the touch, a large one walks the book and pays more.
        s = session(symbols=["BTCUSD"], balance=10 ** 6)
        self.addCleanup(s.close)
        self.assertEqual(s.config.fill_model, "book")
        q = s.quote("BTCUSD")
        self.assertLess(q.bid, q.ask)
        self.assertIn(q.price, (q.bid, q.ask))
        small = s.buy("BTCUSD", 0.0625)
        self.assertAlmostEqual(small.fill_price, q.ask, delta=q.ask * 1e-12)
        big = s.buy("BTCUSD", 5)
        self.assertGreater(big.fill_price, q.ask)
        self.assertEqual(big.fee, Decimal(c_money(5 * big.fill_price * 0.001)) / SCALE)
        sold = s.sell("BTCUSD", 5.0625)
        self.assertLess(sold.fill_price, q.bid)
        self.assertEqual(s.positions(), [])
        a = s.account()
        self.assertEqual(a.balance, sum(e.amount for e in s.ledger()))
        self.assertLess(a.balance, 10 ** 6 - 200)    # fees and the slippage of both walks
        # The same calls in a "quote" session fill at its spread, whatever the size.
        with session(symbols=["BTCUSD"], balance=10 ** 6, fill_model="quote") as qs:
            qq = qs.quote("BTCUSD")
            self.assertEqual(qs.buy("BTCUSD", 5).fill_price, qq.ask)

    def test_margin_and_equity(self):
        s = self.s
        s.buy("ETHUSD", 1)
        a = s.account()
        p = s.positions()[0]
        self.assertEqual(a.used_margin, Decimal(c_money(1 * p.avg_price)) / SCALE)
        self.assertEqual(a.equity, a.balance + a.unrealised)
        self.assertEqual(a.free_margin, a.equity - a.used_margin)
        self.assertEqual(p.unrealised, Decimal(c_money((p.mark - p.avg_price) * 1)) / SCALE)

    def test_money_is_exact(self):
        with session(balance=Decimal("0.00000003") + 5000, fee_rate=0) as s:
            self.assertEqual(s.account().balance, Decimal("5000.00000003"))
            o = s.call("EURUSD", Decimal("0.1"), 1000)
            self.assertEqual(o.stake, Decimal("0.1"))
            o = s.put("EURUSD", "0.2", dt.timedelta(seconds=1))
            self.assertEqual(s.account().balance, Decimal("4999.70000003"))
            # 0.1 + 0.2 is 0.3 here, not 0.30000000000000004.
            stakes = [e.amount for e in s.ledger() if e.kind == "option_stake"]
            self.assertEqual(sum(stakes), Decimal("-0.3"))
            with self.assertRaises(TypeError) as cm:
                s.call("EURUSD", 0.1, 1000)
            self.assertIn("Decimal('0.1')", str(cm.exception))
            for bad in ("0.123456789", "abc", "NaN", "Infinity", Decimal("1e30")):
                with self.subTest(stake=bad), self.assertRaises(cmee.InvalidArgumentError):
                    s.call("EURUSD", bad, 1000)
            for bad in (True, None, [1]):
                with self.subTest(stake=bad), self.assertRaises(TypeError):
                    s.call("EURUSD", bad, 1000)

    def test_random_operations_keep_the_ledger_exact(self):
        """500 random operations from a fixed seed: after each one the balance is exactly the
        sum of the ledger, and each refusal changed nothing."""
        s = self.s
        rng = random.Random(20250101)
        symbols = ["BTCUSD", "ETHUSD", "EURUSD"]
        refused = done = 0
        total = Decimal(0)
        seen = 0
        for i in range(500):
            sym = rng.choice(symbols)
            q = s.quote(sym)
            op = rng.randrange(10)
            before = (s.account(), s.orders(open_only=True), s.positions())
            try:
                if op <= 2:
                    qty = rng.choice([0.001, 0.01, 0.1, 1, 5, 50, 1000]) * (
                        1 if sym != "EURUSD" else 1000)
                    s.order(sym, rng.choice(["buy", "sell"]), qty)
                elif op == 3:
                    side = rng.choice(["buy", "sell"])
                    off = rng.uniform(0.995, 1.005)
                    s.order(sym, side, 0.01 if sym != "EURUSD" else 100,
                            type=rng.choice(["limit", "stop"]), price=round(q.price * off, 2
                                                                             if sym != "EURUSD"
                                                                             else 5))
                elif op == 4:
                    opened = s.orders(open_only=True)
                    s.cancel_order(rng.choice(opened).id if opened and rng.random() < 0.8
                                   else rng.randrange(1, 1000))
                elif op == 5:
                    s.close_position(sym)
                elif op == 6:
                    s.option(sym, rng.choice(["call", "put"]),
                             Decimal(rng.randrange(1, 100_000)) / 100,
                             rng.choice([1000, 5000, M, 5 * M]),
                             payout=rng.choice([None, 0.5, 1.9]))
                elif op == 7:
                    s.protect(sym, stop_loss=q.bid * rng.uniform(0.9, 1.1),
                              take_profit=q.ask * rng.uniform(0.9, 1.1))
                else:
                    s.step(rng.choice([1000, 7000, M, 13 * M, H]))
                done += 1
            except cmee.Error as e:
                refused += 1
                self.assertIsInstance(e, (cmee.NoSpaceError, cmee.NotFoundError,
                                          cmee.StateError, cmee.InvalidArgumentError), e)
                self.assertTrue(str(e))
                self.assertEqual((s.account(), s.orders(open_only=True), s.positions()),
                                 before, e)
            new = s.ledger(after=seen)
            total += sum(e.amount for e in new)
            for e in new:
                seen = e.seq
            a = s.account()
            self.assertEqual(a.balance, total, f"operation {i}")
            if new:
                self.assertEqual(new[-1].balance, a.balance)
        self.assertGreater(done, 250)
        self.assertGreater(refused, 10)
        led = s.ledger()
        self.assertEqual(len(led), s.account().ledger_entries)
        self.assertEqual(sum(e.amount for e in led), s.account().balance)
        running = Decimal(0)
        for e in led:
            running += e.amount
            self.assertEqual(e.balance, running)
        self.assertGreater(len({e.kind for e in led}), 3)

    def test_limit_order_fills_after_steps(self):
        s = self.s
        q = s.quote("BTCUSD")
        price = round(q.ask * 0.996, 2)
        o = s.buy("BTCUSD", 0.01, type="limit", price=price, stop_loss=round(price * 0.9, 2))
        self.assertEqual((o.state, o.type, o.price, o.closed, o.fill_price),
                         ("open", "limit", price, None, None))
        self.assertEqual(s.orders(open_only=True), [o])
        self.assertEqual(s.account().open_orders, 1)
        for _ in range(14 * 24):
            s.step(H)
            (o2,) = s.orders()
            if o2.state != "open":
                break
        self.assertEqual(o2.state, "filled")
        self.assertEqual(o2.fill_price, price)
        self.assertGreater(o2.closed, T0)
        self.assertLessEqual(o2.closed, s.clock.now)
        self.assertEqual(o2.fee, Decimal(c_money(0.01 * price * 0.001)) / SCALE)
        (p,) = s.positions()
        self.assertEqual((p.avg_price, p.stop_loss), (price, round(price * 0.9, 2)))
        self.assertEqual(s.orders(open_only=True), [])
        # The fill happened when the ask reached the price: at the fill's minute the market
        # was at or below it.
        with cmee.Market(seed=7) as m:
            self.assertLessEqual(m.price("BTCUSD", o2.closed), price * 1.001)

    def test_cancel_and_protect(self):
        s = self.s
        q = s.quote("ETHUSD")
        o = s.sell("ETHUSD", 0.1, type="limit", price=round(q.bid * 1.5, 2))
        s.cancel_order(o.id)
        self.assertEqual(s.orders()[0].state, "cancelled")
        with self.assertRaises(cmee.StateError):
            s.cancel_order(o.id)
        s.buy("ETHUSD", 0.1)
        s.protect("ETHUSD", stop_loss=round(q.bid * 0.8, 2), take_profit=round(q.ask * 1.3, 2))
        p = s.positions()[0]
        self.assertEqual((p.stop_loss, p.take_profit),
                         (round(q.bid * 0.8, 2), round(q.ask * 1.3, 2)))
        s.protect("ETHUSD")                       # None clears both
        self.assertEqual(s.positions()[0][-2:], (None, None))
        with self.assertRaises(cmee.InvalidArgumentError):
            s.protect("ETHUSD", stop_loss=q.ask * 2)   # a long's stop-loss above the bid
        c = s.close_position("ETHUSD")
        self.assertEqual((c.side, c.state), ("sell", "filled"))
        self.assertEqual(s.positions(), [])

    def test_options_settle_by_the_rule(self):
        """docs/sessions.md: a CALL wins above the strike, a PUT below, equal is a tie that
        returns the stake; a win pays stake x (1 + payout)."""
        s = self.s
        rng = random.Random(5)
        bought = []
        for i in range(120):
            kind = "call" if i % 2 else "put"
            payout = None if i % 3 else 1.25
            bought.append(s.option(rng.choice(["EURUSD", "BTCUSD"]), kind,
                                   Decimal(10 + i), 1000 * rng.randrange(1, 4), payout))
            s.step(rng.choice([0, 1000, 3000]))
        s.step(M)
        results = {}
        with cmee.Market(seed=7) as m:
            for o, b in zip(s.options(), bought):
                self.assertEqual((o.id, o.stake, o.strike, o.opened), (b.id, b.stake, b.strike,
                                                                      b.opened))
                self.assertEqual(b.state, "open")
                self.assertIsNone(b.settle_price)
                self.assertEqual(o.payout, 1.25 if b.id % 3 == 1 else 0.8)
                self.assertEqual(o.settle_price, m.price(o.symbol, o.expires))
                self.assertEqual(o.strike, m.price(o.symbol, o.opened))
                up, down = o.settle_price > o.strike, o.settle_price < o.strike
                want = ("tie" if not up and not down else
                        "won" if (o.kind == "call") == up else "lost")
                self.assertEqual(o.state, want)
                paid = {"tie": o.stake, "lost": 0,
                        "won": o.stake + Decimal(c_money(units(o.stake) / SCALE * o.payout))
                        / SCALE}[want]
                self.assertEqual(o.paid, paid, o)
                results[want] = results.get(want, 0) + 1
        self.assertEqual(set(results), {"won", "lost", "tie"}, results)
        led = s.ledger()
        self.assertEqual(sum(e.amount for e in led if e.kind == "option_stake"),
                         -sum(o.stake for o in bought))
        self.assertEqual(sum(e.amount for e in led if e.kind == "option_payout"),
                         sum(o.paid for o in s.options()))
        self.assertEqual(s.account().open_options, 0)
        self.assertEqual(s.options(open_only=True), [])

    def test_refusals_raise_and_change_nothing(self):
        s = self.s
        s.buy("BTCUSD", 0.01)
        s.call("EURUSD", 5, M)
        before = state(s)
        cases = [
            (cmee.NoSpaceError, "insufficient funds", lambda: s.buy("BTCUSD", 100)),
            (cmee.NoSpaceError, "insufficient funds", lambda: s.sell("ETHUSD", 1000)),
            (cmee.NoSpaceError, "insufficient funds", lambda: s.call("EURUSD", 10 ** 6, M)),
            (cmee.NotFoundError, "", lambda: s.buy("NOPE", 1)),
            (cmee.NotFoundError, "", lambda: s.cancel_order(99)),
            (cmee.NotFoundError, "", lambda: s.close_position("ETHUSD")),
            (cmee.NotFoundError, "", lambda: s.protect("ETHUSD", stop_loss=1)),
            (cmee.InvalidArgumentError, "quantity", lambda: s.buy("BTCUSD", -1)),
            (cmee.InvalidArgumentError, "quantity", lambda: s.buy("BTCUSD", 0)),
            (cmee.InvalidArgumentError, "price", lambda: s.buy("BTCUSD", 1, type="limit")),
            (cmee.InvalidArgumentError, "price", lambda: s.buy("BTCUSD", 1, price=5)),
            (cmee.InvalidArgumentError, "side", lambda: s.order("BTCUSD", "long", 1)),
            (cmee.InvalidArgumentError, "duration", lambda: s.call("EURUSD", 1, 10)),
            (cmee.InvalidArgumentError, "stake", lambda: s.put("EURUSD", 0, M)),
            (cmee.StateError, "never goes back", lambda: s.seek(T0 - 1)),
            (cmee.StateError, "manual", s.resume),
            (cmee.InvalidArgumentError, "speed", lambda: s.set_speed(-1)),
            (cmee.RangeError, "", lambda: s.step(10 ** 15)),
        ]
        for cls, text, fn in cases:
            with self.subTest(cls=cls.__name__, text=text):
                with self.assertRaises(cls) as cm:
                    fn()
                self.assertIn(text, str(cm.exception))
                self.assertEqual(state(s), before)
        for fn in (lambda: s.buy("BTCUSD", "1"), lambda: s.buy(5, 1),
                   lambda: s.step(1.5), lambda: s.cancel_order("1"),
                   lambda: s.buy("BTCUSD", 1, stop_loss="x")):
            with self.assertRaises(TypeError):
                fn()
        self.assertEqual(state(s), before)

    def test_halted_market(self):
        s = self.s
        s.buy("BTCUSD", 0.01)
        app = s.apply_scenario("trading_halt")
        self.assertEqual(app, 1)
        s.step(M)
        self.assertTrue(s.quote("BTCUSD").halted)
        self.assertTrue(s.market.halted("ETHUSD"))
        before = state(s)
        for fn in (lambda: s.buy("BTCUSD", 0.01), lambda: s.call("BTCUSD", 1, M),
                   lambda: s.close_position("BTCUSD")):
            with self.assertRaises(cmee.StateError) as cm:
                fn()
            self.assertIn("halted", str(cm.exception))
            self.assertEqual(state(s), before)
        s.step(30 * M)
        self.assertFalse(s.quote("BTCUSD").halted)
        self.assertEqual(s.buy("BTCUSD", 0.01).state, "filled")
        # Cancelling an application from now: a new halt ends at once.
        app2 = s.apply_scenario(cmee.Scenario.preset("trading_halt"))
        self.assertTrue(s.quote("BTCUSD").halted)
        s.cancel_scenario(app2)
        s.step(M)
        self.assertFalse(s.quote("BTCUSD").halted)
        with self.assertRaises(cmee.NotFoundError):
            s.cancel_scenario(99)
        with self.assertRaises(cmee.NotFoundError):
            s.apply_scenario("no_such_preset")

    def test_candles_never_after_now(self):
        s = self.s
        s.step(5 * H + 17 * M + 23_456)
        now = s.clock.now
        q = s.quote("BTCUSD")
        for tf in ("1m", "5m", "1h", "1d"):
            with self.subTest(tf=tf):
                c = s.candles("BTCUSD", tf, 6)
                self.assertIsInstance(c, cmee.Candles)
                self.assertEqual((c.symbol, c.timeframe, len(c)), ("BTCUSD", tf, 6))
                self.assertLessEqual(c[-1].time, now)
                self.assertEqual(c[-1].close, q.price)
                self.assertEqual(list(c.close)[-1], q.price)        # the buffer fields
                self.assertEqual(c.time.format, "q")
                with cmee.Market(seed=7) as m:
                    full = m.candles("BTCUSD", tf, count=1, start=None,
                                     end=c[-1].time + {"1m": M, "5m": 5 * M, "1h": H,
                                                       "1d": D}[tf])
                    done = m.candles("BTCUSD", tf, count=5, end=c[-1].time)
                self.assertEqual(list(c[:5]), list(done))
                # The forming candle has only the ticks up to now.
                self.assertGreaterEqual(full[-1].high, c[-1].high)
                self.assertLessEqual(full[-1].low, c[-1].low)
                self.assertLessEqual(c[-1].volume, full[-1].volume)
                if tf != "1m":
                    self.assertLess(c[-1].volume, full[-1].volume)
        with self.assertRaises(cmee.InvalidArgumentError):
            s.candles("BTCUSD", "2h", 3)
        with self.assertRaises(cmee.InvalidArgumentError):
            s.candles("BTCUSD", "1h", 0)


class TestClock(unittest.TestCase):
    def test_manual_step_and_seek(self):
        with session() as s:
            s.step(1500)
            s.step(dt.timedelta(minutes=1))
            self.assertEqual(s.clock.now, T0 + 61_500)
            s.seek(dt.datetime(2030, 3, 1, 1, 0))
            self.assertEqual(s.now, T0 + H)
            self.assertEqual(s.advance(), T0 + H)
            c = s.clock
            self.assertEqual(c, cmee.Clock(T0 + H, 1.0, True, True, T0 + H))
            s.pause()                             # idempotent, allowed
            self.assertEqual(s.clock.now, T0 + H)

    def test_pause_resume_speed_with_a_fake_wall_clock(self):
        wall = {"ms": 5_000_000}
        with session(manual_clock=False, speed=1) as s:
            s.set_wall_clock(lambda: wall["ms"])
            now0 = s.clock.now
            wall["ms"] += 1000
            self.assertEqual(s.clock.now, now0 + 1000)
            self.assertFalse(s.clock.paused)
            s.pause()
            self.assertTrue(s.clock.paused)
            wall["ms"] += 5000
            self.assertEqual(s.clock.now, now0 + 1000)
            s.resume()
            self.assertFalse(s.clock.paused)
            wall["ms"] += 1000
            self.assertEqual(s.clock.now, now0 + 2000)
            s.set_speed(60)
            self.assertEqual(s.clock.speed, 60)
            wall["ms"] += 1000
            self.assertEqual(s.clock.now, now0 + 62_000)
            self.assertEqual(s.advance(), now0 + 62_000)
            self.assertEqual(s.clock.processed, now0 + 62_000)
            wall["ms"] -= 10_000                  # a wall clock jumping back: no effect
            self.assertEqual(s.clock.now, now0 + 62_000)
            wall["ms"] += 10_500                  # floats are floored
            s.set_wall_clock(lambda: wall["ms"] + 0.75)
            self.assertEqual(s.clock.now, now0 + 62_000 + 500 * 60)
            # The real clock again: it continues from where the fake one left it.
            s.set_wall_clock(None)
            self.assertGreaterEqual(s.clock.now, now0 + 62_000 + 500 * 60)

    def test_wall_clock_errors_reach_the_caller(self):
        wall = {"ms": 1000}

        def fake():
            if wall.get("boom"):
                raise KeyError("boom")
            return wall["ms"]

        with session(manual_clock=False) as s:
            s.set_wall_clock(fake)
            now0 = s.clock.now
            wall["boom"] = True
            with self.assertRaises(KeyError) as cm:
                s.clock
            self.assertTrue(any("set_wall_clock" in n for n in cm.exception.__notes__))
            del wall["boom"]
            wall["ms"] = 2000
            self.assertEqual(s.clock.now, now0 + 1000)
            with self.assertRaises(TypeError):      # set_wall_clock reads it at once
                s.set_wall_clock(lambda: "soon")
            with self.assertRaises(TypeError):
                s.clock
            s.set_wall_clock(None)
            self.assertGreaterEqual(s.clock.now, now0 + 1000)
            with self.assertRaises(TypeError):
                s.set_wall_clock(5)


class TestEvents(unittest.TestCase):
    def test_listener_receives_order_filled(self):
        got = []
        with session() as s:
            s.on_event(got.append)
            o = s.buy("BTCUSD", 0.01)
            s.call("EURUSD", 5, 1000)
            s.step(2000)
            kinds = [e.kind for e in got]
            self.assertEqual(kinds, ["order_filled", "option_settled", "clock_changed"])
            e = got[0]
            self.assertIsInstance(e, cmee.Event)
            self.assertEqual((e.time, e.session_id), (T0, s.id))
            d = e.json()
            self.assertEqual((d["order_id"], d["symbol"], d["side"]), (o.id, "BTCUSD", "buy"))
            self.assertEqual(d["fill_price"], o.fill_price)
            self.assertEqual(Decimal(str(d["fee"])), o.fee)
            self.assertEqual(got[1].json()["result"], s.options()[0].state)
            s.apply_scenario("calm")
            self.assertEqual(got[-1].kind, "scenario_applied")
            s.on_event(None)
            s.buy("BTCUSD", 0.01)
            self.assertEqual(len(got), 4)
        self.assertEqual(cmee.EVENT_KINDS[:3], ("order_filled", "order_rejected",
                                                "option_settled"))

    def test_listener_exceptions_are_raised_after_the_call(self):
        calls = []

        def bad(ev):
            calls.append(ev.kind)
            raise RuntimeError(f"listener failed on {ev.kind}")

        with session() as s:
            s.on_event(bad)
            with self.assertRaises(RuntimeError) as cm:
                s.buy("BTCUSD", 0.01)
            self.assertIn("order_filled", str(cm.exception))
            self.assertTrue(any("committed" in n for n in cm.exception.__notes__))
            # The buy itself went through.
            self.assertEqual([o.state for o in s.orders()], ["filled"])
            self.assertEqual(calls, ["order_filled"])
            # A listener may not call its own session.
            seen = []

            def reentrant(ev):
                seen.append(ev.kind)
                s.account()

            s.on_event(reentrant)
            with self.assertRaises(cmee.StateError):
                s.step(1000)
            self.assertEqual(seen, ["clock_changed"])
            self.assertEqual(s.clock.now, T0 + 1000)
            s.on_event(None)
            s.step(1000)                          # nothing pending any more
            with self.assertRaises(TypeError):
                s.on_event("print")

    def test_threads_share_a_session(self):
        with session(balance=10 ** 7) as s:
            errors = []

            def trade():
                try:
                    for _ in range(25):
                        s.buy("EURUSD", 10)
                        s.account()
                except Exception as e:  # pragma: no cover - reported below
                    errors.append(e)

            threads = [threading.Thread(target=trade) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(len(s.orders()), 100)
            self.assertEqual(sorted(o.id for o in s.orders()), list(range(1, 101)))
            self.assertEqual(s.account().balance, sum(e.amount for e in s.ledger()))


class TestStore(unittest.TestCase):
    def test_reload_equal(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "sessions.db")
            with cmee.Store(path) as st:
                s = session(store=st, id="alice", label="Alice", balance="2500.5",
                            scenario="calm")
                s.buy("BTCUSD", 0.01, stop_loss=round(s.quote("BTCUSD").bid * 0.9, 2))
                s.sell("ETHUSD", 0.2, type="limit", price=10 ** 5)
                s.call("EURUSD", "12.34", M)
                s.step(2 * M)
                s.put("EURUSD", 3, 5 * M)
                app = s.apply_scenario("volatility_spike")
                want = (s.config, s.orders(), s.ledger(), s.account(), s.options(),
                        s.positions(), s.clock)
                self.assertEqual(st.sessions(), ["alice"])
                with self.assertRaises(cmee.AlreadyExistsError):
                    session(store=st, id="alice")
                s.close()
            with cmee.Store(path, must_exist=True) as st:
                self.assertEqual(cmee.sessions(st), ["alice"])
                with cmee.Session.load(st, "alice") as r:
                    self.assertEqual((r.config, r.orders(), r.ledger(), r.account(),
                                      r.options(), r.positions(), r.clock), want)
                    self.assertEqual(r.id, "alice")
                    r.cancel_scenario(app)        # ids survive the reload
                    r.step(M)
                    n = len(r.ledger())
                with cmee.Session.load(st, "alice") as r2:
                    self.assertEqual(len(r2.ledger()), n)
                    self.assertEqual(r2.clock.now, want[-1].now + M)
                    self.assertEqual(r2.config.fill_model, "book")
                other = session(store=st, id="bob", fill_model="quote")
                self.assertEqual(st.sessions(), ["alice", "bob"])
                other.close()
                with cmee.Session.load(st, "bob") as b:
                    self.assertEqual(b.config.fill_model, "quote")
                cmee.delete_session(st, "alice")
                self.assertEqual(st.sessions(), ["bob"])
                with self.assertRaises(cmee.NotFoundError):
                    cmee.Session.load(st, "alice")
                with self.assertRaises(cmee.NotFoundError):
                    st.delete_session("alice")
                st.delete_session("bob")
                self.assertEqual(st.sessions(), [])

    def test_closed_store(self):
        st = cmee.Store()
        s = session(store=st)
        s.buy("BTCUSD", 0.01)
        st.close()
        with self.assertRaises(cmee.StateError) as cm:
            s.buy("BTCUSD", 0.01)
        self.assertIn("store", str(cm.exception))
        s.close()
        with self.assertRaises(cmee.StateError):
            cmee.Session.load(st, "x")
        with self.assertRaises(TypeError):
            cmee.Session.load("x.db", "x")


class TestMargin(unittest.TestCase):
    """Margin accounts: leverage capped per asset class, the margin level, margin calls and
    liquidation (tests/session/test_margin.c checks their timing tick by tick)."""

    def test_config(self):
        with session() as s:
            c = s.config
            self.assertEqual((c.leverage, c.margin_call_level, c.maintenance_level),
                             (1.0, 1.0, 0.5))
            self.assertEqual(dict(c.max_leverage), {"crypto": 5, "fx": 50, "metal": 20,
                                                    "index": 20, "stock": 5, "commodity": 10,
                                                    "other": 5})
            a = s.account()
            self.assertEqual(a.margin_level, math.inf)
            self.assertFalse(a.margin_call)
        with session(leverage=30, max_leverage={"crypto": 2.5, "fx": 40},
                     margin_call_level=1.5, maintenance_level=0.8) as s:
            c = s.config
            self.assertEqual(c.leverage, 30)
            self.assertEqual(dict(c.max_leverage)["crypto"], 2.5)
            self.assertEqual(dict(c.max_leverage)["fx"], 40)
            self.assertEqual(dict(c.max_leverage)["stock"], 5)
            self.assertEqual((c.margin_call_level, c.maintenance_level), (1.5, 0.8))
        for kw, field in (({"leverage": 0.5}, "leverage"),
                          ({"max_leverage": {"crypto": 0}}, "max_leverage"),
                          ({"max_leverage": {"bonds": 2}}, "max_leverage"),
                          ({"margin_call_level": 11}, "margin_call_level"),
                          ({"maintenance_level": 1.2}, "maintenance_level")):
            with self.subTest(**{k: str(v) for k, v in kw.items()}):
                with self.assertRaises(cmee.InvalidArgumentError) as cm:
                    session(**kw)
                self.assertEqual(cm.exception.field, field)
        with self.assertRaises(TypeError):
            session(max_leverage=[("crypto", 2)])
        with self.assertRaises(TypeError):
            session(leverage="10")

    def test_margin_and_level(self):
        with session(leverage=20) as s:
            s.buy("BTCUSD", 1)
            s.sell("EURUSD", 100_000)
            a = s.account()
            by = {p.symbol: p for p in s.positions()}
            btc, eur = by["BTCUSD"], by["EURUSD"]
            self.assertEqual((btc.leverage, eur.leverage), (5.0, 20.0))  # crypto's cap is 5
            self.assertEqual(btc.margin, Decimal(c_money(1 * btc.avg_price / 5)) / SCALE)
            self.assertEqual(eur.margin, Decimal(c_money(100_000 * eur.avg_price / 20)) / SCALE)
            self.assertEqual(a.used_margin, btc.margin + eur.margin)
            self.assertEqual(a.equity, a.balance + a.unrealised)
            self.assertEqual(a.free_margin, a.equity - a.used_margin)
            self.assertEqual(a.margin_level, float(units(a.equity)) / float(units(a.used_margin)))
        with session() as s:                      # a cash account: leverage 1
            s.buy("BTCUSD", 0.01)
            p = s.positions()[0]
            self.assertEqual((p.leverage, p.margin),
                             (1.0, Decimal(c_money(0.01 * p.avg_price)) / SCALE))

    def test_refusal_changes_nothing(self):
        with session(leverage=10) as s:
            s.buy("BTCUSD", 1)
            before = state(s)
            with self.assertRaises(cmee.NoSpaceError) as cm:
                s.buy("BTCUSD", 100)
            self.assertIn("insufficient funds", str(cm.exception))
            with self.assertRaises(cmee.InvalidArgumentError):
                s.order("BTCUSD", "sell", 1, type="liquidation")
            self.assertEqual(state(s), before)

    def test_liquidation_through_a_crash(self):
        got = []
        with session(leverage=20, scenario="crash", balance=100_000, seed=11) as s:
            s.on_event(got.append)
            q = s.quote("ETHUSD")
            s.buy("ETHUSD", 400_000 / q.ask)      # 4x of 5x: most of the margin
            s.step(24 * H)
            kinds = [e.kind for e in got]
            self.assertIn("margin_call", kinds)
            self.assertIn("liquidation", kinds)
            self.assertLess(kinds.index("margin_call"), kinds.index("liquidation"))
            liq = got[kinds.index("liquidation")]
            d = liq.json()
            self.assertLess(d["margin_level"], 0.5)
            self.assertEqual(d["orders"], 1)
            self.assertEqual(d["positions_left"], 0)
            self.assertIsNone(d["margin_level_after"])    # no margin used: no level
            o = s.orders()[-1]
            self.assertEqual((o.id, o.type, o.state, o.side, o.closed),
                             (d["first_order_id"], "liquidation", "filled", "sell", liq.time))
            self.assertEqual(s.positions(), [])
            a = s.account()
            self.assertEqual(a.balance, sum(e.amount for e in s.ledger()))
            self.assertEqual((a.margin_level, a.margin_call), (math.inf, False))
            fees = [e for e in s.ledger() if e.ref == o.id]
            self.assertEqual([e.kind for e in fees], ["fee", "pnl"])

    def test_store_roundtrip(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "margin.db")
            with cmee.Store(path) as st:
                s = session(store=st, id="m", leverage=40, max_leverage={"fx": 33.5},
                            balance=100_000,
                            margin_call_level=1.2, maintenance_level=0.9)
                s.sell("EURUSD", 1_000_000)
                s.step(H)
                want = (s.config, s.orders(), s.ledger(), s.account(), s.positions())
                s.close()
                with cmee.Session.load(st, "m") as r:
                    self.assertEqual((r.config, r.orders(), r.ledger(), r.account(),
                                      r.positions()), want)
                    self.assertEqual(r.config.leverage, 40)


class TestLayout(unittest.TestCase):
    def test_sizes_reported_by_the_library(self):
        for st in _lib.SESSION_STRUCTS:
            with self.subTest(struct=st.__name__):
                self.assertEqual(_lib.lib.cmee_sizeof_session_struct(st.__name__.encode()),
                                 ctypes.sizeof(st))
        self.assertEqual(_lib.lib.cmee_sizeof_message(), ctypes.sizeof(_lib.cmee_message))
        self.assertEqual(_lib.lib.cmee_sizeof_session_struct(b"nothing"), 0)

    def test_against_c(self):
        got, want = c_layout(list(_lib.SESSION_STRUCTS) + [
            _lib.cmee_message, _lib.cmee_broadcast_stats, _lib.cmee_subscriber_stats], self)
        self.assertEqual(got, want)

    def test_import_refuses_a_mismatch(self):
        class Fake:
            def __init__(self, sizes):
                self.sizes = sizes

            def __getattr__(self, name):
                if name == "cmee_sizeof_session_struct":
                    fn = lambda n: self.sizes.get(n.decode(), 0)  # noqa: E731
                else:
                    fn = lambda: ctypes.sizeof(_lib.cmee_message)  # noqa: E731
                return fn

        sizes = {st.__name__: ctypes.sizeof(st) for st in _lib.SESSION_STRUCTS}
        old = dict(_lib._declared)
        try:
            # _declare_in only sets restype/argtypes on what it gets: plain functions do.
            _lib._check_session_layouts(Fake(sizes), "fake.so")
            sizes["cmee_order"] += 8
            want = rf"sizeof\(cmee_order\) is {sizes['cmee_order']}"
            with self.assertRaisesRegex(ImportError, want):
                _lib._check_session_layouts(Fake(sizes), "fake.so")
        finally:
            _lib._declared.clear()
            _lib._declared.update(old)

    def test_names(self):
        for name in ("Session", "SessionConfig", "Clock", "Quote", "Order", "Position",
                     "Option", "LedgerEntry", "Account", "Event", "sessions",
                     "delete_session", "Broadcaster", "Subscription", "Message", "Driver"):
            self.assertIn(name, cmee.__all__)
            self.assertTrue(getattr(cmee, name).__doc__, name)
        self.assertEqual(_lib.REQUIRED_MINOR, 2)
        self.assertEqual(cmee.MONEY_SCALE, SCALE)


class TestExample(unittest.TestCase):
    def test_live_ticks(self):
        """examples/python/live_ticks.py prints the session's ticks as a driver publishes
        them: about 60 a wall second at 60x, one sim second apart, none dropped."""
        script = os.path.join(REPO, "examples", "python", "live_ticks.py")
        p = subprocess.run([sys.executable, script, "1.5"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        ticks = [ln.split() for ln in p.stdout.splitlines() if ln.startswith("tick ")]
        self.assertGreater(len(ticks), 30)
        secs = [dt.datetime.strptime(t[1], "%H:%M:%S") for t in ticks]
        self.assertTrue(all((b - a).total_seconds() == 1 for a, b in zip(secs, secs[1:])))
        self.assertTrue(all(float(t[2]) > 0 for t in ticks))
        self.assertRegex(p.stdout.splitlines()[-1], rf"^{len(ticks)} ticks in 1.5 s; dropped 0$")

    def test_session_crash(self):
        script = os.path.join(REPO, "examples", "python", "session_crash.py")
        p = subprocess.run([sys.executable, script], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0], "session crash-demo: 10000 USD, seed 42, manual clock at "
                                   "2030-03-01 00:00 UTC")
        self.assertRegex(lines[1], r"^bought 0\.05 BTCUSD at \d+\.\d\d \(fee [\d.]+\), "
                                   r"stop-loss \d+\.\d\d$")
        events = [ln.split()[1] for ln in lines if ln.startswith("  event ")]
        self.assertEqual(events[:3], ["order_filled", "scenario_applied", "order_filled"])
        self.assertEqual(events.count("clock_changed"), 6)
        with session(seed=42, symbols=["BTCUSD", "ETHUSD"]) as s:
            bought = s.buy("BTCUSD", 0.05)
        self.assertIn(f"at {bought.fill_price:.2f} (fee {bought.fee})", lines[1])
        self.assertEqual(lines[-1].split(": ")[-1], "True")
        self.assertIn("ledger:", lines)
        kinds = [ln.split()[3] for ln in lines[lines.index("ledger:") + 1:-1]]
        self.assertEqual(kinds, ["deposit", "fee", "fee", "pnl"])
        balance = re.search(r"account: balance ([\d.]+) USD", p.stdout).group(1)
        self.assertLess(Decimal(balance), 10000)


class TestReadme(unittest.TestCase):
    """The README's session example runs as printed."""

    def test_readme_session_block(self):
        readme = pathlib.Path(REPO) / "README.md"
        blocks = re.findall(r"```python\n(.*?)```", readme.read_text(encoding="utf-8"), re.S)
        code = [b for b in blocks if "cmee.Session(" in b]
        self.assertEqual(len(code), 1, "README.md has no python block with cmee.Session")
        out = io.StringIO()
        scope: dict = {}
        with contextlib.redirect_stdout(out):
            exec(compile(code[0], "README.md", "exec"), scope)
        self.assertTrue(out.getvalue())
        self.assertIsInstance(scope["s"], cmee.Session)


if __name__ == "__main__":
    unittest.main()
