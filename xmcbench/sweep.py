"""`xmcbench sweep`: one method over a grid of parameter values, one result record per point.

The points are the cartesian product of the ``--grid`` lists (or the lists zipped, for values
that go together like Table 7's K with C), times the seeds. A point whose record already exists
(same method, dataset, resolved parameters, seed and preprocessing) is skipped, so an
interrupted sweep resumes where it stopped; a failing point is reported and the sweep goes on.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import notes
from .errors import XMCBenchError
from .plugins import Plugins
from .results.store import describe_params, load_records, params_key
from .runner import RunRequest, build_method, effective_params, run
from .values import parse_value

__all__ = ["Outcome", "Point", "parse_grid", "plan_points", "run_sweep"]

DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass(frozen=True)
class Point:
    """One run of the sweep: the grid's values at this point (plus the fixed ones) and a seed."""

    grid: Mapping[str, Any]
    seed: int
    fixed: Mapping[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, Any]:
        return {**self.fixed, **self.grid}

    def label(self) -> str:
        """``tree_k=8, candidates=160`` in grid order."""
        return ", ".join(describe_params({k: v}) for k, v in self.grid.items())

    def describe(self) -> str:
        return f"{self.label()} (seed {self.seed})"


@dataclass(frozen=True)
class Outcome:
    """What happened at a point: done (detail: record path), skipped (the existing record) or
    failed (detail: the error)."""

    point: Point
    status: str
    detail: str


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """``key=v1,v2,...`` (or a JSON list, ``key=[[512,256],[256]]``) -> {key: [values]}."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise XMCBenchError(f"--grid expects key=v1,v2,..., got {item!r}")
        if key in grid:
            raise XMCBenchError(f"--grid {key} is given twice; list all its values in one --grid")
        grid[key] = _grid_values(key, text)
    return grid


def _grid_values(key: str, text: str) -> list[Any]:
    if text.strip().startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError:
            values = None
        if isinstance(values, list) and values:
            return values
    parts = text.split(",")
    if any(not p.strip() for p in parts):
        raise XMCBenchError(f"--grid {key}={text}: an empty value between commas")
    return [parse_value(p.strip()) for p in parts]


def plan_points(
    grid: Mapping[str, Sequence[Any]],
    *,
    zipped: bool = False,
    seeds: Sequence[int] = (0,),
    fixed: Mapping[str, Any] | None = None,
) -> list[Point]:
    """Every point in order: the first --grid varies slowest, the seed fastest."""
    fixed = dict(fixed or {})
    if not grid:
        raise XMCBenchError("sweep needs at least one --grid key=v1,v2,...")
    both = sorted(set(grid) & set(fixed))
    if both:
        raise XMCBenchError(f"{', '.join(both)} given both in --set and in --grid")
    if not seeds:
        raise XMCBenchError("--seeds lists no seed")
    keys = list(grid)
    if zipped:
        lengths = {k: len(v) for k, v in grid.items()}
        if len(set(lengths.values())) > 1:
            sizes = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            raise XMCBenchError(f"--zip needs lists of one length: {sizes}")
        combos = list(zip(*(grid[k] for k in keys), strict=True))
    else:
        combos = list(itertools.product(*(grid[k] for k in keys)))
    return [
        Point(dict(zip(keys, combo, strict=True)), seed, fixed)
        for combo in combos
        for seed in seeds
    ]


def run_sweep(
    method: str,
    dataset: str,
    points: Sequence[Point],
    plugins: Plugins,
    *,
    results_dir: Path,
    prep: Mapping[str, Any] | None = None,
    device: str = "auto",
    progress: bool = True,
    log: Callable[..., Any] = notes.note,
    runner: Callable[..., Path] = run,
) -> list[Outcome]:
    """Run every point not already in `results_dir`; returns one Outcome per point, in order."""
    from .data.resolve import resolve_spec

    spec = plugins.methods.get(method)
    dataset_name = resolve_spec(dataset, plugins.datasets)[0].name
    prep = dict(prep or {})
    done = _existing(results_dir, spec.name, dataset_name, prep)
    outcomes = []
    for i, point in enumerate(points, 1):
        log(f"[{i}/{len(points)}] {spec.name} on {dataset_name}: {point.describe()}")
        try:
            key = _key(spec, point, device)
            if key in done:
                outcome = Outcome(point, SKIPPED, done[key])
            else:
                request = RunRequest(
                    method=spec.name,
                    dataset=dataset,
                    params=point.params,
                    prep=prep,
                    seed=point.seed,
                    device=device,
                    results_dir=Path(results_dir),
                    progress=progress,
                )
                path = runner(request, plugins, log=log if progress else _quiet)
                done[key] = str(path)
                outcome = Outcome(point, DONE, str(path))
        except Exception as exc:  # one failing point must not end the sweep
            outcome = Outcome(point, FAILED, _reason(exc))
        note = " (already recorded)" if outcome.status == SKIPPED else ""
        log(f"  {outcome.status}{note}: {outcome.detail}")
        outcomes.append(outcome)
    return outcomes


def _key(spec: Any, point: Point, device: str) -> tuple[str, int]:
    """What identifies a run's record: its resolved parameters (as recorded) and seed."""
    method = build_method(spec, point.params, point.seed, device)
    return params_key(effective_params(method, {**spec.params, **point.params})), point.seed


def _existing(
    results_dir: Path, method: str, dataset: str, prep: Mapping[str, Any]
) -> dict[tuple[str, int], str]:
    """(params key, seed) -> record path for the finished runs of this method and dataset."""
    found = {}
    for record in load_records(Path(results_dir), include_reported=False):
        if record.method != method or record.dataset != dataset:
            continue
        if dict(record.prep) != prep or not isinstance(record.seed, int):
            continue
        requested = record.params_before_fit or record.params  # see runner.run
        found[(params_key(requested), record.seed)] = str(record.path)
    return found


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    message = text[0] if text else ""
    return message if isinstance(exc, XMCBenchError) else f"{type(exc).__name__}: {message}"


def _quiet(*_: Any, **__: Any) -> None:
    """A log that prints nothing (--quiet)."""
