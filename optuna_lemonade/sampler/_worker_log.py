"""Append-only logs in a study's system attributes, one set of keys per worker."""

from __future__ import annotations

import threading
from typing import Any
import uuid

import optuna

from optuna_lemonade import _optuna_compat as compat


CHUNK = 200
"""Entries per key (about 10 kB of JSON): each append rewrites one key."""


class WorkerLog:
    """One worker's entries under ``<prefix><worker>:<chunk>`` in the study.

    Why a log in a few keys and not one study system attribute per entry: every
    decision reads all the study's system attributes (the storage API has no narrower
    read), and an RDB storage returns each attribute as a row to decode, so thousands of
    small attributes slow every decision down. Study system attributes cannot be
    deleted, so they cannot be compacted later; they are written compactly instead.
    Each worker (sampler object) appends only to its own keys (a random name), so no
    two workers rewrite one key and no entry is lost to a concurrent update; a key holds
    at most :data:`CHUNK` entries, so each write stays small.

    Args:
        prefix: The keys' prefix, ending with ``":"``.
    """

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._worker = uuid.uuid4().hex[:12]
        self._lock = threading.Lock()
        self._logs: dict[int, list[Any]] = {}  # study id -> all entries

    def others_last(self, attrs: dict[str, Any], count: int) -> list[Any]:
        """The last ``count`` entries of every other worker's log in ``attrs``.

        ``attrs`` are the study's system attributes; workers come in no particular
        order, and keys that do not hold a list are left out.
        """
        logs: dict[str, list[tuple[int, list[Any]]]] = {}
        for key, value in attrs.items():
            if not key.startswith(self._prefix) or not isinstance(value, list):
                continue
            worker, _, chunk = key[len(self._prefix) :].rpartition(":")
            if worker != self._worker and chunk.isdigit():
                logs.setdefault(worker, []).append((int(chunk), value))
        result = []
        for chunks in logs.values():
            result += [entry for _, value in sorted(chunks) for entry in value][-count:]
        return result

    def append(self, study: optuna.Study, entries: list[Any]) -> None:
        """Append ``entries`` (JSON-serialisable) to this worker's log in ``study``."""
        if not entries:
            return
        with self._lock:
            log = self._logs.setdefault(compat.study_id(study), [])
            first_chunk = len(log) // CHUNK
            log.extend(entries)
            # Inside the lock: two threads must not write one key in the wrong order.
            for chunk in range(first_chunk, (len(log) - 1) // CHUNK + 1):
                key = f"{self._prefix}{self._worker}:{chunk}"
                compat.set_study_system_attr(study, key, log[chunk * CHUNK : (chunk + 1) * CHUNK])
