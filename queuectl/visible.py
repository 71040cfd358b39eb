"""Job strings made safe to print: invisible characters shown as escapes.

A command, an id or an error comes from whoever enqueued the job. Printed as it is, a
right-to-left override (U+202E) reverses the rest of the line, a zero-width space hides a
difference and an ANSI escape rewrites the terminal, so one command can be made to look
like another. The page does the same in JavaScript (`visible()` in
dashboard/static/app.js); a browser test runs one sample through both."""

from __future__ import annotations

import unicodedata

# Cc (controls, ANSI's ESC), Cf (formats: the bidi controls U+202A-E, U+2066-9, U+200E/F,
# U+061C, the zero-width U+200B-D, U+FEFF), Zl and Zp (line and paragraph separators).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
# Where multi-line text is shown (a command as a script, `show`), these stay as they are.
LINE_BREAKS = "\n\t"


def escape(char: str) -> str:
    """`\\u202e` for a character of the Basic Multilingual Plane, `\\U000e0001` past it."""
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def is_invisible(char: str) -> bool:
    return unicodedata.category(char) in INVISIBLE_CATEGORIES


def visible(text: str, keep: str = "") -> str:
    """`text` with every invisible character but those in `keep` written as its escape."""
    if text.isprintable():  # no Cc, Cf, Zl or Zp in it: the common case, at C speed
        return text
    return "".join(escape(c) if is_invisible(c) and c not in keep else c for c in text)
