"""optuna-dashboard pages for a LEMONADE study.

Lineage notes, architecture diagrams and the genealogy figure. Needs optuna-dashboard
and plotly (``pip install "optuna-lemonade[dashboard]"``); the rest of the package works
without them. The search command writes these pages when they are installed; in your
own pipeline::

    study.set_metric_names(["error", "params"])  # named objectives, not "0", "1"

    def objective(trial):
        child = sampler.child(trial)
        annotate_trial(trial, child, artifact_store=store)  # note + diagram
        ...

    study.optimize(objective, n_trials=100)
    save_genealogy(study)  # the lineage figure on the study page

What each writes, and what it costs: :func:`annotate_trial` saves one note per trial,
which optuna-dashboard keeps in the *study's* system attributes (a few hundred bytes per
trial, read by the sampler at every decision), and uploads one SVG artifact (10-30 kB)
per trial. :func:`save_genealogy` stores the figure as JSON in the study's system
attributes, replacing the previous one (about 1 kB per trial).
"""

from __future__ import annotations

import io
import pathlib
import tempfile
from typing import Any

import optuna
from optuna.artifacts import upload_artifact

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade.architecture import summarize
from optuna_lemonade.sampler import Child
from optuna_lemonade.visualization import plot_genealogy
from optuna_lemonade.visualization.matplotlib import plot_architecture
from optuna_lemonade.visualization.matplotlib._imports import plt


GENEALOGY_ID = "lemonade-genealogy"
"""The graph object id :func:`save_genealogy` saves under (saving again replaces it)."""

_MAX_LINEAGE = 30
"""Ancestors listed in a note at most (the oldest are elided)."""


def _dashboard() -> Any:
    try:
        import optuna_dashboard
    except ImportError as error:
        raise ImportError(
            "optuna_lemonade.dashboard needs optuna-dashboard: pip install optuna-dashboard "
            '(or pip install "optuna-lemonade[dashboard]")'
        ) from error
    return optuna_dashboard


def trial_link(number: int) -> str:
    """A Markdown link to trial ``number``'s page.

    Relative to the page of a trial of the same study (optuna-dashboard's
    ``/dashboard/studies/<id>/trials?numbers=<n>``).
    """
    return f"[trial {number}](trials?numbers={number})"


def lineage(study: optuna.Study, number: int, *, limit: int = _MAX_LINEAGE) -> list[int]:
    """Trial numbers from an ancestor to ``number``: at most ``limit`` generations back.

    Follows the ``lemonade_parent`` user attributes, one trial read per generation (not
    the whole study: a note is written per trial); stops at an initial network, a
    missing or malformed attribute, or a cycle (storage contents are input, too).
    """
    storage, study_id = compat.storage(study), compat.study_id(study)
    chain = [number]
    while len(chain) <= limit:
        try:
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, chain[-1])
            parent = storage.get_trial(trial_id).user_attrs.get("lemonade_parent")
        except KeyError:  # no such trial
            break
        if not isinstance(parent, int) or isinstance(parent, bool) or parent in chain:
            break
        chain.append(parent)
    return chain[::-1]


def trial_note(study: optuna.Study, number: int, child: Child) -> str:
    """The Markdown note :func:`annotate_trial` saves: origin, summary and lineage."""
    lines = [f"## Trial {number}", ""]
    if child.parent is None:
        lines.append("**Origin:** initial network, trained from scratch")
    else:
        kind = "exact" if child.exact else "approximate, repaired by distillation"
        lines.append(f"**Origin:** `{child.operator}` ({kind}) of {trial_link(child.parent)}")
    lines += ["", f"**Architecture:** {summarize(child.architecture)}", ""]
    chain = lineage(study, number)
    if len(chain) > 1:
        links = [trial_link(n) for n in chain[:-1]] + [f"**trial {number}**"]
        # the walk stopped at the limit, not at an initial network
        more = len(chain) > _MAX_LINEAGE
        generations = f"{len(chain) - 1}{'+' if more else ''} generations"
        lines.append(f"**Lineage ({generations}):** {'... → ' if more else ''}{' → '.join(links)}")
        lines.append("")
    lines.append("The diagram of this network is its `architecture.svg` artifact.")
    return "\n".join(lines)


def architecture_svg(child: Child) -> bytes:
    """The network's diagram as SVG.

    Drawn by :func:`optuna_lemonade.visualization.matplotlib.plot_architecture`.
    """
    ax = plot_architecture(child.architecture)
    buffer = io.BytesIO()
    try:
        ax.figure.savefig(buffer, format="svg")
    finally:
        plt.close(ax.figure)
    return buffer.getvalue()


def annotate_trial(trial: optuna.Trial, child: Child, *, artifact_store: Any) -> None:
    """Give ``trial`` an optuna-dashboard note and an architecture diagram.

    The note (:func:`trial_note`) says where the network came from, links to its
    parent's and ancestors' trial pages and summarises the architecture; the diagram is
    uploaded as the trial's ``architecture.svg`` artifact, which the dashboard
    previews. Call it in the objective, while the trial runs (artifacts can only be
    uploaded then).

    Args:
        trial: The running trial.
        child: ``sampler.child(trial)``.
        artifact_store: The Optuna artifact store to upload the diagram to (e.g. the
            sampler's checkpoint store).

    Raises:
        ImportError: If optuna-dashboard or matplotlib is not installed.
    """
    dashboard = _dashboard()
    svg = architecture_svg(child)
    with tempfile.TemporaryDirectory(prefix="lemonade-svg-") as directory:
        path = pathlib.Path(directory) / "architecture.svg"
        path.write_bytes(svg)
        upload_artifact(
            artifact_store=artifact_store,
            file_path=str(path),
            study_or_trial=trial,
            mimetype="image/svg+xml",
        )
    dashboard.save_note(trial, trial_note(trial.study, trial.number, child))


def save_genealogy(study: optuna.Study, **kwargs: Any) -> None:
    """Save :func:`~optuna_lemonade.visualization.plot_genealogy`'s figure to the study.

    optuna-dashboard shows it on the study's page; saving again replaces it.

    Args:
        study: The study.
        kwargs: Passed to :func:`~optuna_lemonade.visualization.plot_genealogy`.

    Raises:
        ImportError: If optuna-dashboard or plotly is not installed.
    """
    dashboard = _dashboard()
    dashboard.save_plotly_graph_object(
        study, plot_genealogy(study, **kwargs), graph_object_id=GENEALOGY_ID
    )
