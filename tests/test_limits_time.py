"""Work bounded before it starts: the time estimate of a solve and the evaluation's bounds.

* The time model's figures (:mod:`optimizer.instance.work_estimate`) are refitted here
  from the named runs of ``benchmarks/results/whole_command.jsonl`` and must equal the
  constants; the estimate must give those runs' wall times back, follow its formula for
  any size, kind and core count, and scale by Amdahl's law.
* ``solve`` says the kind-specific figure, and warns when ``--time-limit`` is far below
  it that the run will end ``feasible_at_limit`` (it still returns the plan as far as it
  got, as the time limit promises).
* ``solve --eval-scenarios`` / ``--max-eval-scenarios``, ``evaluate --eval-scenarios``
  and ``compare --eval-scenarios`` refuse (exit 3, the figure and the option to change)
  what the model or this machine's memory cannot carry, explicit-scenario instances too.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

import optimizer.instance.limits as limits
import optimizer.instance.work_estimate as we
from optimizer.cli import app
from optimizer.instance import load_instance, write_instance
from optimizer.instance.generator import generate_instance
from optimizer.instance.schema import BYTES_PER_CELL, MAX_SCENARIOS
from tests.factories import make_instance
from tests.instance_cases import Case, explicit_case

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _text(output: str) -> str:
    return " ".join(output.split())


def _calibration():
    spec = importlib.util.spec_from_file_location(
        "time_calibration", ROOT / "benchmarks" / "time_calibration.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def calibration():
    return _calibration()


# --------------------------------------------------------------------------------------
# the calibration
# --------------------------------------------------------------------------------------


def _close(constant: float, fitted: float) -> bool:
    """The constant is the fitted figure to three significant digits (or 0.5% of it)."""
    return math.isclose(constant, fitted, rel_tol=5e-3)


def test_the_constants_are_the_fit_of_the_named_runs(calibration):
    fit = calibration.fit(calibration.read_runs())
    assert _close(we.START_SECONDS, fit["start_seconds"])
    assert _close(we.SERIAL_SHARE, fit["serial_share"])
    assert fit["cores"] == we.CALIBRATION_CORES
    for got, want in [(we.PLAIN, fit["plain"])] + [
        (we.EXTRA[k], v) for k, v in fit["extra"].items()
    ]:
        assert _close(got.per_cell, want["per_cell"]), (got, want)
        assert _close(got.per_item_period, want["per_item_period"]), (got, want)
        assert got.eval_scenarios == want["eval_scenarios"]
    assert set(we.EXTRA) == set(fit["extra"]) == set(we.FEATURE_WORDS)


def test_the_calibration_horizon_is_that_of_the_generated_instances(calibration, tmp_path):
    """The runs' records carry no horizon: the fit's is the generated instances' own."""
    folder = tmp_path / "g"
    write_instance(generate_instance(1000, 8, seed=1), folder)
    assert load_instance(folder).horizon == calibration.HORIZON


def test_the_estimate_gives_the_calibration_runs_back(calibration):
    """Each run's wall time, up to how much its time outside the plan, pricing and
    diagnostics phases (start-up, sampling, writing) differs from the plain run's: the
    model takes that part equal for every kind."""
    runs = calibration.read_runs()

    def rest(r):
        return r["wall_s"] - r["plan_seconds"] - r["headline_seconds"] - r["diagnostics_seconds"]

    plain = runs["n1000x1000"]
    for case, rec in runs.items():
        if case.startswith("cores@"):  # the one-core pairs: the next test
            continue
        feature = calibration.FEATURES.get(case)
        found = () if feature is None else (feature,)
        est = we.estimate(
            rec["items"],
            rec["scenarios"],
            calibration.HORIZON,
            found=found,
            cores=calibration.CORES,
        )
        slack = 0.005 * rec["wall_s"] + (abs(rest(rec) - rest(plain)) if feature else 0.0)
        assert abs(est.seconds - rec["wall_s"]) <= slack, case


def test_the_estimate_on_one_core_gives_the_one_core_runs_back(calibration):
    """The one-core runs' mean wall time is the estimate with ``cores=1`` (their own
    batch's plain runs carry the ratio; the plain constants come from another batch, so
    the scale is that batch's: within the spread of the runs)."""
    runs = calibration.read_runs()
    ones = [r["wall_s"] for k, r in runs.items() if k.startswith("cores@n1000x1000@t1#")]
    alls = [r["wall_s"] for k, r in runs.items() if k.startswith("cores@n1000x1000#")]
    assert len(ones) == len(alls) == 2
    est1 = we.estimate(1000, 1000, calibration.HORIZON, found=(), cores=1).seconds
    est2 = we.estimate(1000, 1000, calibration.HORIZON, found=(), cores=2).seconds
    ratio = (est1 - we.START_SECONDS) / (est2 - we.START_SECONDS)
    want = (sum(ones) / 2 - we.START_SECONDS) / (sum(alls) / 2 - we.START_SECONDS)
    assert ratio == pytest.approx(want, rel=5e-3)
    assert min(ones) * 0.9 <= est1 <= max(ones) * 1.1


def _by_hand(n, N, H, found, cores, first=None):
    """The module docstring's formula, from the constants."""
    c = we.PLAIN.per_cell + sum(we.EXTRA[f].per_cell for f in found)
    e = we.PLAIN.per_item_period + sum(we.EXTRA[f].per_item_period for f in found)
    M = max([we.PLAIN.eval_scenarios] + [we.EXTRA[f].eval_scenarios for f in found])
    s = we.SERIAL_SHARE
    A = (s + (1 - s) / cores) / (s + (1 - s) / we.CALIBRATION_CORES)
    m = max(100, N) if first is None else first  # solve's default first batch
    batch = max(1.0, m / M)
    return we.START_SECONDS + A * (c * n * N * H + e * n * H * batch)


@pytest.mark.parametrize(
    "found", [(), ("backorder",), ("plan_row",), ("fill_rate", "cvar"), ("backorder", "plan_row")]
)
@pytest.mark.parametrize("cores", [1, 2, 8, 64])
def test_the_estimate_follows_its_formula(found, cores):
    for n, N, H, first in [(30, 200, 20, None), (5000, 700, 60, 10_000), (7, 1_000_000, 5, 50)]:
        est = we.estimate(n, N, H, found=found, cores=cores, first_batch=first)
        assert est.seconds == pytest.approx(_by_hand(n, N, H, found, cores, first), rel=1e-12)
        assert est.bytes == pytest.approx(n * N * H * BYTES_PER_CELL)
        assert est.cores == cores and est.features == found


def test_more_cores_take_less_time_down_to_the_serial_share():
    one, two, many = (we.estimate(1000, 1000, 51, cores=p) for p in (1, 2, 10_000))
    work = one.seconds - we.START_SECONDS
    assert two.seconds - we.START_SECONDS == pytest.approx(
        work * (we.SERIAL_SHARE + (1 - we.SERIAL_SHARE) / 2)
    )
    assert many.seconds - we.START_SECONDS == pytest.approx(work * we.SERIAL_SHARE, rel=1e-3)


def test_the_cores_of_a_run_are_its_threads_capped_at_the_machine(monkeypatch):
    monkeypatch.setattr(we, "machine_cores", lambda: 4)
    assert we.run_cores(None) == 4
    assert we.run_cores(2) == 2
    assert we.run_cores(1000) == 4


def test_each_feature_is_found_and_named():
    assert we.instance_features(make_instance()) == ()
    assert we.instance_features(make_instance(shortage="backorder")) == ("backorder",)
    assert we.instance_features(make_instance(budget_share=0.8)) == ("plan_row",)
    assert we.instance_features(make_instance(storage_share=0.8)) == ("plan_row",)
    assert we.instance_features(make_instance(fill_rate=0.95)) == ("fill_rate",)
    assert we.instance_features(make_instance(cvar_weight=0.3)) == ("cvar",)
    est = we.estimate(10, 10, 10, found=("backorder", "cvar"))
    assert est.kind == "backorders with a CVaR weight"
    assert "a budget or storage row" in we.estimate(1, 1, 1, found=("plan_row",)).words()


# --------------------------------------------------------------------------------------
# what solve and validate say
# --------------------------------------------------------------------------------------


def test_the_loading_warning_gives_the_kind_specific_figure(tmp_path, caplog):
    """Above the warning threshold the words name the kind and its time (was: 3 µs a cell
    whatever the kind)."""
    case = Case(tmp_path / "tiny")
    case.plan["scenarios"] = 1_000_000
    case.toml["risk"] = {"cvar_weight": 0.3}
    with caplog.at_level(logging.WARNING, logger="optimizer.instance"):
        inst = load_instance(case.write())
    text = _text(" ".join(r.getMessage() for r in caplog.records))
    want = we.estimate(
        len(inst.items), 1_000_000, inst.horizon, found=("cvar",), cores=we.machine_cores()
    )
    assert "lost sales with a CVaR weight" in text, text
    assert f"{want.seconds / 60:.3g} minutes" in text, text


def test_solve_warns_that_a_far_too_short_time_limit_ends_at_the_limit(tmp_path):
    """The estimate (start-up alone is 3.4 s) is more than 20x a 0.05 s limit: the run is
    accepted, told it will end feasible_at_limit, and returns the plan it has."""
    folder = tmp_path / "inst"
    write_instance(make_instance(n_items=3, scenarios=20, periods=4), folder)
    res = runner.invoke(
        app, ["solve", str(folder), "--out", str(tmp_path / "o"), "--time-limit", "0.05"]
    )
    assert res.exit_code == 0, res.output
    text = _text(res.stderr)
    inst = load_instance(folder)
    est = we.estimate(3, 20, inst.horizon, cores=we.machine_cores(), first_batch=100)
    assert est.seconds > limits.TIME_LIMIT_FACTOR * 0.05
    assert "--time-limit of 0.05 s is far below" in text, text
    assert "feasible_at_limit" in text and we.seconds_words(est.seconds) in text, text
    assert (tmp_path / "o" / "plan.csv").exists()


def test_a_time_limit_within_reach_is_not_warned_about(tmp_path):
    folder = tmp_path / "inst"
    write_instance(make_instance(n_items=3, scenarios=20, periods=4), folder)
    res = runner.invoke(
        app, ["solve", str(folder), "--out", str(tmp_path / "o"), "--time-limit", "600"]
    )
    assert res.exit_code == 0, res.output
    assert "far below" not in _text(res.stderr)


# --------------------------------------------------------------------------------------
# bounded evaluation
# --------------------------------------------------------------------------------------


@pytest.fixture
def small(tmp_path) -> Path:
    folder = tmp_path / "inst"
    write_instance(make_instance(n_items=3, scenarios=20, periods=4), folder)
    return folder


def _memory_for(folder: Path, scenarios: int) -> float:
    """A machine memory that holds ``scenarios`` scenarios of the instance, no more."""
    inst = load_instance(folder)
    return len(inst.items) * inst.horizon * scenarios * BYTES_PER_CELL


def test_solve_refuses_a_cap_of_fresh_scenarios_above_the_scenario_limit(small, tmp_path):
    over = MAX_SCENARIOS + 1
    res = runner.invoke(
        app, ["solve", str(small), "--out", str(tmp_path / "o"), "--max-eval-scenarios", str(over)]
    )
    assert res.exit_code == 3, res.output
    text = _text(res.output)
    assert f"--max-eval-scenarios {over:,}" in text and f"{MAX_SCENARIOS:,}" in text, text
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("option", ["--eval-scenarios"])
def test_solve_refuses_a_first_batch_above_the_scenario_limit(small, tmp_path, option):
    res = runner.invoke(
        app, ["solve", str(small), "--out", str(tmp_path / "o"), option, str(2 * MAX_SCENARIOS)]
    )
    assert res.exit_code == 3, res.output
    assert f"{option} {2 * MAX_SCENARIOS:,}" in _text(res.output)


def test_solve_refuses_a_first_batch_of_fresh_scenarios_this_machine_cannot_hold(
    small, tmp_path, monkeypatch
):
    """The plan's 20 scenarios fit, the first batch of 100,000 (taken whole) does not."""
    memory = _memory_for(small, 1000)
    monkeypatch.setattr(limits, "machine_memory", lambda: memory)
    res = runner.invoke(
        app, ["solve", str(small), "--out", str(tmp_path / "o"), "--eval-scenarios", "100000"]
    )
    assert res.exit_code == 3, res.output
    text = _text(res.output)
    assert "--eval-scenarios 100,000" in text and "first batch" in text, text
    assert "use --eval-scenarios 1,000 or fewer" in text, text
    assert not (tmp_path / "o").exists()
    ok = runner.invoke(
        app, ["solve", str(small), "--out", str(tmp_path / "o"), "--eval-scenarios", "1000"]
    )
    assert ok.exit_code == 0, ok.output


def _plan_file(folder: Path, path: Path) -> Path:
    inst = load_instance(folder)
    cover = (inst.items.lead_time + 2) * inst.items.demand_mean
    lines = ["item,base_stock"] + [
        f"{n},{s:.0f}" for n, s in zip(inst.items.name, cover, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_evaluate_refuses_fresh_scenarios_this_machine_cannot_hold_explicit_too(
    tmp_path, monkeypatch
):
    """Explicit scenarios do not exempt evaluate: its fresh scenarios are sampled."""
    folder = explicit_case(Case(tmp_path / "tiny")).write()
    assert load_instance(folder).explicit is not None
    plan = _plan_file(folder, tmp_path / "plan.csv")
    memory = _memory_for(folder, 500)
    monkeypatch.setattr(limits, "machine_memory", lambda: memory)
    for value, words in (
        ("5000", "use --eval-scenarios 500 or fewer"),
        (str(MAX_SCENARIOS + 1), f"more than the {MAX_SCENARIOS:,} fresh scenarios"),
    ):
        res = runner.invoke(
            app, ["evaluate", str(folder), "--plan", str(plan), "--eval-scenarios", value]
        )
        assert res.exit_code == 3, res.output
        assert words in _text(res.output), res.output
    ok = runner.invoke(
        app, ["evaluate", str(folder), "--plan", str(plan), "--eval-scenarios", "400"]
    )
    assert ok.exit_code == 0, ok.output


def test_compare_refuses_fresh_scenarios_this_machine_cannot_hold(small, tmp_path, monkeypatch):
    memory = _memory_for(small, 300)
    monkeypatch.setattr(limits, "machine_memory", lambda: memory)
    res = runner.invoke(
        app, ["compare", str(small), "--out", str(tmp_path / "o"), "--eval-scenarios", "3000"]
    )
    assert res.exit_code == 3, res.output
    assert "--eval-scenarios 3,000" in _text(res.output)
    assert "use --eval-scenarios 300 or fewer" in _text(res.output)
    assert not (tmp_path / "o").exists()


def test_the_evaluation_bound_is_the_model_limit_on_a_large_machine(monkeypatch):
    monkeypatch.setattr(limits, "machine_memory", lambda: 1e15)  # memory never binds
    n, H = 1000, 50
    fits = limits.MAX_CELLS // (n * H)
    assert limits.evaluation_problem(n, H, fits, option="--x", file="f", at_once="") is None
    found = limits.evaluation_problem(n, H, fits + 1, option="--x", file="f", at_once="")
    assert found is not None and f"use --x {fits:,} or fewer" in found.rule


def _large(tmp_path) -> object:
    """A tiny instance with a million scenarios: 9.9e7 cells, above the warning line (it
    is only loaded and checked, never solved)."""
    case = Case(tmp_path / "tiny")
    case.plan.update(scenarios=1_000_000, warmup=30)
    return load_instance(case.write())


def test_solve_says_the_figure_again_only_when_its_options_change_it(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(we, "machine_cores", lambda: 4)
    monkeypatch.setattr(limits, "machine_cores", lambda: 4)
    inst = _large(tmp_path)
    assert len(inst.items) * 1_000_000 * inst.horizon > limits.WARN_CELLS

    def warnings(**options) -> str:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="optimizer.instance"):
            limits.check_solve_work(inst, **options)
        return _text(" ".join(r.getMessage() for r in caplog.records if r.levelno >= 30))

    assert warnings() == ""  # the loading said it
    one = we.estimate(len(inst.items), 1_000_000, inst.horizon, cores=1, first_batch=1_000_000)
    text = warnings(threads=1)
    assert "plain lost sales, 1 core;" in text and f"{one.seconds / 60:.3g} minutes" in text
    assert "fill-rate targets" in warnings(fill_rate=0.95)


def test_the_time_limit_warning_is_at_twenty_times_the_limit(tmp_path, caplog):
    inst = _large(tmp_path)
    est = limits.check_solve_work(inst)
    for factor, warned in (
        (limits.TIME_LIMIT_FACTOR * 1.1, True),
        (limits.TIME_LIMIT_FACTOR * 0.9, False),
    ):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="optimizer.instance"):
            limits.check_solve_work(inst, time_limit=est.seconds / factor)
        text = _text(" ".join(r.getMessage() for r in caplog.records))
        assert ("feasible_at_limit" in text) is warned, (factor, text)


@pytest.mark.parametrize("command", ["solve", "compare"])
def test_threads_hold_the_compiled_kernels_too(tmp_path, command, monkeypatch):
    """``--threads 1`` runs the causal kernels on one thread (the cores the estimate
    counts), and the command gives the process its threads back when it ends."""
    import numba

    import optimizer.cli.compare as compare_cli
    import optimizer.cli.solve as solve_cli

    spied = {"solve": (solve_cli, "make_plan"), "compare": (compare_cli, "run_comparison")}
    module, name = spied[command]
    real = getattr(module, name)
    seen = []

    def spy(*a, **kw):  # the kernels' threads while the command works
        seen.append(numba.get_num_threads())
        return real(*a, **kw)

    monkeypatch.setattr(module, name, spy)
    folder = tmp_path / "inst"
    write_instance(generate_instance(4, 2, seed=2, scenarios=20), folder)
    most = numba.config.NUMBA_NUM_THREADS
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(most)

        def args(threads: int) -> list[str]:
            more = ["--scenarios", "20", "--eval-scenarios", "50"] if command == "compare" else []
            out = str(tmp_path / f"out{threads}")
            return [command, str(folder), "--out", out, "--threads", str(threads), *more]

        for threads, want in ((1, 1), (99, most)):  # 99: capped at numba's own count
            res = runner.invoke(app, args(threads))
            assert res.exit_code == 0, res.output
            assert seen[-1] == want
            assert numba.get_num_threads() == most  # given back
    finally:
        numba.set_num_threads(before)
