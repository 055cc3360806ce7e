"""What a plugin declares: ids, mounts and permissions are checked when the manifest is built."""

from __future__ import annotations

import pytest

from greenroom.kernel import URL_READER, Permission, PluginManifest, ServiceRef, define_plugin

READ = Permission("hello.greeting.read", "read", "hello-greeting", "read greetings")
SERVICE: ServiceRef[object] = ServiceRef("hello.service", object)


@pytest.mark.parametrize("plugin_id", ["hello", "hello-world", "a1", "scaffolder-backend-module-x"])
def test_valid_ids(plugin_id: str) -> None:
    assert PluginManifest(id=plugin_id, version="1").id == plugin_id


@pytest.mark.parametrize(
    "plugin_id",
    ["", "Hello", "hello_world", "1hello", "hello-", "-hello", "hello--x", "hello.x", "../x", "hello world"],
)
def test_invalid_ids_are_refused(plugin_id: str) -> None:
    """The id names a config subtree and a URL space: it must be a plain name."""
    with pytest.raises(ValueError, match="must be lowercase words joined by '-'"):
        PluginManifest(id=plugin_id, version="1")


@pytest.mark.parametrize("mount", ["", "api/hello", "/api/hello/", "//"])
def test_invalid_mounts_are_refused(mount: str) -> None:
    with pytest.raises(ValueError, match="must start and not end with '/'"):
        PluginManifest(id="hello", version="1", mounts=(mount,))


def test_the_root_mount_is_allowed_as_an_exact_path() -> None:
    """`/` is the one mount that is a path, not a prefix (a web UI's home page)."""
    assert PluginManifest(id="hello", version="1", mounts=("/",)).mounts == ("/",)


def test_a_permission_declared_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="permissions declared twice"):
        PluginManifest(id="hello", version="1", permissions=(READ, Permission("hello.greeting.read")))


def test_manifest_json() -> None:
    manifest = PluginManifest(
        id="hello",
        version="1.2.3",
        description="says hello",
        mounts=("/api/hello",),
        permissions=(READ,),
        config_keys=("backend.reading",),
        secrets=("hello.apiToken",),
        services=(URL_READER,),
        provides=(SERVICE,),
    )
    assert manifest.to_json() == {
        "id": "hello",
        "version": "1.2.3",
        "description": "says hello",
        "mounts": ["/api/hello"],
        "permissions": [
            {"type": "resource", "name": "hello.greeting.read", "attributes": {"action": "read"},
             "resourceType": "hello-greeting"}
        ],
        "configKeys": ["hello", "backend.reading"],
        "secrets": ["hello.apiToken"],
        "services": ["core.urlReader"],
        "optionalServices": [],
        "provides": ["hello.service"],
    }


def test_manifest_is_immutable() -> None:
    manifest = PluginManifest(id="hello", version="1")
    with pytest.raises(AttributeError):
        manifest.secrets = ("backend.database.connection.password",)  # type: ignore[misc]


def test_define_plugin() -> None:
    plugin = define_plugin(PluginManifest(id="hello", version="1"), setup=lambda ctx: None)
    assert plugin.id == "hello"
