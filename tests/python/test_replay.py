# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the action log, replay and reset from Python (docs/sessions.md, "Replay and
reset"): Session.actions(), replay(), replay_check(), compare(), reset(), epoch and the
epoch_* readers, through a store and back.

    cd tests/python && CMEE_LIBRARY=build/lib/libcmee.so PYTHONPATH=bindings/python \\
        python3 -m unittest -v test_replay
"""

import datetime as dt
import os
import random
import tempfile
import unittest

import cmee

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
MIN = 60_000


def trade(s, seed, n):
    """n random operations; refusals are swallowed (they are not actions)."""
    rnd = random.Random(seed)
    syms = ["BTCUSD", "EURUSD", "XAUUSD"]
    for _ in range(n):
        sym = rnd.choice(syms)
        u = rnd.random()
        q = s.quote(sym)
        try:
            if u < 0.35:
                s.order(sym, rnd.choice(["buy", "sell"]), 2000 / q.ask)
            elif u < 0.5:
                side = rnd.choice(["buy", "sell"])
                px = q.bid * 0.997 if side == "buy" else q.ask * 1.003
                s.order(sym, side, 1000 / q.ask, type="limit", price=px)
            elif u < 0.6:
                s.call(sym, 50, 5 * MIN)
            elif u < 0.7:
                pos = s.positions()
                if pos:
                    p = pos[0]
                    pq = s.quote(p.symbol)
                    if p.quantity > 0:
                        s.protect(p.symbol, stop_loss=pq.bid * 0.995)
                    else:
                        s.protect(p.symbol, stop_loss=pq.ask * 1.005)
            else:
                s.step(rnd.randint(1, 20) * MIN)
        except cmee.Error:
            pass


class ReplayTest(unittest.TestCase):
    def session(self, **kw):
        kw.setdefault("seed", 3)
        return cmee.Session(start=START, manual_clock=True, balance=100_000,
                            scenario="crash", leverage=10, **kw)

    def test_actions_and_replay(self):
        s = self.session()
        trade(s, 1, 300)
        acts = s.actions()
        self.assertGreater(len(acts), 100)
        self.assertEqual(acts[0].kind, "apply_scenario")
        self.assertEqual(acts[0].request, {"scenario": "crash"})
        self.assertEqual([a.seq for a in acts], list(range(1, len(acts) + 1)))
        self.assertTrue({"order", "option", "step"} <= {a.kind for a in acts})
        self.assertTrue(all(a.kind in cmee.ACTION_KINDS for a in acts))
        orders = [a for a in acts if a.kind == "order"]
        self.assertIn(orders[0].request["side"], ("buy", "sell"))
        self.assertEqual(s.actions(after=len(acts) - 1), acts[-1:])
        self.assertTrue(s.replayable)
        chk = s.replay_check()
        self.assertTrue(chk.same, chk)
        self.assertEqual(chk.actions, len(acts))
        self.assertEqual(chk.orders, len(s.orders()))
        self.assertEqual(chk.record, "")
        r = s.replay()
        self.assertEqual(r.orders(), s.orders())
        self.assertEqual(r.ledger(), s.ledger())
        self.assertEqual(r.options(), s.options())
        self.assertEqual(r.actions(), s.actions())
        self.assertTrue(s.compare(r).same)
        other = self.session(seed=4)
        diff = s.compare(other)
        self.assertFalse(diff.same)
        self.assertTrue(diff.record)
        with self.assertRaises(TypeError):
            s.compare(42)

    def test_refusal_not_logged(self):
        s = self.session()
        n = len(s.actions())
        with self.assertRaises(cmee.InvalidArgumentError):
            s.order("BTCUSD", "buy", -1)
        self.assertEqual(len(s.actions()), n)

    def test_reset_and_epochs(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "r.db")
            with cmee.Store(path) as st:
                s = self.session(store=st, id="r1")
                trade(s, 2, 150)
                s.advance()
                old_orders, old_ledger = s.orders(), s.ledger()
                old_actions = s.actions()
                self.assertEqual(s.epoch, 1)
                self.assertTrue(all(o.epoch == 1 for o in old_orders))
                s.reset()
                self.assertEqual(s.epoch, 2)
                self.assertEqual(s.clock.epoch, 2)
                self.assertEqual(s.clock.processed, int(START.timestamp() * 1000))
                a = s.account()
                self.assertEqual(a.epoch, 2)
                self.assertEqual(a.balance, 100_000)
                self.assertEqual(s.orders(), [])
                self.assertEqual(len(s.ledger()), 1)
                self.assertEqual(s.ledger()[0].epoch, 2)
                self.assertEqual(s.epoch_orders(1), old_orders)
                self.assertEqual(s.epoch_ledger(1), old_ledger)
                self.assertEqual(s.epoch_actions(1), old_actions)
                self.assertEqual(s.epoch_orders(2), s.orders())
                with self.assertRaises(cmee.NotFoundError):
                    s.epoch_orders(3)
                with self.assertRaises(TypeError):
                    s.epoch_ledger("1")
                trade(s, 5, 80)
                self.assertTrue(s.replay_check().same)
                new_orders = s.orders()
                s.close()
                s = cmee.Session.load(st, "r1")
                self.assertEqual(s.epoch, 2)
                self.assertEqual(s.orders(), new_orders)
                self.assertEqual(s.epoch_orders(1), old_orders)
                self.assertEqual(s.epoch_ledger(1), old_ledger)
                self.assertTrue(s.replay_check().same)
                s.close()


if __name__ == "__main__":
    unittest.main()
