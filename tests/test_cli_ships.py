"""The command line ships whole: ``--version``, ``stockplan demo``, no silent overwrite."""

from __future__ import annotations

from importlib.metadata import version

from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.cli.common import REPO_DEMO

runner = CliRunner()


def _text(output: str) -> str:
    """The output as one line of words (rich wraps its error box)."""
    return " ".join(output.replace("│", " ").split())


def test_version_is_the_installed_one():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.stdout.strip() == f"stockplan {version('stockplan')}"


def test_demo_copies_the_bundled_instance_and_it_solves(tmp_path):
    out = tmp_path / "mine"
    res = runner.invoke(app, ["demo", str(out)])
    assert res.exit_code == 0, res.output
    for name in ("instance.toml", "items.csv", "suppliers.csv"):
        assert (out / name).read_bytes() == (REPO_DEMO / name).read_bytes()
    res = runner.invoke(app, ["validate", str(out)])
    assert res.exit_code == 0 and "valid: demo" in res.output


def test_demo_and_generate_refuse_to_overwrite_without_force(tmp_path):
    out = tmp_path / "inst"
    out.mkdir()
    (out / "items.csv").write_text("mine\n")
    for args in (
        ["demo", str(out)],
        ["generate", "--items", "3", "--suppliers", "1", "--out", str(out)],
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, res.output
        assert "already holds files" in _text(res.output) and "--force" in res.output
        assert (out / "items.csv").read_text() == "mine\n"  # untouched
    res = runner.invoke(
        app, ["generate", "--items", "3", "--suppliers", "1", "--out", str(out), "--force"]
    )
    assert res.exit_code == 0, res.output
    assert (out / "items.csv").read_text() != "mine\n"
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    res = runner.invoke(app, ["demo", str(a_file)])
    assert res.exit_code == 2 and "is a file" in _text(res.output)
