"""Run history: every campaign and its results, stored as they arrive, and every analysis stored
with `check --store`. SQLite by default; any SQLAlchemy URL (PostgreSQL through psycopg) for a
team. One result per (run, case): a resumed run can neither lose nor repeat one. An analysis is
one run whose whole `check` JSON result is kept beside it, compressed."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from demarcate.model.errors import ManifestError, Problem

metadata = MetaData()
runs = Table(
    "runs", metadata,
    Column("id", String(32), primary_key=True),
    Column("created", Float, nullable=False),
    Column("kind", String(16), nullable=False),  # campaign | analysis
    Column("status", String(16), nullable=False),  # running | done | interrupted | failed
    Column("target", Text, nullable=False),  # a campaign's target; an analysis's system name
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
analyses = Table(
    "analyses", metadata,
    Column("run_id", String(32), primary_key=True),
    Column("result", LargeBinary, nullable=False),  # the `check --format json` result, zlib-compressed
)
# The kinds of run, as a sentence names one.
KINDS = {"campaign": "a campaign", "analysis": "an analysis"}

DEFAULT_DB = ".demarcate/history.sqlite"
_INSERT_RESULT = results.insert()


# A case's result past this size (its evidence: the reply up to 64 KiB, up to 200 tool calls, hits and
# spans) is kept compressed, as `z:` and base64 of zlib; smaller ones, and those stored before, as JSON.
PACK_FROM = 4096


def pack(text: str) -> str:
    if len(text) < PACK_FROM:
        return text
    return "z:" + base64.b64encode(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")


def unpack(data: str) -> str:
    return zlib.decompress(base64.b64decode(data[2:])).decode("utf-8") if data.startswith("z:") else data


def db_url(url: str | None = None) -> str:
    url = url or os.environ.get("DEMARCATE_DB") or DEFAULT_DB
    if "://" in url:
        return url
    try:
        Path(url).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ManifestError([Problem(f"cannot open run history at {url}: cannot make its folder: "
                                     f"{exc.strerror or exc}: {exc.filename}")]) from None
    return f"sqlite:///{url}"


class Store:
    def __init__(self, url: str | None = None):
        self.url = db_url(url)
        try:
            self.engine: Engine = create_engine(self.url, future=True)
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", _sqlite_pragmas)
            metadata.create_all(self.engine)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] == "psycopg":
                from demarcate.extras import missing

                raise ManifestError([missing("psycopg", f"the run history at {self.safe_url}")]) from None
            raise ManifestError([Problem(f"cannot open run history at {self.safe_url}: {exc.__class__.__name__}: "
                                         f"{str(exc).splitlines()[0][:200]}")]) from None
        except SQLAlchemyError as exc:
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
        run_id = _new_id()
        with self._writing("start a run"), self.engine.begin() as c:
            c.execute(insert(runs).values(id=run_id, created=time.time(), kind="campaign", status="running",
                                          target=target, config=json.dumps(config)))
        return run_id

    @contextlib.contextmanager
    def _writing(self, what: str, hint: str = "") -> Iterator[None]:
        """A write the database refuses (locked past the wait, gone, full) as a clear error, never a traceback."""
        try:
            yield
        except OperationalError as exc:
            raise ManifestError([Problem(
                f"cannot {what} in {self.safe_url}: {str(exc.orig if exc.orig is not None else exc).splitlines()[0][:200]}",
                hint=hint or "another process may hold the database; try again when it is free")]) from None

    def add_analysis(self, system: str, config: dict[str, Any], summary: dict[str, Any], result: bytes) -> str:
        """Store one finished analysis — its run and its JSON result together, or neither."""
        run_id = _new_id()
        try:
            with self.engine.begin() as c:
                c.execute(insert(runs).values(id=run_id, created=time.time(), kind="analysis", status="done",
                                              target=system, config=json.dumps(config), summary=json.dumps(summary)))
                # Level 1: a 10,000-component result (26 MB) in 0.09 s, to 1.6 MB; level 6 took five times as long.
                c.execute(insert(analyses).values(run_id=run_id, result=zlib.compress(result, 1)))
        except SQLAlchemyError as exc:  # the outputs are written by now; this says the history is not
            raise ManifestError([Problem(f"the analysis was not stored in {self.safe_url}: {exc.__class__.__name__}: "
                                         f"{str(exc).splitlines()[0][:200]}")]) from None
        return run_id

    def analysis(self, run_id: str) -> dict[str, Any] | None:
        """A stored analysis's `check` JSON result, as it was written."""
        with self.engine.connect() as c:
            data = c.execute(select(analyses.c.result).where(analyses.c.run_id == run_id)).scalar()
        return None if data is None else json.loads(zlib.decompress(data))

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        if row is None:
            return None
        out = dict(row)
        out["config"] = json.loads(out["config"])
        out["summary"] = json.loads(out["summary"]) if out["summary"] else None
        return out

    def need(self, run_id: str, kind: str | None = None) -> dict[str, Any]:
        """The run, of this kind if one is asked for; a clear error for an unknown id or another kind."""
        run = self.run(run_id)
        if run is None:
            raise ManifestError([Problem(f"no run '{run_id}' in {self.safe_url}", hint="see `demarcate runs`")])
        if kind is not None and run["kind"] != kind:
            raise ManifestError([Problem(f"run '{run_id}' is {KINDS[run['kind']]}, not {KINDS[kind]}",
                                         hint=f"see `demarcate runs --kind {kind}`")])
        return run

    def runs(self, limit: int | None = 50, *, kind: str | None = None, target: str | None = None) -> list[dict[str, Any]]:
        """The newest runs first (all of them with no limit), of one kind or one target if asked."""
        query = select(runs).order_by(runs.c.created.desc(), runs.c.id.desc()).limit(limit)
        if kind is not None:
            query = query.where(runs.c.kind == kind)
        if target is not None:
            query = query.where(runs.c.target == target)
        with self.engine.connect() as c:
            rows = c.execute(query).mappings().all()
        return [{**dict(r), "config": json.loads(r["config"]), "summary": json.loads(r["summary"]) if r["summary"] else None}
                for r in rows]

    def delete(self, run_ids: list[str]) -> None:
        """Remove runs with all they hold, in one transaction; a SQLite file then gives the space back."""
        with self.engine.begin() as c:
            for table, column in ((results, results.c.run_id), (analyses, analyses.c.run_id), (runs, runs.c.id)):
                for start in range(0, len(run_ids), 500):  # bounded statements, whatever the count
                    c.execute(delete(table).where(column.in_(run_ids[start:start + 500])))
        if run_ids and self.engine.dialect.name == "sqlite":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("vacuum"))

    def set_status(self, run_id: str, status: str, summary: dict[str, Any] | None = None) -> None:
        values: dict[str, Any] = {"status": status}
        if summary is not None:
            values["summary"] = json.dumps(summary)
        with self._writing(f"record run {run_id} as {status}", f"its cases are kept: `--resume {run_id}`"), \
                self.engine.begin() as c:
            c.execute(update(runs).where(runs.c.id == run_id).values(**values))

    def update_config(self, run_id: str, **fields: Any) -> None:
        """Add to what a run keeps of its set-up (a campaign's capability baselines, say)."""
        with self._writing(f"update run {run_id}", f"`--resume {run_id}` when the database is free"), \
                self.engine.begin() as c:
            raw = c.execute(select(runs.c.config).where(runs.c.id == run_id)).scalar()
            config = {**json.loads(raw or "{}"), **fields}
            c.execute(update(runs).where(runs.c.id == run_id).values(config=json.dumps(config)))

    def add_result(self, run_id: str, result: dict[str, Any]) -> bool:
        """Store one result as soon as it is known; False if this case was already stored. A database
        that stays locked or unreachable is a clear error naming the run, never a traceback."""
        with self._writing(f"store case {result['case']} of run {run_id}",
                           f"the cases stored so far are kept; when the database is free again, `--resume {run_id}`"):
            return self._add_result(run_id, result)

    def _add_result(self, run_id: str, result: dict[str, Any]) -> bool:
        row = {"run_id": run_id, "case_id": result["case"], "created": time.time(), "probe": result["probe"],
               "category": result["category"], "entry": result["entry"], "outcome": result["outcome"],
               "data": pack(json.dumps(result, ensure_ascii=False))}
        try:
            with self.engine.begin() as c:
                c.execute(_INSERT_RESULT, row)  # one statement, compiled once, parameters per row
        except IntegrityError:
            # Stored already: only a case that could not run (an error) gives way to a new result.
            with self.engine.begin() as c:
                replaced = c.execute(results.update().where(
                    (results.c.run_id == run_id) & (results.c.case_id == row["case_id"])
                    & (results.c.outcome == "error")).values(**row)).rowcount
            return bool(replaced)
        return True

    def results(self, run_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(results.c.data).where(results.c.run_id == run_id)
                             .order_by(results.c.created)).all()
        return [json.loads(unpack(r[0])) for r in rows]

    def done_cases(self, run_id: str) -> set[str]:
        """The cases with a result; a case that ended in an error is not done: --resume runs it again."""
        with self.engine.connect() as c:
            return {r[0] for r in c.execute(select(results.c.case_id).where(
                (results.c.run_id == run_id) & (results.c.outcome != "error")))}

    def close(self) -> None:
        self.engine.dispose()


# A campaign in these states can still finish (`test --resume`): pruning leaves it alone.
UNFINISHED = ("running", "interrupted")


def to_prune(items: list[dict[str, Any]], *, keep: int | None = None, before: float | None = None) -> list[dict[str, Any]]:
    """The runs to remove, from runs listed newest first: beyond the newest `keep` of each target,
    and (if given) created before `before`, both where both are given. Unfinished campaigns stay."""
    seen: dict[tuple[str, str], int] = {}
    chosen = []
    for run in items:
        key = (run["kind"], run["target"])
        seen[key] = seen.get(key, 0) + 1
        if run["status"] in UNFINISHED:
            continue
        if (keep is None or seen[key] > keep) and (before is None or run["created"] < before):
            chosen.append(run)
    return chosen


def _new_id() -> str:
    """Sortable by time, unique by its random tail: `20261129-031500-4f2a9c`."""
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("pragma journal_mode=wal")
    cursor.execute("pragma synchronous=normal")
    # Another process writing (a second campaign, a `check --store`) holds the lock for a while: wait.
    cursor.execute(f"pragma busy_timeout={LOCK_WAIT_MS}")
    cursor.close()


LOCK_WAIT_MS = 60_000
