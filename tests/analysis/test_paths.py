"""Path enumeration: sources, impacts, bounds, and what closes a path."""

from __future__ import annotations

import copy
import json

from benchmarks.check_dense import dense
from benchmarks.check_portfolio import portfolio

from demarcate.analysis.context import Context
from demarcate.analysis.leverage import leverage
from demarcate.analysis.paths import Bounds, analyse_paths
from demarcate.model import load
from demarcate.model.yamlio import dump_yaml
from tests.analysis.rules.conftest import Bot


def _ctx(tmp_path, bot: Bot) -> Context:
    from demarcate.model.yamlio import dump_yaml

    path = tmp_path / "m.yaml"
    path.write_text(dump_yaml(bot.doc()))
    return Context(load([path]))


def test_tool_output_and_shared_memory_are_sources(tmp_path):
    bot = Bot()
    bot.add({"id": "web", "kind": "tool", "owner": "app", "effects": ["read-public"], "output-trust": "untrusted"},
            ("llm", "web"), ("web", "llm"))
    bot.add({"id": "mem", "kind": "memory", "owner": "app", "shared-across-users": True, "persistent": True},
            ("mem", "llm"), ("llm", "mem"))
    ids = {p.id for p in _ctx(tmp_path, bot).paths.paths}
    assert "web>llm>mail>out" in ids
    assert "mem>llm>mail>out" in ids
    assert "reviews>rag>llm>mem" in ids  # a planted instruction written into memory others read


def test_a_path_that_comes_back_to_its_source_ends_there(tmp_path):
    """Memory anyone writes, read by the model, which writes it back: the path ends at the write.
    The user who reads that memory and writes it again starts no second lap of the same path."""
    doc = {"version": 1, "system": {"name": "loop"},
           "parties": [{"id": "p", "role": "application-developer"}],
           "components": [{"id": "llm", "kind": "model", "owner": "p"},
                          {"id": "chat", "kind": "user-input", "owner": "p"},
                          {"id": "mem", "kind": "memory", "owner": "p", "persistent": True, "writable-by": ["anyone"]}],
           "flows": [{"from": "mem", "to": "llm"}, {"from": "llm", "to": "mem"}, {"from": "chat", "to": "llm"},
                     {"from": "chat", "to": "mem"}, {"from": "mem", "to": "chat"}]}
    path = tmp_path / "m.yaml"
    path.write_text(dump_yaml(doc))
    ids = {p.id for p in Context(load([path])).paths.paths}
    assert "mem>llm>mem" in ids and "mem>llm>mem>chat>mem" not in ids
    assert all(len(set(p.split(">")[1:])) == len(p.split(">")) - 1 for p in ids)


def test_user_cannot_attack_their_own_renderer(tmp_path):
    bot = Bot().add({"id": "ui", "kind": "output-renderer", "owner": "app", "images": True}, ("llm", "ui"))
    ids = {p.id for p in _ctx(tmp_path, bot).paths.paths}
    assert "reviews>rag>llm>ui" in ids and "chat>llm>ui" not in ids


def test_enumeration_is_bounded_and_says_so(tmp_path):
    bot = Bot()
    # a dense mesh of retrievers between the reviews and the model: exponentially many routes
    mesh = [f"r{i}" for i in range(14)]
    for r in mesh:
        bot.add({"id": r, "kind": "retriever", "owner": "app"}, ("reviews", r), (r, "llm"))
    for a in mesh:
        for b in mesh:
            if a != b:
                bot.flows.append({"from": a, "to": b})
    ctx = _ctx(tmp_path, bot)
    result = analyse_paths(ctx, Bounds(per_source=50))
    assert result.bounded
    assert any("further paths from it exist" in n for n in result.notes)
    from_reviews = [p.id for p in result.paths if p.source == "reviews"]
    assert len(from_reviews) <= 50
    # Breadth-first: what the bound leaves out are the longest routes, never the shortest.
    assert "reviews>rag>llm>mail>out" in from_reviews
    assert {f"reviews>{r}>llm>mail>out" for r in mesh} <= set(from_reviews)
    assert from_reviews == sorted(from_reviews, key=lambda i: tuple(i.split(">")))  # listed in order of steps


def _dense(tmp_path, n: int) -> Context:
    path = tmp_path / "dense.yaml"
    path.write_text(dump_yaml(dense(n)))
    return Context(load([path]))


def test_a_dense_graph_is_cut_to_the_bounds_with_every_source_searched(tmp_path):
    ctx = _dense(tmp_path, 120)  # 120 components, 960 flows: far more simple paths than can be listed
    bounds = Bounds(least_paths=600, least_steps=20_000)
    result = analyse_paths(ctx, bounds)
    assert result.bounded and result.limits == {"depth": 12, "paths": 600, "per_source": 500, "steps": 20_000}
    assert 0 < len(result.paths) <= 600
    sources = {c for c in ctx.system.components if ctx.is_untrusted_source(c)}
    # Each source got its share: none was left out because earlier ones took the budget.
    assert {p.source for p in result.paths} == sources
    note = next(n for n in result.notes if "sources" in n)
    assert f"of {len(sources)} sources" in note and "600 paths" in note and "20,000 search steps" in note
    # No one route's endings take a source's whole share.
    for source in sources:
        routes = {p.steps[:p.steps.index(p.impact) if p.impact in p.steps[1:-1] else -1] for p in result.paths
                  if p.source == source}
        assert len(routes) > 1


def test_sources_that_need_less_leave_their_share_to_those_that_need_more(tmp_path):
    bot = Bot()
    # One source with many routes (through ten retrievers), and the chat with one.
    for i in range(10):
        bot.add({"id": f"r{i}", "kind": "retriever", "owner": "app"}, ("reviews", f"r{i}"), (f"r{i}", "llm"))
    ctx = _ctx(tmp_path, bot)
    every = analyse_paths(ctx)
    assert not every.bounded
    need = sum(1 for p in every.paths if p.source == "reviews")
    # A budget below twice the larger need: an equal split would cut the reviews short; the
    # second round gives them what the chat left.
    tight = analyse_paths(ctx, Bounds(least_paths=len(every.paths), paths_per_component=0))
    assert need > len(every.paths) / 2
    assert not tight.bounded and [p.id for p in tight.paths] == [p.id for p in every.paths]
    tighter = analyse_paths(ctx, Bounds(least_paths=len(every.paths) - 1, paths_per_component=0))
    assert tighter.bounded and len(tighter.paths) == len(every.paths) - 1


def test_a_portfolio_of_ordinary_applications_stays_within_the_bounds(tmp_path):
    path = tmp_path / "portfolio.yaml"
    path.write_text(dump_yaml(portfolio(1_000)))
    ctx = Context(load([path]))
    result = analyse_paths(ctx)
    unbounded = analyse_paths(ctx, Bounds(paths_per_component=10_000, steps_per_element=10_000))
    assert not result.bounded and not unbounded.bounded
    assert [p.id for p in result.paths] == [p.id for p in unbounded.paths]


def test_leverage_is_exact_when_small_and_greedy_beyond_the_budget(tmp_path, monkeypatch):
    ctx = _ctx(tmp_path, Bot())
    exact = leverage(ctx, ctx.paths.paths)
    assert exact.exact and exact.closes == exact.open_paths == 2
    assert len(exact.fix) == 1  # one control on the mail tool closes both paths
    import demarcate.analysis.leverage as lev

    monkeypatch.setattr(lev, "EXACT_NODE_BUDGET", 0)
    approx = leverage(ctx, ctx.paths.paths)
    assert not approx.exact and approx.closes == 2 and approx.fix


def test_side_effect_tool_path_is_closed_at_the_application_layer(tmp_path):
    bot = Bot().drop("mail", "out", "chat")
    bot.add({"id": "pay", "kind": "tool", "owner": "app", "effects": ["financial"]}, ("llm", "pay"))
    ctx = _ctx(tmp_path, bot)
    (path,) = ctx.paths.paths
    assert path.id == "reviews>rag>llm>pay" and path.impact_kind == "side-effect"
    lev = leverage(ctx, ctx.paths.paths)
    assert lev.by_layer == {"model": 0, "application": 1, "infrastructure": 0, "usage": 0}
    assert lev.unclosable == [] and len(lev.fix) == 1 and lev.fix[0].startswith("APP-")


def test_a_gap_on_one_teams_component_falls_to_that_team_not_to_every_claimer(tmp_path):
    # Two application teams; only "shop" claims the email gate, and only for its own tool.
    bot = Bot()
    bot.parties.append({"id": "shop", "role": "application-developer"})
    bot.add({"id": "shopmail", "kind": "tool", "owner": "shop", "effects": ["send-external"], "confirmation": "user"},
            ("llm", "shopmail"), ("shopmail", "out"))
    bot.provides("APP-TOOL-02", party="shop")
    ctx = _ctx(tmp_path, bot)
    assert ctx.state("APP-TOOL-02", "shopmail").state == "implemented"
    gap = ctx.state("APP-TOOL-02", "mail")
    assert gap.state == "missing" and gap.parties == ("app",)
    path = next(p for p in ctx.paths.paths if p.id == "reviews>rag>llm>mail>out")
    gate = next(c for c in path.controls if c.id == "APP-TOOL-02")
    assert gate.parties == ("app",)


def test_the_fix_names_the_teams_whose_paths_it_closes_not_every_team_it_could_fall_to(tmp_path):
    # Two application teams; every open path is app's, so app alone acts on the fix, although the
    # preset puts application-layer controls on both teams.
    bot = Bot().drop("out")
    bot.parties.append({"id": "shop", "role": "application-developer"})
    bot.add({"id": "shoprag", "kind": "retriever", "owner": "shop"}, ("reviews", "shoprag"), ("shoprag", "llm"))
    bot.provides("APP-IN-03", party="shop")
    ctx = _ctx(tmp_path, bot)
    lev = leverage(ctx, ctx.paths.paths)
    assert lev.fix and {p.impact for p in ctx.paths.open_paths} == {"mail"}
    assert all(ctx.resp[c].responsible == ("app", "shop") for c in lev.fix)
    assert all(lev.responsible[c] == ["app"] for c in lev.fix)


def test_flow_graph_reachability_follows_direction_and_survives_cycles():
    from demarcate.analysis.graph import FlowGraph

    g = FlowGraph("abcde", [("a", "b"), ("b", "c"), ("c", "b"), ("c", "d"), ("a", "b")])
    assert g.successors("a") == ["b"] and g.predecessors("b") == ["a", "c"]
    assert g.descendants("a") == {"b", "c", "d"} and g.descendants("b") == {"c", "d"}
    assert g.ancestors("d") == {"a", "b", "c"} and g.ancestors("a") == set() and g.descendants("e") == set()


def test_an_unscoped_claim_on_a_vendors_model_covers_the_models_the_team_talks_to(tmp_path):
    # Two teams, each with its own chat into its own vendor-hosted model; only "shop" runs a guard.
    bot = Bot()
    bot.parties.append({"id": "shop", "role": "application-developer"})
    bot.add({"id": "shopchat", "kind": "user-input", "owner": "shop"}, ("shopchat", "shopllm"))
    bot.add({"id": "shopllm", "kind": "model", "owner": "vendor"})
    bot.provides("APP-GRD-01", party="shop")
    ctx = _ctx(tmp_path, bot)
    assert ctx.state("APP-GRD-01", "shopllm").state == "implemented"
    assert ctx.state("APP-GRD-01", "llm").state == "missing"
    # A party that owns nothing next to any model still covers them all, as before.
    bot.controls = [{"control": "APP-GRD-01", "party": "infra", "provides": "implemented"}]
    ctx = _ctx(tmp_path, bot)
    assert ctx.state("APP-GRD-01", "llm").state == "implemented"


def test_a_control_on_several_hops_keeps_its_best_state_and_every_hop(tmp_path):
    # The model calls the email tool, which hands mail to a relay tool. The tool restriction acts on
    # both tools: planned on the first, in place on the relay.
    bot = Bot()
    bot.parties.append({"id": "shop", "role": "application-developer"})
    bot.add({"id": "web", "kind": "tool", "owner": "app", "effects": ["read-public"], "output-trust": "untrusted"},
            ("web", "llm"))
    bot.add({"id": "relay", "kind": "tool", "owner": "shop", "effects": ["send-external"]}, ("mail", "relay"))
    bot.provides("APP-TOOL-05", status="planned", scope=["mail"])
    bot.provides("APP-TOOL-05", party="shop", scope=["relay"])
    paths = {p.id: p for p in _ctx(tmp_path, bot).paths.paths}
    gate = next(c for c in paths["web>llm>mail>relay"].controls if c.id == "APP-TOOL-05")
    assert gate.components == ("mail", "relay") and gate.status == "implemented" and gate.closes
    assert gate.parties == ("shop",) and not paths["web>llm>mail>relay"].open
    # The restriction acts where tools are called, not on the tool whose output brought the text in.
    assert all("web" not in c.components for c in paths["web>llm>mail>relay"].controls if c.id == "APP-TOOL-05")
    # The same control on two hops before the model (reviews, then the retriever) lists both.
    rag = [c for c in paths["reviews>rag>llm>mail>out"].controls if c.id == "APP-IN-03"]
    assert [c.components for c in rag] == [("reviews", "rag")]
    # ... and each path's list names a control once, in the order its hops meet it.
    for path in paths.values():
        ids = [c.id for c in path.controls]
        assert len(ids) == len(set(ids))


# The start of a small manifest a test writes: a user's chat and the model it talks to.
CHAT_AND_MODEL = """\
        version: 1
        system: {name: bot}
        parties: [{id: app, role: application-developer}, {id: vendor, role: model-provider}]
        components:
          - {id: chat, kind: user-input, owner: app}
          - {id: llm, kind: model, owner: vendor}
"""


def test_a_content_component_left_out_of_every_flow_is_warned_about(cli, write):
    path = write("bot.yaml", CHAT_AND_MODEL + """\
          - {id: mail, kind: tool, owner: app, effects: [send-external]}
          - {id: reviews, kind: data-source, owner: app, trust: untrusted, content: reviews}
          - {id: out, kind: network-egress, owner: app, policy: open}
          - {id: box, kind: runtime, owner: app}
        flows:
          - {from: chat, to: llm}
          - {from: llm, to: mail}
        """)
    expected = (f"{path}:8:5: warning: reviews (data-source) has no flow in or out, so no attack path passes "
                "through it (add the flows that carry its content, or remove it)")
    # Only the review store: egress waits for a tool to use it, and a runtime carries no content.
    assert json.loads(cli("validate", path, "--format", "json").stdout)["warnings"] == [expected]
    assert json.loads(cli("check", path, "--format", "json").stdout)["warnings"] == [expected]
    assert expected in cli("check", path).output
    connected = write("connected.yaml", path.read_text().replace(
        "  - {from: llm, to: mail}", "  - {from: llm, to: mail}\n  - {from: reviews, to: llm}"))
    assert json.loads(cli("validate", connected, "--format", "json").stdout)["warnings"] == []


def _two_models(sends_as_user: str) -> Bot:
    """The tool-using agent reads only what its user types; a second model summarises reviews into a
    chat view whose buttons send on, as the user's next message, what the model wrote."""
    bot = Bot()
    bot.flows = [f for f in bot.flows if f["from"] != "rag"]
    return bot.add({"id": "summariser", "kind": "model", "owner": "vendor"}, ("rag", "summariser")).add(
        {"id": "view", "kind": "output-renderer", "owner": "app", "images": True, "sends-as-user": sends_as_user},
        ("summariser", "view"), ("view", "chat"))


def test_a_button_that_sends_the_models_words_as_the_user_carries_an_injection_past_the_user(tmp_path):
    paths = {p.id: p for p in _ctx(tmp_path, _two_models("markup")).paths.paths}
    laundered = paths["reviews>rag>summariser>view>chat>llm>mail>out"]
    assert laundered.needs_click and laundered.source == "reviews"
    # The image the view loads by itself is a way out with no click.
    assert not paths["reviews>rag>summariser>view"].needs_click
    at_view = {c.id: c for c in laundered.controls if c.components == ("view",)}
    # Only encoding the answer takes a button written in its markup away: an allowlist of image hosts
    # says nothing about what a click sends.
    assert set(at_view) == {"APP-OUT-01"} and at_view["APP-OUT-01"].could_close
    # The text then arrives as typed input, which input screening reads (and only lowers the odds).
    assert "APP-IN-02" in {c.id for c in laundered.controls if c.components == ("chat",)}
    # The user clicked but did not write it: their approval of the mail still counts.
    bot = _two_models("markup").set("mail", confirmation="user")
    assert {p.id: p for p in _ctx(tmp_path, bot).paths.paths}["reviews>rag>summariser>view>chat>llm>mail>out"].state \
        == "closed"


def test_suggested_replies_are_not_closed_by_encoding_the_answer(tmp_path):
    ctx = _ctx(tmp_path, _two_models("suggestions").provides("APP-OUT-01", scope=["view"]))
    laundered = {p.id: p for p in ctx.paths.paths}["reviews>rag>summariser>view>chat>llm>mail>out"]
    assert laundered.open and laundered.needs_click
    assert not [c for c in laundered.controls if c.components == ("view",)]
    markup = _ctx(tmp_path, _two_models("markup").provides("APP-OUT-01", scope=["view"]))
    assert {p.id: p for p in markup.paths.paths}["reviews>rag>summariser>view>chat>llm>mail>out"].state == "closed"


def test_a_finding_on_a_laundered_path_says_how_the_words_became_the_users(tmp_path):
    from demarcate.analysis.check import analyse

    ctx = _ctx(tmp_path, _two_models("markup"))
    finding = next(f for f in analyse(ctx.system).findings
                   if f.id == "open-attack-path:reviews>rag>summariser>view>chat>llm>mail>out")
    assert "with a click" in finding.explanation
    assert "view sends the model's words to chat as the user's next message when clicked" in finding.explanation
    assert "may send other words than it shows" in finding.explanation
    direct = _ctx(tmp_path, Bot())
    assert all("next message" not in f.explanation for f in analyse(direct.system).findings)


def test_a_gate_that_lasts_a_turn_does_not_hold_past_a_click_that_starts_the_next(tmp_path):
    """Tools withheld for the rest of the turn once the model has read the planted review (APP-TOOL-05):
    where the same model's answer carries buttons that send its words on as the user's next message,
    the injection goes into a turn of its own, where the mail tool is offered again."""
    bot = Bot().provides("APP-TOOL-05", scope=["mail"])
    assert {p.id: p for p in _ctx(tmp_path, bot).paths.paths}["reviews>rag>llm>mail>out"].state == "closed"
    bot.add({"id": "view", "kind": "output-renderer", "owner": "app", "sends-as-user": "markup"},
            ("llm", "view"), ("view", "chat"))
    path = {p.id: p for p in _ctx(tmp_path, bot).paths.paths}["reviews>rag>llm>mail>out"]
    assert path.open and path.needs_click  # open only through the click
    gate = next(c for c in path.controls if c.id == "APP-TOOL-05")
    assert not gate.closes and "crosses into a turn of its own, where mail is offered again" in gate.void
    # The user who types the attack sets the gate off no more than they would without the buttons: it waits
    # for content the application took in, and their own path is open whatever the click does.
    own = {p.id: p for p in _ctx(tmp_path, bot).paths.paths}["chat>llm>mail>out"]
    assert own.open and not own.needs_click and "APP-TOOL-05" not in {c.id for c in own.controls}
    # Encoding the answer takes its buttons away: no click starts the next turn, and the gate holds.
    encoded = copy.deepcopy(bot).provides("APP-OUT-01", scope=["view"])
    assert {p.id: p for p in _ctx(tmp_path, encoded).paths.paths}["reviews>rag>llm>mail>out"].state == "closed"
    # A gate that holds whatever the turn (a person's approval) still closes it.
    bot.set("mail", confirmation="admin")
    assert {p.id: p for p in _ctx(tmp_path, bot).paths.paths}["reviews>rag>llm>mail>out"].state == "closed"


def test_a_gate_a_prompt_provides_is_open_without_a_click(tmp_path):
    """Tools 'withheld' by a system prompt close nothing within the turn either: the path is open as it
    stands, not only through the click, and what keeps it open is the prompt, not the turn."""
    bot = Bot().provides("APP-TOOL-05", scope=["mail"], by="prompt")
    bot.add({"id": "view", "kind": "output-renderer", "owner": "app", "sends-as-user": "markup"},
            ("llm", "view"), ("view", "chat"))
    path = {p.id: p for p in _ctx(tmp_path, bot).paths.paths}["reviews>rag>llm>mail>out"]
    assert path.open and not path.needs_click
    gate = next(c for c in path.controls if c.id == "APP-TOOL-05")
    assert not gate.void and "asks a model to tell instructions from data" in gate.reason and gate.reduces


def test_a_flow_from_a_renderer_to_a_users_input_without_saying_how_is_warned_about(cli, write):
    path = write("bot.yaml", CHAT_AND_MODEL + """\
          - {id: view, kind: output-renderer, owner: app}
          - {id: panel, kind: output-renderer, owner: app, sends-as-user: markup}
        flows:
          - {from: chat, to: llm}
          - {from: llm, to: view}
          - {from: llm, to: panel}
          - {from: view, to: chat}
        """)
    unsaid = (f"{path}:7:5: warning: a flow takes what view shows to a user's input, but view does not say how: it "
              "is taken as suggested replies, which nothing at the renderer stops (say how on 'view': sends-as-user: "
              "markup (buttons or forms in the answer, which encoding takes away) or suggestions (suggested replies "
              "the application offers); or remove the flow)")
    nowhere = (f"{path}:8:5: warning: panel sends what it shows on as the user's message (sends-as-user), but no flow "
               "goes from it to a user-input (add the flow to the input its messages arrive at, so that paths go "
               "through the click)")
    result = cli("validate", path, "--format", "json")
    assert result.exit_code == 0 and json.loads(result.stdout)["warnings"] == [unsaid, nowhere]
    assert json.loads(cli("check", path, "--format", "json").stdout)["warnings"] == [unsaid, nowhere]
    said = write("said.yaml", path.read_text().replace(
        "kind: output-renderer, owner: app}", "kind: output-renderer, owner: app, sends-as-user: suggestions}").replace(
        "  - {from: view, to: chat}", "  - {from: view, to: chat}\n  - {from: panel, to: chat}"))
    assert json.loads(cli("validate", said, "--format", "json").stdout)["warnings"] == []


def test_a_renderer_that_does_not_say_how_it_sends_on_is_credited_with_nothing(tmp_path):
    bot = _two_models("none").provides("APP-OUT-01", scope=["view"])
    laundered = {p.id: p for p in _ctx(tmp_path, bot).paths.paths}["reviews>rag>summariser>view>chat>llm>mail>out"]
    assert laundered.open and laundered.needs_click
    assert not [c for c in laundered.controls if c.components == ("view",)]


def test_the_report_marks_a_path_that_needs_a_click(tmp_path, cli):
    from demarcate.model.yamlio import dump_yaml

    path = tmp_path / "m.yaml"
    path.write_text(dump_yaml(_two_models("markup").doc()))
    page = tmp_path / "r.html"
    assert cli("report", path, "--format", "html", "-o", page).exit_code == 0
    html = page.read_text()
    laundered = html[html.index('data-path="reviews&gt;rag&gt;summariser&gt;view&gt;chat&gt;llm&gt;mail&gt;out"'):]
    assert laundered[:laundered.index("</button>")].endswith('<span class="badge click">needs a click</span>')
    direct = html[html.index('data-path="chat&gt;llm&gt;mail&gt;out"'):]
    assert "needs a click" not in direct[:direct.index("</button>")]


def test_a_gate_set_off_by_outside_content_does_not_close_a_users_own_path(tmp_path):
    """APP-TOOL-05 waits for something the application took in: a shopper asking for the mail themselves
    never sets it off. A custom control says the same with `triggered-by: outside-content`."""
    bot = Bot().provides("APP-TOOL-05", scope=["mail"])
    paths = {p.id: p for p in _ctx(tmp_path, bot).paths.paths}
    assert paths["reviews>rag>llm>mail>out"].closed_by == ("APP-TOOL-05",)
    assert paths["chat>llm>mail>out"].open and "APP-TOOL-05" not in {c.id for c in paths["chat>llm>mail>out"].controls}

    doc = Bot().provides("X-QUARANTINE-01", scope=["mail"]).doc()
    doc["custom-controls"] = [{"id": "X-QUARANTINE-01", "title": "Mail tool off once a page was read",
                               "layer": "application", "applies-to": ["tool"], "mitigates": ["tool-misuse"],
                               "triggered-by": "outside-content"}]
    (tmp_path / "custom.yaml").write_text(dump_yaml(doc))
    paths = {p.id: p for p in Context(load([tmp_path / "custom.yaml"])).paths.paths}
    assert paths["reviews>rag>llm>mail>out"].closed_by == ("X-QUARANTINE-01",)
    assert paths["chat>llm>mail>out"].open
    # Without it, the same control is what the user's path needs too.
    del doc["custom-controls"][0]["triggered-by"]
    (tmp_path / "custom.yaml").write_text(dump_yaml(doc))
    paths = {p.id: p for p in Context(load([tmp_path / "custom.yaml"])).paths.paths}
    assert paths["chat>llm>mail>out"].closed_by == ("X-QUARANTINE-01",)


def test_a_file_the_agent_writes_that_something_then_runs_is_code_execution(tmp_path):
    """A coding agent's editor writes a hook script (or an MCP server entry) that a runner starts with
    no one asking: the path does its harm where the code runs. A check on the runner does not vouch for
    the editor, nor the editor's for the runner; a gate at the runner still stops the run."""
    bot = Bot().add({"id": "editor", "kind": "tool", "owner": "app", "effects": ["write", "configure"],
                     "self-configurable": True},
                    ("llm", "editor")).add({"id": "runner", "kind": "tool", "owner": "app",
                                            "effects": ["execute-code"]}, ("editor", "runner"))
    path = {p.id: p for p in _ctx(tmp_path, bot).paths.paths}["reviews>rag>llm>editor>runner"]
    assert path.open and path.impact_kind == "code-execution" and path.acted_on == "runner"
    on = {c.id: c.components for c in path.controls}
    assert on["APP-TOOL-07"] == ("editor",)  # the runner keeps no settings of its own: no stop for the writing
    assert on["APP-TOOL-04"] == ("runner",)  # sandboxing is about code that runs, not a file written
    bot.set("runner", confirmation="admin")
    assert {p.id: p for p in _ctx(tmp_path, bot).paths.paths}["reviews>rag>llm>editor>runner"].state == "closed"
    # A write that goes on to a record read later is still the write's path.
    bot.add({"id": "notes", "kind": "memory", "owner": "app", "persistent": True}, ("editor", "notes"))
    notes = {p.id: p for p in _ctx(tmp_path, bot).paths.paths}["reviews>rag>llm>editor>notes"]
    assert notes.impact_kind == "side-effect" and notes.acted_on == "editor"
