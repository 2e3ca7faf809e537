"""The SQLite warehouse the transform assets write to."""

import sqlite3
from contextlib import closing, contextmanager
from collections.abc import Iterator
from pathlib import Path

import flowdev as dg

PROJECT_DIR = Path(__file__).resolve().parent.parent


class Warehouse(dg.ConfigurableResource):
    """A SQLite database file; a relative path is relative to the project directory."""

    path: str = "data/warehouse.db"

    @property
    def file(self) -> Path:
        path = Path(self.path)
        return path if path.is_absolute() else PROJECT_DIR / path

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.file)) as connection:
            with connection:
                yield connection

    def replace_table(self, name: str, columns: list[str], rows: list[tuple]) -> int:
        """Replace table `name` with `rows`; returns the row count."""
        placeholders = ", ".join("?" for _ in columns)
        with self.connect() as db:
            db.execute(f"DROP TABLE IF EXISTS {name}")
            db.execute(f"CREATE TABLE {name} ({', '.join(columns)})")
            db.executemany(f"INSERT INTO {name} VALUES ({placeholders})", rows)
        return len(rows)

    def query(self, sql: str, *params: object) -> list[tuple]:
        with self.connect() as db:
            return db.execute(sql, params).fetchall()
