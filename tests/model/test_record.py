"""`demarcate decide`: a decision on a finding, appended to a file of tracking entries as text in the
file's own layout, and only kept if the manifest reads it back."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from demarcate.model import ManifestError
from demarcate.model.record import entry, in_place_of, with_entry, without
from demarcate.model.yamlio import parse_yaml
from tests.conftest import SHOPBOT, copy_example

ITEM = entry("open-egress:egress", "accepted", "proxy: next # quarter", ticket="SEC-1", date=dt.date(2026, 11, 29),
             expires=dt.date(2027, 5, 1))


def _entries(text: str) -> list[dict]:
    return [dict(e) for e in parse_yaml(text, "t.yaml")["tracking"]]


@pytest.mark.parametrize("before", [
    "tracking:\n  - finding: a:x\n    decision: accepted\n    justification: y\n# a comment kept\n",
    "version: 1\ntracking:\n- finding: a:x\n  decision: accepted\n  justification: y",  # no final line break
    "tracking:\n    - finding: a:x   # four spaces\n      decision: accepted\n      justification: y\n",
])
def test_an_entry_is_appended_in_the_files_own_indentation(before):
    after, line = with_entry(before, ITEM, "t.yaml")
    assert after.startswith(before)  # nothing the file held is rewritten
    assert [e["finding"] for e in _entries(after)] == ["a:x", "open-egress:egress"]
    assert after.splitlines()[line - 1].strip() == "- finding: open-egress:egress"
    added = _entries(after)[1]
    assert added["justification"] == "proxy: next # quarter" and str(added["expires"]) == "2027-05-01"


@pytest.mark.parametrize("before", [None, "", "# only a comment\n", "version: 1\n", "tracking: []\n", "tracking:\n"])
def test_a_file_without_entries_gets_a_tracking_section(before):
    after, line = with_entry(before, ITEM, "t.yaml")
    assert [e["finding"] for e in _entries(after)] == ["open-egress:egress"]
    assert after.splitlines()[line - 1].strip() == "- finding: open-egress:egress"


@pytest.mark.parametrize(("before", "says"), [
    ("parties: []\ntracking:\n", "holds more than tracking entries (parties)"),
    ("tracking: [{finding: a:x, decision: accepted, justification: y}]\n", "written on one line (flow style)"),
    ("tracking:\n  - finding: a:x\n    decision: accepted\n    justification: y\nversion: 1\n", "not the last"),
    ("- a\n- b\n", "holds more than tracking entries"),
])
def test_a_file_that_cannot_take_an_entry_safely_is_refused(before, says):
    with pytest.raises(ManifestError, match=re.escape(says)):
        with_entry(before, ITEM, "t.yaml")


@settings(max_examples=150, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=80).filter(str.strip))
@example("08")  # text to YAML 1.1, which PyYAML wrote it by; the number 8 to YAML 1.2, which manifests are read by
@example("1e5")
@example("0o17")
def test_any_justification_reads_back_as_written(text):
    after, _ = with_entry("tracking:\n  - finding: a:x\n    decision: accepted\n    justification: y\n",
                          entry("b:y", "mitigated", text), "t.yaml")
    assert _entries(after)[1]["justification"] == text


def test_decide_records_a_decision_that_check_then_honours(cli, tmp_path):
    bot = copy_example(SHOPBOT, tmp_path / "bot")
    result = cli("decide", "open-egress:egress", "accepted", "-j", "the egress proxy ships next quarter",
                 "--ticket", "SEC-12", "--expires", "2027-05-01", "-m", bot)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == f"  in {bot / 'tracking.yaml'}:4"
    assert "read it with the manifest" not in result.stdout  # the folder's new file is read with it
    found = {f["id"]: f for f in json.loads(cli("check", bot, "--format", "json").stdout)["findings"]}
    decided = found["open-egress:egress"]
    assert decided["status"] == "accepted" and decided["decision"]["ticket"] == "SEC-12"
    assert decided["decision"]["expires"] == "2027-05-01" and decided["decision"]["date"] == dt.date.today().isoformat()
    # A second decision goes under the first; what a person added to the file stays as it was.
    tracking = bot / "tracking.yaml"
    tracking.write_text(tracking.read_text() + "  # reviewed at the November risk board\n")
    kept = tracking.read_text()
    assert cli("decide", "SPEED-PRESSURE:app-team", "false-positive", "-j", "reviews are in the change board",
               "-m", bot).exit_code == 0
    assert tracking.read_text().startswith(kept)
    found = {f["id"]: f for f in json.loads(cli("check", bot, "--format", "json").stdout)["findings"]}
    assert found["speed-pressure:app-team"]["status"] == "false-positive"
    # Files named one by one: the tracking file is named too, and the command says how to read it.
    files = [bot / f"{n}.yaml" for n in ("system", "app-team", "cloud-team", "model-provider")]
    elsewhere = tmp_path / "decisions.yaml"
    result = cli("decide", "lethal-trifecta:model", "mitigated", "-j", "egress allowlist", "-m", files[0],
                 "-m", files[1], "-m", files[2], "-m", files[3], "--to", elsewhere)
    assert result.exit_code == 0 and "read it with the manifest: demarcate check" in result.stdout
    assert elsewhere.read_text().count("- finding:") == 1


def test_decide_refuses_what_it_cannot_record_and_leaves_every_file_as_it_was(cli, tmp_path):
    bot = copy_example(SHOPBOT, tmp_path / "bot")
    before = {p.name: p.read_text() for p in bot.iterdir()}

    def refused(*args: object) -> str:
        result = cli("decide", *args)
        assert result.exit_code == 2, result.output
        assert {p.name: p.read_text() for p in bot.iterdir()} == before
        return result.stderr

    assert "did you mean 'open-egress:egress'?" in refused("open-egres:egress", "accepted", "-j", "x", "-m", bot)
    assert "--justification is empty" in refused("open-egress:egress", "accepted", "-j", " ", "-m", bot)
    assert "--expires: '2027-13-01' is not a date" in refused(
        "open-egress:egress", "accepted", "-j", "x", "--expires", "2027-13-01", "-m", bot)
    assert "must come after the decision's 'date'" in refused(
        "open-egress:egress", "accepted", "-j", "x", "--expires", "2020-01-01", "-m", bot)
    assert "name the file to record the decision in with --to" in refused(
        "open-egress:egress", "accepted", "-j", "x",
        *(a for n in ("system", "app-team", "cloud-team", "model-provider") for a in ("-m", bot / f"{n}.yaml")))
    assert "holds more than tracking entries" in refused(
        "open-egress:egress", "accepted", "-j", "x", "-m", bot, "--to", bot / "app-team.yaml")
    (tmp_path / "latin1.yaml").write_bytes(b"tracking:\n# caf\xe9\n")
    assert "latin1.yaml:2:6: error: not UTF-8 text" in refused(
        "open-egress:egress", "accepted", "-j", "x", "-m", bot, "--to", tmp_path / "latin1.yaml")
    assert "a tracking file is a manifest file" in refused(
        "open-egress:egress", "accepted", "-j", "x", "-m", bot, "--to", bot / "notes.txt")
    # Already decided: the entry is named where it is.
    (bot / "decisions.yaml").write_text(
        "tracking:\n  - {finding: 'open-egress:egress', decision: accepted, justification: proxy}\n")
    before = {p.name: p.read_text() for p in bot.iterdir()}
    assert f"{bot / 'decisions.yaml'}:2:5: error: 'open-egress:egress' already has a decision" in refused(
        "open-egress:egress", "mitigated", "-j", "x", "-m", bot)
    # A file the manifest cannot read back with the entry is put back as it was.
    odd = tmp_path / "odd.yaml"
    odd.write_text("version: 99\n")
    result = cli("decide", "speed-pressure:app-team", "accepted", "-j", "x", "-m", bot, "--to", odd)
    assert result.exit_code == 2 and "version" in result.stderr
    assert odd.read_text() == "version: 99\n"
    # A manifest that cannot be read at all: refused before any file is made.
    fresh = tmp_path / "fresh.yaml"
    broken = cli("decide", "speed-pressure:app-team", "accepted", "-j", "x", "-m", bot, "-m", odd, "--to", fresh)
    assert broken.exit_code == 2 and not fresh.exists()


TRACKED = """\
version: 1
tracking:
  # agreed at the risk board
  - finding: a:x
    decision: accepted
    justification: y   # until the proxy ships
    expires: 2026-06-01

  - {finding: 'b:y', decision: accepted, justification: z}
# the end
"""


@pytest.mark.parametrize(("line", "kept"), [(4, "b:y"), (9, "a:x")])
def test_an_entry_is_replaced_where_it_is_and_nothing_else_moves(line, kept):
    after = in_place_of(TRACKED, line, ITEM, "t.yaml")
    entries = {e["finding"]: e for e in _entries(after)}
    assert set(entries) == {kept, "open-egress:egress"} and entries["open-egress:egress"]["justification"] == \
        "proxy: next # quarter"
    assert "  # agreed at the risk board\n" in after and after.endswith("# the end\n")
    assert after.splitlines()[line - 1] == "  - finding: open-egress:egress"


def test_a_line_that_does_not_begin_an_entry_is_not_guessed_at():
    with pytest.raises(ManifestError, match="cannot tell where this tracking entry begins"):
        in_place_of(TRACKED, 5, ITEM, "t.yaml")


def test_decide_replace_renews_a_lapsed_decision_in_the_file_that_holds_it(cli, tmp_path):
    bot = copy_example(SHOPBOT, tmp_path / "bot")
    cloud = bot / "cloud-team.yaml"
    cloud.write_text(cloud.read_text() + "\ntracking:\n  - finding: open-egress:egress\n    decision: accepted\n"
                     "    justification: proxy next quarter\n    date: 2026-01-01\n    expires: 2026-06-01\n")
    refused = cli("decide", "open-egress:egress", "accepted", "-j", "slipped to Q2", "-m", bot)
    assert refused.exit_code == 2 and "already has a decision (--replace records this one in its place)" in \
        refused.stderr
    result = cli("decide", "open-egress:egress", "accepted", "-j", "slipped to Q2", "--expires", "2099-04-01",
                 "-m", bot, "--replace")
    assert result.exit_code == 0, result.output
    assert "was: accepted — proxy next quarter (lapsed on 2026-06-01: open again)" in result.stdout
    assert not (bot / "tracking.yaml").exists()  # changed where it was
    found = {f["id"]: f for f in json.loads(cli("check", bot, "--format", "json").stdout)["findings"]}
    assert found["open-egress:egress"]["status"] == "accepted"
    assert found["open-egress:egress"]["decision"]["justification"] == "slipped to Q2"
    assert cli("decide", "lethal-trifecta:model", "accepted", "-j", "x", "-m", bot, "--replace").exit_code == 2
    with_to = cli("decide", "open-egress:egress", "accepted", "-j", "x", "-m", bot, "--replace", "--to", cloud)
    assert with_to.exit_code == 2 and "leave out --to" in with_to.stderr


@pytest.mark.parametrize(("line", "kept"), [(4, "b:y"), (9, "a:x")])
def test_an_entry_is_taken_out_and_nothing_else_moves(line, kept):
    after = without(TRACKED, line, "t.yaml")
    assert [e["finding"] for e in _entries(after)] == [kept]
    assert "  # agreed at the risk board\n" in after and after.endswith("# the end\n")
    # The last entry out: an empty list, which a manifest reads as no decision.
    other = next(i for i, text in enumerate(after.splitlines(), 1) if text.lstrip().startswith("- "))
    emptied = without(after, other, "t.yaml")
    assert "tracking: []\n" in emptied and parse_yaml(emptied, "t.yaml")["tracking"] == []


def test_decide_revoke_takes_a_decision_out_where_it_is(cli, tmp_path):
    bot = copy_example(SHOPBOT, tmp_path / "bot")
    cloud = bot / "cloud-team.yaml"
    party_file = cloud.read_text()
    cloud.write_text(party_file + "\ntracking:\n  - finding: open-egress:egress\n    decision: accepted\n"
                     "    justification: proxy next quarter\n")
    assert cli("decide", "speed-pressure:app-team", "mitigated", "-j", "review board", "-m", bot).exit_code == 0
    result = cli("decide", "open-egress:egress", "--revoke", "-m", bot)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["revoked: open-egress:egress — accepted — proxy next quarter",
                                          f"  from {cloud}:{party_file.count(chr(10)) + 3}: the finding is open again"]
    assert cloud.read_text() == party_file + "\ntracking: []\n"  # the party's own file, otherwise untouched
    found = {f["id"]: f["status"] for f in json.loads(cli("check", bot, "--format", "json").stdout)["findings"]}
    assert found["open-egress:egress"] == "open" and found["speed-pressure:app-team"] == "mitigated"

    def refused(*args: object) -> str:
        before = {p.name: p.read_text() for p in bot.iterdir()}
        result = cli("decide", *args)
        assert result.exit_code == 2, result.output
        assert {p.name: p.read_text() for p in bot.iterdir()} == before
        return result.stderr

    assert "'open-egress:egress' has no decision to revoke" in refused("open-egress:egress", "--revoke", "-m", bot)
    assert "did you mean 'speed-pressure:app-team'?" in refused("speed-presure:app-team", "--revoke", "-m", bot)
    assert "leave out DECISION, --justification, --expires" in refused(
        "speed-pressure:app-team", "accepted", "-j", "x", "--expires", "2099-01-01", "--revoke", "-m", bot)
    assert "say what was decided: accepted, mitigated, false-positive" in refused("speed-pressure:app-team", "-m", bot)
    # An entry others lean on (a YAML anchor used by the next) is put back when the rest cannot be read without it.
    (bot / "tracking.yaml").write_text(
        "tracking:\n  - {finding: 'speed-pressure:app-team', decision: mitigated, justification: &why review board}\n"
        "  - {finding: 'lethal-trifecta:model', decision: accepted, justification: *why}\n")
    assert "tracking.yaml" in refused("speed-pressure:app-team", "--revoke", "-m", bot)
