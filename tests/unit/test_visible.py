"""Job strings printed with their invisible characters escaped (issue 11, point 20)."""

from __future__ import annotations

import io
import logging

import pytest

from queuectl.logs import VisibleFormatter
from queuectl.visible import LINE_BREAKS, visible


@pytest.mark.parametrize(
    "char, shown",
    [
        ("\u202e", "\\u202e"),  # right-to-left override
        ("\u202a", "\\u202a"),
        ("\u2066", "\\u2066"),  # left-to-right isolate
        ("\u2069", "\\u2069"),
        ("\u200e", "\\u200e"),
        ("\u200f", "\\u200f"),
        ("\u061c", "\\u061c"),  # Arabic letter mark
        ("\u200b", "\\u200b"),  # zero-width space
        ("\u200d", "\\u200d"),
        ("\ufeff", "\\ufeff"),
        ("\u2028", "\\u2028"),  # line separator (Zl)
        ("\u2029", "\\u2029"),  # paragraph separator (Zp)
        ("\x1b", "\\u001b"),  # ESC, which starts an ANSI sequence
        ("\r", "\\u000d"),
        ("\x85", "\\u0085"),
        ("\U000e0041", "\\U000e0041"),  # a tag character, past the BMP
    ],
)
def test_an_invisible_character_is_shown_as_its_escape(char, shown):
    assert visible(f"echo a{char}b") == f"echo a{shown}b"


def test_what_shows_is_left_alone():
    text = "echo 'héllo wörld' \\u202e ½ 日本 — ok 🙂"
    assert visible(text) == text


def test_line_breaks_stay_only_where_asked():
    assert visible("a\nb\tc") == "a\\u000ab\\u0009c"
    assert visible("a\nb\tc\u202e", LINE_BREAKS) == "a\nb\tc\\u202e"


def test_a_log_line_shows_the_job_string_escaped_and_stays_one_line():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(VisibleFormatter("%(levelname)s %(message)s"))
    record = logging.LogRecord(
        "queuectl.worker", logging.INFO, __file__, 1, "job %s: %s", ("a", "x\u202ey\nz"), None
    )
    handler.emit(record)
    assert stream.getvalue() == "INFO job a: x\\u202ey\\u000az\n"
    assert record.getMessage() == "job a: x\u202ey\nz"  # other handlers see it as it was
