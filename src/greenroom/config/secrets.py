"""Secret references in config, resolved from HashiCorp Vault or AWS Secrets Manager.

In a config file::

    auth:
      providers:
        oidc:
          production:
            clientSecret:
              $vault: { path: greenroom/oidc, key: clientSecret }      # KV v2, mount "secret"
    backend:
      database:
        connection:
          password:
            $awsSecret: { secretId: prod/greenroom/db, key: password }

and how to reach the stores (these keys are read before anything else is resolved)::

    secrets:
      vault:
        address: https://vault.internal:8200
        token: { $env: VAULT_TOKEN }          # or: auth: { approle: { roleId, secretId } }
        mount: secret                         # default
        kvVersion: 2                          # default
        namespace: team-a                     # optional (Vault Enterprise)
      aws:
        region: eu-west-1
        endpointUrl: https://secretsmanager.eu-west-1.amazonaws.com   # optional

Resolved values never enter logs or served config: the loader marks their keys as secret.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from greenroom.errors import ConfigError

if TYPE_CHECKING:
    from greenroom.config.model import Config

UNRESOLVED_PREFIX = "<unresolved secret: "


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A pointer to a secret in a store; `store` is 'vault' or 'aws'."""

    store: str
    name: str
    key: str | None
    mount: str | None
    path: str

    @classmethod
    def parse(cls, ref_key: str, arg: Any, *, path: str) -> SecretRef:
        if not isinstance(arg, Mapping):
            raise ConfigError(f"{ref_key} takes an object", path=path)
        if ref_key == "$vault":
            name = arg.get("path")
            allowed = {"path", "key", "mount"}
        else:
            name = arg.get("secretId")
            allowed = {"secretId", "key"}
        extra = set(arg) - allowed
        if extra:
            raise ConfigError(f"{ref_key} has unknown keys: {', '.join(sorted(extra))}", path=path)
        if not isinstance(name, str) or not name:
            field = "path" if ref_key == "$vault" else "secretId"
            raise ConfigError(f"{ref_key} needs a non-empty '{field}'", path=path)
        key = arg.get("key")
        if key is not None and not isinstance(key, str):
            raise ConfigError(f"{ref_key} 'key' must be a string", path=path)
        mount = arg.get("mount")
        if mount is not None and (not isinstance(mount, str) or not mount):
            raise ConfigError(f"{ref_key} 'mount' must be a non-empty string", path=path)
        return cls(
            store="vault" if ref_key == "$vault" else "aws",
            name=name,
            key=key,
            mount=mount if isinstance(mount, str) else None,
            path=path,
        )

    def describe(self) -> str:
        suffix = f"#{self.key}" if self.key else ""
        return f"{self.store}:{self.name}{suffix}"

    def placeholder(self) -> str:
        return f"{UNRESOLVED_PREFIX}{self.describe()}>"


class SecretResolver(Protocol):
    def resolve(self, ref: SecretRef) -> str: ...


class _CachingResolver:
    """Reads each secret document once per load; subclasses fetch the document."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str | None, str], Mapping[str, Any] | str] = {}
        self._lock = threading.Lock()

    def _fetch(self, ref: SecretRef) -> Mapping[str, Any] | str:
        raise NotImplementedError

    def resolve(self, ref: SecretRef) -> str:
        cache_key = (ref.mount, ref.name)
        with self._lock:
            if cache_key not in self._cache:
                self._cache[cache_key] = self._fetch(ref)
            document = self._cache[cache_key]
        if ref.key is None:
            if isinstance(document, str):
                return document
            if len(document) == 1:
                return str(next(iter(document.values())))
            raise ConfigError(f"secret {ref.describe()} holds several keys; name one with 'key'", path=ref.path)
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError as exc:
                raise ConfigError(f"secret {ref.describe()} is not a JSON object", path=ref.path) from exc
        if not isinstance(document, Mapping) or ref.key not in document:
            raise ConfigError(f"secret {ref.describe()} has no key '{ref.key}'", path=ref.path)
        return str(document[ref.key])


class VaultResolver(_CachingResolver):
    """KV secrets from HashiCorp Vault through hvac."""

    def __init__(
        self,
        *,
        address: str,
        token: str | None = None,
        role_id: str | None = None,
        secret_id: str | None = None,
        mount: str = "secret",
        kv_version: int = 2,
        namespace: str | None = None,
        timeout_s: float = 10.0,
        verify: bool | str = True,
    ) -> None:
        super().__init__()
        import hvac
        import hvac.exceptions

        use_approle = not token and bool(role_id and secret_id)
        if not token and not use_approle:
            # hvac would quietly fall back to VAULT_TOKEN or ~/.vault-token: credentials the
            # config never named. A token from an unset variable must fail here instead.
            raise ConfigError(
                "needs a token or auth.approle.roleId and auth.approle.secretId", path="secrets.vault"
            )
        self._client = hvac.Client(url=address, token=token or "", namespace=namespace, timeout=timeout_s,
                                   verify=verify)
        if use_approle:
            try:
                self._client.auth.approle.login(role_id=role_id, secret_id=secret_id)
            except (hvac.exceptions.VaultError, OSError) as exc:
                raise ConfigError(
                    f"Vault AppRole login failed: {type(exc).__name__}", path="secrets.vault.auth.approle"
                ) from exc
        self._mount = mount
        self._kv_version = kv_version

    def _fetch(self, ref: SecretRef) -> Mapping[str, Any]:
        import hvac.exceptions

        mount = ref.mount or self._mount
        try:
            if self._kv_version == 1:
                response = self._client.secrets.kv.v1.read_secret(path=ref.name, mount_point=mount)
                data = response["data"]
            else:
                response = self._client.secrets.kv.v2.read_secret_version(
                    path=ref.name, mount_point=mount, raise_on_deleted_version=True
                )
                data = response["data"]["data"]
        except hvac.exceptions.InvalidPath as exc:
            raise ConfigError(f"Vault has no secret at {mount}/{ref.name}", path=ref.path) from exc
        except hvac.exceptions.Forbidden as exc:
            raise ConfigError(f"Vault refused access to {mount}/{ref.name}", path=ref.path) from exc
        except (hvac.exceptions.VaultError, OSError) as exc:
            # The message of a transport error can include the URL but never the token.
            raise ConfigError(f"Vault read of {mount}/{ref.name} failed: {type(exc).__name__}", path=ref.path) from exc
        if not isinstance(data, Mapping):
            raise ConfigError(f"Vault secret {mount}/{ref.name} is not a key/value secret", path=ref.path)
        return data


class AwsSecretsManagerResolver(_CachingResolver):
    """Secrets from AWS Secrets Manager through boto3 (the `aws` extra)."""

    def __init__(self, *, region: str | None = None, endpoint_url: str | None = None) -> None:
        super().__init__()
        try:
            import boto3
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError(
                "$awsSecret needs boto3: install greenroom with the 'aws' extra (pip install 'greenroom[aws]')"
            ) from exc
        from botocore.exceptions import BotoCoreError

        try:
            self._client = boto3.client("secretsmanager", region_name=region, endpoint_url=endpoint_url)
        except BotoCoreError as exc:  # e.g. no region configured anywhere
            raise ConfigError(f"cannot set up AWS Secrets Manager: {exc}", path="secrets.aws") from exc

    def _fetch(self, ref: SecretRef) -> Mapping[str, Any] | str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client.get_secret_value(SecretId=ref.name)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Error")
            raise ConfigError(f"AWS Secrets Manager: {code} for {ref.name}", path=ref.path) from exc
        except BotoCoreError as exc:
            raise ConfigError(
                f"AWS Secrets Manager read of {ref.name} failed: {type(exc).__name__}", path=ref.path
            ) from exc
        value = response.get("SecretString")
        if not isinstance(value, str):
            raise ConfigError(f"AWS secret {ref.name} has no SecretString", path=ref.path)
        return value


class StoreRouter:
    """Sends each reference to the store it names."""

    def __init__(self, stores: Mapping[str, SecretResolver]) -> None:
        self._stores = dict(stores)

    def resolve(self, ref: SecretRef) -> str:
        store = self._stores.get(ref.store)
        if store is None:
            key = "secrets.vault" if ref.store == "vault" else "secrets.aws"
            raise ConfigError(f"secret {ref.describe()} needs '{key}' to be configured", path=ref.path)
        return store.resolve(ref)


def resolver_from_config(config: Config) -> SecretResolver | None:
    """Build the secret stores that `secrets.*` configures (None when there are none)."""
    stores: dict[str, SecretResolver] = {}
    vault = config.get_mapping("secrets.vault")
    if vault:
        address = vault.get("address")
        if not isinstance(address, str) or not address:
            raise ConfigError("needs an address", path="secrets.vault.address")
        approle = (vault.get("auth") or {}).get("approle") or {}
        stores["vault"] = VaultResolver(
            address=address,
            token=vault.get("token"),
            role_id=approle.get("roleId"),
            secret_id=approle.get("secretId"),
            mount=str(vault.get("mount", "secret")),
            kv_version=int(vault.get("kvVersion", 2)),
            namespace=vault.get("namespace"),
            verify=vault.get("caFile", True),
        )
    aws = config.get_mapping("secrets.aws")
    if aws:
        stores["aws"] = AwsSecretsManagerResolver(region=aws.get("region"), endpoint_url=aws.get("endpointUrl"))
    return StoreRouter(stores) if stores else None
