"""The search-efficiency benchmark's methods by name: LEMONADE's variants (the
ablations) and Optuna's samplers at a number of epochs per network."""

from __future__ import annotations

from typing import Any


STAGES3: dict[str, Any] = {
    "initial_widths": (8, 16, 32),
    "initial_resolution": 4,
    "initial_depth": 1,
}
"""The search space's initial networks before the session of 2026-11-29, afternoon: three
stages (28, 14, 7 on Fashion-MNIST) of widths 8, 16, 32, one Conv-BN-ReLU each. Every
ablation measured before then ran from them, and keeps them."""

DEPTH1: dict[str, Any] = {"initial_depth": 1}
"""The search space's initial networks from the session of 2026-11-29, afternoon, until
its night: four stages of widths 4, 8, 16, one Conv-BN-ReLU each (6.5k, 25k, 99k
parameters on Fashion-MNIST). The ablations measured in that time ran from them, and
keep them."""

FLAT: dict[str, Any] = {"flat_child_epochs": True, **STAGES3}

VARIANTS: dict[str, dict[str, Any]] = {
    "lemonade": {},
    "lemonade-depth1": DEPTH1,
    "lemonade-stages3": STAGES3,
    "lemonade-flat": FLAT,
    "lemonade-scratch": {"children_from_scratch": True, **STAGES3},
    "lemonade-uniform": {"uniform_selection": True, **FLAT},
    "lemonade-lr02": {"child_lr": 0.02, **FLAT},
    "lemonade-lr01": {"child_lr": 0.01, **FLAT},
    "lemonade-init6": {"initial_epochs": 6.0, **FLAT},
    "lemonade-cheapmore": {"cheap_more": True, **STAGES3},
    "lemonade-init6-cheapmore": {"initial_epochs": 6.0, "cheap_more": True, **STAGES3},
    "lemonade-costsel": {"cost_selection": True, **STAGES3},
    "lemonade-child4": {"child_epochs": 4.0, **FLAT},
    "lemonade-widths5": {**FLAT, "initial_widths": (8, 12, 16, 24, 32)},
    "lemonade-init6-widths5": {
        "initial_epochs": 6.0,
        **FLAT,
        "initial_widths": (8, 12, 16, 24, 32),
    },
    "lemonade-w5": {**STAGES3, "initial_widths": (8, 12, 16, 24, 32)},
    "lemonade-novel": {"novel_only": True},
    "lemonade-probe": {"check_at": 0.5, **STAGES3},
    "lemonade-retrain": {"retrain": True, **STAGES3},
    "lemonade-reflect": {"reflected_selection": True, **STAGES3},
    "lemonade-time": {"time_balanced": True, **STAGES3},
    "lemonade-ppm": {"params_per_mac": True, **STAGES3},
    "lemonade-w2": {"initial_widths": (2, 4, 8, 16), **DEPTH1},
    "lemonade-bestmore": {"best_more": 2.0, **DEPTH1},
    "lemonade-double": {"initial_depth": 2},
    "lemonade-first": {"initial_first": True},
    "lemonade-bigcut": {"cut_placement": "by_size"},
    "lemonade-smallcut": {"cut_placement": "by_size_below_median"},
    "lemonade-largefirst": {"largest_first": True, "cut_placement": "by_size_below_median"},
    "lemonade-largefirst-uniform": {"largest_initial_first": True},
    "lemonade-augment": {"augment": True},
    "lemonade-final": {"final_phase": 0.2},
    "lemonade-final-lr01": {"final_phase": 0.2, "final_lr": 0.01},
    "lemonade-grownmore": {"grown_more": 2.0},
    "lemonade-margin": {"error_margin": 0.01},
    "lemonade-smallcut-margin": {"error_margin": 0.01, "cut_placement": "by_size_below_median"},
    "lemonade-margin03": {"error_margin": 0.003},
    "lemonade-keeplarge": {"keep_largest": 0.01},
    "lemonade-halves": {"halves_by_time": 1.0},
    "lemonade-halves2": {"halves_by_time": 1.5, "halves_at_middle_initial": True},
}
"""LEMONADE's variants: the defaults, and one change each (the ablations).

The defaults fine-tune cheap children longer (``optuna_lemonade.training.child_epochs``:
``--child-epochs`` times ``sqrt(reference / MACs)`` below half the largest initial
network's multiply-adds, at most 3 times), as the search command does since that rule
won the ablation below, and start from the search space's default initial networks:
four stages, widths 4, 8, 16, since the session of 2026-11-29, afternoon; the two wider
with two Conv-BN-ReLU in the stages at 14x14 and 7x7 since its night (6.5k, 37k, 145k
parameters on Fashion-MNIST). Every ablation measured before the afternoon started from
the three-stage networks of widths 8, 16, 32 (:data:`STAGES3`), every one measured
between the afternoon and the night from the four-stage networks of depth 1
(:data:`DEPTH1`), and keeps them. The ablations measured before the epochs rule (all
but ``lemonade-cheapmore``, ``lemonade-init6-cheapmore``, ``lemonade-costsel``,
``lemonade-w5``, ``lemonade-novel`` and the later ones) were changes to flat child
epochs, and keep them:

* ``lemonade-depth1``: the defaults from the session of 2026-11-29, afternoon, until its
  night (four-stage initial networks of depth 1, 6.5k, 25k, 99k parameters; the epochs
  rule's threshold 1.3M multiply-adds); its runs were recorded as ``lemonade`` until
  then;
* ``lemonade-stages3``: the defaults before the session of 2026-11-29, afternoon
  (three-stage initial networks of widths 8, 16, 32; the epochs rule's threshold, half
  the largest one's multiply-adds, 3.7M on Fashion-MNIST); its runs were recorded as
  ``lemonade`` until then;

* ``lemonade-flat``: every child fine-tuned ``--child-epochs`` (the defaults before;
  runs recorded as ``lemonade`` before the change are this);

* ``lemonade-scratch``: LEMONADE's choices, every child trained from scratch like a
  baseline (no inheritance);
* ``lemonade-uniform``: uniform instead of density-based parent and child selection;
* ``lemonade-lr02``, ``lemonade-lr01``: children's cosine schedule starts at 0.02 or
  0.01 instead of the initial networks' ``--lr``;
* ``lemonade-init6``: initial networks trained 6 epochs instead of ``--scratch-epochs``;
* ``lemonade-cheapmore``: the measured form of today's rule, with a fixed threshold
  ``_search_runs.CHEAP_MACS`` (4M multiply-adds) instead of half the largest initial
  network's (3.7M on Fashion-MNIST);
* ``lemonade-init6-cheapmore``: both;
* ``lemonade-child4``: children fine-tuned 4 epochs instead of ``--child-epochs``;
* ``lemonade-costsel``: today's defaults, but children accepted with probability
  proportional to inverse density divided by the square root of their parameter count
  (a stand-in for the wall-clock they will cost: with today's epochs rule a cheap
  child's fine-tune costs about the square root of its multiply-adds), instead of
  inverse density alone (``_search_runs.cheaper_first``);
* ``lemonade-widths5``: five initial networks of first-stage widths 8, 12, 16, 24, 32
  (about 6k, 14k, 24k, 54k, 97k parameters) instead of three of 8, 16, 32, so that the
  front starts without the 4x gaps in size between them;
* ``lemonade-init6-widths5``: those five, trained 6 epochs;
* ``lemonade-w5``: the five initial networks with today's defaults (cheap children
  fine-tuned longer), the combination the ablation table names as a candidate;
* ``lemonade-novel``: today's defaults (those of 2026-11-30; defined from the three-stage
  start until then, and never run), but a proposed child within 2 % of a network of the
  population or a running trial in every cheap objective is never accepted while
  another candidate is not (``_search_runs.novel_only``): the issue's near-duplicate
  rejection. Measured on 2026-11-30 at 20 minutes, seeds 0-2: -0.4 / +0.1 / -0.1 / +0.2
  / +0.2 points at <= 5k / 10k / 25k / 100k / any; dropped;
* ``lemonade-probe``: today's defaults, and a grown child (no cheaper than its parent in
  any cheap objective) is also evaluated half-way through its fine-tune on 8,192
  validation images (``_search_runs.HalfwayCheck``); nothing else changes: the
  record of how a child's half-way error compares with its final and its parent's,
  which decides whether stopping children clearly dominated by their parent half-way
  can pay (the issue's early stopping);
* ``lemonade-retrain``: today's defaults plus one operator, ``retrain``
  (``_retrain_operator``): the child is its parent, trained again from its weights;
* ``lemonade-reflect``: today's defaults, but parents and children drawn by
  ``optuna_lemonade.sampler.reflected_inverse_density`` (the density estimate mirrored
  at the ends of the front) instead of plain inverse density, which favours the
  front's cheapest and costliest networks and children beyond them for being at an end;
* ``lemonade-time``: today's defaults, but parents drawn where the search has spent the
  least training time so far (``_search_runs.SpentTimeDensity``: inverse density of
  the finished trials' wall-clock over their cheap objectives), so that time spreads
  over the sizes instead of following one end of the front;
* ``lemonade-ppm``: today's defaults, but a candidate child's inverse density (over
  parameters, as today) is multiplied by its parameters per multiply-add
  (``_search_runs.params_per_mac``), so that children that grow where the resolution
  is low, and train faster for their size, are preferred (two objectives only);
* ``lemonade-w2``: the defaults since the session of 2026-11-29, afternoon (four-stage
  initial networks), with a fourth, smaller initial network of width 2 (1,760
  parameters on Fashion-MNIST, beside 6.5k, 25k and 99k), so that the front reaches
  networks under 2k parameters from the start instead of growing down to them late
  (the log-scaled hypervolume weights them);
* ``lemonade-bestmore``: the defaults since that session, but a child whose parent has
  the lowest validation error of all finished networks is fine-tuned twice the epochs
  of the defaults' rule (``_search_runs.is_lowest_error``): children that extend the
  front's low-error (large) end, where the defaults lose to the baselines' networks
  trained 6 epochs from scratch, get a longer fine-tune; they are few, so the cost
  is small.
* ``lemonade-double``: the defaults since that session, but the initial networks have
  two Conv-BN-ReLU in the stages at 14x14 and 7x7 instead of one
  (``SearchSpace(initial_depth=2)``, widths 4, 8, 16: 9.5k, 37k, 145k parameters on
  Fashion-MNIST, beside 6.5k, 25k, 99k; the runs of 2026-11-29 built the same networks
  with a function of this file that named their pooling layers ``pool0``-``pool2``
  instead of the search space's ``pool1``-``pool3``), the shape of the plain baseline
  space's good networks and the best family per parameter in ``initial_networks.py``;
  the front's large end then starts from a deeper network instead of waiting for
  ``insert_conv`` to add the depth. The epochs rule's threshold follows the initial
  networks, as in the search command (half the largest one's multiply-adds: 3.1M
  instead of 1.3M), so more children count as cheap.

* ``lemonade-first``: today's defaults (since the session of 2026-11-29, night), but
  every initial network's first child comes before density selection takes over
  (``_search_runs.InitialFirst``: trials 3, 4, 5 are children of trials 0, 1, 2; child
  selection unchanged), so that the front's small end grows from the first round on:
  the defaults' searches found their first network under 5k parameters after 64 and
  72 seconds on two seeds and after 652 on the third, whose first child of the narrowest
  network came at trial 9 and grew it. Measured on 2026-11-30 at 20 minutes, seeds 0-2:
  the late small end moved from seed 1 to seed 0 (first network under 5k after 328 /
  134 / 177 s), both hypervolumes lower; not adopted.
* ``lemonade-bigcut``: today's defaults, but the shrinking operators (``prune_filters``,
  ``to_sepconv``, ``remove_layer``, ``remove_skip``) draw their place with probability
  proportional to the parameters the cut removes instead of uniformly
  (``LemonadeSampler(cut_placement="by_size")``; measured with the benchmark's own
  operators, which made the same decisions): in the narrowest initial network a cut of
  the last stage removes about 2.4k of 6.5k parameters, one of the first stage about 50,
  and a child next to its parent is seldom accepted by density; so that the small end of
  the front is reached by large steps down on every seed, not only when a rare
  last-stage cut is among the candidates. Measured on 2026-11-30 at 20 minutes, seeds
  0-2: first network under 5k parameters after 32-79 s on every seed, -0.6 / -0.5 / -0.8
  points at <= 5k / 10k / 25k, +0.2 at <= 100k and any size (on two seeds of three no
  network grew past 77k parameters); not adopted.
* ``lemonade-smallcut``: ``lemonade-bigcut``, but places drawn by size only in parents
  smaller than the population's median parameter count
  (``cut_placement="by_size_below_median"``); the larger parents cut uniformly, so that
  the small end comes early without large cuts of the mid-sized networks dominating the
  large end. Measured on 2026-11-30 at 20 minutes, seeds 0-2: both hypervolume targets
  on every seed, -0.4 / -0.6 / -0.2 points at <= 5k / 10k / 25k, +0.2 at <= 100k and any
  size (two seeds never grew past 100k); not adopted.
* ``lemonade-largefirst``: ``lemonade-smallcut``, but the first child is a child of
  the largest initial network (``_search_runs.InitialFirst(largest_only=True)``; then
  inverse density as by default; child selection unchanged). In every 20-minute run of
  the session of 2026-11-30, midday, whose 145k initial network (3 epochs) was dominated
  by a child of the 37k one before it had a child of its own (after 38-61 s; 7 of 15
  runs over five variants), the front never again held a network over 100k parameters,
  and those runs' best at any size was 9.5 % on the mean against 8.9 % in the runs where
  it had a child first; so that the large end is kept on every seed while
  ``cut_placement="by_size_below_median"`` brings the small end early. The sampler's
  option ``largest_initial_first=True`` makes the same decisions. Measured on 2026-11-30
  at 20 minutes, seeds 0-2: the large end kept on every seed, -0.7 / +0.1 / -0.5 / +0.1
  / -0.2 points at <= 5k / 10k / 25k / 100k / any against the defaults, ahead of the
  strongest baseline at every cap on validation and test; HV -0.054, the log-scaled
  target missed (0.53); not adopted.
* ``lemonade-largefirst-uniform``: today's defaults (shrinking cuts placed uniformly),
  but the first child is a child of the largest initial network, through the sampler's
  own option (``LemonadeSampler(largest_initial_first=True)``) rather than a prototype:
  whether keeping the large end alone lifts the front at <= 100k and any size without
  the smaller end's losses that ``lemonade-largefirst`` bought with its cuts by size.
  Measured on 2026-11-30 at 20 minutes, seeds 0-2: the best any-size networks of every
  variant (8.75 % validation, 9.89 % test), but 81 networks per run against 104, 0.14
  points behind TPE-6 at <= 100k and both hypervolumes lower; dropped.
* ``lemonade-augment``: today's defaults, with every network's training images randomly
  cropped (zero padding of 1/8 of the side) and flipped left to right, per image and
  step (``fine_tune(augment=True)``, the search command's ``--augment``): whether
  Fashion-MNIST's default should be on, as it is for CIFAR and image folders (issue 35).

* ``lemonade-final``: today's defaults for the first 80 % of the budget; the last 20 %
  trains the best network at each size cap further from its own weights (up to 10
  epochs each, an equal share of the time each; ``_final_phase``), the paper's final
  training made part of the budget (issue 37's large end). Single process only. A
  pilot on seed 0 (2026-12-05) made all five networks worse on validation, by 0.03-0.83
  points: a fresh cosine schedule from 0.05 on networks already fine-tuned to
  convergence;
* ``lemonade-final-lr01``: ``lemonade-final`` with the further training's schedule
  starting at 0.01. Both record the test error of each network trained further and of
  the network it continued.
* ``lemonade-grownmore``: today's defaults, but a child with more parameters than its
  parent fine-tunes longer by the ratio of the two, at most twice
  (``_search_runs.growth_factor``): new filters and layers start as an identity or a
  copy and need training to be of use (issue 37: "a training budget for grown children
  that follows how much they grew"). Seeds 0-2 side by side with the defaults
  (2026-12-05): mixed (better at several caps at 5 and 10 minutes, <= 25k worse at 20);
  not adopted;
* ``lemonade-margin``: today's defaults, but a network stays in the population unless
  another is no larger and more than 1 point lower in validation error (``_error_margin``):
  the front's large end died early on the seeds that ended worst at any size, its large
  networks beaten by a fraction of a point by smaller ones trained longer (issue 37:
  "selection that keeps a large lineage alive on every seed"). Seeds 0-2: the large end
  kept on every seed, but 43-62 % of the time above 100k parameters and <= 25k 2 points
  worse; dropped;
* ``lemonade-smallcut-margin``: ``lemonade-margin`` from ``lemonade-smallcut`` (shrinking
  cuts by size in parents below the population's median size), which filled the front's
  small end early but lost its large end on two seeds of three: whether the margin keeps
  it. It did, but <= 25k and <= 100k lost half a point; dropped;
* ``lemonade-margin03``: ``lemonade-margin`` with a margin of 0.3 points, the standard
  error of a 9 % error measured on 10,000 images: a network is kept while the smaller
  one that beats it may be better by chance only. Measured on 2026-12-06 at 20
  minutes, seeds 0-2, side by side with the defaults on one core each: the large end
  kept on seed 2 (9.01 % at any size against 9.78), +0.4 / +0.5 points at <= 10k / 25k
  on the median, 15 of issue 37's 30 targets against the defaults' 17; dropped;
* ``lemonade-keeplarge``: today's defaults, but the population is the Pareto front plus
  the largest network within 1 point (``_error_margin.largest_within_margin_front``):
  one large lineage kept alive, where ``lemonade-margin`` kept every network within the
  margin and spent half the budget above 100k parameters. Measured with
  ``lemonade-margin03``: the best at any size on the median (8.81 % against 8.97), but
  57-60 % of the time above 100k on every seed and +1.1 points at <= 25k; 13 of 30
  targets; dropped.
* ``lemonade-halves``: today's defaults, but the parent comes from the half of the
  population (split at its median parameter count) on which less wall-clock has been
  spent so far, by inverse density within it (``_search_runs.HalvesByTime``): a short
  budget's first minutes go to both ends, not to whichever the first children grew
  (issue 37's short budgets), and the large end keeps half the time at 20 minutes.
  Measured on 2026-12-06 at 20 minutes, seeds 0-2, one core each: the log-scaled
  hypervolume sooner at every budget, but the population's median fell into the front's
  tiny networks (a few hundred parameters), 81-84 % of the time went under 10k and
  almost none between 25k and 100k (+1.25 / +1.30 points at <= 25k / 100k); dropped.
* ``lemonade-halves2``: the halves are the networks up to the middle initial network's
  size (37k on Fashion-MNIST) and those above, and a half is chosen only while the other
  has had more than 1.5 times its time; otherwise inverse density over the whole
  population, as by default (``HalvesByTime(1.5, split=...)``). ``lemonade-halves``
  split at the population's median, which fell to a few hundred parameters once the
  front filled with tiny networks: on seed 0 it spent 83 % of the time under 10k and
  left no network between 25k and 100k better than its 10k one. Measured on 2026-12-06
  at 20 minutes, seeds 0-2, one core each: the useful hypervolume's 5-minute target
  held, the large end lost on two seeds of three (a rule over the population's halves
  cannot act once nothing is left above the split), 17 of 30 targets as the defaults;
  dropped.

``lemonade-pool3`` and ``lemonade-double-large``, the ablations that made today's initial
networks the default, are not variants any more: their runs are labelled ``lemonade``.
``lemonade-pool3`` was the defaults of its time with
``SearchSpace(initial_resolution=3, initial_widths=(4, 8, 16))``,
``lemonade-double-large`` the defaults of its time (:data:`DEPTH1`) with
``SearchSpace(initial_depth=(1, 2, 2))``: the two wider initial networks deepened, the
narrowest kept, so that the small end of the front starts where ``lemonade-depth1``
starts it (``lemonade-double``'s searches found no network under 5k parameters in 20
minutes on one seed of three). In the list above, "today's defaults" means the defaults
when that ablation ran.
"""

SAMPLERS = ("tpe", "nsga2", "random")
"""Optuna's samplers as baselines; a method ``tpe-6`` is TPE with 6 epochs per network,
plain ``tpe`` uses ``--scratch-epochs``."""
LEMONADE_VARIANTS = tuple(VARIANTS)
"""LEMONADE with its defaults first, then the ablations."""
METHODS = ("lemonade", "tpe-3", "tpe-6", "nsga2-3", "nsga2-6", "random-3", "random-6")
"""The default set: LEMONADE against every baseline at 3 and 6 epochs per network."""


def parse_baseline(method: str) -> tuple[str, float | None] | None:
    """``("tpe", 6.0)`` for ``tpe-6``, ``("tpe", None)`` for ``tpe``; None for LEMONADE."""
    sampler, dash, epochs = method.partition("-")
    if sampler not in SAMPLERS or (dash and not epochs):
        return None
    try:
        return sampler, (float(epochs) if epochs else None)
    except ValueError:
        return None


def is_method(method: str) -> bool:
    if method in LEMONADE_VARIANTS:
        return True
    parsed = parse_baseline(method)
    return parsed is not None and (parsed[1] is None or parsed[1] > 0)


def is_baseline(method: str) -> bool:
    return parse_baseline(method) is not None


def method_order(method: str) -> tuple[int, int, float]:
    """Sort key: LEMONADE's variants in their order, then baselines by sampler, epochs."""
    if method in LEMONADE_VARIANTS:
        return (0, LEMONADE_VARIANTS.index(method), 0.0)
    parsed = parse_baseline(method)
    assert parsed is not None
    return (1, SAMPLERS.index(parsed[0]), parsed[1] or 0.0)
