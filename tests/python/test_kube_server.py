"""The test Kubernetes API server, used from Python with the ``kubernetes`` client.

The server is started through ``elb-test-servers --kube``, which writes a kubeconfig for
the ``default`` namespace with the server's CA embedded.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from servers import running_servers

NAMESPACE = "default"


@pytest.fixture(scope="module")
def kube() -> Iterator[dict[str, Any]]:
    with running_servers("--kube") as servers:
        yield dict(servers.info["kube"])


@pytest.fixture
def core(kube: dict[str, Any]) -> Iterator[client.CoreV1Api]:
    api_client = config.new_client_from_config(config_file=kube["kubeconfig"])
    try:
        yield client.CoreV1Api(api_client)
    finally:
        api_client.close()


def record(name: str, status: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(
            name=name, labels={"elb-job": "true", "status": status, "priority": "50"}
        ),
        data={"job": json.dumps({"job_id": name[-8:], "status": status, "unknown": [1, 2]})},
    )


def status_body(error: ApiException) -> dict[str, Any]:
    """Return the ``Status`` body of an API error."""
    assert error.body is not None
    body: dict[str, Any] = json.loads(error.body)
    return body


def status_reason(error: ApiException) -> str:
    """Return the ``reason`` of the ``Status`` body of an API error."""
    return str(status_body(error)["reason"])


def meta(config_map: client.V1ConfigMap) -> client.V1ObjectMeta:
    assert config_map.metadata is not None
    return config_map.metadata


def labels(config_map: client.V1ConfigMap) -> dict[str, str]:
    found = meta(config_map).labels
    assert found is not None
    return dict(found)


def data(config_map: client.V1ConfigMap) -> dict[str, str]:
    assert config_map.data is not None
    return config_map.data


def names(config_maps: client.V1ConfigMapList) -> list[str]:
    return sorted(str(meta(item).name) for item in config_maps.items)


def list_version(config_maps: client.V1ConfigMapList) -> str:
    assert config_maps.metadata is not None
    return str(config_maps.metadata.resource_version)


def test_description_names_url_token_and_kubeconfig(kube: dict[str, Any]) -> None:
    assert kube["url"].startswith("https://127.0.0.1:")
    assert kube["token"]
    with open(kube["kubeconfig"], encoding="utf-8") as handle:
        text = handle.read()
    assert kube["url"] in text
    assert "certificate-authority-data" in text


def test_configmap_create_list_patch_delete(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NAMESPACE, record("elb-job-0000000a", "queued"))
    core.create_namespaced_config_map(NAMESPACE, record("elb-job-0000000b", "running"))

    queued = core.list_namespaced_config_map(NAMESPACE, label_selector="elb-job=true,status=queued")
    assert names(queued) == ["elb-job-0000000a"]
    both = core.list_namespaced_config_map(
        NAMESPACE, label_selector="status in (queued,running)"
    )
    assert names(both) == [
        "elb-job-0000000a",
        "elb-job-0000000b",
    ]

    patched = core.patch_namespaced_config_map(
        "elb-job-0000000a", NAMESPACE, {"metadata": {"labels": {"status": "running"}}}
    )
    assert labels(patched)["status"] == "running"
    assert json.loads(data(patched)["job"])["unknown"] == [1, 2]

    core.delete_namespaced_config_map("elb-job-0000000a", NAMESPACE)
    core.delete_namespaced_config_map("elb-job-0000000b", NAMESPACE)
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("elb-job-0000000a", NAMESPACE)
    assert caught.value.status == 404
    assert status_reason(caught.value) == "NotFound"


def test_watch_reports_changes(core: client.CoreV1Api) -> None:
    start = list_version(core.list_namespaced_config_map(NAMESPACE))
    core.create_namespaced_config_map(NAMESPACE, record("elb-job-0000000c", "queued"))
    core.patch_namespaced_config_map(
        "elb-job-0000000c", NAMESPACE, {"metadata": {"labels": {"status": "completed"}}}
    )
    core.delete_namespaced_config_map("elb-job-0000000c", NAMESPACE)

    seen = []
    stream = watch.Watch()
    for event in stream.stream(
        core.list_namespaced_config_map,
        NAMESPACE,
        resource_version=start,
        timeout_seconds=5,
    ):
        seen.append((event["type"], labels(event["object"])["status"]))
        if len(seen) == 3:
            stream.stop()
    assert seen == [("ADDED", "queued"), ("MODIFIED", "completed"), ("DELETED", "completed")]


def test_errors_carry_status_and_reason(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NAMESPACE, record("elb-job-0000000d", "queued"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(NAMESPACE, record("elb-job-0000000d", "queued"))
    assert caught.value.status == 409
    assert status_reason(caught.value) == "AlreadyExists"

    current = core.read_namespaced_config_map("elb-job-0000000d", NAMESPACE)
    stale = meta(current).resource_version
    data(current)["job"] = "{}"
    core.replace_namespaced_config_map("elb-job-0000000d", NAMESPACE, current)
    meta(current).resource_version = stale
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("elb-job-0000000d", NAMESPACE, current)
    assert caught.value.status == 409
    assert status_reason(caught.value) == "Conflict"

    too_big = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="elb-job-0000000e"), data={"job": "x" * 1_048_577}
    )
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(NAMESPACE, too_big)
    assert caught.value.status == 422
    assert status_reason(caught.value) == "Invalid"
    causes = status_body(caught.value)["details"]["causes"]
    assert causes[0]["reason"] == "FieldValueTooLong"
    core.delete_namespaced_config_map("elb-job-0000000d", NAMESPACE)
