"""The manifest: every field loads, every error names file, line, column and what was expected."""

from __future__ import annotations

import subprocess
import sys

import pytest

from demarcate.builtin import examples_dir
from demarcate.model import load
from tests.conftest import BASE, SHOPBOT, at, problems_of


def test_shopbot_loads_with_every_party_component_and_claim():
    system = load([SHOPBOT])
    assert system.info.preset == "managed-model-api"
    assert set(system.parties) == {"model-provider", "app-team", "cloud-team"}
    assert system.components["reviews"].trust == "untrusted"
    assert system.components["send-email"].effects == ["send-external"]
    assert system.components["egress"].policy == "open"
    assert len(system.files) == 4
    relies = [c for c in system.claims if c.kind == "relies-on" and c.control == "APP-IN-03"]
    assert relies and relies[0].party == "app-team" and relies[0].relies_on == "model-provider"


def test_every_section_and_kind_attribute_round_trips(write):
    path = write("m.yaml", """
        version: 1
        system: {name: Full, description: every field, preset: self-hosted-open-weights}
        parties:
          - {id: p, role: model-provider, name: P, organisation: Org, description: d,
             security-review: true, ai-security-training: false}
          - {id: a, role: application-developer}
          - {id: d, role: deployer}
          - {id: o, role: orchestration-provider}
          - {id: i, role: infrastructure-operator}
        components:
          - {id: u, kind: user-input, owner: a, trust: internal, authenticated: true, audience: employees}
          - {id: m, kind: model, owner: p, hosting: self-hosted, family: f, version-pinned: true,
             safety-trained: false, fine-tuned: true}
          - {id: sp, kind: system-prompt, owner: a, contains-secrets: true, version-controlled: true}
          - {id: ds, kind: data-source, owner: a, trust: untrusted, content: web, writable-by: [anyone, d],
             sensitivity: personal}
          - {id: r, kind: retriever, owner: a, index: bm25, per-user-filtering: true}
          - {id: mem, kind: memory, owner: a, persistent: true, writable-by: [authenticated-users],
             shared-across-users: true, model-writable: true}
          - {id: t, kind: tool, owner: a, effects: [send-external, financial], credential: admin,
             confirmation: admin, self-configurable: true, output-trust: untrusted,
             destinations: [smtp.example, {host: relay.example, relays: true, note: open relay}]}
          - {id: out, kind: output-renderer, owner: a, format: html, images: true, links: true, raw-html: true,
             url-allowlist: [cdn.example]}
          - {id: rt, kind: runtime, owner: i, isolation: sandbox, hardened: true, agent-writable-config: true}
          - {id: eg, kind: network-egress, owner: i, policy: allowlist, allow: [api.example], monitored: true}
          - {id: idp, kind: identity, owner: i, mechanism: OIDC, per-user: false}
          - {id: log, kind: logging, owner: i, captures: [prompts, tool-calls], readable-by: [i, a],
             retention-days: 30}
          - {id: rl, kind: rate-limit, owner: i, scope: per-user, limit: 10/min}
          - {id: g, kind: guard, owner: o, screens: [retrieved-content], mode: flag}
        flows:
          - {from: ds, to: r, data: pages, description: crawl}
        controls:
          - {control: APP-IN-03, party: a, provides: partial, scope: [r], note: n,
             evidence: ["https://example.com/x", "test:inj-1", "design doc", {attestation: SOC 2}]}
          - {control: INF-NET-03, party: a, relies-on: i, assumption: egress is locked}
          - {control: MOD-EVAL-02, not-applicable: we do not publish models}
          - {control: ACME-AI-01, party: a, provides: planned}
        custom-controls:
          - id: ACME-AI-01
            title: Our own control
            layer: application
            applies-to: [tool]
            mitigates: [tool-misuse]
            references: {owasp-llm: [LLM06], atlas: [AML.M0029], aicm: [GRC-15], owasp-agentic: [ASI02]}
            verify: {evidence: [test], probes: [tool-misuse]}
        tracking:
          - {finding: "unowned-control:APP-OUT-04", decision: accepted, justification: low traffic,
             ticket: SEC-1, reviewer: rev, date: 2026-11-01}
    """)
    system = load([path])
    assert system.parties["p"].security_review is True
    assert system.components["t"].destinations[1].relays is True
    assert system.components["t"].destinations[0].host == "smtp.example"
    assert system.components["ds"].writable_by == ["anyone", "d"]
    ev = system.claims[0].evidence
    assert [e.kind for e in ev] == ["url", "test", "document", "attestation"]
    assert ev[1].ref == "inj-1"
    assert system.claims[2].kind == "not-applicable"
    assert "ACME-AI-01" in system.catalog.controls and "ACME-AI-01" in system.catalog.custom
    assert str(system.tracking[0].date) == "2026-11-01"
    assert system.position("component", "t").line == 20


def test_malformed_yaml_names_line_and_column(write):
    path = write("bad.yaml", "parties:\n  - {id: a, role: deployer\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:3:1: error: invalid YAML")


def test_a_tab_where_yaml_wants_spaces_says_so(write):
    path = write("tab.yaml", "version: 1\nsystem:\n\tname: x\n")
    (problem,) = problems_of(path)
    assert problem == f"{path}:3:1: error: invalid YAML: found character that cannot start any token " \
                      "(a tab: YAML indents with spaces)"


def test_duplicate_yaml_key_is_an_error_with_both_lines(write):
    path = write("dup.yaml", "version: 1\nsystem:\n  name: a\n  name: b\n")
    (problem,) = problems_of(path)
    assert problem == f"{path}:4:3: error: duplicate key 'name' (first defined at line 3)"


def test_nested_aliases_that_would_expand_to_millions_are_an_error(write):
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)]
    path = write("laughs.yaml", "\n".join(lines) + "\n")  # 9**9 values if built out
    # In a child process with a deadline: without the bound this would not end.
    proc = subprocess.run([sys.executable, "-m", "demarcate", "validate", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{path}:1:" in proc.stderr and "aliases expand to far more values than the file holds" in proc.stderr


def test_aliases_reused_as_written_load(write):
    path = write("reuse.yaml", BASE + """\
        controls:
          - {control: APP-IN-02, party: app, provides: implemented, scope: &front [chat]}
          - {control: APP-PRM-02, party: app, provides: partial, scope: *front}
          - {control: APP-IN-03, party: app, provides: planned, scope: *front}
        """.replace("        ", ""))
    system = load([path])
    assert [c.scope for c in system.claims] == [["chat"]] * 3


def test_a_system_without_a_name_is_called_after_its_file_or_folder(write, monkeypatch):
    body = BASE.replace("system: {name: Tiny bot}\n", "")
    monkeypatch.chdir(write("bot/support-bot.yaml", body).parent)  # a relative path, as typed
    assert load(["support-bot.yaml"]).info.name == "support-bot"
    write("bot/more.yaml", "tracking: []\n")
    assert load(["."]).info.name == "bot"


def test_wrong_type_names_field_and_expectation(write):
    path = write("m.yaml", BASE.replace("{id: chat, kind: user-input, owner: app}",
                                        "{id: chat, kind: user-input, owner: app, authenticated: maybe}"))
    (problem,) = problems_of(path)
    assert problem == f"{at(path, 7, 'maybe')}: error: components[0].authenticated: expected true or false, got 'maybe'"


def test_enum_value_outside_choices_suggests_nearest(write):
    path = write("m.yaml", BASE.replace("role: model-provider", "role: model-provder"))
    (problem,) = problems_of(path)
    assert problem.startswith(f"{at(path, 5, 'model-provder')}: error: parties[1].role: 'model-provder' is not allowed; expected one of:")
    assert problem.endswith("(did you mean 'model-provider'?)")


def test_unknown_field_suggests_the_field_meant(write):
    path = write("m.yaml", BASE.replace("{id: app, role: application-developer}",
                                        "{id: app, role: application-developer, securty-review: true}"))
    (problem,) = problems_of(path)
    assert problem == f"{at(path, 4, 'securty')}: error: unknown field 'securty-review' (did you mean 'security-review'?)"


def test_unknown_field_on_a_kind_lists_that_kinds_attributes(write):
    path = write("m.yaml", BASE.replace("{id: llm, kind: model, owner: vendor}",
                                        "{id: llm, kind: model, owner: vendor, effects: [write]}"))
    (problem,) = problems_of(path)
    assert problem.startswith(f"{at(path, 8, 'effects')}: error: unknown field 'effects' (allowed here:")
    assert "hosting" in problem and "safety-trained" in problem


def test_unquoted_comma_in_flow_mapping_gets_a_hint(write):
    path = write("m.yaml", BASE.replace("{from: chat, to: llm}", "{from: chat, to: llm, data: names, emails}"))
    (problem,) = problems_of(path)
    assert problem == (f"{at(path, 10, 'emails')}: error: unknown field 'emails' "
                       "(a comma inside {...} ends the value there: put text that contains commas in quotes)")


def test_unknown_component_kind_suggests_nearest(write):
    path = write("m.yaml", BASE.replace("kind: user-input", "kind: user-inputs"))
    (problem,) = problems_of(path)
    assert problem == f"{at(path, 7, 'user-inputs')}: error: unknown component kind 'user-inputs' (did you mean 'user-input'?)"


def test_missing_required_field(write):
    path = write("m.yaml", BASE + "  - {from: chat}\n")
    (problem,) = problems_of(path)
    assert problem == f"{at(path, 11, '{from')}: error: missing required field 'to'"


def test_missing_required_kind_attribute(write):
    path = write("m.yaml", BASE.replace("  - {id: llm, kind: model, owner: vendor}",
                                        "  - {id: llm, kind: model, owner: vendor}\n  - {id: e, kind: network-egress, owner: app}"))
    (problem,) = problems_of(path)
    assert problem == f"{at(path, 9, '{id: e')}: error: missing required field 'policy'"


def test_unknown_party_reference_suggests_nearest(write):
    path = write("m.yaml", BASE.replace("{id: chat, kind: user-input, owner: app}",
                                        "{id: chat, kind: user-input, owner: ap}"))
    (problem,) = problems_of(path)
    assert problem == f"{at(path, 7, 'ap}')}: error: unknown party 'ap' (did you mean 'app'?)"  # at the owner


def test_unknown_component_in_flow(write):
    path = write("m.yaml", BASE.replace("{from: chat, to: llm}", "{from: chat, to: lm}"))
    (problem,) = problems_of(path)
    assert problem == f"{at(path, 10, '{from')}: error: unknown component 'lm' (did you mean 'llm'?)"


def test_unknown_control_in_claim_suggests_catalog_id(write):
    path = write("m.yaml", BASE + "controls:\n  - {control: APP-IN-3, party: app, provides: implemented}\n")
    (problem,) = problems_of(path)
    assert problem == f"{at(path, 12, '{control')}: error: unknown control 'APP-IN-3' (did you mean 'APP-IN-03'?)"


def test_malformed_control_id_is_explained(write):
    path = write("m.yaml", BASE + "controls:\n  - {control: app-in-03, party: app, provides: implemented}\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{at(path, 12, 'app-in-03')}: error: controls[0].control: 'app-in-03' is not a valid identifier")
    assert "APP-IN-03" in problem


def test_claim_needs_exactly_one_kind(write):
    path = write("m.yaml", BASE + "controls:\n  - {control: APP-IN-03, party: app, provides: implemented, relies-on: vendor}\n")
    (problem,) = problems_of(path)
    assert problem == (f"{at(path, 12, '{control')}: error: controls[0]: a claim needs exactly one of "
                       "'provides', 'relies-on', 'not-applicable'")


def test_relies_on_needs_a_party(write):
    path = write("m.yaml", BASE + "controls:\n  - {control: APP-IN-03, relies-on: vendor}\n")
    (problem,) = problems_of(path)
    assert problem.endswith("a 'relies-on' claim needs 'party': who makes it")


def test_unknown_principal_in_writable_by(write):
    path = write("m.yaml", BASE.replace("  - {id: llm, kind: model, owner: vendor}",
                                        "  - {id: llm, kind: model, owner: vendor}\n"
                                        "  - {id: d, kind: data-source, owner: app, trust: untrusted, writable-by: [everyone]}"))
    (problem,) = problems_of(path)
    assert problem.startswith(f"{at(path, 9, '{id: d')}: error: unknown principal 'everyone' in writable-by of component 'd'")


def test_unknown_preset_suggests_nearest(write):
    path = write("m.yaml", BASE.replace("system: {name: Tiny bot}", "system: {name: Tiny bot, preset: managed-api}"))
    (problem,) = problems_of(path)
    assert problem == f"{at(path, 2, 'managed-api')}: error: unknown preset 'managed-api' (did you mean 'managed-model-api'?)"


def test_custom_control_may_not_shadow_catalog(write):
    path = write("m.yaml", BASE + "custom-controls:\n  - {id: APP-IN-03, title: mine, layer: application}\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{at(path, 12, '{id')}: error: custom control APP-IN-03 has the id of a built-in control")


def test_custom_control_with_unknown_kind_is_reported(write):
    path = write("m.yaml", BASE + "custom-controls:\n  - {id: ACME-X-01, title: mine, layer: application, applies-to: [toaster]}\n")
    (problem,) = problems_of(path)
    assert problem == f"{at(path, 12, '{id')}: error: control ACME-X-01 applies to unknown component kind 'toaster'"


@pytest.mark.parametrize(("when", "expected"), [
    # An attribute one of its kinds lacks: analysing the model would have read a tool's attribute.
    ("applies-to: [tool, model], applies-when: {environment: production}",
     "control ACME-X-01 applies when 'environment' is production, but kind 'model' has no attribute "
     "'environment' (list in applies-to only kinds that have it)"),
    # A misspelt name: the control would have applied nowhere, silently.
    ("applies-to: [model], applies-when: {hostng: self-hosted}",
     "control ACME-X-01 applies when 'hostng' is self-hosted, but kind 'model' has no attribute 'hostng' "
     "(did you mean 'hosting'?)"),
    ("applies-to: [model], applies-when: {hosting: selfhosted}",
     "control ACME-X-01 applies when 'hosting' is selfhosted, which 'hosting' of kind 'model' cannot be "
     "(expected one of: provider-api, cloud-platform, self-hosted)"),
    ("applies-to: [model], applies-when: {fine-tuned: 'yes'}",
     "control ACME-X-01 applies when 'fine-tuned' is yes, which 'fine-tuned' of kind 'model' cannot be "
     "(expected a bool)"),
    ("applies-to: [tool], applies-when: {effects: [write]}",
     "control ACME-X-01 applies when 'effects' is ['write'], but 'effects' of kind 'tool' is a list "
     "(enum-list): applies-when compares one value"),
    ("applies-when: {hosting: self-hosted}",
     "control ACME-X-01 has applies-when but no applies-to (name the component kinds whose attributes it reads)"),
])
def test_custom_control_applies_when_is_checked_against_its_kinds(write, when, expected):
    path = write("m.yaml", BASE + f"custom-controls:\n  - {{id: ACME-X-01, title: mine, layer: application, {when}}}\n")
    (problem,) = problems_of(path)
    assert problem == f"{at(path, 12, '{id')}: error: {expected}"


def test_custom_control_applies_when_selects_its_components(write):
    path = write("m.yaml", BASE.replace("  - {id: llm, kind: model, owner: vendor}\n",
                                        "  - {id: llm, kind: model, owner: vendor}\n"
                                        "  - {id: own, kind: model, owner: app, hosting: self-hosted}\n")
                 + "custom-controls:\n  - {id: ACME-X-01, title: mine, layer: infrastructure, plane: model-serving, applies-to: [model], "
                   "applies-when: {hosting: self-hosted}}\n")
    from demarcate.analysis.responsibility import Responsibilities

    assert Responsibilities(load([path]))["ACME-X-01"].protected == ("own",)


def test_file_that_is_not_a_mapping(write):
    path = write("m.yaml", "- just\n- a list\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:1:1: error: a manifest file must be a mapping")


def test_missing_path_and_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    problems = problems_of(tmp_path / "nope.yaml", tmp_path / "empty")
    assert f"{tmp_path / 'nope.yaml'}: error: no such file or folder" in problems
    assert f"{tmp_path / 'empty'}: error: folder holds no .yaml or .yml manifest files" in problems


def test_every_problem_in_a_file_is_reported_at_once(write):
    path = write("m.yaml", BASE.replace("owner: app}", "owner: nobody1}").replace("owner: vendor}", "owner: nobody2}"))
    problems = problems_of(path)
    assert len(problems) == 2
    assert all(p.startswith(f"{path}:") for p in problems)


# --- merging several files -----------------------------------------------------------------


def test_files_merge_and_identical_repeats_are_kept_once(write):
    a = write("a.yaml", BASE)
    b = write("b.yaml", """
        parties:
          - {id: app, role: application-developer}
          - {id: infra, role: infrastructure-operator}
        components:
          - {id: eg, kind: network-egress, owner: infra, policy: open}
    """)
    system = load([a, b])
    assert set(system.parties) == {"app", "vendor", "infra"}
    assert system.position("party", "infra").file == str(b)


def test_merge_conflict_names_both_places(write):
    a = write("a.yaml", BASE)
    b = write("b.yaml", "parties:\n  - {id: app, role: deployer}\n")
    (problem,) = problems_of(a, b)
    assert problem == f"{at(b, 2, '{id')}: error: party 'app' is defined differently in two places (also defined at {at(a, 4, '{id')})"


def test_system_fields_conflicting_across_files(write):
    a = write("a.yaml", BASE)
    b = write("b.yaml", "system: {name: Other bot}\n")
    (problem,) = problems_of(a, b)
    assert problem == f"{at(b, 1, 'Other')}: error: system.name is set differently in two files (also set at {at(a, 2, 'Tiny')})"


def test_merge_order_does_not_depend_on_argument_order(write):
    a = write("a.yaml", BASE)
    b = write("b.yaml", "parties:\n  - {id: z, role: deployer}\n")
    assert list(load([a, b]).parties) == list(load([b, a]).parties)


EXAMPLES = sorted(p.name for p in examples_dir().iterdir() if p.is_dir() and not p.name.startswith("_"))


def test_the_documented_examples_exist():
    assert {"shopbot", "coding-agent", "enterprise-assistant"} <= set(EXAMPLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_validate(name):
    system = load([examples_dir() / name])
    assert system.components and system.parties and system.claims


def test_yaml_1_2_scalars_and_explicit_string_tags():
    from demarcate.model.yamlio import parse_yaml

    data = parse_yaml("a: yes\nb: 0o17\nc: !!str 5\nd: 5\ne: ~\nf: 'true'\ng: True\n", "t.yaml")
    assert data == {"a": "yes", "b": 15, "c": "5", "d": 5, "e": None, "f": "true", "g": True}


@pytest.mark.parametrize("value", ["&n " + "1" * 5000, "0x" + "f" * 5000, "9" * 5000, "&n " + "9" * 5000])
def test_a_number_longer_than_python_reads_is_an_error_or_text_never_a_traceback(write, cli, value):
    # Python refuses to read or write more than 4,300 decimal digits; an anchor sends the file the
    # reference parser's way, a hexadecimal one reads fine and then cannot be printed.
    path = write("big.yaml", "version: 1\nsystem: {name: x}\nparties: [{id: a, role: deployer}]\n"
                             f"components: [{{id: r, kind: logging, owner: a, retention-days: {value}}}]\n")
    result = cli("validate", path)
    assert result.exit_code in (0, 2) and "Traceback" not in result.output and "ValueError" not in result.output
    if result.exit_code == 2:
        assert f"{path}:4:" in result.output and "retention-days" in result.output


EIGHT_MISTAKES = """\
version: 1
system:
  name: test
  preset: managed-model-apii
parties:
  - id: app
    role: application-developer
  - id: vendor
    role: model-provder
components:
  - id: chat
    kind: user-input
    owner: app
    authenticated: maybe
  - id: llm
    kind: modle
    owner: vendor
  - id: mail
    kind: tool
    owner: nobody
    effects: [send-externall]
  - id: mail
    kind: tool
    owner: app
flows:
  - {from: chat, to: llm}
  - {from: llm, to: mial}
controls:
  - control: APP-TOOL-99
    party: app
    provides: implemented
  - control: APP-TOOL-02
    party: ghost
    provides: yes
"""


def test_every_problem_of_a_file_is_reported_in_one_pass(write):
    """Shape errors and reference errors together: fixing what one run reports never brings a
    second wave to light. An item that fails validation still has its references checked, and a
    name defined by an invalid item is not reported unknown as well."""
    path = write("m.yaml", EIGHT_MISTAKES)
    found = problems_of(path)
    expected = [
        (4, "managed-model-apii", "unknown preset 'managed-model-apii' (did you mean 'managed-model-api'?)"),
        (9, "model-provder", "parties[1].role: 'model-provder' is not allowed"),
        (14, "maybe", "components[0].authenticated: expected true or false, got 'maybe'"),
        (16, "modle", "unknown component kind 'modle' (did you mean 'model'?)"),
        (18, "id: mail", "component 'mail' is defined differently in two places (also defined at"),
        (20, "nobody", "unknown party 'nobody' (known: app, vendor)"),
        (21, "send-externall", "components[2].effects[0]: 'send-externall' is not allowed"),
        (27, "{from", "unknown component 'mial' (did you mean 'mail'?)"),
        (29, "control", "unknown control 'APP-TOOL-99' (did you mean 'APP-TOOL-07'?)"),
        (33, "ghost", "unknown party 'ghost' (known: app, vendor)"),
        (34, "yes", "controls[1].provides: 'yes' is not allowed"),
    ]
    assert len(found) == len(expected), "\n".join(found)
    for (line, needle, message), problem in zip(expected, sorted(found, key=lambda p: int(p.split(":")[1])),
                                                 strict=True):
        assert problem.startswith(f"{at(path, line, needle)}: error: {message}"), problem
    # 'vendor' fails validation: the model it owns is not reported as owned by an unknown party.
    assert not any("unknown party 'vendor'" in p for p in found)
