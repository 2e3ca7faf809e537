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
