"""Chaos run: workers SIGKILLed at random while they search; nothing completed may be lost.

Eight worker processes (``_chaos_worker.py``) search small networks on scikit-learn's
digits with checkpoint retention on, sharing a study on PostgreSQL (Optuna's RDB
heartbeats) or on a journal file (the sampler's heartbeats), and a file-system artifact
store. First ``--startup-kills`` SIGKILLs 1-4 s apart hit any worker, in start-up,
loading data, deciding or training the initial networks; then every few seconds
(uniformly 2-5 s) the controller SIGKILLs a random worker past its start-up; each killed
worker is replaced, until ``--kills`` more (or ``--max-minutes`` passed). Dead workers'
trials are failed by the heartbeats and retried (at most 3 times) with the same
decision. Kills are counted, not timed, so the workers then search on without kills
until every initial network and one child per worker have completed (within
``--max-minutes``): on a slow machine the kills can all land in start-up. Then the
workers are stopped, stale trials recovered, the retries run by one
last worker, and the study is checked:

* no trial is left RUNNING or WAITING;
* every COMPLETE trial's checkpoint loads, or retention deleted it and logged the
  deletion with that artifact id; any other is a **lost network**. A file logged as
  deleted that is still there is counted as **leaked**, not a problem: retention logs a
  deletion before it removes the file (so that no worker picks it as a parent in
  between), and a worker killed between the two leaves the file behind (disk space,
  not a network) until a worker started later makes its first decision (README's
  "Checkpoints on disk"): the run's last workers may not;
* every child's parent was COMPLETE with a checkpoint when the child was decided;
* each initial architecture was trained to completion once;
* the values of every trial seen COMPLETE during the run never changed.

Prints and writes (JSON) kills survived, trials completed, failed and retried, and
networks lost. ``--quick`` (CI): 3 start-up kills and 6 later, both storages.
PostgreSQL's URL comes from ``OPTUNA_LEMONADE_TEST_POSTGRES`` (CI sets it); exits 1 if a
check fails."""

from __future__ import annotations

import argparse
import os
import pathlib
import random
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any
import uuid
import warnings

from _chaos_worker import GRACE
from _chaos_worker import MAX_RETRY
from _chaos_worker import search_space
from _common import RESULTS
from _common import write_json
import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage
from optuna.storages import fail_stale_trials
from optuna.storages import JournalStorage
from optuna.storages import RDBStorage
from optuna.storages import RetryFailedTrialCallback
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_lemonade._storage_keys import CHECKPOINT_KEY
from optuna_lemonade._storage_keys import DECISION_KEY
from optuna_lemonade.checkpoints import CheckpointError
from optuna_lemonade.checkpoints import CheckpointStore
from optuna_lemonade.sampler import deleted_checkpoints
from optuna_lemonade.sampler import fail_trials_without_heartbeat
from optuna_lemonade.sampler._decision import Decision


HERE = pathlib.Path(__file__).parent
POSTGRES_ENV = "OPTUNA_LEMONADE_TEST_POSTGRES"


class Workers:
    """The worker processes: start, kill at random, stop."""

    def __init__(self, options: list[str], log: pathlib.Path, stop_file: pathlib.Path) -> None:
        self._options = options
        self._log = log
        self._stop_file = stop_file
        self._next_seed = 0
        self.live: list[subprocess.Popen[bytes]] = []
        self._started: dict[int, float] = {}  # pid -> when it was started

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        self._next_seed += 1
        seed = ["--seed", str(self._next_seed), "--stop-file", str(self._stop_file)]
        with open(self._log, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, str(HERE / "_chaos_worker.py"), *self._options, *seed, *extra],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=HERE,
            )
        self.live.append(process)
        self._started[process.pid] = time.monotonic()
        return process

    def kill_one(self, rng: random.Random, *, starting: bool = False) -> None:
        """SIGKILL a random worker, preferring one past its start-up (about 5 s of
        imports), so that most kills land in the middle of a trial; with ``starting``,
        any worker, so that kills land in start-up and the initial networks' training."""
        self.live = [p for p in self.live if p.poll() is None]
        working = [p for p in self.live if time.monotonic() - self._started[p.pid] > 6]
        candidates = self.live if starting else working or self.live
        if candidates:
            victim = candidates[rng.randrange(len(candidates))]
            self.live.remove(victim)
            victim.send_signal(signal.SIGKILL)
            victim.wait()

    def stop(self, timeout: float) -> list[int]:
        """Ask every worker to stop after its trial; SIGKILL the ones that do not."""
        self._stop_file.touch()
        deadline = time.monotonic() + timeout
        codes = []
        for process in self.live:
            try:
                codes.append(process.wait(max(0.1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(process.wait())
        self.live = []
        return codes


def storage_of(kind: str, directory: pathlib.Path) -> tuple[BaseStorage, list[str], str]:
    """A storage for the controller, the workers' options for it, and its URL."""
    if kind == "journal":
        journal = directory / "journal.log"
        return JournalStorage(JournalFileBackend(str(journal))), ["--journal", str(journal)], ""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        raise SystemExit(f"--storage postgresql needs {POSTGRES_ENV}=<url>")
    # The controller's own storage has the workers' heartbeat settings, so that
    # fail_stale_trials recovers their trials at the end as a worker would.
    storage = RDBStorage(
        url,
        heartbeat_interval=1,
        grace_period=GRACE["postgresql"],
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
    )
    return storage, ["--storage", url], url


def recover(kind: str, study: optuna.Study) -> None:
    """Fail the trials of dead workers (queuing their retries), as a worker would."""
    if kind == "journal":
        # Judged on this process's clock: the first sweep starts watching the
        # heartbeats, the second fails the trials whose heartbeat has not moved since.
        retry = RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
        fail_trials_without_heartbeat(study, grace_period=GRACE[kind], callback=retry)
        time.sleep(GRACE[kind] + 1)
        fail_trials_without_heartbeat(study, grace_period=GRACE[kind], callback=retry)
    else:
        time.sleep(GRACE[kind] + 1)
        fail_stale_trials(study)


def decisions_of(trials: list[FrozenTrial]) -> dict[int, Decision]:
    """The sampler's decision of each trial that has one, by trial number."""
    return {
        t.number: Decision.from_dict(t.system_attrs[DECISION_KEY])
        for t in trials
        if DECISION_KEY in t.system_attrs
    }


def check(
    study: optuna.Study,
    store: CheckpointStore,
    artifacts: pathlib.Path,
    seen_values: dict[int, list[float]],
    initial: list[Any],
) -> dict[str, Any]:
    """The checks of the module docstring; returns counts and the problems found."""
    trials = study.get_trials(deepcopy=False)
    problems: list[str] = []
    by_number = {t.number: t for t in trials}
    decisions = decisions_of(trials)
    unfinished = [
        f"{t.number} ({t.state.name})"
        for t in trials
        if t.state in (TrialState.RUNNING, TrialState.WAITING)
    ]
    if unfinished:
        problems.append(f"trials left RUNNING or WAITING: {', '.join(unfinished)}")
    deleted = deleted_checkpoints(study)
    lost, leaked = [], []
    loaded = retired = 0
    for trial in trials:
        if trial.state != TrialState.COMPLETE:
            continue
        checkpoint = trial.system_attrs.get(CHECKPOINT_KEY)
        if checkpoint is not None and deleted.get(trial.number) == checkpoint:
            if (artifacts / checkpoint).exists():
                leaked.append(trial.number)
            retired += 1
            continue
        try:
            store.load(trial, decisions[trial.number].architecture)
            loaded += 1
        except (CheckpointError, KeyError) as error:
            lost.append(trial.number)
            problems.append(f"trial {trial.number} lost: {error}")
    for number, decision in decisions.items():
        if decision.parent is None or by_number[number].state != TrialState.COMPLETE:
            continue
        parent = by_number[decision.parent]
        complete = parent.datetime_complete
        if (
            parent.state != TrialState.COMPLETE
            or CHECKPOINT_KEY not in parent.system_attrs
            or complete is None
            or decision.decided_at is None
            or complete.timestamp() > decision.decided_at
        ):
            problems.append(f"trial {number}: parent {parent.number} was not ready")
    for arch in initial:
        trained = [
            n
            for n, d in decisions.items()
            if d.kind == "initial"
            and d.architecture == arch
            and by_number[n].state == TrialState.COMPLETE
        ]
        if len(trained) != 1:
            problems.append(f"an initial architecture completed {len(trained)} times: {trained}")
    changed = [
        n
        for n, values in seen_values.items()
        if by_number[n].state != TrialState.COMPLETE or list(by_number[n].values) != values
    ]
    if changed:
        problems.append(f"completed values changed: {changed}")
    states = [t.state for t in trials]
    return {
        "trials": len(trials),
        "complete": states.count(TrialState.COMPLETE),
        "failed": states.count(TrialState.FAIL),
        "retries": sum(
            RetryFailedTrialCallback.retried_trial_number(t) is not None for t in trials
        ),
        "checkpoints_loaded": loaded,
        "checkpoints_deleted_by_retention": retired,
        "networks_lost": len(lost),
        "leaked_files": leaked,
        "problems": problems,
    }


def past_start(study: optuna.Study, initial: list[Any], children: int) -> bool:
    """Whether every initial architecture and ``children`` children have completed."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    decisions = decisions_of(complete).values()
    trained = [d.architecture for d in decisions if d.kind == "initial"]
    return (
        all(arch in trained for arch in initial)
        and sum(d.parent is not None for d in decisions) >= children
    )


def run(
    kind: str, kills: int, startup_kills: int, max_minutes: float, seed: int, workers: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as name:
        directory = pathlib.Path(name)
        artifacts = directory / "artifacts"
        artifacts.mkdir()
        storage, options, _ = storage_of(kind, directory)
        study_name = f"chaos-{uuid.uuid4().hex[:8]}"
        study = optuna.create_study(
            study_name=study_name, storage=storage, directions=["minimize", "minimize"]
        )
        options += ["--artifacts", str(artifacts), "--study", study_name]
        log = directory / "workers.log"
        pool = Workers(options, log, directory / "stop")
        start = time.monotonic()
        for _ in range(workers):
            pool.start()
        seen: dict[int, list[float]] = {}
        killed = 0
        # The start-up kills first, 1-4 s apart within the first minute: workers
        # importing, loading data, deciding and training the initial networks.
        next_kill = time.monotonic() + rng.uniform(1, 4)
        while killed < kills + startup_kills and time.monotonic() - start < 60 * max_minutes:
            time.sleep(0.5)
            for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
                seen.setdefault(trial.number, list(trial.values))
            if time.monotonic() >= next_kill:
                starting = killed < startup_kills
                pool.kill_one(rng, starting=starting)
                killed += 1
                pool.start()
                gap = (1, 4) if killed < startup_kills else (2, 5)
                next_kill = time.monotonic() + rng.uniform(*gap)
        chaos_seconds = time.monotonic() - start
        # Then calm until the search is past its start: the kills are counted, not
        # timed, and on a slow machine they can all land before any worker has trained
        # an initial network (CI once saw 2 trials in 34 s). Only a search that never
        # gets there within --max-minutes counts as a problem (checked below).
        initial = search_space()[0].initial_architectures()
        deadline = start + 60 * max_minutes
        while not past_start(study, initial, workers) and time.monotonic() < deadline:
            time.sleep(1)
        calm_seconds = time.monotonic() - start - chaos_seconds
        codes = pool.stop(timeout=120)
        recover(kind, study)
        waiting = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
        if waiting:  # the retries of the last killed workers' trials
            (directory / "stop").unlink()
            finisher = pool.start("--trials", str(waiting))
            finisher.wait(timeout=600)
        # A fresh connection: nothing cached by the controller's polling.
        storage, _, _ = storage_of(kind, directory)
        study = optuna.load_study(study_name=study_name, storage=storage)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            seen.setdefault(trial.number, list(trial.values))
        store = CheckpointStore(FileSystemArtifactStore(str(artifacts)))
        result = check(study, store, artifacts, seen, initial)
        worker_log = log.read_text(errors="replace")
        tracebacks = worker_log.count("Traceback")
        if tracebacks:
            result["problems"].append(f"{tracebacks} tracebacks in the workers' output")
            print(worker_log[-3000:])
        return {
            "storage": kind,
            "workers": workers,
            "kills": killed,
            "startup_kills": min(killed, startup_kills),
            "chaos_seconds": round(chaos_seconds, 1),
            "calm_seconds": round(calm_seconds, 1),
            "worker_exit_codes_at_stop": codes,
            "retries_run_at_the_end": waiting,
            **result,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storages", default="postgresql,journal")
    parser.add_argument("--kills", type=int, default=25)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument(
        "--startup-kills",
        type=int,
        default=4,
        help="kills in the first seconds, before the later ones (default: 4)",
    )
    parser.add_argument("--max-minutes", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="6 kills per storage")
    parser.add_argument("--output-dir", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    storages = args.storages.split(",")
    unknown = sorted(set(storages) - {"postgresql", "journal"})
    if unknown:
        parser.error(f"--storages: unknown {', '.join(unknown)}; choose postgresql, journal")
    if args.kills < 1 or args.workers < 1 or args.startup_kills < 0:
        parser.error("--kills and --workers must be at least 1, --startup-kills 0 or more")
    if args.quick:
        args.kills, args.startup_kills = 6, 3
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=ExperimentalWarning)  # Optuna's heartbeats
    results = []
    for kind in storages:
        print(
            f"{kind}: {args.workers} workers, killing {args.startup_kills} at start-up and "
            f"{args.kills} later ...",
            flush=True,
        )
        result = run(
            kind, args.kills, args.startup_kills, args.max_minutes, args.seed, args.workers
        )
        results.append(result)
        print(
            f"{kind}: {result['kills']} kills in {result['chaos_seconds']:.0f} s, then "
            f"{result['calm_seconds']:.0f} s without; "
            f"{result['trials']} trials: {result['complete']} complete, {result['failed']} "
            f"failed, {result['retries']} retries; {result['checkpoints_loaded']} checkpoints "
            f"load, {result['checkpoints_deleted_by_retention']} deleted by retention (logged); "
            f"networks lost: {result['networks_lost']}",
            flush=True,
        )
        if result["leaked_files"]:
            print(
                f"  leaked (logged as deleted, the file still there: a worker killed between "
                f"the log and the delete): trials {result['leaked_files']}",
                flush=True,
            )
        for problem in result["problems"]:
            print(f"  PROBLEM: {problem}", flush=True)
    name = "chaos" + ("_quick" if args.quick else "")
    write_json(args.output_dir, name, {"seed": args.seed, "results": results})
    if any(r["problems"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
