"""Figures and dashboard pages: what they show, read from real LEMONADE studies."""

from __future__ import annotations

import json
import pathlib
from typing import Any
import wsgiref.util

import matplotlib.pyplot as plt
import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.artifacts import get_all_artifact_meta
import optuna_dashboard
import pytest
import torch

from optuna_lemonade import _optuna_compat as compat
from optuna_lemonade import Architecture
from optuna_lemonade import Node
from optuna_lemonade import SearchSpace
from optuna_lemonade._storage_keys import OPERATOR_PARAM
from optuna_lemonade.architecture import human_count
from optuna_lemonade.architecture import summarize
from optuna_lemonade.dashboard import annotate_trial
from optuna_lemonade.dashboard import GENEALOGY_ID
from optuna_lemonade.dashboard import lineage
from optuna_lemonade.dashboard import save_genealogy
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.visualization import matplotlib as vis_matplotlib
from optuna_lemonade.visualization import plot_architecture
from optuna_lemonade.visualization import plot_genealogy
from optuna_lemonade.visualization import plot_pareto_front
from optuna_lemonade.visualization._architecture_layout import layout
from tests.sampler.conftest import CLASSES
from tests.sampler.conftest import SHAPE


def skip_net() -> Architecture:
    """conv-bn-relu, then a second conv-bn-relu whose output is added to the first."""
    return Architecture(
        SHAPE,
        CLASSES,
        [
            Node("input", "input"),
            Node("conv1", "conv", ("input",), filters=8, kernel_size=3),
            Node("bn1", "bn", ("conv1",)),
            Node("relu1", "relu", ("bn1",)),
            Node("conv2", "conv", ("relu1",), filters=8, kernel_size=3),
            Node("bn2", "bn", ("conv2",)),
            Node("add", "add", ("relu1", "bn2")),
            Node("relu2", "relu", ("add",)),
            Node("pool", "maxpool", ("relu2",), kernel_size=2),
            Node("sep", "sepconv", ("pool",), filters=16, kernel_size=5),
            Node("gap", "gap", ("sep",)),
            Node("classifier", "linear", ("gap",), units=CLASSES),
        ],
    )


pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


def test_human_count() -> None:
    assert [human_count(v) for v in (0, 532, 999, 1000, 24_310, 3_123_456, 1.2e9)] == [
        "0", "532", "999", "1k", "24.3k", "3.12M", "1.2G",
    ]  # fmt: skip


def test_summarize_lists_layers_and_costs() -> None:
    text = summarize(skip_net())
    # conv1, conv2, add, pool, sep, classifier: bn, relu, gap and input are not layers
    assert text.startswith("6 layers: 2 conv3x3, 1 add, 1 maxpool2, 1 sepconv5x5; ")
    assert text.endswith(" MACs") and " params; " in text
    assert len(text) < 120


def test_layout_folds_bn_relu_and_keeps_skips() -> None:
    diagram = layout(skip_net())
    labels = [box.label for box in diagram.boxes]
    assert labels == [
        "input", "conv3x3 8 · BN · ReLU", "conv3x3 8 · BN", "add · ReLU", "maxpool2",
        "sepconv5x5 16", "gap", "linear 3",
    ]  # fmt: skip
    by_label = {box.label: i for i, box in enumerate(diagram.boxes)}
    # the skip: the first block feeds both the second conv and the add
    first, second, add = (
        by_label[k] for k in ("conv3x3 8 · BN · ReLU", "conv3x3 8 · BN", "add · ReLU")
    )
    assert {(first, second), (first, add), (second, add)} <= set(diagram.edges)
    assert diagram.boxes[add].level == diagram.boxes[second].level + 1
    assert diagram.boxes[by_label["maxpool2"]].shape == "8x4x4"


@pytest.fixture
def study(tmp_path: pathlib.Path, data: tuple[torch.Tensor, torch.Tensor]) -> optuna.Study:
    """A finished 12-trial LEMONADE study with the dashboard pages written."""
    store = FileSystemArtifactStore(tmp_path)
    space = SearchSpace(SHAPE, CLASSES, max_params=200_000, initial_widths=(4, 8, 16))
    sampler = LemonadeSampler(space, artifact_store=store, seed=0, n_proposals=16)
    study = optuna.create_study(
        directions=["minimize", "minimize"],
        sampler=sampler,
        storage=f"sqlite:///{tmp_path / 'study.db'}",
        study_name="vis",
    )
    study.set_metric_names(["error", "params"])

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        child = sampler.child(trial)
        annotate_trial(trial, child, artifact_store=store)
        error = child.fit([data], [data], epochs=2, lr=0.05, device="cpu")
        return error, child.cheap_objectives["params"]

    study.optimize(objective, n_trials=12)
    return study


def children(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.trials if t.user_attrs.get("lemonade_parent") is not None]


def test_operator_is_a_parameter(study: optuna.Study) -> None:
    for trial in study.trials:
        expected = trial.user_attrs["lemonade_operator"] or "initial"
        assert trial.params[OPERATOR_PARAM] == expected


def test_genealogy_draws_one_edge_per_child(study: optuna.Study) -> None:
    figure = plot_genealogy(study)
    edges = [t for t in figure.data if t.mode == "lines"]
    segments = sum(len([x for x in t.x if x is None]) for t in edges)
    assert segments == len(children(study)) > 0
    assert {t.name for t in edges} == {t.user_attrs["lemonade_operator"] for t in children(study)}
    markers = {t.name: t for t in figure.data if t.mode == "markers"}
    assert len(markers["initial network"].x) == 3
    assert len(markers["child"].x) == len(children(study))
    outlined = sum(w > 1 for t in markers.values() for w in t.marker.line.width)
    assert outlined == len(study.best_trials)
    assert figure.layout.xaxis.title.text == "params" and figure.layout.yaxis.title.text == "error"
    hover = " ".join(markers["child"].text)
    assert "of trial" in hover and "params" in hover


def test_genealogy_by_trial_number_and_bad_axes(study: optuna.Study) -> None:
    figure = plot_genealogy(study, x="number", y="error")
    child = next(t for t in figure.data if t.name == "child")
    assert sorted(child.x) == sorted(float(t.number) for t in children(study))
    with pytest.raises(ValueError, match="'latency' is not one of the objectives"):
        plot_genealogy(study, x="latency")
    with pytest.raises(ValueError, match="out of range"):
        plot_genealogy(study, y=5)


def tampered_copy(study: optuna.Study, attrs: dict[int, dict[str, Any]]) -> optuna.Study:
    """An in-memory copy of ``study`` whose trials' user attributes are overwritten."""
    copy = optuna.create_study(directions=study.directions, study_name="tampered")
    copy.set_metric_names(["error", "params"])
    for trial in study.trials:
        copy.add_trial(
            optuna.trial.create_trial(
                values=trial.values,
                params=trial.params,
                distributions=trial.distributions,
                user_attrs={**trial.user_attrs, **attrs.get(trial.number, {})},
            )
        )
    return copy


def test_genealogy_survives_tampered_lineage(study: optuna.Study) -> None:
    bad = tampered_copy(
        study,
        {
            5: {"lemonade_parent": "three"},
            6: {"lemonade_parent": 10_000},
            7: {"lemonade_operator": ["x"], "lemonade_summary": 3},
        },
    )
    figure = plot_genealogy(bad)
    segments = sum(len([x for x in t.x if x is None]) for t in figure.data if t.mode == "lines")
    # 5 reads as an initial network, 6's parent does not exist, 7 has no operator
    assert segments == len(children(study)) - 3
    assert len(next(t for t in figure.data if t.name == "initial network").x) == 4
    # a cycle in the parents ends the listed lineage instead of looping
    cycle = tampered_copy(study, {3: {"lemonade_parent": 4}, 4: {"lemonade_parent": 3}})
    assert lineage(cycle, 4) == [3, 4]


def test_pareto_front_log_costs_and_references(study: optuna.Study) -> None:
    figure = plot_pareto_front(study, references={"plain-8": [0.2, 40_000.0]})
    assert figure.layout.xaxis.title.text == "params"
    assert figure.layout.yaxis.title.text == "error"
    params = [t.values[1] for t in study.trials]
    expected = "log" if max(params) / min(params) >= 10**1.5 else "linear"
    assert figure.layout.xaxis.type == expected and figure.layout.yaxis.type == "linear"
    assert plot_pareto_front(study, log_axes=["params"]).layout.xaxis.type == "log"
    reference = figure.data[-1]
    assert list(reference.text) == ["plain-8"] and list(reference.x) == [40_000.0]
    with pytest.raises(ValueError, match="has 1 values"):
        plot_pareto_front(study, references={"bad": [0.1]})
    four = optuna.create_study(directions=["minimize"] * 4)
    with pytest.raises(ValueError, match="two or three objectives"):
        plot_pareto_front(four)


def test_matplotlib_pareto_front(study: optuna.Study) -> None:
    ax = vis_matplotlib.plot_pareto_front(
        study, log_axes=["params"], references={"plain-8": [0.2, 40_000.0]}
    )
    assert ax.get_xlabel() == "params" and ax.get_xscale() == "log"
    assert ax.get_ylabel() == "error" and ax.get_yscale() == "linear"
    assert [t.get_text() for t in ax.texts] == [" plain-8"]
    plt.close(ax.figure)


def test_architecture_figures() -> None:
    arch = skip_net()
    figure = plot_architecture(arch)
    assert figure.layout.title.text == summarize(arch)
    assert len(figure.layout.annotations) == len(layout(arch).boxes)
    ax = vis_matplotlib.plot_architecture(arch, title="mine")
    assert ax.get_title() == "mine" and len(ax.texts) == len(layout(arch).boxes)
    plt.close(ax.figure)
    with pytest.raises(TypeError, match="expected an Architecture"):
        plot_architecture(arch.to_json())  # type: ignore[arg-type]


def test_matplotlib_genealogy(study: optuna.Study) -> None:
    ax = vis_matplotlib.plot_genealogy(study)
    assert len(ax.lines) == len(children(study))
    assert ax.get_xlabel() == "params"
    plt.close(ax.figure)


def test_notes_link_parents_and_diagrams_are_artifacts(study: optuna.Study) -> None:
    for trial in study.trials:
        note = optuna_dashboard.get_note(_running_view(study, trial))
        parent = trial.user_attrs["lemonade_parent"]
        assert note.startswith(f"## Trial {trial.number}\n")
        assert trial.user_attrs["lemonade_summary"] in note
        if parent is None:
            assert "initial network" in note
        else:
            assert f"[trial {parent}](trials?numbers={parent})" in note
            assert "**Lineage (" in note
        metas = get_all_artifact_meta(trial, storage=compat.storage(study))
        svg = [m for m in metas if m.filename == "architecture.svg"]
        assert len(svg) == 1 and svg[0].mimetype == "image/svg+xml"


def _running_view(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> optuna.Trial:
    # optuna_dashboard.get_note reads a Trial's study and id; it does not need it running.
    return optuna.Trial(study, compat.trial_id(trial))


def _get(app: Any, path: str) -> tuple[str, Any]:
    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    wsgiref.util.setup_testing_defaults(environ)
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    return status[0], json.loads(body) if body.startswith((b"{", b"[")) else body


def test_dashboard_serves_names_importance_and_genealogy(study: optuna.Study) -> None:
    save_genealogy(study)
    app = optuna_dashboard.wsgi(compat.storage(study))
    study_id = compat.study_id(study)
    status, detail = _get(app, f"/api/studies/{study_id}")
    assert status.startswith("200")
    assert detail["objective_names"] == ["error", "params"]
    assert [p["id"] for p in detail["plotly_graph_objects"]] == [GENEALOGY_ID]
    status, importance = _get(app, f"/api/studies/{study_id}/param_importances")
    assert status.startswith("200"), importance
    assert all(
        [p["name"] for p in per_objective] == [OPERATOR_PARAM]
        for per_objective in importance["param_importances"]
    )


class _FailingStore:
    """An artifact store whose writes fail (a full disk, an unreachable server)."""

    def write(self, artifact_id: str, content_body: Any) -> None:
        raise OSError("no space left on device")


def test_search_pages_turn_off_on_a_failure_and_never_fail_the_trial(
    study: optuna.Study, capsys: pytest.CaptureFixture[str]
) -> None:
    from optuna_lemonade.cli._pages import Pages

    pages = Pages(study, _FailingStore(), enabled=True)
    assert pages.enabled
    trial = study.ask()
    sampler = study.sampler
    assert isinstance(sampler, LemonadeSampler)
    pages.annotate(trial, sampler.child(trial))  # must not raise
    assert not pages.enabled
    assert "dashboard pages off: cannot write the note of trial 12" in capsys.readouterr().out
    assert not Pages(study, _FailingStore(), enabled=False).enabled
