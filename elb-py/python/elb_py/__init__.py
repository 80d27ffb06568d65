"""Python bindings for elb: Entra ID credentials, Azure Blob Storage transfers and the
Kubernetes objects of ElasticBLAST searches.

Every network operation has two calling styles, except the ``KubeClient`` constructors,
which only block. The plain name blocks the calling thread with the GIL released, so
threads (such as FastAPI's thread pool) run operations in parallel. The same name with an
``_async`` suffix returns an awaitable for asyncio, and cancelling it aborts the operation.
Rust log events reach the standard ``logging`` module under the ``elb`` logger.

Objects stay usable in a child created by ``os.fork()`` after the parent used them, as under
gunicorn ``--preload`` or multiprocessing's ``fork`` start method: the child starts its own
runtime and, on an object's first call there, builds new clients, so it shares no connection
or cached token with the parent.
"""

from __future__ import annotations

from ._errors import (
    AlreadyExistsError,
    AuthenticationError,
    ConflictError,
    ElbError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    ServiceError,
    ThrottledError,
    TimedOutError,
    TransportError,
    UnavailableError,
)
from ._native import (
    AzureCliCredential,
    BlobStore,
    ClientSecretCredential,
    Credential,
    DefaultChain,
    JobStore,
    KubeClient,
    ManagedIdentityCredential,
    SearchJobs,
    SearchSpec,
    StoredRecord,
    WorkloadIdentityCredential,
    __version__,
    health_report,
    health_report_async,
    new_elb_job_id,
    new_job_id,
    render_template,
    submit_inline,
    submit_inline_async,
    validate_fasta,
)
from ._tokens import AccessToken, AccessTokenInfo

__all__ = [
    "__version__",
    # credentials
    "Credential",
    "ClientSecretCredential",
    "WorkloadIdentityCredential",
    "ManagedIdentityCredential",
    "AzureCliCredential",
    "DefaultChain",
    "AccessToken",
    "AccessTokenInfo",
    # blob storage
    "BlobStore",
    # Kubernetes
    "KubeClient",
    "JobStore",
    "StoredRecord",
    "SearchJobs",
    "SearchSpec",
    "render_template",
    # inline FASTA searches
    "submit_inline",
    "submit_inline_async",
    "validate_fasta",
    "new_job_id",
    "new_elb_job_id",
    # health
    "health_report",
    "health_report_async",
    # errors
    "ElbError",
    "NotFoundError",
    "AlreadyExistsError",
    "ConflictError",
    "PreconditionFailedError",
    "PermissionDeniedError",
    "AuthenticationError",
    "ThrottledError",
    "InvalidInputError",
    "TimedOutError",
    "IntegrityError",
    "UnavailableError",
    "TransportError",
    "ServiceError",
]
