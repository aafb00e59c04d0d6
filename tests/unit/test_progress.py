"""Progress bars: tasks done and ETA on a terminal, silent otherwise."""

import io

from simulations.progress import NoOpBar, progress_bar


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_bar_on_a_terminal_shows_count_and_eta():
    stream = FakeTTY()
    bar = progress_bar(total=4, desc="demo", file=stream, mininterval=0)
    for _ in range(4):
        bar.update(1)
    bar.close()
    text = stream.getvalue()
    assert "demo" in text and "4/4" in text and "<" in text  # elapsed<remaining


def test_silent_when_not_a_tty():
    stream = io.StringIO()
    bar = progress_bar(total=4, desc="demo", file=stream)
    bar.update(4)
    bar.close()
    assert stream.getvalue() == ""


def test_forced_off_is_a_noop():
    bar = progress_bar(total=2, disable=True)
    assert isinstance(bar, NoOpBar)
    bar.update(1)
    bar.set_postfix(failed=1)
    bar.close()


def test_a_resumed_bar_estimates_the_eta_from_this_sessions_rate_only():
    """A bar started at the resumed count (``initial``) must not count the resumed tasks as
    done in this session: 10 tasks in ``elapsed`` seconds give a rate of ``10 / elapsed``, not
    ``60 / elapsed`` (an ETA six times too short)."""
    import time

    stream = FakeTTY()
    bar = progress_bar(total=100, initial=50, desc="resumed", file=stream, mininterval=0)
    time.sleep(0.3)
    bar.update(10)
    info = bar.format_dict
    bar.close()
    assert "60/100" in stream.getvalue() and "<" in stream.getvalue()
    session_rate = 10 / info["elapsed"]
    assert 0.5 * session_rate < info["rate"] < 2 * session_rate, (info["rate"], session_rate)
