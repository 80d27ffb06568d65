"""Kubernetes bindings against the test Kubernetes API server."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

import elb_py

from conftest import CannedServer


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


def test_update_with_edits_dict(kube: elb_py.KubeClient) -> None:
    store = elb_py.JobStore(kube, "default")
    job_id = new_job_id()
    store.create(job_record(job_id))
    seen: list[str] = []

    def start(record: dict[str, Any]) -> None:
        seen.append(record["status"])
        record["status"] = "running"
        record["elb_job_id"] = "job-" + "a" * 32

    updated = store.update_with(job_id, start)
    assert seen == ["queued"]
    assert updated.record["status"] == "running"
    assert updated.record["elb_job_id"] == "job-" + "a" * 32
    assert updated.record["submitted_by"] == "pytest"
    assert store.get(job_id).record["status"] == "running"

    returned = store.update_with(job_id, lambda record: {**record, "status": "completed"})
    assert returned.record["status"] == "completed"
    store.delete(job_id)


def test_update_with_retries_on_conflict(kube: elb_py.KubeClient) -> None:
    store = elb_py.JobStore(kube, "default")
    job_id = new_job_id()
    store.create(job_record(job_id))
    calls: list[str] = []

    def cancel(record: dict[str, Any]) -> None:
        calls.append(record["status"])
        if len(calls) == 1:
            # Another writer changes the record between this read and the write below.
            stale = store.get(job_id)
            store.update(stale.with_record({**stale.record, "status": "dispatching"}))
        record["status"] = "cancelled"

    updated = store.update_with(job_id, cancel)
    assert calls == ["queued", "dispatching"]
    assert updated.record["status"] == "cancelled"
    store.delete(job_id)


def test_update_with_reraises_exception(kube: elb_py.KubeClient) -> None:
    store = elb_py.JobStore(kube, "default")
    job_id = new_job_id()
    created = store.create(job_record(job_id))

    def fail(record: dict[str, Any]) -> None:
        raise KeyError("no-such-field")

    with pytest.raises(KeyError, match="no-such-field"):
        store.update_with(job_id, fail)
    with pytest.raises(elb_py.InvalidInputError, match="changed job_id"):
        store.update_with(job_id, lambda record: {**record, "job_id": "other"})
    with pytest.raises(elb_py.InvalidInputError, match="invalid job record"):
        store.update_with(job_id, lambda record: {**record, "status": "paused"})
    assert store.get(job_id).resource_version == created.resource_version

    with pytest.raises(elb_py.NotFoundError):
        store.update_with(new_job_id(), lambda record: None)
    store.delete(job_id)


@pytest.mark.asyncio
async def test_update_with_async(kube: elb_py.KubeClient) -> None:
    store = elb_py.JobStore(kube, "default")
    job_id = new_job_id()
    await store.create_async(job_record(job_id))
    updated = await store.update_with_async(
        job_id, lambda record: record.update(status="submitting")
    )
    assert updated.record["status"] == "submitting"
    await store.delete_async(job_id)


def test_wait_job_outcomes(kube: elb_py.KubeClient) -> None:
    elb_job_id = "job-" + uuid.uuid4().hex
    search = elb_py.SearchJobs(kube, "default", elb_job_id)
    name = f"blastn-batch-pdbnt-job-000-{elb_job_id[4:12]}"
    search.submit([batch_job(name, elb_job_id)])

    assert search.wait_job(name, timeout=60) == {"outcome": "complete"}
    assert search.wait_job("no-such-job", timeout=60) == {"outcome": "removed"}
    search.delete()


@pytest.mark.asyncio
async def test_wait_job_times_out(kube: elb_py.KubeClient) -> None:
    elb_job_id = "job-" + uuid.uuid4().hex
    search = elb_py.SearchJobs(kube, "default", elb_job_id)
    name = f"blastn-batch-pdbnt-job-000-{elb_job_id[4:12]}"
    await search.submit_async([batch_job(name, elb_job_id)])
    with pytest.raises(elb_py.TimedOutError) as caught:
        await search.wait_job_async(name, timeout=0)
    assert name in str(caught.value)
    await search.delete_async()


def test_delete_search_removes_jobs_and_record(kube: elb_py.KubeClient) -> None:
    store = elb_py.JobStore(kube, "default")
    job_id = new_job_id()
    elb_job_id = "job-" + uuid.uuid4().hex
    store.create({**job_record(job_id), "elb_job_id": elb_job_id})
    search = elb_py.SearchJobs(kube, "default", elb_job_id)
    short = elb_job_id[4:12]
    names = [f"blastn-batch-pdbnt-job-{index:03d}-{short}" for index in range(3)]
    search.submit([batch_job(name, elb_job_id) for name in names])

    assert search.delete_search(store, job_id) == 3
    assert search.list_jobs() == []
    with pytest.raises(elb_py.NotFoundError):
        store.get(job_id)
    assert search.delete_search(store, job_id) == 0


def test_wait_for_load_balancer(kube: elb_py.KubeClient) -> None:
    namespace = "default"
    kube.apply_openapi_objects(namespace, str(uuid.uuid4()), "elbacr.azurecr.io/elb-openapi:1")
    address = kube.wait_for_load_balancer(namespace, timeout=30, poll_interval=0.2)
    assert address.count(".") == 3
    assert all(part.isdigit() for part in address.split("."))

    with pytest.raises(elb_py.NotFoundError):
        kube.wait_for_load_balancer("no-such-namespace", timeout=5)


def test_connect_entra_sends_credential_token(
    kube_server: dict[str, Any], canned: CannedServer
) -> None:
    canned.token(kube_server["token"])
    credential = elb_py.ManagedIdentityCredential(endpoint=canned.url)
    kube = elb_py.KubeClient.connect_entra(kube_server["kubeconfig"], credential=credential)
    kube.readyz()
    assert isinstance(kube.list_nodes(), list)

    resources = {request["query"]["resource"][0] for request in canned.requests}
    assert resources == {"6dae42f8-4368-4678-94ff-3960e28e3630"}
    assert credential.method == "ManagedIdentityCredential"


def test_connect_entra_rejected_token(
    kube_server: dict[str, Any], canned: CannedServer
) -> None:
    canned.token("not-the-cluster-token")
    credential = elb_py.ManagedIdentityCredential(endpoint=canned.url)
    kube = elb_py.KubeClient.connect_entra(kube_server["kubeconfig"], credential=credential)
    with pytest.raises(elb_py.AuthenticationError) as caught:
        kube.list_nodes()
    assert caught.value.status == 401
    assert "not-the-cluster-token" not in str(caught.value)

    with pytest.raises(elb_py.InvalidInputError, match="exactly one of path and yaml"):
        elb_py.KubeClient.connect_entra(credential=credential)


JOB_TEMPLATE = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: placeholder
  labels:
    tier: ${TIER}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: blast
        image: ${ELB_DOCKER_IMAGE}
        env:
        - name: BATCH
          value: "${JOB_NUM}"
        - name: BATCH_NUMBER
          value: "${BLAST_ELB_BATCH_NUM}"
"""


def test_render_template_one_job_per_batch() -> None:
    elb_job_id = "job-" + "0123456789abcdef" * 2
    jobs = elb_py.render_template(
        JOB_TEMPLATE,
        elb_job_id=elb_job_id,
        program="blastn",
        db="pdbnt",
        batches=3,
        variables={"TIER": "search", "ELB_DOCKER_IMAGE": "ncbi/elb:1.4.0"},
    )
    assert len(jobs) == 3
    names = [job["metadata"]["name"] for job in jobs]
    assert names[2].startswith("blastn-batch-pdbnt-job-002-")
    assert len(set(names)) == 3
    labels = jobs[1]["metadata"]["labels"]
    assert labels["tier"] == "search"
    assert labels["elb-job-id"] == elb_job_id
    assert labels["app"] == "blast"
    assert labels["db"] == "pdbnt"
    container = jobs[1]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ncbi/elb:1.4.0"
    assert {"name": "BATCH", "value": "001"} in container["env"]
    assert {"name": "BATCH_NUMBER", "value": "1"} in container["env"]
    assert jobs[0]["spec"]["backoffLimit"] == 3

    with pytest.raises(elb_py.InvalidInputError, match="TIER"):
        elb_py.render_template(
            JOB_TEMPLATE, elb_job_id=elb_job_id, program="blastn", db="pdbnt", batches=1
        )
    with pytest.raises(elb_py.InvalidInputError, match="0 batches"):
        elb_py.render_template(
            JOB_TEMPLATE, elb_job_id=elb_job_id, program="blastn", db="pdbnt", batches=0
        )


def test_search_spec_jobs_submit(kube: elb_py.KubeClient) -> None:
    elb_job_id = "job-" + uuid.uuid4().hex
    spec = elb_py.SearchSpec(
        elb_job_id=elb_job_id,
        program="blastp",
        db="swissprot",
        queries="https://acct.blob.core.windows.net/queries/q",
        results="https://acct.blob.core.windows.net/results/r",
        batches=2,
        image="ncbi/elb:1.4.0",
        blast_options="-evalue 0.01",
        memory_limit="4G",
        node_selector={"agentpool": "blast"},
        tolerations=[{"key": "elb", "operator": "Exists", "effect": "NoSchedule"}],
    )
    assert spec.batches == 2
    jobs = spec.batch_jobs()
    assert len(jobs) == 2
    pod = jobs[1]["spec"]["template"]["spec"]
    env = {item["name"]: item["value"] for item in pod["containers"][0]["env"]}
    assert env["ELB_BLAST_OPTIONS"] == "-evalue 0.01"
    assert env["JOB_NUM"] == "001"
    assert env["ELB_DB"] == "swissprot"
    assert pod["nodeSelector"] == {"agentpool": "blast"}
    assert pod["tolerations"][0]["key"] == "elb"
    assert pod["containers"][0]["resources"]["limits"]["memory"] == "4G"

    search = elb_py.SearchJobs(kube, "default", elb_job_id)
    report = search.submit(jobs)
    assert sorted(report["created"]) == sorted(job["metadata"]["name"] for job in jobs)
    assert search.delete() == 2


def test_search_spec_rejects_invalid() -> None:
    valid = {
        "elb_job_id": "job-" + "0" * 32,
        "program": "blastn",
        "db": "pdbnt",
        "queries": "q",
        "results": "r",
        "batches": 1,
        "image": "ncbi/elb:1.4.0",
    }
    with pytest.raises(elb_py.InvalidInputError, match="empty image"):
        elb_py.SearchSpec(**{**valid, "image": " "})
    with pytest.raises(elb_py.InvalidInputError, match="0 batches"):
        elb_py.SearchSpec(**{**valid, "batches": 0})
    with pytest.raises(elb_py.InvalidInputError):
        elb_py.SearchSpec(**{**valid, "elb_job_id": "job-XYZ"})
    with pytest.raises(elb_py.InvalidInputError, match="invalid toleration"):
        elb_py.SearchSpec(**{**valid, "tolerations": [{"key": 5}]})
