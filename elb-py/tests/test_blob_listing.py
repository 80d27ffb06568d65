"""Blob listings with a delimiter against Azurite."""

from __future__ import annotations

import pytest

import elb_py

NAMES = [
    "results/batch_000.out.gz",
    "results/batch_001.out.gz",
    "results/logs/batch_000.log",
    "results/logs/batch_001.log",
    "results/metadata/SUCCESS.txt",
    "top.txt",
]


@pytest.fixture
def tree(store: elb_py.BlobStore, container: str) -> str:
    for name in NAMES:
        store.upload_bytes(container, name, name.encode())
    return container


def test_list_with_delimiter_groups_prefixes(store: elb_py.BlobStore, tree: str) -> None:
    top = store.list(tree, delimiter="/")
    assert [blob["name"] for blob in top["blobs"]] == ["top.txt"]
    assert top["prefixes"] == ["results/"]

    results = store.list(tree, prefix="results/", delimiter="/")
    assert [blob["name"] for blob in results["blobs"]] == NAMES[:2]
    assert results["prefixes"] == ["results/logs/", "results/metadata/"]
    assert results["blobs"][0]["size"] == len(NAMES[0])


def test_list_without_delimiter_is_flat(store: elb_py.BlobStore, tree: str) -> None:
    listing = store.list(tree, prefix="results/logs/", page_size=1)
    assert [blob["name"] for blob in listing["blobs"]] == NAMES[2:4]
    assert listing["prefixes"] == []

    everything = store.list(tree, page_size=2)
    assert [blob["name"] for blob in everything["blobs"]] == NAMES


@pytest.mark.asyncio
async def test_list_async_with_delimiter(store: elb_py.BlobStore, tree: str) -> None:
    listing = await store.list_async(tree, prefix="results/", delimiter="/")
    assert listing["prefixes"] == ["results/logs/", "results/metadata/"]


def test_list_rejects_invalid_options(store: elb_py.BlobStore, tree: str) -> None:
    with pytest.raises(elb_py.InvalidInputError, match="delimiter is empty"):
        store.list(tree, delimiter="")
    with pytest.raises(elb_py.InvalidInputError, match="page size 0"):
        store.list(tree, page_size=0)
    with pytest.raises(elb_py.NotFoundError):
        store.list(tree + "missing", delimiter="/")
