# SPDX-License-Identifier: MIT
# test/harness.py: what the python end-to-end scripts (gateway_test.py,
# firewall_test.py) share: the Fail exception and check(), the @test
# registry, running one test in a thread with a deadline, and the runner
# that prints PASS/FAIL lines and "N passed, N failed" (and writes them to
# $VPNGW_RESULTS for the shell suite that started it). The tests themselves,
# and every helper that talks to the gateway, are the scripts' own.
import asyncio
import os
import socket
import sys
import threading
import time

VERBOSE = False
TESTS = []


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def info(msg):
    if VERBOSE:
        print("  info: " + msg, flush=True)


def test(timeout=20):
    """Registers a test (a coroutine or a plain function) with its deadline."""
    def reg(fn):
        TESTS.append((fn.__name__, fn, timeout))
        return fn
    return reg


def run_one(fn, timeout):
    """None when fn passed, else why it failed."""
    res = {}

    def target():
        try:
            if asyncio.iscoroutinefunction(fn):
                asyncio.run(asyncio.wait_for(fn(), timeout))
            else:
                fn()
            res["ok"] = True
        except BaseException as e:  # noqa: B902: report whatever it was
            res["exc"] = e
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout + 5)
    if t.is_alive():
        return "test still running after %d s" % timeout
    e = res.get("exc")
    if e is None:
        return None
    if isinstance(e, Fail):
        return str(e)
    if isinstance(e, (asyncio.TimeoutError, socket.timeout)):
        return "timed out (%s)" % (type(e).__name__)
    return "%s: %s" % (type(e).__name__, e)


def main(argv, all_by_default=True):
    """Runs the tests named in argv (all of them, unless all_by_default is
    false); --list names them, -v says more. Returns the exit status."""
    global VERBOSE
    names = [n for n, _, _ in TESTS]
    args = [a for a in argv if not a.startswith("-")]
    if "--list" in argv:
        print("\n".join(names))
        return 0
    VERBOSE = "-v" in argv
    for a in args:
        if a not in names:
            print("unknown test %s (see --list)" % a, file=sys.stderr)
            return 2
    passed = failed = 0
    for name, fn, timeout in TESTS:
        if (args or not all_by_default) and name not in args:
            continue
        t0 = time.monotonic()
        err = run_one(fn, timeout)
        dt = time.monotonic() - t0
        if err is None:
            passed += 1
            print("PASS %s" % name + (" (%.1f s)" % dt if VERBOSE else ""), flush=True)
        else:
            failed += 1
            print("FAIL %s: %s" % (name, err), flush=True)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    if os.environ.get("VPNGW_RESULTS"):
        with open(os.environ["VPNGW_RESULTS"], "w") as f:
            f.write("%d %d\n" % (passed, failed))
    return 1 if failed else 0
