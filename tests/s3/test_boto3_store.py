"""Checkpoints in S3: Optuna's Boto3ArtifactStore against a real S3 API (moto's server).

Save, load, retention's deletions, objects gone missing, truncated or crafted, a store
that stops answering, and a search by two worker processes.
"""

from __future__ import annotations

import pickle
import warnings

import optuna
from optuna.artifacts import Boto3ArtifactStore
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
import pytest

from optuna_lemonade._storage_keys import CHECKPOINT_KEY
from optuna_lemonade.checkpoints import CheckpointError
from optuna_lemonade.sampler import _population
from optuna_lemonade.sampler import deleted_checkpoints
from optuna_lemonade.sampler import LemonadeSampler
from optuna_lemonade.sampler import LemonadeWarning
from tests.distributed.conftest import check_lineage
from tests.distributed.conftest import finish
from tests.distributed.conftest import start_worker
from tests.s3.conftest import object_keys
from tests.s3.conftest import s3_client
from tests.sampler.conftest import make_objective


def _study(sampler: LemonadeSampler) -> optuna.Study:
    return optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)


def test_a_search_keeps_its_population_in_the_bucket(space, s3_store, data) -> None:
    sampler = LemonadeSampler(
        space, artifact_store=s3_store, seed=0, keep_checkpoints="population"
    )
    study = _study(sampler)
    study.optimize(make_objective(sampler, data), n_trials=14)
    trial = study.ask()  # one more decision releases what the last trials made obsolete
    deleted = deleted_checkpoints(study)
    checkpoints = {t.number: t.system_attrs[CHECKPOINT_KEY] for t in study.trials[:-1]}
    assert deleted and all(checkpoints[i] == a for i, a in deleted.items())
    assert object_keys(s3_store) == set(checkpoints.values()) - set(deleted.values())
    # Another worker (nothing in memory) loads every network of the population from S3.
    other = LemonadeSampler(space, artifact_store=s3_store)
    for member in sampler.population(study):
        assert other.load_model(member) is not None
    study.tell(trial, state=TrialState.FAIL)


def test_missing_truncated_and_crafted_objects_are_withdrawn(
    space, s3_store, data, tmp_path
) -> None:
    sampler = LemonadeSampler(space, artifact_store=s3_store, seed=4)
    study = _study(sampler)
    study.optimize(make_objective(sampler, data), n_trials=8)
    while len(sampler.population(study)) < 4 and len(study.trials) < 40:
        study.optimize(make_objective(sampler, data), n_trials=1)
    front = sampler.population(study)
    assert len(front) >= 4
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    client, bucket = s3_store.client, s3_store.bucket
    broken = front[1:4]
    keys = [t.system_attrs[CHECKPOINT_KEY] for t in broken]
    client.delete_object(Bucket=bucket, Key=keys[0])
    body = client.get_object(Bucket=bucket, Key=keys[1])["Body"].read()
    client.put_object(Bucket=bucket, Key=keys[1], Body=body[:100])
    client.put_object(Bucket=bucket, Key=keys[2], Body=pickle.dumps(Exploit()))
    # A new worker, with nothing in memory, meets the damaged objects.
    worker = LemonadeSampler(space, artifact_store=s3_store, seed=5)
    study.sampler = worker
    start = len(study.trials)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for member in broken:
            with pytest.raises(Exception, match=f"trial {member.number}"):
                worker.load_model(member)
        study.optimize(make_objective(worker, data), n_trials=12)
    assert not marker.exists()
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    parents = {worker.decision(t).parent for t in study.trials[start:]}
    assert not parents & {t.number for t in broken}
    messages = [str(w.message) for w in caught if issubclass(w.category, LemonadeWarning)]
    assert all("can no longer be a parent" in m for m in messages)
    unreadable = _population.unreadable(study._storage.get_study_system_attrs(study._study_id))
    assert unreadable <= {t._trial_id for t in broken}


def test_a_forged_id_cannot_read_or_delete_another_object(space, s3_store, data) -> None:
    sampler = LemonadeSampler(
        space, artifact_store=s3_store, seed=0, keep_checkpoints="population"
    )
    study = _study(sampler)
    study.optimize(make_objective(sampler, data), n_trials=5)
    s3_store.client.put_object(Bucket=s3_store.bucket, Key="victim.txt", Body=b"not yours")
    target = sampler.population(study)[0]
    target_id = target.system_attrs[CHECKPOINT_KEY]
    forged_trials = []
    for forged in ("victim.txt", target_id):
        trial = study.ask()
        forged_trials.append(trial.number)
        sampler.child(trial).fit([data], [data], epochs=1, lr=0.05, device="cpu")
        study._storage.set_trial_system_attr(trial._trial_id, CHECKPOINT_KEY, forged)
        study.tell(trial, (1.0, 1e9))  # dominated: retention would delete its checkpoint
    with pytest.warns(LemonadeWarning, match="is not an artifact"):
        study.optimize(make_objective(sampler, data), n_trials=3)
    deleted = deleted_checkpoints(study)
    assert not set(forged_trials) & set(deleted)  # nothing deleted through a forged id
    assert "victim.txt" in object_keys(s3_store)
    # The front network's object is there unless retention deleted it for its own trial,
    # which it may: the three new trials can dominate it.
    assert (target_id in object_keys(s3_store)) != (deleted.get(target.number) == target_id)
    assert [t.state for t in study.trials].count(TrialState.COMPLETE) == 10


def test_a_store_that_stops_answering(space, s3_endpoint, bucket, data) -> None:
    """Saving fails the trial; loading makes the decision train from scratch, with a
    warning, and withdraws nothing: once the store answers again, so does the search."""
    store = Boto3ArtifactStore(bucket, client=s3_client(s3_endpoint))
    sampler = LemonadeSampler(space, artifact_store=store, seed=0)
    study = _study(sampler)
    study.optimize(make_objective(sampler, data), n_trials=5)
    dead = Boto3ArtifactStore(bucket, client=_dead_client())
    worker = LemonadeSampler(space, artifact_store=dead, seed=1)
    study.sampler = worker
    with pytest.warns(LemonadeWarning, match="failed to read the checkpoint .* from scratch"):
        trial = study.ask()
    assert worker.decision(study.trials[trial.number]).kind == "restart"
    with pytest.raises(CheckpointError, match="could not be saved to the artifact store"):
        worker.child(trial).save()
    study.tell(trial, state=TrialState.FAIL)
    attrs = study._storage.get_study_system_attrs(study._study_id)
    assert not _population.unreadable(attrs)
    study.sampler = LemonadeSampler(space, artifact_store=store, seed=2)
    study.optimize(make_objective(study.sampler, data), n_trials=3)
    assert all(study.sampler.decision(t).kind == "child" for t in study.trials[-3:])


def _dead_client():
    """A client of an endpoint where nothing listens, without boto3's retries."""
    import boto3
    import botocore.config

    return boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=botocore.config.Config(
            retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1
        ),
    )


@pytest.mark.distributed
@pytest.mark.slow
def test_two_worker_processes_share_a_bucket(tmp_path, space, s3_endpoint, bucket) -> None:
    journal = tmp_path / "journal.log"
    storage = JournalStorage(JournalFileBackend(str(journal)))
    optuna.create_study(study_name="s3", storage=storage, directions=["minimize", "minimize"])
    options = ["--journal", str(journal), "--s3-endpoint", s3_endpoint, "--bucket", bucket]
    options += ["--study", "s3", "--trials", "8", "--keep", "population"]
    finish([start_worker(*options, "--seed", str(seed)) for seed in (1, 2)])
    study = optuna.load_study(study_name="s3", storage=storage)
    assert [t.state for t in study.trials].count(TrialState.COMPLETE) == 16
    store = Boto3ArtifactStore(bucket, client=s3_client(s3_endpoint))
    check_lineage(study, store, space.initial_architectures())
    deleted = deleted_checkpoints(study)
    kept = {t.system_attrs[CHECKPOINT_KEY] for t in study.trials} - set(deleted.values())
    assert object_keys(store) == kept
    assert deleted  # retention ran in both workers
