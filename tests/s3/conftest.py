"""An S3 API on loopback for the tests: moto's server, started by the tests themselves."""

from __future__ import annotations

from collections.abc import Iterator
import logging
import os
from typing import Any
import uuid

import pytest


REQUIRE_ENV = "OPTUNA_LEMONADE_REQUIRE_S3"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server on 127.0.0.1 (a free port), for this test session."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but moto[server] is not installed")
        pytest.skip("install moto[server] (in the test extra) to run the S3 tests")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    """A new, empty bucket."""
    name = f"lemonade-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_store(s3_endpoint: str, bucket: str) -> Any:
    from optuna.artifacts import Boto3ArtifactStore

    return Boto3ArtifactStore(bucket, client=s3_client(s3_endpoint))


def object_keys(store: Any) -> set[str]:
    """The keys in a Boto3ArtifactStore's bucket."""
    listing = store.client.list_objects_v2(Bucket=store.bucket)
    return {item["Key"] for item in listing.get("Contents", [])}
