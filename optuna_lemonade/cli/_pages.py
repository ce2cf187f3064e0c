"""The search command's optuna-dashboard pages: notes, diagrams, the genealogy figure."""

from __future__ import annotations

from typing import Any

import optuna
from tqdm.auto import tqdm

from optuna_lemonade.cli._environment import dashboard_installed
from optuna_lemonade.sampler import Child


class Pages:
    """Writes the dashboard pages of a search, if asked and installed.

    Pages are a view: a failure to write one (a full disk, a storage error) is reported
    once and turns the pages off; it never fails a trial or ends the search.
    """

    REFRESH_EVERY = 10
    """Finished trials between two saves of the genealogy figure (saving it rewrites
    about 1 kB per trial of the study in its system attributes)."""

    def __init__(self, study: optuna.Study, artifact_store: Any, *, enabled: bool) -> None:
        self.study = study
        self.artifact_store = artifact_store
        self.enabled = enabled and dashboard_installed()
        self._since_saved = 0
        if self.enabled:  # diagrams are drawn off-screen; the command shows no window
            import matplotlib

            matplotlib.use("Agg")
        if enabled and not self.enabled:
            print(
                'dashboard pages off: pip install "optuna-lemonade[dashboard]" for lineage '
                "notes, architecture diagrams and the genealogy figure in optuna-dashboard",
                flush=True,
            )

    def _failed(self, what: str, error: Exception) -> None:
        self.enabled = False
        tqdm.write(
            f"dashboard pages off: cannot write {what}: {type(error).__name__}: {error} "
            "(the search goes on)"
        )

    def annotate(self, trial: optuna.Trial, child: Child) -> None:
        """The trial's lineage note and architecture diagram."""
        if not self.enabled:
            return
        # Imported only when the pages are on: it imports plotly and pyplot.
        from optuna_lemonade.dashboard import annotate_trial

        try:
            annotate_trial(trial, child, artifact_store=self.artifact_store)
        except Exception as error:  # a view must not fail the trial
            self._failed(f"the note of trial {trial.number}", error)

    def callback(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Refresh the genealogy figure every :attr:`REFRESH_EVERY` finished trials."""
        self._since_saved += 1
        if self._since_saved >= self.REFRESH_EVERY:
            self.save_genealogy()

    def save_genealogy(self) -> None:
        """Save the genealogy figure to the study now."""
        self._since_saved = 0
        if not self.enabled:
            return
        from optuna_lemonade.dashboard import save_genealogy

        # Error up, parameters (else the first cost) across, whatever the objectives'
        # order: e.g. "macs,error", or two tasks' errors first.
        names = list(self.study.metric_names or [])
        errors = [i for i, name in enumerate(names) if name.startswith("error")]
        costs = [i for i, name in enumerate(names) if not name.startswith("error")]
        x = names.index("params") if "params" in names else (costs or [1])[0]
        try:
            save_genealogy(self.study, x=x, y=(errors or [0])[0])
        except Exception as error:  # a view must not end the search
            self._failed("the genealogy figure", error)
