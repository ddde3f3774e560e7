"""The serving event loop: "auto" takes uvloop where installed, "asyncio" never does, and asking for
uvloop where it is missing is a clear error, not a traceback."""

from __future__ import annotations

import sys

import pytest

from titan_core.event_loop import EventLoopUnavailable, loop_label, new_serving_loop


@pytest.mark.parametrize(
    ("choice", "expected"), [("auto", "uvloop"), ("uvloop", "uvloop"), ("asyncio", "asyncio")]
)
def test_each_choice_gives_its_loop_where_uvloop_is_installed(choice: str, expected: str) -> None:
    loop = new_serving_loop(choice)
    try:
        assert loop_label(loop) == expected
        assert loop.run_until_complete(_answer()) == 42
    finally:
        loop.close()


def test_without_uvloop_auto_falls_back_and_uvloop_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if not installed: importing it fails
    loop = new_serving_loop("auto")
    try:
        assert loop_label(loop) == "asyncio"
    finally:
        loop.close()
    with pytest.raises(
        EventLoopUnavailable, match=r"needs uvloop, which is not installed .*'auto' or 'asyncio'"
    ):
        new_serving_loop("uvloop")


async def _answer() -> int:
    return 42
