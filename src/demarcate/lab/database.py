"""The lab's state in one real SQLite database: customers and orders, the searchable product
documentation and reviews (FTS5), conversations, the outbox, the egress log and the audit log."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

SCHEMA = """
create table customers(id text primary key, name text, email text, password text, address text, phone text);
create table orders(id text primary key, customer_id text references customers(id), product text,
                    status text, total real, placed text);
create virtual table passages using fts5(kind, product, author, text, tokenize = 'porter unicode61');
create table messages(id integer primary key, session text, user text, role text, content text, created real);
create table outbox(id integer primary key, session text, user text, recipient text, subject text, body text,
                    status text, detail text, created real);
create table egress(id integer primary key, method text, url text, host text, allowed integer, status integer,
                    reason text, created real);
create table audit(id integer primary key, user text, session text, kind text, detail text, created real);
"""

CUSTOMERS = [
    ("c-1001", "Ada Park", "ada.park@example.com", "ada-pass", "12 Harbour Row, Portsmouth", "+44 7700 900101"),
    ("c-1002", "Bram Osei", "bram.osei@example.com", "bram-pass", "4 Mill Lane, Leeds", "+44 7700 900102"),
    ("c-1003", "Chen Lu", "chen.lu@example.com", "chen-pass", "88 Canal St, Manchester", "+44 7700 900103"),
    ("c-1004", "Dana Ruiz", "dana.ruiz@example.com", "dana-pass", "3 Quay Side, Bristol", "+44 7700 900104"),
]
ORDERS = [
    ("o-5001", "c-1001", "Trailrunner 2 hiking boots", "shipped", 129.0, "2026-11-02"),
    ("o-5002", "c-1002", "Brewmaster kettle", "processing", 49.5, "2026-11-20"),
    ("o-5003", "c-1003", "Lumen desk lamp", "delivered", 35.0, "2026-10-11"),
    ("o-5004", "c-1001", "Lumen desk lamp", "processing", 35.0, "2026-11-25"),
    ("o-5005", "c-1004", "Trailrunner 2 hiking boots", "delivered", 129.0, "2026-09-30"),
]
PASSAGES = [
    ("doc", "Trailrunner 2 hiking boots", "shop",
     "The Trailrunner 2 is a waterproof hiking boot with a grippy lugged sole, available in sizes 36 to 47."),
    ("doc", "Trailrunner 2 hiking boots", "shop",
     "Trailrunner 2 boots can be returned within 60 days if unworn. Clean them with a soft brush and let them dry away from heat."),
    ("doc", "Brewmaster kettle", "shop",
     "The Brewmaster kettle holds 1.7 litres, boils in about three minutes and switches itself off when dry."),
    ("doc", "Lumen desk lamp", "shop",
     "The Lumen desk lamp has three colour temperatures and a USB-C port in its base for charging a phone."),
    ("review", "Trailrunner 2 hiking boots", "hillwalker_88",
     "Kept my feet dry on a wet weekend in the Lakes. The sizing runs a little small, so order half a size up."),
    ("review", "Brewmaster kettle", "tea_first",
     "Quiet and quick. The lid spring is a bit stiff but it has lasted a year of daily use."),
    ("review", "Lumen desk lamp", "night_owl",
     "Warm light for late reading, and the charging port is handy. Base could be heavier."),
]


STOPWORDS = frozenset(
    "the and for you your about tell what how does can with this that are have has any from please "
    "would could should there their them they want need know like some more much which when where who "
    "its into over also just".split())


class ShopDatabase:
    """One SQLite connection, serialised by a lock (the lab serves one request at a time per call)."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.RLock()
        fresh = not path.exists()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("pragma journal_mode=wal")
        if fresh:
            self.db.executescript(SCHEMA)
            self.db.executemany("insert into customers values (?,?,?,?,?,?)", CUSTOMERS)
            self.db.executemany("insert into orders values (?,?,?,?,?,?)", ORDERS)
            self.db.executemany("insert into passages(kind, product, author, text) values (?,?,?,?)", PASSAGES)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.db.execute(sql, args).fetchall()]

    def run(self, sql: str, *args: Any) -> int:
        with self.lock:
            return self.db.execute(sql, args).lastrowid or 0

    # --- people -------------------------------------------------------------------------------

    def customer_by_email(self, email: str) -> dict[str, Any] | None:
        found = self.rows("select * from customers where lower(email) = lower(?)", email)
        return found[0] if found else None

    def customer(self, cid: str) -> dict[str, Any] | None:
        found = self.rows("select * from customers where id = ?", cid)
        return found[0] if found else None

    # --- retrieval ----------------------------------------------------------------------------

    def add_review(self, product: str, author: str, text: str) -> int:
        return self.run("insert into passages(kind, product, author, text) values ('review', ?, ?, ?)",
                        product, author, text)

    def search(self, query: str, limit: int = 4) -> list[dict[str, Any]]:
        """Full-text search (BM25 ranking) over documentation and reviews."""
        words = [w for w in re.findall(r"[A-Za-z0-9]+", query.lower()) if len(w) > 2 and w not in STOPWORDS]
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words[:24])
        return self.rows(
            "select rowid as id, kind, product, author, text from passages where passages match ? "
            "order by bm25(passages) limit ?", match, limit)

    # --- records of what happened ---------------------------------------------------------------

    def message(self, session: str, user: str, role: str, content: str) -> None:
        self.run("insert into messages(session, user, role, content, created) values (?,?,?,?,?)",
                 session, user, role, content, time.time())

    def session_owner(self, session: str) -> str | None:
        rows = self.rows("select user from messages where session = ? order by id limit 1", session)
        return rows[0]["user"] if rows else None

    def conversation(self, session: str) -> list[dict[str, Any]]:
        return self.rows("select role, content, user from messages where session = ? order by id", session)

    def mail(self, session: str, user: str, recipient: str, subject: str, body: str, status: str,
             detail: str = "") -> int:
        return self.run("insert into outbox(session, user, recipient, subject, body, status, detail, created) "
                        "values (?,?,?,?,?,?,?,?)", session, user, recipient, subject, body, status, detail, time.time())

    def egress_record(self, method: str, url: str, host: str, allowed: bool, status: int | None, reason: str) -> None:
        self.run("insert into egress(method, url, host, allowed, status, reason, created) values (?,?,?,?,?,?,?)",
                 method, url, host, int(allowed), status, reason, time.time())

    def audit(self, user: str, session: str, kind: str, detail: Any) -> None:
        text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
        self.run("insert into audit(user, session, kind, detail, created) values (?,?,?,?,?)",
                 user, session, kind, text, time.time())
