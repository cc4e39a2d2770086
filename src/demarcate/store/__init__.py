"""Run history: every campaign and its results, stored as they arrive. SQLite by default; any
SQLAlchemy URL (PostgreSQL through psycopg) for a team. One result per (run, case): a resumed
run can neither lose nor repeat one."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from demarcate.model.errors import ManifestError, Problem

metadata = MetaData()
runs = Table(
    "runs", metadata,
    Column("id", String(32), primary_key=True),
    Column("created", Float, nullable=False),
    Column("kind", String(16), nullable=False),  # campaign
    Column("status", String(16), nullable=False),  # running | done | interrupted | failed
    Column("target", Text, nullable=False),
    Column("config", Text, nullable=False),  # JSON: manifest paths, probe selection, options (no secrets)
    Column("summary", Text),
)
results = Table(
    "results", metadata,
    Column("run_id", String(32), nullable=False),
    Column("case_id", String(200), nullable=False),
    Column("created", Float, nullable=False),
    Column("probe", String(100), nullable=False),
    Column("category", String(50), nullable=False),
    Column("entry", String(30), nullable=False),
    Column("outcome", String(40), nullable=False),
    Column("data", Text, nullable=False),  # JSON: the whole result, chain and evidence included
    UniqueConstraint("run_id", "case_id", name="one_result_per_case"),
)

DEFAULT_DB = ".demarcate/history.sqlite"
_INSERT_RESULT = results.insert()


def db_url(url: str | None = None) -> str:
    url = url or os.environ.get("DEMARCATE_DB") or DEFAULT_DB
    if "://" in url:
        return url
    Path(url).parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{url}"


class Store:
    def __init__(self, url: str | None = None):
        self.url = db_url(url)
        try:
            self.engine: Engine = create_engine(self.url, future=True)
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", _sqlite_pragmas)
            metadata.create_all(self.engine)
        except (SQLAlchemyError, ModuleNotFoundError) as exc:
            raise ManifestError([Problem(f"cannot open run history at {self.safe_url}: {exc.__class__.__name__}: "
                                         f"{str(exc).splitlines()[0][:200]}")]) from None

    @property
    def safe_url(self) -> str:
        """The URL without a password, for messages."""
        try:
            return self.engine.url.render_as_string(hide_password=True)
        except AttributeError:
            return self.url.split("@")[-1]

    def new_run(self, target: str, config: dict[str, Any]) -> str:
        run_id = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        with self.engine.begin() as c:
            c.execute(insert(runs).values(id=run_id, created=time.time(), kind="campaign", status="running",
                                          target=target, config=json.dumps(config)))
        return run_id

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        if row is None:
            return None
        out = dict(row)
        out["config"] = json.loads(out["config"])
        out["summary"] = json.loads(out["summary"]) if out["summary"] else None
        return out

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(runs).order_by(runs.c.created.desc()).limit(limit)).mappings().all()
        return [{**dict(r), "config": json.loads(r["config"]), "summary": json.loads(r["summary"]) if r["summary"] else None}
                for r in rows]

    def set_status(self, run_id: str, status: str, summary: dict[str, Any] | None = None) -> None:
        values: dict[str, Any] = {"status": status}
        if summary is not None:
            values["summary"] = json.dumps(summary)
        with self.engine.begin() as c:
            c.execute(update(runs).where(runs.c.id == run_id).values(**values))

    def add_result(self, run_id: str, result: dict[str, Any]) -> bool:
        """Store one result as soon as it is known; False if this case was already stored."""
        row = {"run_id": run_id, "case_id": result["case"], "created": time.time(), "probe": result["probe"],
               "category": result["category"], "entry": result["entry"], "outcome": result["outcome"],
               "data": json.dumps(result, ensure_ascii=False)}
        try:
            with self.engine.begin() as c:
                c.execute(_INSERT_RESULT, row)  # one statement, compiled once, parameters per row
        except IntegrityError:
            return False
        return True

    def results(self, run_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(results.c.data).where(results.c.run_id == run_id)
                             .order_by(results.c.created)).all()
        return [json.loads(r[0]) for r in rows]

    def done_cases(self, run_id: str) -> set[str]:
        with self.engine.connect() as c:
            return {r[0] for r in c.execute(select(results.c.case_id).where(results.c.run_id == run_id))}

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("pragma journal_mode=wal")
    cursor.execute("pragma synchronous=normal")
    cursor.close()
