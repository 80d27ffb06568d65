"""Kubernetes bindings against the test Kubernetes API server."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

import elb_py


@pytest.fixture
def kube(kube_server: dict[str, Any]) -> elb_py.KubeClient:
    return elb_py.KubeClient.from_kubeconfig(kube_server["kubeconfig"])


def new_job_id() -> str:
    return uuid.uuid4().hex[:10]


def job_record(job_id: str) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "status": "queued",
        "mode": "B",
        "created_at": "2026-12-04T16:35:00Z",
        "cluster_name": "elb-test",
        "program": "blastn",
        "db": "pdbnt",
        "results": "https://acct.blob.core.windows.net/results",
        "elb_job_id": None,
        "error": None,
        "submitted_by": "pytest",
    }


def test_readyz_and_nodes(kube: elb_py.KubeClient) -> None:
    kube.readyz()
    nodes = kube.list_nodes()
    assert isinstance(nodes, list)
    for node in nodes:
        assert isinstance(node["name"], str)
        assert isinstance(node["ready"], bool)


def test_job_store_round_trip_keeps_unknown_fields(kube: elb_py.KubeClient) -> None:
    store = elb_py.JobStore(kube, "default")
    job_id = new_job_id()
    created = store.create(job_record(job_id))
    assert created.record["job_id"] == job_id
    assert created.record["submitted_by"] == "pytest"
    assert created.resource_version

    running = created.with_record({**created.record, "status": "running"})
    updated = store.update(running)
    assert updated.record["status"] == "running"
    assert updated.record["submitted_by"] == "pytest"
    assert updated.resource_version != created.resource_version

    listed = [stored.record["job_id"] for stored in store.list(status="running")]
    assert job_id in listed
    store.delete(job_id)
    store.delete(job_id)
    with pytest.raises(elb_py.NotFoundError):
        store.get(job_id)


def test_stale_update_is_conflict(kube: elb_py.KubeClient) -> None:
    store = elb_py.JobStore(kube, "default")
    job_id = new_job_id()
    store.create(job_record(job_id))
    first = store.get(job_id)
    second = store.get(job_id)

    store.update(first.with_record({**first.record, "status": "dispatching"}))
    with pytest.raises(elb_py.ConflictError) as caught:
        store.update(second.with_record({**second.record, "status": "cancelled"}))
    assert caught.value.status == 409
    assert store.get(job_id).record["status"] == "dispatching"
    store.delete(job_id)


def test_duplicate_record_already_exists(kube: elb_py.KubeClient) -> None:
    store = elb_py.JobStore(kube, "default")
    job_id = new_job_id()
    store.create(job_record(job_id))
    with pytest.raises(elb_py.AlreadyExistsError):
        store.create(job_record(job_id))
    store.delete(job_id)


def test_invalid_record_names_fields(kube: elb_py.KubeClient) -> None:
    store = elb_py.JobStore(kube, "default")
    with pytest.raises(elb_py.InvalidInputError, match="invalid job record"):
        store.create({"job_id": new_job_id(), "status": "sleeping", "mode": "B"})


def batch_job(name: str, elb_job_id: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": {"elb-job-id": elb_job_id, "app": "blast", "db": "pdbnt"},
        },
        "spec": {
            "backoffLimit": 3,
            "template": {
                "metadata": {"labels": {"elb-job-id": elb_job_id, "app": "blast"}},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "containers": [{"name": "blast", "image": "ncbi/elb:1.4.0"}],
                },
            },
        },
    }


def test_search_submit_list_delete(kube: elb_py.KubeClient) -> None:
    elb_job_id = "job-" + uuid.uuid4().hex
    search = elb_py.SearchJobs(kube, "default", elb_job_id)
    short = elb_job_id[4:12]
    names = [f"blastn-batch-pdbnt-job-{index:03d}-{short}" for index in range(2)]
    jobs = [batch_job(name, elb_job_id) for name in names]

    report = search.submit(jobs)
    assert sorted(report["created"]) == sorted(job["metadata"]["name"] for job in jobs)
    assert report["existing"] == []
    again = search.submit(jobs)
    assert again["created"] == []

    assert sorted(search.list_jobs()) == sorted(job["metadata"]["name"] for job in jobs)
    assert search.delete() == 2
    assert search.delete() == 0


def test_health_report_shape(
    kube: elb_py.KubeClient, imds: Any, store: elb_py.BlobStore, container: str
) -> None:
    credential = elb_py.ManagedIdentityCredential(endpoint=imds.url)
    report = elb_py.health_report(
        "0.1.0",
        config={"namespace": "default"},
        kube=kube,
        credential=credential,
        storage=store,
        storage_container=container,
    )
    assert report["status"] == "healthy"
    assert report["version"] == "0.1.0"
    assert report["config"] == {"namespace": "default"}
    assert report["checks"]["kubernetes"]["status"] == "ok"
    assert isinstance(report["checks"]["kubernetes"]["nodes"], int)
    assert report["checks"]["azure_auth"] == {
        "status": "ok",
        "method": "ManagedIdentityCredential",
    }
    assert report["checks"]["storage"]["status"] == "ok"


def test_health_report_degraded_without_checks() -> None:
    report = elb_py.health_report("0.1.0")
    assert report["status"] == "degraded"
    assert report["checks"]["kubernetes"]["status"] == "error"
    assert report["checks"]["azure_auth"]["status"] == "error"
    assert "storage" not in report["checks"]


@pytest.mark.asyncio
async def test_async_store_and_health(kube: elb_py.KubeClient) -> None:
    store = elb_py.JobStore(kube, "default")
    job_ids = [new_job_id() for _ in range(3)]
    created = await asyncio.gather(*(store.create_async(job_record(j)) for j in job_ids))
    assert [stored.record["job_id"] for stored in created] == job_ids

    read, report = await asyncio.gather(
        store.get_async(job_ids[0]), elb_py.health_report_async("0.1.0", kube=kube)
    )
    assert read.resource_version == created[0].resource_version
    assert report["checks"]["kubernetes"]["status"] == "ok"
    assert report["checks"]["azure_auth"]["status"] == "error"
    assert report["status"] == "degraded"

    await asyncio.gather(*(store.delete_async(j) for j in job_ids))
    remaining = {stored.record["job_id"] for stored in await store.list_async()}
    assert remaining.isdisjoint(job_ids)
