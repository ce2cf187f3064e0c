"""Augmentation on batches: each image its own random crop and flip, as torchvision's."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from optuna_lemonade import build_model
from optuna_lemonade import SearchSpace
from optuna_lemonade.training import augment_batch
from optuna_lemonade.training import fine_tune
from optuna_lemonade.training._augment import crop_and_flip
from optuna_lemonade.training._augment import default_padding


def test_crop_and_flip_equals_torchvision_per_image() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(16, 3, 9, 7, generator=generator)
    padding = 2
    top = torch.randint(0, 2 * padding + 1, (16,), generator=generator)
    left = torch.randint(0, 2 * padding + 1, (16,), generator=generator)
    flip = torch.rand(16, generator=generator) < 0.5
    got = crop_and_flip(x, padding, top, left, flip)
    for i in range(16):
        expected = TF.crop(TF.pad(x[i], [padding]), int(top[i]), int(left[i]), 9, 7)
        if flip[i]:
            expected = TF.horizontal_flip(expected)
        assert torch.equal(got[i], expected), i


def test_each_image_gets_its_own_crop_and_flip() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 1, 8, 8).expand(64, 1, 8, 8).contiguous()
    out = augment_batch(x)
    assert out.shape == x.shape
    distinct = {tuple(image.flatten().tolist()) for image in out}
    assert len(distinct) > 10  # one draw for the batch would give one image
    assert any(torch.equal(image, x[0]) for image in out)  # no shift, no flip: unchanged


@pytest.mark.parametrize(("size", "padding"), [((32, 32), 4), ((28, 28), 3), ((8, 8), 1)])
def test_default_padding_is_an_eighth_of_the_side(size: tuple[int, int], padding: int) -> None:
    assert default_padding(*size) == padding


def test_fine_tune_trains_on_augmented_images_only_when_asked() -> None:
    space = SearchSpace((1, 8, 8), 3, initial_widths=(4,))
    x, y = torch.randn(32, 1, 8, 8), torch.arange(32) % 3
    loader = [(x[:16], y[:16]), (x[16:], y[16:])]

    def trained(augment: bool) -> torch.Tensor:
        torch.manual_seed(0)
        model = build_model(space.initial_architectures()[0], seed=0)
        fine_tune(model, loader, epochs=2, augment=augment, progress=False, device="cpu")
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    plain, again, augmented = trained(False), trained(False), trained(True)
    assert torch.equal(plain, again)  # deterministic: a difference is the augmentation
    assert not torch.equal(plain, augmented) and bool(torch.isfinite(augmented).all())
