import io

from cassandra_llm_cache.admin._progress import Progress, render


class Terminal(io.StringIO):
    def isatty(self):
        return True


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_render_with_and_without_a_total():
    assert render("export", 5, 10, "5 entries") == (
        "export  50% |############............| 5 entries"
    )
    assert render("import", 5, None, "5 entries") == "import 5 entries"
    assert "100%" in render("x", 20, 10, "")


def test_a_pipe_gets_only_the_final_line():
    stream = io.StringIO()
    clock = Clock()
    progress = Progress("export", 4, stream=stream, clock=clock)
    for _ in range(4):
        clock.now += 1
        progress.advance()
    assert stream.getvalue() == ""
    progress.close("done")
    progress.close("twice")
    assert stream.getvalue() == "export 100% |########################| 4 in 4.0 s - done\n"


def test_a_terminal_is_redrawn_at_most_ten_times_a_second():
    stream = Terminal()
    clock = Clock()
    progress = Progress("import", 100, stream=stream, clock=clock)
    for _ in range(50):
        clock.now += 0.01
        progress.advance()
    redraws = stream.getvalue().count("\r")
    assert 3 <= redraws <= 6
    progress.close()
    assert stream.getvalue().endswith("\x1b[K\n")


def test_disabled_prints_nothing():
    stream = Terminal()
    progress = Progress("x", 1, stream=stream, enabled=False)
    progress.advance()
    progress.close("summary")
    assert stream.getvalue() == ""
