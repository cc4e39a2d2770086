"""The lab's configuration: which controls are on, which model answers, where traffic may go."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from demarcate.model.errors import ManifestError, Problem, did_you_mean
from demarcate.model.validate import validate
from demarcate.model.yamlio import locate, read_yaml


class Switch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    control: str
    party: str
    default: bool
    does: str


class SwitchesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    switches: dict[str, Switch]


@functools.cache
def switches() -> dict[str, Switch]:
    path = Path(str(resources.files("demarcate.lab"))) / "switches.yaml"
    return validate(SwitchesFile, read_yaml(path, "<demarcate>/lab/switches.yaml"), "<demarcate>/lab/switches.yaml").switches


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["simulated", "openai"] = "simulated"
    # The simulated model's weakness: it follows instructions it finds in retrieved text, tool
    # output and user input, including common obfuscations. Switch it off to see a model that does not.
    follows_injections: bool = True
    base_url: str | None = None  # for kind: openai
    name: str = "gpt-4o-mini"
    api_key_env: str = "OPENAI_API_KEY"  # the key is read from this variable, never from a file
    timeout: float = 60.0


class LabConfig(BaseModel):
    """Everything a lab run can be told. Unknown keys are errors, as in manifests."""

    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = 8765
    controls: dict[str, bool] = Field(default_factory=dict)
    model: ModelConfig = Field(default_factory=ModelConfig)
    egress_allow: list[str] = Field(default_factory=lambda: ["shop.example", "mail.shop.example"])
    url_allow: list[str] = Field(default_factory=lambda: ["shop.example", "cdn.shop.example"])
    # Where mail to outside domains is delivered (an HTTP relay reached through egress). None keeps
    # mail in the local outbox only.
    mail_relay: str | None = None
    rate_limit_per_minute: int = 30
    otlp_endpoint: str | None = None  # OTLP/HTTP traces, e.g. http://127.0.0.1:4318/v1/traces
    data_dir: Path | None = None  # None: a fresh temporary folder per run

    allowed_host_names: list[str] = Field(default_factory=list, description="Host names the lab answers to beyond "
                                          "loopback and its own --host (a Host-header check against DNS rebinding).")

    def allowed_hosts(self) -> list[str]:
        return sorted({"127.0.0.1", "localhost", "::1", "[::1]", self.host, *self.allowed_host_names})

    def on(self, switch: str) -> bool:
        return self.controls.get(switch, switches()[switch].default)

    def state(self) -> dict[str, bool]:
        return {name: self.on(name) for name in switches()}


def parse_controls(spec: str | None) -> dict[str, bool]:
    """`a,b,-c` (switch a and b on, c off), or `all`, `none`, `default`."""
    known = switches()
    if not spec or spec == "default":
        return {}
    if spec in ("all", "none"):
        return {name: spec == "all" for name in known}
    out: dict[str, bool] = {}
    problems = []
    for raw in spec.split(","):
        name = raw.strip()
        value = not name.startswith("-")
        name = name.lstrip("+-")
        if name not in known:
            problems.append(Problem(f"unknown lab control '{name}'", None,
                                    did_you_mean(name, known) or "see `demarcate lab --list`"))
        out[name] = value
    if problems:
        raise ManifestError(problems)
    return out


def load_config(path: Path | None, controls: str | None = None, port: int | None = None) -> LabConfig:
    raw = read_yaml(path, str(path)) if path else {}
    config = validate(LabConfig, raw, str(path) if path else "<lab>")
    if controls:
        config.controls.update(parse_controls(controls))
    unknown = [c for c in config.controls if c not in switches()]
    if unknown:  # named in the file (those of --controls were checked as they were parsed)
        raise ManifestError([Problem(f"unknown lab control '{c}'",
                                     locate(raw, ("controls", c), str(path), key=True) if path else None,
                                     did_you_mean(c, switches()) or "see `demarcate lab --list`") for c in unknown])
    if port is not None:
        config.port = port
    return config
