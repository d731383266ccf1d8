"""A worker asked to stop by systemd (SIGTERM) notices within a moment, even asleep between
rounds, and its signal handler takes no lock the interrupted thread might hold."""

import os
import signal
import threading
import time

from pledges.cli import _Stop, _stop_on_signal


def test_sigterm_wakes_a_sleeping_worker_at_once():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        stop = _stop_on_signal()
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
        started = time.monotonic()

        assert stop.wait(30) is True
        assert time.monotonic() - started < 2
        assert stop.is_set()
        # A second signal stops at once: the default action is back.
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, before[0])
        signal.signal(signal.SIGINT, before[1])


def test_without_a_signal_the_worker_sleeps_its_interval():
    stop = _Stop()
    started = time.monotonic()

    assert stop.wait(0.3) is False
    assert time.monotonic() - started >= 0.3
