"""A non-editable install carries the bundled demo, and ``stockplan solve`` runs on it.

The demo lives inside the package (``optimizer/demo``; ``instances/demo`` links to it),
so ``pip install .`` or a wheel ships it. Installed with ``pip install --target`` into a
temporary folder (no dependencies: the test's environment has them), the package is
imported from there, away from the checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_plain_install_ships_the_demo_and_solves_it(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--target", str(target), str(ROOT)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    demo = target / "optimizer" / "demo"
    assert sorted(p.name for p in demo.iterdir()) == [
        "instance.toml",
        "items.csv",
        "suppliers.csv",
    ]
    assert (demo / "items.csv").read_bytes() == (ROOT / "optimizer/demo/items.csv").read_bytes()
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(target))
    code = (
        "import optimizer, sys; from optimizer.cli import app; "
        "assert optimizer.__file__.startswith(sys.argv[1]), optimizer.__file__; "
        "sys.argv = ['stockplan', 'solve', '--no-diagnostics', '--out', sys.argv[2]]; app()"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(target), str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads((out / "summary.json").read_text())["instance"] == "demo"
