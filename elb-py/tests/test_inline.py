"""Inline FASTA searches (mode B): the queries go to blob storage, the record to Kubernetes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import elb_py

FASTA = ">query1 test\nACGTACGTAC\n>query2\nTTGCA\n"


@pytest.fixture
def kube(kube_server: dict[str, Any]) -> elb_py.KubeClient:
    return elb_py.KubeClient.from_kubeconfig(kube_server["kubeconfig"])


@pytest.fixture
def queries(store: elb_py.BlobStore) -> str:
    """The ``queries`` container, created when missing."""
    store.create_container("queries")
    return "queries"


def new_record(job_id: str) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "status": "queued",
        "mode": "A",
        "created_at": "2026-12-04T16:35:00Z",
        "program": "blastn",
        "db": "pdbnt",
        "elb_job_id": None,
        "error": None,
    }


def test_submit_inline_uploads_and_records(
    kube: elb_py.KubeClient, store: elb_py.BlobStore, queries: str
) -> None:
    jobs = elb_py.JobStore(kube, "default")
    job_id = elb_py.new_job_id()
    submitted = elb_py.submit_inline(store, jobs, new_record(job_id), FASTA)

    assert submitted["sequences"] == 2
    assert submitted["bytes"] == len(FASTA)
    assert submitted["queries_url"].endswith(f"/queries/{job_id}.fa")
    assert submitted["upload"]["bytes"] == len(FASTA)
    record = submitted["record"].record
    assert record["mode"] == "B"
    assert record["queries"] == submitted["queries_url"]
    assert record["queries_sequences"] == 2
    assert store.download_bytes(queries, f"{job_id}.fa") == FASTA.encode()
    assert jobs.get(job_id).record["queries_bytes"] == len(FASTA)

    with pytest.raises(elb_py.AlreadyExistsError, match=job_id):
        elb_py.submit_inline(store, jobs, new_record(job_id), FASTA.encode())
    jobs.delete(job_id)


def test_submit_inline_rejects_invalid_fasta(
    kube: elb_py.KubeClient, store: elb_py.BlobStore, queries: str
) -> None:
    jobs = elb_py.JobStore(kube, "default")
    job_id = elb_py.new_job_id()
    with pytest.raises(elb_py.InvalidInputError):
        elb_py.submit_inline(store, jobs, new_record(job_id), "ACGT\n")
    with pytest.raises(elb_py.InvalidInputError, match="str or bytes"):
        elb_py.submit_inline(store, jobs, new_record(job_id), 42)  # type: ignore[arg-type]
    assert not store.exists(queries, f"{job_id}.fa")
    with pytest.raises(elb_py.NotFoundError):
        jobs.get(job_id)


@pytest.mark.asyncio
async def test_submit_inline_async(
    kube: elb_py.KubeClient, store: elb_py.BlobStore, queries: str
) -> None:
    jobs = elb_py.JobStore(kube, "default")
    job_id = elb_py.new_job_id()
    submitted = await elb_py.submit_inline_async(store, jobs, new_record(job_id), FASTA)
    assert submitted["record"].record["job_id"] == job_id
    await jobs.delete_async(job_id)


def test_validate_fasta_and_ids() -> None:
    assert elb_py.validate_fasta(FASTA) == {"sequences": 2, "bytes": len(FASTA)}
    assert elb_py.validate_fasta(b"\n>q\r\nacgt\r\n")["sequences"] == 1
    with pytest.raises(elb_py.InvalidInputError):
        elb_py.validate_fasta("   \n")
    with pytest.raises(elb_py.InvalidInputError):
        elb_py.validate_fasta(b">q\nAC\x00GT\n")

    job_id = elb_py.new_job_id()
    assert len(job_id) == 12
    int(job_id, 16)
    elb_job_id = elb_py.new_elb_job_id()
    assert elb_job_id.startswith("job-")
    assert len(elb_job_id) == 36
    assert elb_job_id != elb_py.new_elb_job_id()
    assert uuid.UUID(elb_job_id[4:]).hex == elb_job_id[4:]
