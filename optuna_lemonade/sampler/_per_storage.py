"""State kept per storage: trial and study ids repeat across storages.

A sampler object may serve studies on two storages (a loop over studies, a test that
copies a study): its caches keyed by trial id alone would then mix the trials of one
storage with those of the other, which share ids 0, 1, ... The sampler keeps each
strategy that remembers trials once per storage object instead.
"""

from __future__ import annotations

from collections.abc import Callable
import threading
from typing import Generic
from typing import TypeVar
import weakref

from optuna.storages import BaseStorage


T = TypeVar("T")


class PerStorage(Generic[T]):
    """One ``T`` per storage object, made on first use; forgotten with the storage."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._weak: weakref.WeakKeyDictionary[BaseStorage, T] = weakref.WeakKeyDictionary()
        # For a storage that cannot be weakly referenced or hashed (a user's own class):
        # kept with the storage itself, so that its id is not reused while it is here.
        self._strong: dict[int, tuple[BaseStorage, T]] = {}

    def __call__(self, storage: BaseStorage) -> T:
        """The state for ``storage``."""
        with self._lock:
            try:
                state = self._weak.get(storage)
                if state is None:
                    state = self._weak[storage] = self._make()
                return state
            except TypeError:
                entry = self._strong.get(id(storage))
                if entry is None:
                    entry = self._strong[id(storage)] = (storage, self._make())
                return entry[1]
