"""Checkpoint micro-benchmark: what one save costs a replica (per-camera files) against the
single engine (one file), and the per-camera files written one after the other (before)
against written together (now: all temp files written, then fsynced, renamed, and the
directory fsynced once).

Real camera states: bench/engine.py's synthetic stream (20 cameras, 10 tracks per frame,
4 lines and 4 zones each) run through the engine in-process. Each pass saves the states of
``K`` changed cameras (1, 6, 20) into a temp directory on the disk the engine would use
(``--dir``, default: the system temp dir), interleaved so that the machine's load hits
every variant alike; the median over the rounds is printed, as wall and CPU (user +
system of this process) per save, and per envelope when one save holds ``--per-save``
envelopes (100: half of ``mqtt.receive_maximum``, the urgent checkpoint of a flood).

The single engine's file holds every camera; it is written whole each save, and since issue
19's third pass only the changed cameras are encoded again (``WholeFile`` keeps the others'
bytes): ``--copies 15`` gives it 300 cameras.

Usage: ``.venv/bin/python bench/checkpoints.py [--rounds 40] [--dir DIR] [--per-save 100]
[--copies 1]``

Example:
    >>> run = Measured("x", [0.002, 0.004, 0.003], [0.001, 0.001, 0.002])
    >>> run.wall_ms, run.cpu_ms
    (3.0, 1.0)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine import CAMERAS, settings, stream
from event_engine.checkpoint import Checkpoint
from event_engine.engine import Engine
from event_engine.partition import CameraFiles
from event_engine.saving import WholeFile
from event_engine.tracks import CameraState
from sightline.atomic import sync_directory


@dataclass
class Measured:
    """Wall and CPU seconds of each save of one variant."""

    name: str
    wall: list[float]
    cpu: list[float]

    @property
    def wall_ms(self) -> float:
        """Median wall time per save, ms."""
        return round(statistics.median(self.wall) * 1e3, 3)

    @property
    def cpu_ms(self) -> float:
        """Median CPU time per save, ms."""
        return round(statistics.median(self.cpu) * 1e3, 3)


def one_after_another(files: CameraFiles, snapshot: dict[str, bytes]) -> None:
    """The per-camera write before batching: temp file, write, fsync, rename, for each
    camera in turn; then the directory once."""
    files.directory.mkdir(parents=True, exist_ok=True)
    for camera, data in snapshot.items():
        fd, temp = tempfile.mkstemp(dir=files.directory, prefix=f".{camera}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, files.path(camera))
    sync_directory(files.directory)


def camera_states(frames: int, copies: int = 1) -> dict[str, CameraState]:
    """The states of bench/engine.py's cameras after ``frames`` frames (each camera's state
    ``copies`` times, under other names, for an engine with more cameras)."""
    engine = Engine(settings())
    for envelope in stream(frames):
        engine.process(envelope)
    return {
        camera if copy == 0 else f"{camera}-{copy}": state if copy == 0 else deepcopy(state)
        for copy in range(copies)
        for camera, state in engine.states.items()
    }


def variants(
    root: Path, states: Mapping[str, CameraState], changed: list[str]
) -> dict[str, Callable[[], None]]:
    """Each way of saving the ``changed`` cameras: snapshot (encoding) and write."""
    before = CameraFiles(root / "before", "bench")
    now = CameraFiles(root / "now", "bench")
    whole = WholeFile(Checkpoint(root / "whole" / "engine-state.json"))
    whole.snapshot(states, list(states))  # a running engine has saved every camera once
    everything = Checkpoint(root / "everything" / "engine-state.json")
    everything.path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "replica, one file after another (before)": lambda: one_after_another(
            before, before.snapshot(states, changed)
        ),
        "replica, files written together (now)": lambda: now.write(now.snapshot(states, changed)),
        "single engine, all encoded each save (before)": lambda: everything.write(
            everything.encode(dict(states))
        ),
        "single engine, changed ones encoded (now)": lambda: whole.write(
            whole.snapshot(states, changed)
        ),
    }


def measure(rounds: int, saves: dict[str, Callable[[], None]]) -> list[Measured]:
    """Run each save ``rounds`` times, interleaved."""
    results = {name: Measured(name, [], []) for name in saves}
    for _ in range(rounds):
        for name, save in saves.items():
            wall, cpu = time.perf_counter(), time.process_time()
            save()
            results[name].wall.append(time.perf_counter() - wall)
            results[name].cpu.append(time.process_time() - cpu)
    return list(results.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--frames", type=int, default=200, help="frames run to build the states")
    parser.add_argument("--per-save", type=int, default=100, help="envelopes one save holds")
    parser.add_argument(
        "--copies", type=int, default=1, help="each camera this many times (more cameras)"
    )
    parser.add_argument("--dir", type=Path, default=None, help="where to write (a temp dir in)")
    args = parser.parse_args()
    states = camera_states(args.frames, args.copies)
    sizes = sorted({len(CameraFiles(Path(), "bench").snapshot(states, [c])[c]) for c in states})
    print(
        f"{len(states)} cameras, {args.frames} frames each; a camera's file "
        f"{sizes[0]:,}-{sizes[-1]:,} bytes; median of {args.rounds} rounds; CPU is this "
        f"process's user + system; per envelope: one save per {args.per_save} envelopes"
    )
    print(f"{'changed cameras per save':<54} {'wall ms':>9} {'CPU ms':>8} {'CPU us/env':>11}")
    cameras = sorted(states)
    for count in sorted({1, 6, CAMERAS, len(states)}):
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            for run in measure(args.rounds, variants(Path(tmp), states, cameras[:count])):
                print(
                    f"{f'{count:>3} | {run.name}':<54} {run.wall_ms:>9.2f} {run.cpu_ms:>8.2f} "
                    f"{run.cpu_ms * 1e3 / args.per_save:>11,.0f}"
                )


if __name__ == "__main__":
    main()
