r"""Where the item-separable work runs: in this process, or on a Dask cluster.

Without a plan row the causal program separates by item, and one budget or storage row
couples the items through its price only (README "Engines"): each item's search, its
answer under a price, the plan's causal play and its re-evaluation, and the pricing of
the plan on fresh scenarios are all work on one item at a time. An :class:`ItemWork`
holds the program's items in chunks and runs a function on each chunk's
:class:`~optimizer.program.data.ProgramData`:

:class:`LocalItems`
    One chunk of every item, in this process: exactly the single-machine path (the
    compiled kernels spread each call over this process's threads).
:class:`DaskItems`
    Chunks of items on the workers of a Dask distributed cluster (``stockplan solve
    --cluster tcp://host:8786`` or ``--cluster local:N``). The instance is sent to the
    workers once (``Client.scatter``, replicated to every worker); each chunk's scenarios
    are generated *on a worker* from the seed (every item's demand stream is keyed by its
    name, :mod:`optimizer.scenarios`, so a chunk's rows equal the full set's) and stay
    there as a future, so the price loop's rounds send only prices, hints and levels.
    Tasks that raise are retried by Dask (``retries=``); a worker that dies takes its
    chunks with it and the scheduler recomputes them from their lineage (the scattered
    instance and the seed) and reruns the tasks it was running: no retry code here.

The functions below (:func:`search`, :func:`play`, :func:`evaluate`) are the operations
the causal engine and its price loop use (:mod:`optimizer.engines.causal`,
:mod:`optimizer.engines.causal_price`; :func:`search_until` is the search held to a time
limit, :func:`play_lines` a play's cost lines for the service-target columns); the price
itself is always coordinated here, on the client, so a chunked solve gives the
single-machine plan (every item's search depends on its own rows only: tested to 1e-9,
``tests/test_cluster.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.engines.causal_search import Counter, ItemPlans, search_items
from optimizer.instance.limits import check_cluster_share
from optimizer.program.causal_kernel import VALUES_ONLY, play_plan
from optimizer.program.data import ProgramData, program_data
from optimizer.program.simulate import evaluate_causal
from optimizer.program.verifier import Evaluation, cvar
from optimizer.scenarios import generate_scenarios

if TYPE_CHECKING:  # dask is imported only when a cluster is asked for (start-up)
    from distributed import Client

    from optimizer.instance import Instance

log = logging.getLogger(__name__)

#: Item-scenario-period cells per chunk of a cluster solve at most (a chunk's demand and
#: arrival arrays take 16 bytes a cell: 8 M cells are 128 MB on its worker).
CHUNK_CELLS = 8_000_000
#: Chunks per worker at least (balance, and a lost chunk is a small part of the work).
CHUNKS_PER_WORKER = 4
#: Times Dask reruns a task that raised before the solve fails (``retries=``).
TASK_RETRIES = 3
#: Seconds to wait for a cluster's first worker.
CONNECT_TIMEOUT = 60.0

_PLAN_FIELDS = ("items", "base_stock", "reserved", "cost", "right", "left", "right_K",
                "left_K", "fill_rate", "lower", "certified", "convex")  # fmt: skip


@dataclass
class ItemPlay:
    r"""The per-row figures of a causal play that the searches read.

    Attributes
    ----------
    expected_cost : ndarray (nb,)
        :math:`F_i(S_i, K_i)`.
    fill_rate : ndarray (nb,)
    right_S, left_S : ndarray (nb,) or None
        :math:`\partial^\pm_S F_i` when the play differentiated along :math:`\pm S`.
    """

    expected_cost: np.ndarray
    fill_rate: np.ndarray
    right_S: np.ndarray | None = None
    left_S: np.ndarray | None = None


class ItemWork:
    """A program's items in chunks, and a way to run a function on every chunk.

    Attributes
    ----------
    n_items : int
    chunks : list of ndarray of int
        The items of each chunk (ascending, together every item once).
    """

    n_items: int
    chunks: list[np.ndarray]

    def _index(self) -> None:
        """Build the owner tables: each item's chunk and its row in the chunk."""
        self.chunk_of = np.empty(self.n_items, dtype=np.int64)
        self.row_of = np.empty(self.n_items, dtype=np.int64)
        for c, idx in enumerate(self.chunks):
            self.chunk_of[idx] = c
            self.row_of[idx] = np.arange(idx.size)

    def run(
        self, fn: Callable[..., Any], chunk_ids: Sequence[int], args: Sequence[tuple], **shared
    ) -> list:
        """``[fn(data_c, *args_c, **shared) for c in chunk_ids]``, the chunk's data first."""
        raise NotImplementedError

    def route(self, items: np.ndarray | None) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """Group request rows by chunk: ``(chunk, rows of the request, items in the chunk)``."""
        if items is None:
            return [(c, idx, np.arange(idx.size)) for c, idx in enumerate(self.chunks)]
        items = np.asarray(items, dtype=np.int64)
        owner = self.chunk_of[items]
        out = []
        for c in np.unique(owner):
            rows = np.flatnonzero(owner == c)
            out.append((int(c), rows, self.row_of[items[rows]]))
        return out


class LocalItems(ItemWork):
    """Every item in one chunk, in this process (the single-machine path)."""

    def __init__(self, data: ProgramData) -> None:
        self.data = data
        self.n_items = data.n_items
        self.chunks = [np.arange(data.n_items)]
        self._index()

    def run(
        self, fn: Callable[..., Any], chunk_ids: Sequence[int], args: Sequence[tuple], **shared
    ) -> list:
        """Call ``fn`` on the program itself."""
        return [fn(self.data, *a, **shared) for _c, a in zip(chunk_ids, args, strict=True)]


def as_work(work: ItemWork | ProgramData) -> ItemWork:
    """``work`` itself, or a program's :class:`LocalItems`."""
    return work if isinstance(work, ItemWork) else LocalItems(work)


# ---------------------------------------------------------------- chunk tasks --------
#: glibc's ``mallopt`` parameters (``<malloc.h>``).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: Blocks from this size up are mapped fresh by malloc on a worker (glibc's own ceiling
#: for its sliding threshold on 64-bit machines); smaller ones are reused from the heap.
WORKER_MMAP_THRESHOLD = 32 * 2**20


@functools.cache  # once per process (a forked child has its own: the client never calls it)
def _tune_malloc() -> bool:
    """Let this worker process reuse freed blocks below :data:`WORKER_MMAP_THRESHOLD`.

    A Dask nanny starts its worker with ``MALLOC_TRIM_THRESHOLD_=65536``
    (``distributed.nanny.pre-spawn-environ``). Setting any malloc threshold freezes glibc's
    sliding mmap threshold at 128 KiB, so every temporary array of a search step (a few
    MB: rows x scenarios) is mapped fresh and faulted in page by page: on 300 items x
    1,000 scenarios a worker took 780,000 minor page faults and 5-6 s of system time
    against 110,000 and 3 s in process (``benchmarks/cluster.py``). This puts the
    thresholds where glibc's default would have slid to (mmap 32 MiB, trim twice that).

    Returns
    -------
    bool
        Whether glibc took both settings (False off glibc: nothing changed).
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok_mmap = mallopt(_M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD) == 1
    ok_trim = mallopt(_M_TRIM_THRESHOLD, 2 * WORKER_MMAP_THRESHOLD) == 1
    return ok_mmap and ok_trim


def on_worker() -> bool:
    """Whether this code runs in a task on a Dask worker (not on the client or alone)."""
    if "distributed" not in sys.modules:  # never imported: certainly not a worker
        return False
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True


def worker_task() -> None:
    """Set up a chunk task on a Dask worker; nothing anywhere else.

    On a worker the compiled kernels run on one thread (the worker's threads run the
    tasks), and the worker process's malloc is tuned once (:func:`_tune_malloc`). In
    this process, when :class:`LocalItems` runs the same task functions, the kernels
    keep every thread: the single-machine path is not slowed by the chunk tasks.
    """
    if not on_worker():
        return
    import numba

    if numba.get_num_threads() != 1:
        numba.set_num_threads(1)
    _tune_malloc()


def build_chunk(instance: Instance, items: np.ndarray, n_scenarios: int, seed: int) -> ProgramData:
    """Build the optimisation program of a chunk of items, its scenarios generated here."""
    worker_task()  # a worker's first task: its malloc tuned before the big arrays
    scen = generate_scenarios(instance, n_scenarios, seed=seed, items=items)
    return program_data(instance, scen, consume=True, items=items)


def _search_chunk(data: ProgramData, weight, hint_lo, hint_hi, rows_kw=None, **kw) -> ItemPlans:
    worker_task()
    kw.update(rows_kw or {})
    return search_items(data, weight=weight, hint_lo=hint_lo, hint_hi=hint_hi, **kw)


def _play_chunk(data: ProgramData, items, S, K, directions) -> ItemPlay:
    worker_task()
    p = play_plan(data, S, K, items=items, directions=directions)
    derivs = directions.shape[0] >= 2
    return ItemPlay(
        p.expected_cost,
        p.fill_rate,
        p.right_S if derivs else None,
        p.left_S if derivs else None,
    )


def _evaluate_chunk(data: ProgramData, S, K, check_fill_rate: bool) -> Evaluation:
    worker_task()
    ev = evaluate_causal(data, S, K, check_fill_rate=check_fill_rate, check_plan_rows=False)
    ev.item_scenario_cost = np.empty((0, 0))  # (n, N): not sent back
    return ev


# ---------------------------------------------------------------- operations ---------
def search(
    work: ItemWork | ProgramData,
    *,
    items: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    hint_lo: np.ndarray | None = None,
    hint_hi: np.ndarray | None = None,
    counter: Counter | None = None,
    **kw,
) -> ItemPlans:
    r"""Every item's :func:`~optimizer.engines.causal_search.search_items`, chunk by chunk.

    ``weight``, ``hint_lo`` and ``hint_hi`` are per item (n,), and so are ``reserved``,
    ``lower`` and boolean-mask ``scan`` and ``scan_k`` when given; the other keywords (``price``,
    ``integer``, ``fill_rates``, ``scan_points``, ``memo``: in this process only, ...) go
    to every chunk. With ``items``
    only those items are searched (the per-item arrays stay (n,)).
    Returns the plans of the items searched in item order (``items``' order when given),
    the kernel calls summed in ``counter``.
    """
    work = as_work(work)
    if not isinstance(work, LocalItems):
        kw.pop("memo", None)  # plays stay on the workers; a memo is not shipped
    routes = work.route(items)
    wanted = np.arange(work.n_items) if items is None else np.asarray(items, dtype=np.int64)

    def cut(a: np.ndarray | None, idx: np.ndarray) -> np.ndarray | None:
        return None if a is None else np.asarray(a, dtype=float)[idx]

    rows = {k: kw.pop(k) for k in ("reserved", "lower") if kw.get(k) is not None}
    for key in ("scan", "scan_k"):
        if key in kw and kw[key] is not None and not isinstance(kw[key], str):
            rows[key] = np.asarray(kw.pop(key), dtype=bool)
    args = []
    for c, r, local in routes:
        g = wanted[r]  # the chunk's searched items (global)
        per_row = {k: v[g] for k, v in rows.items()}
        if items is not None:
            per_row["items"] = local
        args.append((cut(weight, work.chunks[c]), cut(hint_lo, g), cut(hint_hi, g), per_row))
    parts = work.run(_search_chunk, [c for c, _r, _l in routes], args, **kw)
    counter = counter or Counter()
    for part in parts:
        counter.calls += part.counter.calls
        counter.rows += part.counter.rows
    if items is None and len(parts) == 1 and np.array_equal(parts[0].items, work.chunks[0]):
        parts[0].counter = counter
        return parts[0]
    order = np.concatenate([r for _c, r, _l in routes])
    place = np.empty(order.size, dtype=np.int64)
    place[order] = np.arange(order.size)
    merged = {
        f: np.concatenate([getattr(q, f) for q in parts])[place]
        for f in _PLAN_FIELDS
        if f != "items"
    }
    return ItemPlans(items=wanted.copy(), **merged, counter=counter)


def play(
    work: ItemWork | ProgramData,
    base_stock: np.ndarray,
    reserved: np.ndarray | None = None,
    *,
    items: np.ndarray | None = None,
    directions: np.ndarray = VALUES_ONLY,
) -> ItemPlay:
    """:func:`~optimizer.program.causal_kernel.play_plan` of rows on their chunks.

    ``base_stock`` and ``reserved`` are per row of ``items`` (default every item once).
    """
    work = as_work(work)
    nb = work.n_items if items is None else len(items)
    S = np.broadcast_to(np.asarray(base_stock, dtype=float), (nb,))
    K = np.zeros(nb) if reserved is None else np.broadcast_to(np.asarray(reserved, float), (nb,))
    routes = work.route(items)
    dirs = np.atleast_2d(np.asarray(directions, dtype=float))
    args = [(local, S[rows], K[rows], dirs) for _c, rows, local in routes]
    parts = work.run(_play_chunk, [c for c, _r, _l in routes], args)
    if len(parts) == 1:
        return parts[0]
    out = ItemPlay(np.empty(nb), np.empty(nb))
    if dirs.shape[0] >= 2:
        out.right_S, out.left_S = np.empty(nb), np.empty(nb)
    for (_c, rows, _l), part in zip(routes, parts, strict=True):
        for name in ("expected_cost", "fill_rate", "right_S", "left_S"):
            if getattr(out, name) is not None:
                getattr(out, name)[rows] = getattr(part, name)
    return out


def _play_lines_chunk(data: ProgramData, items, S, K, penalty) -> tuple[np.ndarray, np.ndarray]:
    worker_task()
    if penalty is not None:
        data = dataclasses.replace(data, penalty=np.asarray(penalty, dtype=float))
    p = play_plan(data, S, K, items=items, directions=VALUES_ONLY)
    return p.expected_lines, p.fill_rate


def play_lines(
    work: ItemWork,
    base_stock: np.ndarray,
    reserved: np.ndarray,
    *,
    items: np.ndarray,
    penalty: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Play rows on their chunks: expected cost lines (nb, lines) and fill rates (nb,).

    ``penalty`` (n,), when given, replaces every item's stockout penalty :math:`\pi_i`
    in the play (a unit penalty makes the stockout line count the penalised shortage
    units: :mod:`optimizer.analysis.service_price`).
    """
    items = np.asarray(items, dtype=np.int64)
    S = np.asarray(base_stock, dtype=float)
    K = np.asarray(reserved, dtype=float)
    routes = work.route(items)
    args = [
        (local, S[rows], K[rows], None if penalty is None else np.asarray(penalty)[work.chunks[c]])
        for c, rows, local in routes
    ]
    parts = work.run(_play_lines_chunk, [c for c, _r, _l in routes], args)
    lines = np.empty((items.size, parts[0][0].shape[1])) if parts else np.empty((0, 0))
    fill = np.empty(items.size)
    for (_c, rows, _l), (ln, fr) in zip(routes, parts, strict=True):
        lines[rows], fill[rows] = ln, fr
    return lines, fill


def search_until(
    work: DaskItems, time_limit: float, *, block: int = 64, **kw
) -> tuple[ItemPlans | None, np.ndarray]:
    """Search the items in tasks of ``block``; keep those done within ``time_limit`` seconds.

    Every chunk's items are searched ``block`` at a time, all tasks submitted at once (the
    scheduler hands them out about in that order); those unfinished when the time is up
    are cancelled, so which items are searched depends on the workers' pace.
    ``kw`` goes to every search (``integer``, ``fill_rates``, ``scan_points``).

    Returns
    -------
    tuple
        ``(plans, searched)``: the plans of the items searched (ascending, ``None`` when
        none was) and a boolean mask (n,) of those items.
    """
    from distributed import wait  # only on a cluster

    tasks = [
        (c, np.arange(a, min(a + block, idx.size)))
        for c, idx in enumerate(work.chunks)
        for a in range(0, idx.size, block)
    ]
    futures = work.submit(
        _search_chunk,
        [c for c, _l in tasks],
        [(None, None, None, {"items": local}) for _c, local in tasks],
        **kw,
    )
    with contextlib.suppress(TimeoutError):
        wait(futures, timeout=max(0.0, time_limit))
    done = [k for k, f in enumerate(futures) if f.status == "finished"]
    work.client.cancel([f for k, f in enumerate(futures) if k not in set(done)])
    searched = np.zeros(work.n_items, dtype=bool)
    if not done:
        return None, searched
    parts = work.client.gather([futures[k] for k in done])
    glob = np.concatenate([work.chunks[tasks[k][0]][tasks[k][1]] for k in done])
    searched[glob] = True
    order = np.argsort(glob, kind="stable")
    merged = {
        f: np.concatenate([getattr(q, f) for q in parts])[order]
        for f in _PLAN_FIELDS
        if f != "items"
    }
    counter = Counter()
    for part in parts:
        counter.calls += part.counter.calls
        counter.rows += part.counter.rows
    return ItemPlans(items=glob[order], **merged, counter=counter), searched


def join_evaluations(parts: list[Evaluation], probability: np.ndarray, alpha: float,
                     weight: float) -> Evaluation:  # fmt: skip
    r"""One evaluation of chunks' evaluations (items side by side, scenario costs summed).

    The objective is :math:`(1-\lambda) E[C] + \lambda\, CVaR_\alpha[C]` of the summed
    scenario costs (``weight`` :math:`\lambda`).
    """
    scen = np.sum([p.scenario_cost for p in parts], axis=0)
    expected = float(probability @ scen)
    tail = cvar(scen, probability, alpha)

    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts], axis=0)

    return Evaluation(
        objective=(1.0 - weight) * expected + weight * tail if weight > 0 else expected,
        expected_cost=expected,
        cvar=tail,
        scenario_cost=scen,
        item_scenario_cost=np.empty((0, 0)),
        lines=joined("lines"),
        fill_rate=joined("fill_rate"),
        avg_on_hand=joined("avg_on_hand"),
        stockout_units=joined("stockout_units"),
        emergency_units=joined("emergency_units"),
        residual={k: max(p.residual[k] for p in parts) for k in parts[0].residual},
    )


def evaluate(
    work: ItemWork,
    skeleton: ProgramData,
    base_stock: np.ndarray,
    reserved: np.ndarray,
    *,
    check_fill_rate: bool = True,
    check_plan_rows: bool = True,
) -> Evaluation:
    """Re-evaluate the plan independently in numpy (:func:`evaluate_causal`), chunk by chunk.

    The plan rows are checked here on the whole plan (``skeleton`` holds the weights).
    """
    S, K = np.asarray(base_stock, dtype=float), np.asarray(reserved, dtype=float)
    args = [(S[i], K[i], check_fill_rate) for i in work.chunks]
    parts = work.run(_evaluate_chunk, list(range(len(work.chunks))), args)
    ev = join_evaluations(parts, skeleton.probability, skeleton.cvar_alpha, skeleton.cvar_weight)
    if check_plan_rows:
        for name, limit, weight in (
            ("inventory_budget", skeleton.budget, skeleton.unit_cost),
            ("storage_capacity", skeleton.storage, skeleton.volume),
        ):
            if limit is not None:
                ev.residual[name] = float(max(0.0, weight @ S - limit))
    return ev


# ---------------------------------------------------------------- the cluster --------
def chunk_items(n_items: int, cells: float, workers: int, chunk_cells: int) -> list[np.ndarray]:
    """Split the items into chunks (ascending item numbers, consecutive).

    At least :data:`CHUNKS_PER_WORKER` chunks a worker, each of at most ``chunk_cells``
    cells (``cells`` in all), never more chunks than items.
    """
    k = max(CHUNKS_PER_WORKER * workers, math.ceil(cells / chunk_cells))
    k = max(1, min(k, n_items))
    return [c for c in np.array_split(np.arange(n_items), k) if c.size]


@dataclass
class DaskItems(ItemWork):
    """A program's items in chunks on a Dask cluster (see the module docstring).

    Attributes
    ----------
    client : distributed.Client
    instance : Instance
        The instance (with its ``[plan] scenarios`` and seed), sent once to every worker.
    retries : int
        ``retries=`` of every task.
    """

    client: Client
    instance: Instance
    retries: int = TASK_RETRIES
    chunk_cells: int = CHUNK_CELLS
    futures: list = field(default_factory=list)

    def __post_init__(self) -> None:
        """Scatter the instance and start building every chunk's program on the workers.

        First the chunks' shares are checked against the workers' and the client's memory
        (:func:`optimizer.instance.limits.check_cluster_share`; ``InvalidInstanceError``
        before anything is sent).
        """
        inst = self.instance
        self.n_items = len(inst.items)
        n_scen = (
            inst.explicit.probability.size if inst.explicit is not None else inst.plan.scenarios
        )
        cells = self.n_items * n_scen * inst.horizon
        info = self.client.scheduler_info(n_workers=-1).get("workers", {})
        workers = max(1, len(info))
        self.chunks = chunk_items(self.n_items, cells, workers, self.chunk_cells)
        k = len(self.chunks)
        # each worker's share against its memory_limit, the client's against this machine
        check_cluster_share(inst, self.chunks, info)
        self._index()
        self.token = uuid.uuid4().hex[:8]
        self.instance_future = self.client.scatter(inst, broadcast=True, hash=False)
        self.futures = self.client.map(
            build_chunk,
            [self.instance_future] * len(self.chunks),
            self.chunks,
            n_scenarios=int(inst.plan.scenarios),
            seed=int(inst.plan.seed),
            key=[f"stockplan-chunk-{self.token}-{c}" for c in range(len(self.chunks))],
            retries=self.retries,
        )
        log.info("cluster: %d items in %d chunks over %d workers", self.n_items, k, workers)

    def run(
        self, fn: Callable[..., Any], chunk_ids: Sequence[int], args: Sequence[tuple], **shared
    ) -> list:
        """Run ``fn`` next to each chunk's data (Dask sends the task where the data is)."""
        if not chunk_ids:
            return []
        return self.client.gather(self.submit(fn, chunk_ids, args, **shared))

    def submit(
        self, fn: Callable[..., Any], chunk_ids: Sequence[int], args: Sequence[tuple], **shared
    ) -> list:
        """:meth:`run` without waiting: the tasks' futures, in ``chunk_ids``' order."""
        tag = f"stockplan-{fn.__name__.strip('_')}-{uuid.uuid4().hex[:8]}"
        columns = list(zip(*args, strict=True)) if args and args[0] else []
        return self.client.map(
            fn,
            [self.futures[c] for c in chunk_ids],
            *columns,
            key=[f"{tag}-{k}-{c}" for k, c in enumerate(chunk_ids)],
            retries=self.retries,
            **shared,
        )

    def derive(self, fn: Callable[..., ProgramData], **shared) -> DerivedItems:
        """Other data of the same chunks, built on the workers and kept there.

        ``fn(instance, items_c, **shared)`` builds chunk ``c``'s program (fresh scenarios,
        say); the answer runs tasks on those programs as this one does on its own.
        """
        tag = f"stockplan-{fn.__name__.strip('_')}-{uuid.uuid4().hex[:8]}"
        futures = self.client.map(
            fn,
            [self.instance_future] * len(self.chunks),
            self.chunks,
            key=[f"{tag}-{c}" for c in range(len(self.chunks))],
            retries=self.retries,
            **shared,
        )
        return DerivedItems(self, futures)

    def run_instance(
        self, fn: Callable[..., Any], args: Sequence[tuple] | None = None, **shared
    ) -> list:
        """``[fn(instance, items_c, *args_c, **shared) for every chunk c]`` on the workers."""
        tag = f"stockplan-{fn.__name__.strip('_')}-{uuid.uuid4().hex[:8]}"
        columns = list(zip(*args, strict=True)) if args and args[0] else []
        futures = self.client.map(
            fn,
            [self.instance_future] * len(self.chunks),
            self.chunks,
            *columns,
            key=[f"{tag}-{c}" for c in range(len(self.chunks))],
            retries=self.retries,
            **shared,
        )
        return self.client.gather(futures)

    def close(self) -> None:
        """Release the chunks' data on the workers."""
        self.client.cancel([*self.futures, self.instance_future])
        self.futures = []


class DerivedItems(DaskItems):
    """The chunks of a :class:`DaskItems` holding other programs (:meth:`DaskItems.derive`)."""

    def __init__(self, parent: DaskItems, futures: list) -> None:  # noqa: D107 - no rebuild
        self.client, self.instance, self.retries = parent.client, parent.instance, parent.retries
        self.chunk_cells, self.n_items = parent.chunk_cells, parent.n_items
        self.chunks = parent.chunks
        self.chunk_of, self.row_of = parent.chunk_of, parent.row_of
        self.instance_future, self.futures = parent.instance_future, futures

    def close(self) -> None:
        """Release the derived programs (the parent's instance and chunks stay)."""
        self.client.cancel(self.futures)
        self.futures = []


def peak_memory_per_worker(client: Client) -> dict[str, int]:
    """Each worker process's peak resident memory so far, in bytes (``ru_maxrss``)."""

    def peak() -> int:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024

    return client.run(peak)


@contextlib.contextmanager
def open_cluster(spec: str, *, timeout: float = CONNECT_TIMEOUT) -> Iterator[Client]:
    """Connect a Dask client for ``--cluster``; ``local:N`` starts (and ends) a local cluster.

    ``local:N`` is a :class:`distributed.LocalCluster` of ``N`` worker processes with one
    thread each (the compiled kernels run one thread per task); any other value is a
    scheduler address such as ``tcp://host:8786`` (its workers are started with ``dask
    worker ADDRESS --nthreads 1``, README "Beyond one machine").

    Raises
    ------
    ValueError
        ``local:N`` with ``N`` not a positive whole number.
    """
    import dask
    from distributed import Client, LocalCluster  # only when a cluster is asked for

    if spec.startswith("local:"):
        try:
            n = int(spec.removeprefix("local:"))
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"--cluster local:N needs a number of workers N >= 1, not {spec!r}")
        with (
            # no statistical profiler sampling the tasks' stacks every 10 ms (it contends
            # for the GIL with the searches' numpy steps: about 5% on one worker)
            dask.config.set({"distributed.worker.profile.enabled": False}),
            LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # any free port: several may run at once
                host="127.0.0.1",
            ) as cluster,
            Client(cluster, timeout=timeout) as client,
        ):
            yield client
        return
    with Client(spec, timeout=timeout) as client:
        client.wait_for_workers(1, timeout=timeout)
        yield client
