"""Every error names its place: a control character and a byte that is not UTF-8 at their line and
column, the end of a file without a final newline on its last line, and a link to nothing in a
manifest folder instead of silence."""

from __future__ import annotations

import os

from tests.conftest import SHOPBOT, copy_example


def _validate(cli, path):
    result = cli("validate", path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    return result.output


def test_a_control_character_is_shown_where_it_is(tmp_path, cli):
    path = tmp_path / "m.yaml"
    path.write_bytes(b'version: 1\nsystem: {name: "a\x01b"}\n')
    assert f"{path}:2:18: error: invalid YAML: control characters are not allowed (U+0001)" in _validate(cli, path)


def test_text_that_is_not_utf8_is_shown_where_it_stops_decoding(tmp_path, cli):
    path = tmp_path / "m.yaml"
    path.write_bytes(b"version: 1\nsystem: {name: caf\xe9}\n")
    assert f"{path}:2:19: error: not UTF-8 text (invalid continuation byte)" in _validate(cli, path)


def test_the_end_of_a_file_without_a_final_newline_is_its_last_line(tmp_path, cli):
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nparties:\n  - id: a\n    role: [")
    assert f"{path}:4:12: error: invalid YAML" in _validate(cli, path)


def test_a_link_to_nothing_in_a_manifest_folder_is_an_error(tmp_path, cli):
    folder = copy_example(SHOPBOT, tmp_path / "bot")
    os.symlink(tmp_path / "gone.yaml", folder / "extra.yaml")
    os.symlink(folder / "loop.yaml", folder / "loop.yaml")
    out = _validate(cli, folder)
    assert f"{folder / 'extra.yaml'}: error: a link to nothing" in out
    assert f"{folder / 'loop.yaml'}: error: a link to nothing" in out


def test_an_unknown_owner_is_shown_at_its_owner_line_and_a_missing_kind_lists_the_kinds(tmp_path, cli):
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nsystem: {name: x}\nparties:\n  - {id: a, role: deployer}\ncomponents:\n"
                    "  - id: c2\n    kind: model\n    owner: nobody\n")
    assert f"{path}:8:12: error: unknown party 'nobody'" in _validate(cli, path)
    path.write_text("version: 1\nsystem: {name: x}\nparties:\n  - {id: a, role: deployer}\ncomponents:\n"
                    "  - id: c1\n    owner: a\n")
    out = _validate(cli, path)
    assert "missing 'kind' (one of: data-source," in out and "(one of: )" not in out
