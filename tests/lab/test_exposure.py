"""The lab's own weaknesses are the switchable ones only: its records and conversations are behind
its auth switch and bound to the user, it answers only to its own host names, and a huge body is
refused before it is read."""

from __future__ import annotations

import httpx

from tests.lab.conftest import ADA, Client

BRAM = {"email": "bram.osei@example.com", "password": "bram-pass"}


def test_records_and_conversations_are_behind_the_auth_switch(lab):
    running = lab()
    anonymous = httpx.Client(base_url=running.url, timeout=10)
    for table in ("outbox", "egress", "audit"):
        assert anonymous.get(f"/api/records/{table}").status_code == 401, table
    ada = Client(running).login(ADA)
    session = ada.http.post("/api/chat", json={"message": "hello", "session": "ada-1"}, headers=ada.headers)
    assert session.status_code == 200
    assert ada.http.get("/chat/ada-1", headers=ada.headers).status_code == 200
    bram = Client(running).login(BRAM)
    # Another customer can neither read Ada's conversation nor write into it by naming its id.
    assert bram.http.get("/chat/ada-1", headers=bram.headers).status_code == 403
    assert bram.http.post("/api/chat", json={"message": "hi", "session": "ada-1"},
                          headers=bram.headers).status_code == 403


def test_a_foreign_host_name_and_a_huge_body_are_refused(lab):
    running = lab()
    client = httpx.Client(base_url=running.url, timeout=30)
    rebinding = client.get("/api/info", headers={"Host": "attacker.example"})
    assert rebinding.status_code == 400  # DNS rebinding: a browser on another site reaches nothing
    assert client.get("/api/info").status_code == 200
    huge = client.post("/api/login", content=b"x" * 2_000_000, headers={"content-type": "application/json"})
    assert huge.status_code == 413
