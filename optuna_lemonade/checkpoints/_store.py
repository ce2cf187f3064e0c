"""Checkpoints as Optuna artifacts of their trials."""

from __future__ import annotations

import collections
import functools
import os
import tempfile
import threading
from typing import TYPE_CHECKING
import uuid
import warnings

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.artifacts import upload_artifact
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.trial import FrozenTrial
import torch
from torch import nn

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade._storage_keys import CHECKPOINT_KEY
from optuna_lemonade._warning import LemonadeWarning
from optuna_lemonade.architecture import Architecture
from optuna_lemonade.checkpoints._format import CheckpointError
from optuna_lemonade.checkpoints._format import cpu_state
from optuna_lemonade.checkpoints._format import model_of
from optuna_lemonade.checkpoints._format import read_state
from optuna_lemonade.checkpoints._format import serialise
from optuna_lemonade.checkpoints._format import StoreUnavailableError
from optuna_lemonade.network import check_model
from optuna_lemonade.network import GraphNetwork


if TYPE_CHECKING:
    from optuna_lemonade._optuna_compat import ArtifactStore


@functools.lru_cache(maxsize=1 << 16)
def _is_uuid(value: str) -> bool:
    # Cached: asked of every trial with a checkpoint at every decision.
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def checkpoint_id_problem(trial: FrozenTrial, value: object) -> str | None:
    """What is wrong with ``value`` as ``trial``'s checkpoint id, or None if nothing.

    The id comes from the storage, which anything with access can write. It is used
    only if it is what Optuna's ``upload_artifact`` makes (a UUID, so it cannot name a
    path) and Optuna recorded it as uploaded by this same trial: a trial can then never
    make a worker read, or retention delete, another trial's checkpoint.
    """
    if not isinstance(value, str):
        return f"its checkpoint id is not a string ({type(value).__name__})"
    if not _is_uuid(value):
        return f"its checkpoint id {value[:80]!r} is not an artifact id Optuna makes"
    if not compat.uploaded_by(trial, value):
        return f"its checkpoint id {value!r} is not an artifact this trial uploaded"
    return None


DEFAULT_DIRECTORY = "lemonade-checkpoints"

RECENT_BYTES = 256 * 2**20
"""Weights of recently saved or loaded checkpoints kept in memory, at most (bytes)."""


class _RecentStates:
    """The validated weights of recently used checkpoints, by artifact id (LRU).

    Parents are drawn from a small population again and again, and reading a
    checkpoint with ``torch.load(weights_only=True)`` took about half of a decision's
    time at 1,000 trials (its unpickler is written in Python). An artifact id names
    one upload for good (Optuna makes a new UUID for each), so its weights never
    change; a deleted one is withdrawn from the population before it could be asked
    for again. Models are always built afresh from these tensors, which nobody else
    holds, so a cached entry is never changed by training. Written by hand because
    ``functools.lru_cache`` bounds the number of entries, not their bytes, and networks
    differ in size by orders of magnitude.
    """

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[
            str, tuple[Architecture, dict[str, torch.Tensor], int]
        ] = collections.OrderedDict()

    def get(self, artifact_id: str) -> tuple[Architecture, dict[str, torch.Tensor]] | None:
        with self._lock:
            entry = self._entries.get(artifact_id)
            if entry is None:
                return None
            self._entries.move_to_end(artifact_id)
            return entry[0], entry[1]

    def put(
        self,
        artifact_id: str,
        arch: Architecture,
        state: dict[str, torch.Tensor],
        *,
        copy: bool = False,
    ) -> None:
        """Keep ``state`` (a copy of it with ``copy``) unless it alone exceeds the limit."""
        size = sum(value.numel() * value.element_size() for value in state.values())
        if size > self._max_bytes:
            return
        if copy:
            state = {key: value.clone() for key, value in state.items()}
        with self._lock:
            if artifact_id in self._entries:
                return
            self._entries[artifact_id] = (arch, state, size)
            self._bytes += size
            while self._bytes > self._max_bytes:
                _, (_, _, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def drop(self, artifact_id: str) -> None:
        with self._lock:
            entry = self._entries.pop(artifact_id, None)
            if entry is not None:
                self._bytes -= entry[2]


class CheckpointStore:
    """Saves and loads networks as Optuna artifacts linked to their trials.

    Any :mod:`optuna.artifacts` store works (a shared file system, S3 through
    ``Boto3ArtifactStore``, GCS), so optuna-dashboard lists the checkpoints with the
    trials' other artifacts.

    Args:
        artifact_store: Where the files go. Default: a ``FileSystemArtifactStore`` in
            ``./lemonade-checkpoints``, created on first save and announced in Optuna's
            log (level INFO) when this store is made.
    """

    def __init__(self, artifact_store: ArtifactStore | None = None) -> None:
        self._default_directory: str | None = None
        if artifact_store is None:
            self._default_directory = DEFAULT_DIRECTORY
            artifact_store = FileSystemArtifactStore(DEFAULT_DIRECTORY)
            # Under Optuna's logger, so that optuna.logging's verbosity applies.
            optuna.logging.get_logger("optuna.lemonade").info(
                f"No artifact_store given: checkpoints go to {os.path.abspath(DEFAULT_DIRECTORY)}"
            )
        self.artifact_store = artifact_store
        self._recent = _RecentStates(RECENT_BYTES)

    def save(self, trial: optuna.Trial, arch: Architecture, model: nn.Module) -> str:
        """Upload ``model`` as the checkpoint of the running ``trial``.

        Returns:
            The artifact id.

        Raises:
            ValueError: If the model does not match the architecture.
            CheckpointError: If the artifact store fails to store it (full, unreachable).
        """
        check_model(arch, model)
        state = cpu_state(model)
        data = serialise(arch, state)
        if self._default_directory is not None:
            os.makedirs(self._default_directory, exist_ok=True)
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, f"trial-{trial.number}.pt")
            with open(path, "wb") as file:
                file.write(data)
            try:
                artifact_id = upload_artifact(
                    artifact_store=self.artifact_store,
                    file_path=path,
                    study_or_trial=trial,
                    mimetype="application/octet-stream",
                )
            except Exception as error:  # any store's own errors: OSError, botocore's, ...
                # Nothing names the upload yet (the checkpoint key is set below), so no
                # worker takes a half-written file as a parent. A partial object the
                # store may have left stays there: upload_artifact does not tell its id.
                raise CheckpointError(
                    f"the checkpoint of trial {trial.number} could not be saved to the "
                    f"artifact store ({type(error).__name__}: {error}); the trial cannot "
                    "be a parent"
                ) from error
        compat.set_trial_system_attr(
            compat.trial_storage(trial), trial, CHECKPOINT_KEY, artifact_id
        )
        # A copy: the state may share memory with the model, which training changes.
        self._recent.put(artifact_id, arch, state, copy=True)
        return artifact_id

    @staticmethod
    def artifact_id(trial: FrozenTrial) -> str | None:
        """The artifact id of ``trial``'s checkpoint, or None if it saved none.

        An id that fails :func:`checkpoint_id_problem` counts as none, with a
        :class:`~optuna_lemonade.sampler.LemonadeWarning` naming the trial (once per
        trial and problem): such a trial is never a parent, and retention never deletes
        anything for it.
        """
        value = trial.system_attrs.get(CHECKPOINT_KEY)
        if value is None:
            return None
        problem = checkpoint_id_problem(trial, value)
        if problem is not None:
            # stacklevel 2 with the message naming the trial: Python's default filter
            # shows each trial's warning once, not at every decision.
            warnings.warn(
                f"trial {trial.number}: {problem}; it is ignored (the storage was changed "
                "by something other than optuna-lemonade)",
                LemonadeWarning,
                stacklevel=2,
            )
            return None
        assert isinstance(value, str)
        return value

    def load(self, trial: FrozenTrial, arch: Architecture) -> GraphNetwork:
        """Load ``trial``'s checkpoint, which must hold ``arch``.

        Returns:
            The model on CPU, in eval mode.

        Raises:
            CheckpointError: If the trial has no checkpoint, or it is missing from the
                artifact store, unreadable, or does not match ``arch``.
            StoreUnavailableError: If the store failed to read it (a
                :class:`CheckpointError` that says nothing about the checkpoint).
        """
        artifact_id = self.artifact_id(trial)
        if artifact_id is None:
            raise CheckpointError(f"trial {trial.number} saved no checkpoint")
        recent = self._recent.get(artifact_id)
        if recent is not None and recent[0] == arch:
            return model_of(*recent)
        try:
            with self.artifact_store.open_reader(artifact_id) as reader:
                data = reader.read()
        except ArtifactNotFound:
            raise CheckpointError(
                f"the checkpoint of trial {trial.number} ({artifact_id}) is missing from the "
                "artifact store"
            ) from None
        except ValueError as error:  # the store refuses the id
            raise CheckpointError(
                f"the checkpoint of trial {trial.number} cannot be read: {error}"
            ) from None
        except Exception as error:  # any store's own errors: OSError, botocore's, ...
            raise StoreUnavailableError(
                f"the artifact store failed to read the checkpoint of trial {trial.number} "
                f"({type(error).__name__}: {error})"
            ) from None
        try:
            _, state = read_state(data, expected=arch)
            model = model_of(arch, state)
        except CheckpointError as error:
            raise CheckpointError(f"trial {trial.number}: {error}") from None
        self._recent.put(artifact_id, arch, state)
        return model

    def remove(self, artifact_id: str) -> bool:
        """Delete a checkpoint file from the artifact store.

        Returns:
            Whether it was deleted now. A missing file is not an error: another worker may
            have deleted it, and ``optuna.artifacts.Backoff.remove`` of Optuna 5.0.0
            retries a successful delete and then reports the file missing. A store that
            fails (unreachable, permission denied) gets a warning and the file stays:
            retention only saves space, so it never stops the search.
        """
        self._recent.drop(artifact_id)
        try:
            self.artifact_store.remove(artifact_id)
        except ArtifactNotFound:
            return False
        except Exception as error:  # any store's own errors: OSError, botocore's, ...
            warnings.warn(
                f"checkpoint {artifact_id} could not be deleted from the artifact store "
                f"({type(error).__name__}: {error}); it stays there",
                LemonadeWarning,
                stacklevel=2,
            )
            return False
        return True
