"""Upload a folder to a blob prefix, or download a prefix to a folder, with azure-storage-blob.

This is the Python SDK contender of the elb benchmark harness (benches/). It sets the
SDK's tuning options for speed: 8 MiB blocks, single-request uploads up to 64 MiB, a
larger connection pool, and a thread pool across files that shares 32 requests in flight
between them. The SAS query comes from the ELB_BENCH_SAS environment variable.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import ContainerClient

MIB = 1024 * 1024
# Requests in flight across all files, as for elb and tuned azcopy.
TOTAL_CONCURRENCY = 32
BLOCK_SIZE = 8 * MIB
SINGLE_PUT_MAX = 64 * MIB


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("direction", choices=["upload", "download"])
    parser.add_argument("--account-url", required=True, help="account URL without a SAS")
    parser.add_argument("--container", required=True)
    parser.add_argument("--prefix", required=True, help="blob prefix ending with /")
    parser.add_argument("--local-dir", required=True, type=Path)
    return parser.parse_args()


def split_concurrency(file_count: int) -> tuple[int, int]:
    """Return (parallel files, connections per file) for TOTAL_CONCURRENCY requests."""
    workers = max(1, min(TOTAL_CONCURRENCY, file_count))
    return workers, max(1, TOTAL_CONCURRENCY // workers)


def upload(container: ContainerClient, prefix: str, local_dir: Path) -> None:
    files = sorted(path for path in local_dir.iterdir() if path.is_file())
    workers, per_file = split_concurrency(len(files))

    def send(path: Path) -> None:
        with path.open("rb") as data:
            container.upload_blob(
                prefix + path.name,
                data,
                overwrite=True,
                length=path.stat().st_size,
                max_concurrency=per_file,
            )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(send, files):
            pass


def download(container: ContainerClient, prefix: str, local_dir: Path) -> None:
    names = [blob.name for blob in container.list_blobs(name_starts_with=prefix)]
    workers, per_file = split_concurrency(len(names))

    def fetch(name: str) -> None:
        target = local_dir / name[len(prefix) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            container.download_blob(name, max_concurrency=per_file).readinto(out)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(fetch, names):
            pass


def main() -> int:
    args = parse_args()
    sas = os.environ.get("ELB_BENCH_SAS")
    if not sas:
        print("ELB_BENCH_SAS is not set: pass the SAS query in it", file=sys.stderr)
        return 2
    # The default requests pool keeps 10 connections per host, fewer than the threads use.
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=2 * TOTAL_CONCURRENCY)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    container = ContainerClient(
        account_url=args.account_url,
        container_name=args.container,
        credential=sas,
        max_block_size=BLOCK_SIZE,
        max_single_put_size=SINGLE_PUT_MAX,
        max_single_get_size=BLOCK_SIZE,
        max_chunk_get_size=BLOCK_SIZE,
        connection_data_block_size=256 * 1024,
        transport=RequestsTransport(session=session, session_owner=False),
    )
    with container:
        if args.direction == "upload":
            upload(container, args.prefix, args.local_dir)
        else:
            download(container, args.prefix, args.local_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
