"""Definitions: assets, checks, jobs, schedules and policies as pure data (no I/O)."""
