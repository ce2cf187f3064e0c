"""Data augmentation on batches: random crop with zero padding and horizontal flip."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def default_padding(height: int, width: int) -> int:
    """The padding of the random crop: 1/8 of the shorter side, at least 1 (4 for 32 x 32)."""
    return max(1, min(height, width) // 8)


def crop_and_flip(
    x: torch.Tensor, padding: int, top: torch.Tensor, left: torch.Tensor, flip: torch.Tensor
) -> torch.Tensor:
    """Each image of ``x`` zero-padded by ``padding``, cropped at ``(top, left)``, flipped.

    Args:
        x: Images ``N x C x H x W``.
        padding: Zeros added on every side before cropping back to ``H x W``.
        top: ``N`` row offsets into the padded images, in ``[0, 2 * padding]``.
        left: ``N`` column offsets, in ``[0, 2 * padding]``.
        flip: ``N`` booleans: mirror the image left to right.
    """
    n, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    rows = top[:, None] + torch.arange(h, device=x.device)
    cols = left[:, None] + torch.arange(w, device=x.device)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channels = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, channels, rows[:, None, :, None], cols[:, None, None, :]]


def augment_batch(x: torch.Tensor, *, padding: int | None = None) -> torch.Tensor:
    """A random crop (zero padding) and a random horizontal flip of each image of ``x``.

    The standard CIFAR recipe (pad 4, crop 32, flip with probability 1/2), drawn per
    image from PyTorch's random state, on the batch's device. Written here rather than
    with ``torchvision.transforms.v2.RandomCrop`` and ``RandomHorizontalFlip``: those
    draw one crop and one flip per call, so on a batch every image would get the same
    ones, and a call per image costs more than a small network's training step. The
    result equals torchvision's ``pad``, ``crop`` and ``horizontal_flip`` per image
    (``tests/training/test_augment.py``). The images are standardised, so zero padding
    is the data's mean.

    Args:
        x: Images ``N x C x H x W``.
        padding: Default :func:`default_padding`.
    """
    n, _, h, w = x.shape
    p = default_padding(h, w) if padding is None else padding
    top = torch.randint(0, 2 * p + 1, (n,), device=x.device)
    left = torch.randint(0, 2 * p + 1, (n,), device=x.device)
    flip = torch.rand(n, device=x.device) < 0.5
    return crop_and_flip(x, p, top, left, flip)
