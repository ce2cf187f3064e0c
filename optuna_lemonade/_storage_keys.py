"""Every name optuna-lemonade writes into an Optuna storage, in one place.

The storage layout is the contract between workers, versions and tools that read a
study (the search command, optuna-dashboard, the benchmarks): trial and study system
attributes, the trial user attributes that show a lineage, and one trial parameter.
Only optuna-lemonade writes these names; a value that does not parse is ignored with a
:class:`~optuna_lemonade.LemonadeWarning` by the module that reads it.
"""

from __future__ import annotations


# ------------------------------------------------------------- trial system attributes
DECISION_KEY = "lemonade:decision"
"""The trial's decision (``Decision.to_dict()``), written once in ``before_trial``."""

CHECKPOINT_KEY = "lemonade:checkpoint"
"""The artifact id of the trial's checkpoint, written only after a complete upload."""

HEARTBEAT_KEY = "lemonade:heartbeat"
"""The time (seconds since the epoch) of the trial's last heartbeat, for storages
without heartbeats of their own (journal files)."""

# ------------------------------------------------------------- study system attributes
UNREADABLE_PREFIX = "lemonade:unreadable:"
"""``lemonade:unreadable:<trial id>`` -> the error: the trial's checkpoint could not be
used, so no worker takes it as a parent any more."""

DELETED_PREFIX = "lemonade:deleted:"
"""``lemonade:deleted:<trial id>`` -> artifact id: the deletion marks of earlier
versions, one per trial; still read."""

DELETION_LOG_PREFIX = "lemonade:deletion-log:"
"""``lemonade:deletion-log:<worker>:<chunk>`` -> ``[[trial id, artifact id], ...]``:
each worker's log of the checkpoints it deleted (``keep_checkpoints="population"``)."""

MEASURED_PREFIX = "lemonade:measured:"
"""``lemonade:measured:<objective>:<namespace>:<worker>:<chunk>`` -> entries: measured cheap
objectives (latency), shared by every worker and a resumed study."""

# --------------------------------------------------- what optuna-dashboard shows a user
PARENT_ATTR = "lemonade_parent"
"""Trial user attribute: the parent's trial number, or None for an initial network."""

OPERATOR_ATTR = "lemonade_operator"
"""Trial user attribute: the morphism that made the network, or None."""

SUMMARY_ATTR = "lemonade_summary"
"""Trial user attribute: a one-line summary of the network."""

OPERATOR_PARAM = "lemonade_operator"
"""Trial parameter (categorical): ``"initial"`` or the morphism, so that the parameter
importance panel and the trials table can use it."""
