"""Type stubs of the ``elb_py._native`` extension module.

Every blocking method releases the GIL for its whole duration. A method named ``*_async``
takes the same arguments and returns an awaitable for the running asyncio event loop.
Cancelling that awaitable aborts the operation at its next suspension point.
"""

import builtins
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, Protocol, final

from typing_extensions import disjoint_base

from ._tokens import AccessToken, AccessTokenInfo

__all__ = [
    "__version__",
    "AzureCliCredential",
    "BlobStore",
    "ClientSecretCredential",
    "Credential",
    "DefaultChain",
    "JobStore",
    "KubeClient",
    "ManagedIdentityCredential",
    "SearchJobs",
    "SearchSpec",
    "render_template",
    "submit_inline",
    "submit_inline_async",
    "validate_fasta",
    "new_job_id",
    "new_elb_job_id",
    "StoredRecord",
    "WorkloadIdentityCredential",
    "health_report",
    "health_report_async",
]

__version__: str

_StrPath = str | os.PathLike[str]
_ProgressCallback = Callable[[dict[str, Any]], object]
_BytesProgressCallback = Callable[[int, int], object]

class _BinaryWriter(Protocol):
    def write(self, data: bytes, /) -> int | None: ...

@disjoint_base
class Credential:
    """Base class of the elb_py credentials.

    Implements the ``azure.core.credentials.TokenCredential`` and ``SupportsTokenInfo``
    protocols, so an instance can be passed as ``credential=`` to Azure SDK clients.
    Tokens are cached per scope and refreshed before they expire.
    """

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """Get an access token for one scope.

        Args:
            *scopes: Exactly one scope, such as ``"https://storage.azure.com/.default"``.
            claims: Accepted for protocol compatibility and ignored, because elb never
                requests CAE tokens, so services send no claims challenge.
            tenant_id: Must be ``None``; elb credentials use the tenant they were created with.
            enable_cae: Accepted for protocol compatibility and ignored.

        Returns:
            The token and its expiry as a UNIX time.

        Raises:
            InvalidInputError: Not exactly one scope, or a ``tenant_id`` was given.
            AuthenticationError: Entra ID or the identity endpoint rejected the request.
            UnavailableError: The identity endpoint is not configured or not reachable.
        """

    def get_token_info(
        self, *scopes: str, options: Mapping[str, Any] | None = None
    ) -> AccessTokenInfo:
        """Get an access token for one scope, as ``SupportsTokenInfo`` requires.

        Args:
            *scopes: Exactly one scope.
            options: ``TokenRequestOptions``; only ``tenant_id`` is read and must be absent.

        Returns:
            The token with its expiry and type ``Bearer``.

        Raises:
            Same as :meth:`get_token`.
        """

    def get_token_async(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> Awaitable[AccessToken]:
        """Get an access token for one scope without blocking the event loop.

        Returns:
            An awaitable of the token; see :meth:`get_token` for arguments and errors.
        """

    @property
    def method(self) -> str | None:
        """Name of the credential that produced the last token, such as
        ``"WorkloadIdentityCredential"``; ``None`` for a chain before its first token."""

    @property
    def last_used(self) -> float | None:
        """UNIX time of the last successful token request, or ``None``."""

    def close(self) -> None:
        """Do nothing, because the credential has no resources to close."""

    def __enter__(self) -> Credential: ...
    def __exit__(self, *_args: object) -> None: ...

@final
class ClientSecretCredential(Credential):
    """A credential for an Entra ID application with a client secret.

    Args:
        tenant_id: The directory (tenant) id.
        client_id: The application (client) id.
        client_secret: The secret; it never appears in errors, logs or ``repr``.
        authority_host: The Entra ID host, ``https://login.microsoftonline.com/`` by default.
        ca_file: A PEM file of extra root certificates to trust.
        max_retries: Retries of transient token request failures (default 3).

    Raises:
        InvalidInputError: An id is empty or ``authority_host`` is not an https URL.
    """

    def __new__(
        cls,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        *,
        authority_host: str | None = None,
        ca_file: _StrPath | None = None,
        max_retries: int | None = None,
    ) -> ClientSecretCredential: ...

@final
class WorkloadIdentityCredential(Credential):
    """A credential that exchanges an AKS projected service-account token for an Entra ID
    token, reading the token file again for every exchange.

    Arguments left out come from ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``,
    ``AZURE_FEDERATED_TOKEN_FILE`` and ``AZURE_AUTHORITY_HOST`` in ``env`` (the process
    environment by default), which the AKS workload identity webhook sets.

    Raises:
        InvalidInputError: The configuration is incomplete; the message names what is missing.
    """

    def __new__(
        cls,
        *,
        tenant_id: str | None = None,
        client_id: str | None = None,
        token_file: _StrPath | None = None,
        authority_host: str | None = None,
        ca_file: _StrPath | None = None,
        max_retries: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> WorkloadIdentityCredential: ...

@final
class ManagedIdentityCredential(Credential):
    """A credential for the managed identity of the Azure resource the code runs on.

    Args:
        client_id: Client id of a user-assigned identity.
        object_id: Object (principal) id of a user-assigned identity.
        resource_id: Azure resource id of a user-assigned identity.
        endpoint: The IMDS host or token URL, or with ``identity_header`` the App Service
            ``IDENTITY_ENDPOINT``. By default ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER``
            from ``env``, else IMDS at ``169.254.169.254``.
        identity_header: The App Service ``IDENTITY_HEADER`` value.
        connect_timeout: Seconds before an unreachable endpoint counts as unavailable.
        max_retries: Retries of 429, 404 and 5xx responses.
        env: Variables to read instead of the process environment.

    Raises:
        InvalidInputError: More than one id, or an endpoint that is not an http(s) URL.
    """

    def __new__(
        cls,
        *,
        client_id: str | None = None,
        object_id: str | None = None,
        resource_id: str | None = None,
        endpoint: str | None = None,
        identity_header: str | None = None,
        connect_timeout: float | None = None,
        max_retries: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ManagedIdentityCredential: ...
    @property
    def endpoint(self) -> str:
        """The token endpoint that requests go to."""

@final
class AzureCliCredential(Credential):
    """A credential that runs ``az account get-access-token``.

    Args:
        program: The ``az`` program, found on ``PATH`` by default.
        tenant_id: The tenant to request tokens from.
        timeout: Seconds the program may run.
    """

    def __new__(
        cls,
        *,
        program: _StrPath | None = None,
        tenant_id: str | None = None,
        timeout: float | None = None,
    ) -> AzureCliCredential: ...

@final
class DefaultChain(Credential):
    """A chain of client secret, workload identity, managed identity and Azure CLI.

    The credentials are tried in that order. The first that produces a token is used from
    then on and reported as :attr:`method`.

    Args:
        env: Variables to read instead of the process environment.
        ca_file: A PEM file of extra root certificates; ``SSL_CERT_FILE`` by default.
        imds_endpoint: The IMDS host to use instead of ``169.254.169.254``.
        exclude: Credentials to leave out: ``client_secret``, ``workload_identity``,
            ``managed_identity``, ``azure_cli``.
        managed_identity_client_id: Client id of a user-assigned managed identity.
        azure_cli_program: The ``az`` program.
        max_retries: Retries of each credential's token requests.

    Raises:
        InvalidInputError: A credential is half configured, such as the federated token
            file without ``AZURE_CLIENT_ID``, or an ``exclude`` name is unknown.
    """

    def __new__(
        cls,
        *,
        env: Mapping[str, str] | None = None,
        ca_file: _StrPath | None = None,
        imds_endpoint: str | None = None,
        exclude: Sequence[str] | None = None,
        managed_identity_client_id: str | None = None,
        azure_cli_program: _StrPath | None = None,
        max_retries: int | None = None,
    ) -> DefaultChain: ...
    @property
    def credential_names(self) -> list[str]:
        """Names of the credentials the chain tries, in order."""

@final
class BlobStore:
    """A client for one storage account: its URL, authorization and connection pool.

    Args:
        account_url: ``https://<account>.blob.core.windows.net``, a private endpoint, or
            Azurite's path style ``http://127.0.0.1:10000/devstoreaccount1``.
        credential: An elb_py credential for bearer tokens (https only).
        sas: A SAS query string, with or without the leading ``?``.
        account_key: The base64 account key, for Shared Key.
        account_name: The account of ``account_key`` when the URL does not show it.
        ca_file: A PEM file of extra root certificates; ``SSL_CERT_FILE`` by default.
        service_version: The ``x-ms-version`` to send.
        max_retries: Retries of transient failures per request.
        connect_timeout: Seconds to wait for a connection.
        deadline: Seconds after which one operation fails with :class:`TimedOutError`.

    Raises:
        InvalidInputError: A bad URL, more than one authorization, or a credential with http.
    """

    def __new__(
        cls,
        account_url: str,
        *,
        credential: Credential | None = None,
        sas: str | None = None,
        account_key: str | None = None,
        account_name: str | None = None,
        ca_file: _StrPath | None = None,
        service_version: str | None = None,
        max_retries: int | None = None,
        connect_timeout: float | None = None,
        deadline: float | None = None,
    ) -> BlobStore: ...
    @property
    def account_url(self) -> str:
        """The account URL, without a SAS."""

    def blob_url(self, container: str, name: str = "") -> str:
        """Return the URL of a blob, or of the container when ``name`` is empty."""

    def upload_file(
        self,
        container: str,
        name: str,
        path: _StrPath,
        *,
        overwrite: bool = True,
        content_type: str | None = None,
        block_size: int | None = None,
        concurrency: int | None = None,
        put_md5: bool = True,
        checksum: Literal["auto", "md5", "crc64", "none"] = "auto",
        progress: _BytesProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Upload a file in parallel blocks, storing its MD5.

        Args:
            container: The container.
            name: The blob name.
            path: The local file.
            overwrite: Whether an existing blob may be replaced.
            content_type: The stored content type; chosen by extension when ``None``.
            block_size: Preferred block size in bytes (4 MiB by default).
            concurrency: Maximum blocks in flight (16 by default).
            put_md5: Whether to store the content's MD5 on the blob, so downloads can verify
                it.
            checksum: The checksum sent with every request body, which the service checks:
                ``"auto"`` (``x-ms-content-crc64``, and ``Content-MD5`` once the service has
                rejected that header, as Azurite 3.35 does unless started with ``--loose``.
                The switch logs one warning and lasts for the store's lifetime),
                ``"md5"`` (``Content-MD5``), ``"crc64"`` (``x-ms-content-crc64`` only) or
                ``"none"``.
            progress: Called with ``(bytes_done, bytes_total)`` as blocks are staged, at
                most every 0.1 s, and once more with both equal to the size when the upload
                succeeded. It runs on a worker thread with the GIL held, and an exception
                it raises goes to ``sys.unraisablehook``.

        Returns:
            ``{"bytes", "blocks", "etag", "content_md5"}``; ``blocks`` is 0 for one request.

        Raises:
            NotFoundError: The file or container does not exist.
            AlreadyExistsError: ``overwrite`` is off and the blob exists.
            InvalidInputError: An unknown ``checksum``, a zero size or concurrency, or
                ``checksum="crc64"`` on a service that rejects ``x-ms-content-crc64``.
            TypeError: ``progress`` is not callable.
        """

    def upload_file_async(
        self,
        container: str,
        name: str,
        path: _StrPath,
        *,
        overwrite: bool = True,
        content_type: str | None = None,
        block_size: int | None = None,
        concurrency: int | None = None,
        put_md5: bool = True,
        checksum: Literal["auto", "md5", "crc64", "none"] = "auto",
        progress: _BytesProgressCallback | None = None,
    ) -> Awaitable[dict[str, Any]]:
        """Awaitable form of :meth:`upload_file`."""

    def upload_bytes(
        self,
        container: str,
        name: str,
        data: bytes | bytearray,
        *,
        overwrite: bool = True,
        content_type: str | None = None,
        put_md5: bool = True,
        checksum: Literal["auto", "md5", "crc64", "none"] = "auto",
    ) -> dict[str, Any]:
        """Upload bytes to a blob, in one request or in parallel blocks.

        Args:
            put_md5: As in :meth:`upload_file`.
            checksum: As in :meth:`upload_file`.

        Returns:
            As :meth:`upload_file`.

        Raises:
            AlreadyExistsError: ``overwrite`` is off and the blob exists.
        """

    def upload_bytes_async(
        self,
        container: str,
        name: str,
        data: bytes | bytearray,
        *,
        overwrite: bool = True,
        content_type: str | None = None,
        put_md5: bool = True,
        checksum: Literal["auto", "md5", "crc64", "none"] = "auto",
    ) -> Awaitable[dict[str, Any]]:
        """Awaitable form of :meth:`upload_bytes`."""

    def download_file(
        self,
        container: str,
        name: str,
        path: _StrPath,
        *,
        range_size: int | None = None,
        concurrency: int | None = None,
        verify_md5: bool = True,
        progress: _BytesProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Download a blob to a file in parallel ranges, through a temporary file in the
        same folder that replaces ``path`` only when complete.

        Args:
            range_size: Bytes per ranged request; default 4 MiB.
            concurrency: Maximum ranges in flight, which bounds memory use; default 16.
            verify_md5: Whether to compare the content with the blob's stored MD5, when it
                has one.
            progress: Called with ``(bytes_done, bytes_total)`` as ranges are written, at
                most every 0.1 s, and once more with both equal to the size when the
                download succeeded. It runs on a worker thread with the GIL held, and an
                exception it raises goes to ``sys.unraisablehook``.

        Returns:
            ``{"bytes", "etag", "content_md5", "verified"}``.

        Raises:
            NotFoundError: The blob does not exist. Missing folders of ``path`` are created.
            IntegrityError: The content does not match the blob's stored MD5.
            TypeError: ``progress`` is not callable.
        """

    def download_file_async(
        self,
        container: str,
        name: str,
        path: _StrPath,
        *,
        range_size: int | None = None,
        concurrency: int | None = None,
        verify_md5: bool = True,
        progress: _BytesProgressCallback | None = None,
    ) -> Awaitable[dict[str, Any]]:
        """Awaitable form of :meth:`download_file`."""

    def download_bytes(
        self,
        container: str,
        name: str,
        *,
        range_size: int | None = None,
        concurrency: int | None = None,
        verify_md5: bool = True,
    ) -> bytes:
        """Download a blob into memory.

        Args:
            range_size: Bytes per ranged request; default 4 MiB.
            concurrency: Maximum ranges in flight, which bounds memory use; default 16.
            verify_md5: Whether to compare the content with the blob's stored MD5, when it
                has one.

        Raises:
            NotFoundError: The blob does not exist.
            IntegrityError: The content does not match the blob's stored MD5.
        """

    def download_bytes_async(
        self,
        container: str,
        name: str,
        *,
        range_size: int | None = None,
        concurrency: int | None = None,
        verify_md5: bool = True,
    ) -> Awaitable[bytes]:
        """Awaitable form of :meth:`download_bytes`."""

    def properties(self, container: str, name: str) -> dict[str, Any]:
        """Read a blob's properties without its content.

        Returns:
            ``{"size", "etag", "content_type", "last_modified"}`` (RFC 3339 text).

        Raises:
            NotFoundError: The blob does not exist.
        """

    def properties_async(self, container: str, name: str) -> Awaitable[dict[str, Any]]:
        """Awaitable form of :meth:`properties`."""

    def exists(self, container: str, name: str) -> bool:
        """Return whether a blob exists."""

    def exists_async(self, container: str, name: str) -> Awaitable[bool]:
        """Awaitable form of :meth:`exists`."""

    def delete_blob(self, container: str, name: str, *, missing_ok: bool = False) -> bool:
        """Delete a blob and its snapshots.

        Returns:
            ``False`` when the blob did not exist and ``missing_ok`` is set.

        Raises:
            NotFoundError: The blob does not exist and ``missing_ok`` is off.
            PreconditionFailedError: The blob has an active lease.
        """

    def delete_blob_async(
        self, container: str, name: str, *, missing_ok: bool = False
    ) -> Awaitable[bool]:
        """Awaitable form of :meth:`delete_blob`."""

    def create_container(self, container: str) -> bool:
        """Create a container; return ``False`` when it already existed."""

    def create_container_async(self, container: str) -> Awaitable[bool]:
        """Awaitable form of :meth:`create_container`."""

    def delete_container(self, container: str, *, missing_ok: bool = False) -> bool:
        """Delete a container.

        Returns:
            ``False`` when it did not exist and ``missing_ok`` is set.

        Raises:
            NotFoundError: The container does not exist and ``missing_ok`` is off.
        """

    def delete_container_async(
        self, container: str, *, missing_ok: bool = False
    ) -> Awaitable[bool]:
        """Awaitable form of :meth:`delete_container`."""

    def list_blobs(self, container: str, prefix: str | None = None) -> list[dict[str, Any]]:
        """List the blobs under ``prefix`` (all blobs when ``None``), following every page.

        Returns:
            One dict per blob: ``name``, ``size``, ``etag``, ``last_modified``,
            ``content_type``, ``blob_type``.
        """

    def list_blobs_async(
        self, container: str, prefix: str | None = None
    ) -> Awaitable[list[dict[str, Any]]]:
        """Awaitable form of :meth:`list_blobs`."""

    def list(
        self,
        container: str,
        *,
        prefix: str | None = None,
        delimiter: str | None = None,
        page_size: int | None = None,
    ) -> dict[str, Any]:
        """List the blobs under ``prefix``, grouping names by ``delimiter`` like directories.

        Args:
            container: The container to list.
            prefix: Only names that start with this text (a plain prefix, not a pattern).
            delimiter: Names that contain it after ``prefix`` are returned once, in
                ``prefixes``, up to and including the delimiter; normally ``"/"``.
            page_size: Entries per request, 1 to 5000; the service default is 5000.

        Returns:
            ``{"blobs": [...], "prefixes": [...]}``, blobs in the :meth:`list_blobs` shape.

        Raises:
            InvalidInputError: An empty delimiter or a page size out of range.
            NotFoundError: The container does not exist.
        """

    def list_async(
        self,
        container: str,
        *,
        prefix: str | None = None,
        delimiter: str | None = None,
        page_size: int | None = None,
    ) -> Awaitable[dict[str, Any]]:
        """Awaitable form of :meth:`list`."""

    def upload_dir(
        self,
        local_dir: _StrPath,
        container: str,
        prefix: str | None = None,
        *,
        include: str | None = None,
        exclude: str | None = None,
        overwrite: bool = True,
        fail_fast: bool = False,
        concurrency: int | None = None,
        progress: _ProgressCallback | None = None,
        check: bool = True,
    ) -> dict[str, Any]:
        """Upload a directory tree under ``prefix``.

        Args:
            local_dir: The directory.
            container: The container.
            prefix: The blob prefix, ``/`` added when missing; ``None`` for the container root.
            include: ``;``-separated glob patterns of relative paths, such as
                ``"*.out.gz;*.out"``; all files by default.
            exclude: Patterns of files to leave out.
            overwrite: Whether existing blobs are replaced; otherwise they are skipped.
            fail_fast: Whether the first failure cancels the remaining files.
            concurrency: Maximum requests in flight across all files (32 by default).
            progress: Called with a dict (``stage``, ``files_total``, ``files_done``,
                ``files_failed``, ``bytes_total``, ``bytes_done``, ``file``, ``error``) on a
                worker thread with the GIL held. The frequent ``bytes``, ``file_done`` and
                ``file_skipped`` events are sent at most every 0.1 s.
            check: Whether a failed file raises; otherwise failures are listed in the report.

        Returns:
            ``{"files", "bytes", "skipped", "skipped_existing", "failed", "cancelled",
            "elapsed"}``, where ``failed`` lists ``{"path", "kind", "error"}``.

        Raises:
            ElbError: The subclass of the first failed file when ``check`` is set.
            NotFoundError: ``local_dir`` does not exist.
        """

    def upload_dir_async(
        self,
        local_dir: _StrPath,
        container: str,
        prefix: str | None = None,
        *,
        include: str | None = None,
        exclude: str | None = None,
        overwrite: bool = True,
        fail_fast: bool = False,
        concurrency: int | None = None,
        progress: _ProgressCallback | None = None,
        check: bool = True,
    ) -> Awaitable[dict[str, Any]]:
        """Awaitable form of :meth:`upload_dir`."""

    def download_prefix(
        self,
        container: str,
        prefix: str,
        local_dir: _StrPath,
        *,
        include: str | None = None,
        exclude: str | None = None,
        overwrite: bool = True,
        fail_fast: bool = False,
        concurrency: int | None = None,
        progress: _ProgressCallback | None = None,
        check: bool = True,
    ) -> dict[str, Any]:
        """Download the blobs under ``prefix`` into ``local_dir``, keeping relative paths.

        Arguments, return value and errors are those of :meth:`upload_dir`.
        """

    def download_prefix_async(
        self,
        container: str,
        prefix: str,
        local_dir: _StrPath,
        *,
        include: str | None = None,
        exclude: str | None = None,
        overwrite: bool = True,
        fail_fast: bool = False,
        concurrency: int | None = None,
        progress: _ProgressCallback | None = None,
        check: bool = True,
    ) -> Awaitable[dict[str, Any]]:
        """Awaitable form of :meth:`download_prefix`."""

    def delete_prefix(self, container: str, prefix: str) -> int:
        """Delete every blob under ``prefix`` and return how many were deleted.

        Raises:
            InvalidInputError: ``prefix`` is empty, which would empty the container.
        """

    def delete_prefix_async(self, container: str, prefix: str) -> Awaitable[int]:
        """Awaitable form of :meth:`delete_prefix`."""

    def zip_prefix(
        self,
        container: str,
        prefix: str,
        output: _StrPath | _BinaryWriter,
        *,
        include: str | None = None,
        exclude: str | None = None,
        deflate: bool = False,
        progress: _ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Stream a ZIP archive of the blobs under ``prefix`` without staging them on disk.

        Args:
            output: A file path, or a binary file object whose ``write`` is called on a
                worker thread with the GIL held.
            include: Patterns of relative paths to include.
            exclude: Patterns to leave out.
            deflate: Whether to compress entries; names ending in ``.gz`` and other
                compressed formats are stored either way.
            progress: As for :meth:`upload_dir`.

        Returns:
            ``{"entries", "content_bytes", "archive_bytes", "skipped", "md5_verified",
            "elapsed"}``.

        Raises:
            InvalidInputError: ``output`` is neither a path nor a writer.
            IntegrityError: A blob's content does not match its listed size or MD5; the
                archive is then incomplete.
        """

    def zip_prefix_async(
        self,
        container: str,
        prefix: str,
        output: _StrPath | _BinaryWriter,
        *,
        include: str | None = None,
        exclude: str | None = None,
        deflate: bool = False,
        progress: _ProgressCallback | None = None,
    ) -> Awaitable[dict[str, Any]]:
        """Awaitable form of :meth:`zip_prefix`."""

@final
class KubeClient:
    """A connection to a Kubernetes API server."""

    @staticmethod
    def from_kubeconfig(
        path: _StrPath | None = None, *, yaml: str | None = None, context: str | None = None
    ) -> KubeClient:
        """Connect with a kubeconfig file or its YAML text.

        Raises:
            InvalidInputError: Neither or both of ``path`` and ``yaml``, an unreadable
                kubeconfig, or a missing context.
        """

    @staticmethod
    def connect_entra(
        path: _StrPath | None = None,
        *,
        yaml: str | None = None,
        context: str | None = None,
        credential: Credential,
    ) -> KubeClient:
        """Connect to an Entra-enabled AKS cluster with tokens from ``credential``.

        The server and its CA come from the kubeconfig. Its user entry (normally a
        ``kubelogin`` exec plugin) is ignored, and every request carries a token for the AKS
        server application ``6dae42f8-4368-4678-94ff-3960e28e3630/.default``.

        Raises:
            InvalidInputError: Neither or both of ``path`` and ``yaml``, an unreadable
                kubeconfig, or a missing context. Token failures raise
                :class:`AuthenticationError` on the first request.
        """

    @staticmethod
    def in_cluster(*, env: Mapping[str, str] | None = None) -> KubeClient:
        """Connect from inside a pod with its service account token, read again for every
        request.

        Raises:
            UnavailableError: ``KUBERNETES_SERVICE_HOST`` or ``KUBERNETES_SERVICE_PORT`` is unset.
        """

    def list_nodes(self) -> list[dict[str, Any]]:
        """List the nodes: ``name``, ``ready``, ``instance_type``, ``labels``."""

    def list_nodes_async(self) -> Awaitable[list[dict[str, Any]]]:
        """Awaitable form of :meth:`list_nodes`."""

    def pod_phases(self, namespace: str) -> dict[str, int]:
        """Count the pods of ``namespace`` by phase."""

    def pod_phases_async(self, namespace: str) -> Awaitable[dict[str, int]]:
        """Awaitable form of :meth:`pod_phases`."""

    def readyz(self) -> None:
        """Check the API server's ``/readyz`` endpoint.

        Raises:
            ElbError: The subclass for the failure, such as :class:`UnavailableError`.
        """

    def readyz_async(self) -> Awaitable[None]:
        """Awaitable form of :meth:`readyz`."""

    def apply_openapi_objects(
        self,
        namespace: str,
        client_id: str,
        image: str,
        *,
        internal_load_balancer: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Apply the OpenAPI service's ServiceAccount, ClusterRole, ClusterRoleBinding,
        Deployment and Service; applying again changes nothing.

        Returns:
            One ``{"target", "resource_version", "changed"}`` per object.
        """

    def apply_openapi_objects_async(
        self,
        namespace: str,
        client_id: str,
        image: str,
        *,
        internal_load_balancer: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> Awaitable[list[dict[str, Any]]]:
        """Awaitable form of :meth:`apply_openapi_objects`."""

    def wait_for_load_balancer(
        self, namespace: str, *, timeout: float, poll_interval: float = 5.0
    ) -> str:
        """Wait until the Service ``elb-openapi`` in ``namespace`` has a load balancer address.

        Returns:
            The first ingress IP, else its host name.

        Raises:
            TimedOutError: No address appeared within ``timeout`` seconds.
            NotFoundError: The Service does not exist.
        """

    def wait_for_load_balancer_async(
        self, namespace: str, *, timeout: float, poll_interval: float = 5.0
    ) -> Awaitable[str]:
        """Awaitable form of :meth:`wait_for_load_balancer`."""

@final
class StoredRecord:
    """A job record as read from the cluster, with its ``resourceVersion``."""

    @property
    def record(self) -> dict[str, Any]:
        """The record as a dict, with unknown fields kept."""

    @property
    def resource_version(self) -> str:
        """The ``resourceVersion`` the record was read at."""

    def with_record(self, record: Mapping[str, Any]) -> StoredRecord:
        """Return a copy that writes ``record`` back at the same ``resourceVersion``.

        Raises:
            InvalidInputError: The record lacks ``job_id``, ``status`` or ``mode``, or a
                value is invalid.
        """

@final
class JobStore:
    """The job records of one namespace, one ConfigMap ``elb-job-<job_id>`` per job.

    Raises:
        InvalidInputError: ``namespace`` is not a valid namespace name.
    """

    def __new__(cls, client: KubeClient, namespace: str) -> JobStore: ...
    @property
    def namespace(self) -> str:
        """The namespace of the records."""

    def create(self, record: Mapping[str, Any]) -> StoredRecord:
        """Create a record.

        Raises:
            AlreadyExistsError: The record exists.
            InvalidInputError: The record is invalid or larger than a ConfigMap allows.
        """

    def create_async(self, record: Mapping[str, Any]) -> Awaitable[StoredRecord]:
        """Awaitable form of :meth:`create`."""

    def get(self, job_id: str) -> StoredRecord:
        """Read a record.

        Raises:
            NotFoundError: The record does not exist.
        """

    def get_async(self, job_id: str) -> Awaitable[StoredRecord]:
        """Awaitable form of :meth:`get`."""

    def list(self, status: str | None = None) -> list[StoredRecord]:
        """List all records, or those with ``status``."""

    def list_async(self, status: str | None = None) -> Awaitable[builtins.list[StoredRecord]]:
        """Awaitable form of :meth:`list`."""

    def update(self, stored: StoredRecord) -> StoredRecord:
        """Write a record back at the ``resourceVersion`` it was read at.

        Raises:
            ConflictError: Another writer changed the record since it was read.
            NotFoundError: The record was deleted.
        """

    def update_async(self, stored: StoredRecord) -> Awaitable[StoredRecord]:
        """Awaitable form of :meth:`update`."""

    def update_with(
        self, job_id: str, change: Callable[[dict[str, Any]], Mapping[str, Any] | None]
    ) -> StoredRecord:
        """Read a record, let ``change`` edit it and write it back.

        Args:
            job_id: The record to change.
            change: Called with the record as a dict. It edits the dict in place and returns
                ``None``, or returns the new record. When another writer changed the record
                first, ``change`` runs again on a freshly read copy, so it must not rely on
                side effects of earlier calls. It runs on a runtime thread with the GIL held.

        Raises:
            ConflictError: The record kept changing over every attempt.
            NotFoundError: The record does not exist.
            InvalidInputError: ``change`` produced an invalid record or changed ``job_id``.
            Exception: Whatever ``change`` raised, unchanged; nothing is written then.
        """

    def update_with_async(
        self, job_id: str, change: Callable[[dict[str, Any]], Mapping[str, Any] | None]
    ) -> Awaitable[StoredRecord]:
        """Awaitable form of :meth:`update_with`."""

    def delete(self, job_id: str) -> None:
        """Delete a record; deleting a missing record succeeds."""

    def delete_async(self, job_id: str) -> Awaitable[None]:
        """Awaitable form of :meth:`delete`."""

@final
class SearchJobs:
    """The Jobs and pods of one search (one ``elb_job_id``) in one namespace."""

    def __new__(cls, client: KubeClient, namespace: str, elb_job_id: str) -> SearchJobs: ...
    def submit(self, jobs: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
        """Create Jobs given as ``batch/v1`` Job dicts; Jobs that exist are kept.

        Returns:
            ``{"created": [...], "existing": [...]}`` with Job names.

        Raises:
            InvalidInputError: A dict is not a valid Job.
        """

    def submit_async(
        self, jobs: Sequence[Mapping[str, Any]]
    ) -> Awaitable[dict[str, list[str]]]:
        """Awaitable form of :meth:`submit`."""

    def list_jobs(self) -> list[str]:
        """Return the names of the search's Jobs."""

    def list_jobs_async(self) -> Awaitable[list[str]]:
        """Awaitable form of :meth:`list_jobs`."""

    def status(self, markers: BlobStore, results_prefix: str) -> dict[str, Any]:
        """Derive the search's status from its Jobs, pods and result markers.

        Args:
            markers: The store that contains the results.
            results_prefix: ``<container>/<path>`` of the search's results.

        Returns:
            ``{"state", "total", "active", "succeeded", "failed", "failed_jobs", "stuck",
            "markers"}`` with ``state`` one of ``pending``, ``running``, ``stuck``,
            ``completed``, ``failed``.
        """

    def status_async(self, markers: BlobStore, results_prefix: str) -> Awaitable[dict[str, Any]]:
        """Awaitable form of :meth:`status`."""

    def wait(
        self,
        markers: BlobStore,
        results_prefix: str,
        *,
        timeout: float,
        marker_interval: float = 30.0,
    ) -> dict[str, Any]:
        """Wait until the search completes or fails and return its final status.

        Raises:
            TimedOutError: ``timeout`` seconds passed first.
        """

    def wait_async(
        self,
        markers: BlobStore,
        results_prefix: str,
        *,
        timeout: float,
        marker_interval: float = 30.0,
    ) -> Awaitable[dict[str, Any]]:
        """Awaitable form of :meth:`wait`."""

    def delete(self, *, foreground: bool = False) -> int:
        """Delete the search's Jobs and their pods; return how many Jobs were deleted."""

    def delete_async(self, *, foreground: bool = False) -> Awaitable[int]:
        """Awaitable form of :meth:`delete`."""

    def wait_job(self, name: str, *, timeout: float) -> dict[str, str]:
        """Wait until the Job ``name`` completes, fails or disappears.

        Returns:
            ``{"outcome": "complete"}``, ``{"outcome": "removed"}`` when the Job does not
            exist, or ``{"outcome": "failed", "reason", "message"}`` from its ``Failed``
            condition.

        Raises:
            TimedOutError: ``timeout`` seconds passed first.
        """

    def wait_job_async(self, name: str, *, timeout: float) -> Awaitable[dict[str, str]]:
        """Awaitable form of :meth:`wait_job`."""

    def delete_search(self, store: JobStore, job_id: str, *, foreground: bool = False) -> int:
        """Delete the search's Jobs and their pods, then the job record ``job_id``.

        The record goes last, so a failure part way leaves a record to retry from.

        Returns:
            How many Jobs were deleted.
        """

    def delete_search_async(
        self, store: JobStore, job_id: str, *, foreground: bool = False
    ) -> Awaitable[int]:
        """Awaitable form of :meth:`delete_search`."""

@final
class SearchSpec:
    """A search's description, rendered into one batch Job per query batch.

    Raises:
        InvalidInputError: An invalid ``elb_job_id``, an empty required field, 0 batches or
            an invalid toleration.
    """

    def __new__(
        cls,
        *,
        elb_job_id: str,
        program: str,
        db: str,
        queries: str,
        results: str,
        batches: int,
        image: str,
        blast_options: str | None = None,
        shard: str | None = None,
        cpu_request: str | None = None,
        cpu_limit: str | None = None,
        memory_request: str | None = None,
        memory_limit: str | None = None,
        node_selector: Mapping[str, str] | None = None,
        tolerations: Sequence[Mapping[str, Any]] | None = None,
        ttl_seconds_after_finished: int | None = None,
    ) -> SearchSpec: ...
    @property
    def elb_job_id(self) -> str:
        """The ElasticBLAST search id: ``job-`` and 32 lowercase hex digits."""

    @property
    def batches(self) -> int:
        """The number of query batches, one Job each."""

    def batch_jobs(self) -> list[dict[str, Any]]:
        """Render one ``batch/v1`` Job dict per batch, ready for :meth:`SearchJobs.submit`.

        Each Job runs ``image`` with the variables the ElasticBLAST scripts read, such as
        ``ELB_BLAST_PROGRAM``, ``ELB_DB``, ``ELB_QUERIES``, ``ELB_RESULTS`` and ``JOB_NUM``.
        """

def render_template(
    text: str,
    *,
    elb_job_id: str,
    program: str,
    db: str,
    batches: int,
    shard: str | None = None,
    variables: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Render ElasticBLAST's Job template into one ``batch/v1`` Job dict per batch.

    Args:
        text: The template YAML with ``${NAME}`` variables.
        elb_job_id: The search id, for the Job names and the ``elb-job-id`` label.
        program: The BLAST program, for the Job names.
        db: The BLAST database, for the Job names and the ``db`` label.
        batches: The number of query batches, at least 1.
        shard: The database shard, for the names and the ``shard`` label.
        variables: Values of the ``${NAME}`` variables other than ``JOB_NUM`` (the batch
            number with three digits) and ``BLAST_ELB_BATCH_NUM``, which are set per batch.

    Raises:
        InvalidInputError: A variable without a value, an invalid id, 0 batches, or a
            template that is not a Job after substitution.
    """

def health_report(
    version: str,
    *,
    config: Mapping[str, Any] | None = None,
    kube: KubeClient | None = None,
    credential: Credential | None = None,
    scope: str | None = None,
    storage: BlobStore | None = None,
    storage_container: str | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run the health checks concurrently and return the report.

    The shape is ``{"status": "healthy" | "degraded", "version", "config", "checks":
    {"kubernetes": {"status": "ok", "nodes": N} | {"status": "error", "message"},
    "azure_auth": {"status": "ok", "method": ...} | {"status": "error", "message"}}}``,
    plus ``checks["storage"]`` when ``storage`` and ``storage_container`` are given.
    A failed check never raises.

    Raises:
        InvalidInputError: ``storage`` without ``storage_container`` or the reverse.
    """

def health_report_async(
    version: str,
    *,
    config: Mapping[str, Any] | None = None,
    kube: KubeClient | None = None,
    credential: Credential | None = None,
    scope: str | None = None,
    storage: BlobStore | None = None,
    storage_container: str | None = None,
    timeout: float | None = None,
) -> Awaitable[dict[str, Any]]:
    """Awaitable form of :func:`health_report`, for async web handlers."""

def submit_inline(
    blobs: BlobStore, jobs: JobStore, record: Mapping[str, Any], fasta: str | bytes
) -> dict[str, Any]:
    """Submit a mode ``B`` search whose queries are inline FASTA text.

    The text goes to the blob ``queries/<job_id>.fa`` (never replacing one), and the job
    record is created with ``mode`` ``B``, the blob URL in ``queries``, and
    ``queries_bytes`` and ``queries_sequences``. When the record cannot be created, the blob
    is deleted again.

    Returns:
        ``{"record": StoredRecord, "queries_url", "sequences", "bytes", "upload"}``.

    Raises:
        InvalidInputError: The FASTA text or the record is invalid; nothing is written.
        AlreadyExistsError: The queries blob or the record of this job id exists.
    """

def submit_inline_async(
    blobs: BlobStore, jobs: JobStore, record: Mapping[str, Any], fasta: str | bytes
) -> Awaitable[dict[str, Any]]:
    """Awaitable form of :func:`submit_inline`. Cancelling it does not stop a submission
    already under way: the record is still created, or the uploaded queries deleted."""

def validate_fasta(fasta: str | bytes) -> dict[str, int]:
    """Check that ``fasta`` looks like FASTA: not blank, starting with ``>``, no NUL byte.

    Returns:
        ``{"sequences", "bytes"}``.

    Raises:
        InvalidInputError: The text is blank, binary or does not start with a header line.
    """

def new_job_id() -> str:
    """Create a random job store id of 12 lowercase hex digits."""

def new_elb_job_id() -> str:
    """Create a random ElasticBLAST search id: ``job-`` and 32 lowercase hex digits."""
