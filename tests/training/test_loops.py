"""fine_tune, evaluate and distillation on small synthetic data, on CPU."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader
from torch.utils.data import TensorDataset

from optuna_lemonade import build_model
from optuna_lemonade import SearchSpace
from optuna_lemonade.training import distillation_loss
from optuna_lemonade.training import evaluate
from optuna_lemonade.training import fine_tune


def _data(n: int = 256, seed: int = 0) -> TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 8, 8, generator=generator)
    y = (x[:, 0, :4].mean(dim=(1, 2)) > x[:, 0, 4:].mean(dim=(1, 2))).long()
    return TensorDataset(x, y)


def _model(seed: int = 0) -> torch.nn.Module:
    space = SearchSpace((1, 8, 8), 2, initial_widths=(16,))  # two stages, 16 and 32 filters
    return build_model(space.initial_architectures()[0], seed=seed)


def test_fine_tune_learns_and_evaluate_measures_it() -> None:
    train = DataLoader(
        _data(), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    held_out = DataLoader(_data(seed=1), batch_size=64)
    model = _model()
    before = evaluate(model, held_out, device="cpu")
    assert not model.training
    loss = fine_tune(model, train, epochs=8, lr=0.05, device="cpu", progress=False)
    after = evaluate(model, held_out, device="cpu")
    assert loss < 0.5
    assert after < before and after < 0.2


def test_fractional_epochs_train_part_of_an_epoch() -> None:
    batches = []

    class Counting(list):
        def __iter__(self):
            for batch in super().__iter__():
                batches.append(batch)
                yield batch

    data = _data(64)
    loader = Counting(
        [(data.tensors[0][i : i + 8], data.tensors[1][i : i + 8]) for i in range(0, 64, 8)]
    )
    fine_tune(_model(), loader, epochs=0.5, device="cpu", progress=False)
    assert len(batches) == 4


def test_evaluate_counts_errors_exactly() -> None:
    class Constant(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.tensor([[1.0, 0.0]]).repeat(len(x), 1)  # always class 0

    labels = torch.tensor([0, 1, 1, 0, 1])
    loader = DataLoader(TensorDataset(torch.zeros(5, 1), labels), batch_size=2)
    assert evaluate(Constant(), loader, device="cpu") == pytest.approx(3 / 5)


def test_distillation_brings_the_student_closer_to_its_teacher() -> None:
    """Distilling from a teacher reduces the student's KL divergence from the teacher
    on held-out inputs, compared with training on labels alone. The teacher learnt a
    rule (left half brighter than right half) that the labels (top against bottom) do
    not show, so only distillation can transfer it."""
    teacher = _model(seed=1)
    x = _data().tensors[0]
    rule = (x[:, 0, :, :4].mean(dim=(1, 2)) > x[:, 0, :, 4:].mean(dim=(1, 2))).long()
    fine_tune(
        teacher,
        DataLoader(TensorDataset(x, rule), batch_size=32),
        epochs=20,
        device="cpu",
        progress=False,
    )
    teacher.eval()
    x_test = _data(seed=2).tensors[0]

    def divergence(student: torch.nn.Module) -> float:
        student.eval()
        with torch.no_grad():
            log_p = torch.log_softmax(teacher(x_test), 1)
            log_q = torch.log_softmax(student(x_test), 1)
            return float(
                torch.nn.functional.kl_div(log_q, log_p, log_target=True, reduction="batchmean")
            )

    results = {}
    for use_teacher in (False, True):
        student = _model(seed=3)
        loader = DataLoader(
            _data(64, seed=4),
            batch_size=16,
            shuffle=True,
            generator=torch.Generator().manual_seed(0),
        )
        fine_tune(
            student,
            loader,
            epochs=15,
            teacher=teacher if use_teacher else None,
            distillation_weight=0.9,
            device="cpu",
            progress=False,
        )
        results[use_teacher] = divergence(student)
    assert results[True] < 0.5 * results[False], results


def test_distillation_loss_limits() -> None:
    logits = torch.randn(4, 3)
    targets = torch.tensor([0, 1, 2, 0])
    ce = torch.nn.functional.cross_entropy(logits, targets)
    assert torch.allclose(
        distillation_loss(logits, targets, logits, weight=0.0, temperature=2.0), ce
    )
    assert float(
        distillation_loss(logits, targets, logits, weight=1.0, temperature=2.0)
    ) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(epochs=0), "epochs"),
        (dict(epochs=float("inf")), "epochs"),
        (dict(lr=0), "lr"),
        (dict(distillation_weight=1.5), "distillation_weight"),
        (dict(temperature=0), "temperature"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fine_tune(_model(), DataLoader(_data(8), batch_size=4), progress=False, **kwargs)
    with pytest.raises(ValueError, match="no batches"):
        fine_tune(_model(), [], progress=False)
    with pytest.raises(ValueError, match="no examples"):
        evaluate(_model(), [])


def test_progress_bar_is_optional(capsys: pytest.CaptureFixture[str]) -> None:
    for progress, label in ((True, "shown"), (False, "hidden")):
        loader = DataLoader(_data(16), batch_size=8)
        fine_tune(_model(), loader, device="cpu", progress=progress, description=label)
        assert (label in capsys.readouterr().err) == progress


def test_channels_last_computes_the_same() -> None:
    loader = DataLoader(_data(64, seed=5), batch_size=16)
    model = _model()
    a = evaluate(model, loader, device="cpu", channels_last=True)
    b = evaluate(model, loader, device="cpu", channels_last=False)
    assert a == b
    x = _data(8).tensors[0]
    with torch.no_grad():
        reference = model.to(memory_format=torch.contiguous_format)(x)
        other = model.to(memory_format=torch.channels_last)(
            x.contiguous(memory_format=torch.channels_last)
        )
    assert torch.allclose(reference, other, atol=1e-5)


def test_callback_sees_every_step_and_can_stop_training() -> None:
    data = _data(64)
    loader = [(data.tensors[0][i : i + 8], data.tensors[1][i : i + 8]) for i in range(0, 64, 8)]
    seen: list[tuple[int, int]] = []

    def stop_after_five(step: int, total: int) -> bool:
        seen.append((step, total))
        return step == 5

    model = _model()
    fine_tune(model, loader, epochs=2, device="cpu", progress=False, callback=stop_after_five)
    assert seen == [(step, 16) for step in range(1, 6)]
    assert model.training


def test_callback_may_evaluate_without_changing_the_training() -> None:
    """Evaluating part-way (eval mode, no gradients) leaves the trained weights as they
    would be without it: the model is back in train mode for the next step."""
    data = _data(64)
    loader = [(data.tensors[0][i : i + 8], data.tensors[1][i : i + 8]) for i in range(0, 64, 8)]
    plain, checked = _model(), _model()
    errors: list[float] = []

    def evaluate_half_way(step: int, total: int) -> bool:
        if step == total // 2:
            errors.append(evaluate(checked, loader, device="cpu"))
        return False

    torch.manual_seed(0)
    fine_tune(plain, loader, epochs=2, device="cpu", progress=False)
    torch.manual_seed(0)
    fine_tune(checked, loader, epochs=2, device="cpu", progress=False, callback=evaluate_half_way)
    assert len(errors) == 1
    for name, value in plain.state_dict().items():
        assert torch.equal(value, checked.state_dict()[name]), name
