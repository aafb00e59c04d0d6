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
