"""Finding plugins through real entry points, and deciding which may load (allow-list, pins)."""

from __future__ import annotations

import hashlib
import sys

import pytest

from greenroom.errors import ConfigError
from greenroom.kernel.loader import Candidate, discover, load, record_sha256, select, verify_record
from greenroom.kernel.manifest import Plugin
from tests.kernel.conftest import PluginSite, hello_source


def by_id(candidates: list[Candidate]) -> dict[str, Candidate]:
    return {c.id: c for c in candidates}


def chosen_ids(candidates: list[Candidate], plugins: dict[str, object]) -> list[str]:
    chosen, _ = select(candidates, plugins)
    return [c.id for c in chosen]


def test_discover_finds_third_party_and_builtin_plugins(plugin_site: PluginSite) -> None:
    plugin_site.install(plugins={"hello": "greenroom_hello:plugin"}, source=hello_source())
    found = by_id(discover(plugin_site.search_path))
    assert found["hello"].distribution_name == "greenroom-hello"
    assert not found["hello"].builtin
    assert found["catalog"].builtin
    assert found["catalog"].distribution_name == "greenroom"
    ordered = [c.id for c in discover(plugin_site.search_path)]
    assert ordered.index("catalog") < ordered.index("hello")  # built-ins first


def test_discover_on_only_the_site_sees_only_its_plugins(plugin_site: PluginSite) -> None:
    plugin_site.install(plugins={"hello": "greenroom_hello:plugin"}, source=hello_source())
    assert [c.id for c in discover([str(plugin_site.root)])] == ["hello"]


def test_discovery_does_not_import_plugin_code(plugin_site: PluginSite) -> None:
    plugin_site.install(plugins={"hello": "greenroom_hello:plugin"}, source="raise SystemExit('imported!')\n")
    candidates = discover(plugin_site.search_path)
    chosen, _ = select(candidates, {})
    assert "hello" not in [c.id for c in chosen]
    assert "greenroom_hello" not in sys.modules


def test_third_party_plugin_is_refused_unless_allow_listed(plugin_site: PluginSite) -> None:
    plugin_site.install(plugins={"hello": "greenroom_hello:plugin"}, source=hello_source())
    candidates = discover(plugin_site.search_path)
    builtins = [c.id for c in candidates if c.builtin]
    assert "catalog" in builtins
    chosen, refused = select(candidates, {})
    assert [c.id for c in chosen] == builtins
    assert [(r.id, r.distribution, r.reason) for r in refused] == [
        ("hello", "greenroom-hello", "not listed in plugins.allow")
    ]
    assert chosen_ids(candidates, {"allow": ["hello"]}) == [*builtins, "hello"]
    assert chosen_ids(candidates, {"allow": [{"id": "hello"}]}) == [*builtins, "hello"]


def test_allow_listed_plugin_that_is_not_installed_is_reported(plugin_site: PluginSite) -> None:
    _, refused = select(discover(plugin_site.search_path), {"allow": ["ghost"]})
    assert [(r.id, r.reason) for r in refused] == [("ghost", "listed in plugins.allow but not installed")]


def test_disabled_wins_over_built_in_and_allow(plugin_site: PluginSite) -> None:
    plugin_site.install(plugins={"hello": "greenroom_hello:plugin"}, source=hello_source())
    candidates = discover(plugin_site.search_path)
    chosen, refused = select(candidates, {"allow": ["hello"], "disabled": ["catalog", "hello"]})
    assert "catalog" not in [c.id for c in chosen]
    assert "hello" not in [c.id for c in chosen]
    assert {(r.id, r.reason) for r in refused} == {
        ("catalog", "disabled in plugins.disabled"),
        ("hello", "disabled in plugins.disabled"),
    }


# -- pins -----------------------------------------------------------------------------------


def test_pin_is_the_sha256_of_the_record_file_as_installed(plugin_site: PluginSite) -> None:
    installed = plugin_site.install(plugins={"hello": "greenroom_hello:plugin"}, source=hello_source())
    assert b"\r\n" in installed.record.read_bytes()  # as pip writes it
    dist = by_id(discover(plugin_site.search_path))["hello"].distribution
    assert dist is not None
    assert record_sha256(dist) == hashlib.sha256(installed.record.read_bytes()).hexdigest() == installed.pin()


def test_matching_pin_loads(plugin_site: PluginSite) -> None:
    installed = plugin_site.install(plugins={"hello": "greenroom_hello:plugin"}, source=hello_source())
    candidates = discover(plugin_site.search_path)
    assert "hello" in chosen_ids(candidates, {"allow": [{"id": "hello", "sha256": installed.pin()}]})
    assert "hello" in chosen_ids(candidates, {"allow": [{"id": "hello", "sha256": installed.pin().upper()}]})


def test_mismatching_pin_is_refused(plugin_site: PluginSite) -> None:
    installed = plugin_site.install(plugins={"hello": "greenroom_hello:plugin"}, source=hello_source())
    wrong = "0" * 64
    _, refused = select(discover(plugin_site.search_path), {"allow": [{"id": "hello", "sha256": wrong}]})
    (refusal,) = refused
    assert refusal.reason == f"sha256 pin mismatch: expected {wrong}, installed {installed.pin()}"


def test_tampered_installed_file_is_refused(plugin_site: PluginSite) -> None:
    """Supply-chain tampering after install: the module no longer matches its RECORD hash."""
    installed = plugin_site.install(plugins={"hello": "greenroom_hello:plugin"}, source=hello_source())
    pin = installed.pin()
    with installed.module_file("greenroom_hello").open("a") as handle:
        handle.write("\nimport os  # injected\n")
    _, refused = select(discover(plugin_site.search_path), {"allow": [{"id": "hello", "sha256": pin}]})
    (refusal,) = refused
    assert refusal.reason == "installed files differ from the distribution's RECORD: greenroom_hello/__init__.py"
    assert "greenroom_hello" not in sys.modules


def test_tampered_metadata_is_refused(plugin_site: PluginSite) -> None:
    installed = plugin_site.install(plugins={"hello": "greenroom_hello:plugin"}, source=hello_source())
    pin = installed.pin()
    (installed.dist_info / "entry_points.txt").write_text("[greenroom.plugins]\nhello = greenroom_hello:plugin\n\n")
    _, refused = select(discover(plugin_site.search_path), {"allow": [{"id": "hello", "sha256": pin}]})
    assert "entry_points.txt" in refused[0].reason


def test_deleted_installed_file_is_refused(plugin_site: PluginSite) -> None:
    installed = plugin_site.install(
        plugins={"hello": "greenroom_hello:plugin"},
        source=hello_source(),
        record_rows=["greenroom_hello/data.json,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0"],
    )
    _, refused = select(discover(plugin_site.search_path), {"allow": [{"id": "hello", "sha256": installed.pin()}]})
    assert refused[0].reason.endswith("greenroom_hello/data.json")


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("greenroom_hello/extra.py,,", "greenroom_hello/extra.py (no hash)"),
        ("greenroom_hello/extra.py,md5=1B2M2Y8AsgTpgAmY7PhCfg,0", "greenroom_hello/extra.py (hash md5)"),
        ("greenroom_hello/extra.py,sha1=2jmj7l5rSw0yVb_vlWAYkK_YBwk,0", "greenroom_hello/extra.py (hash sha1)"),
    ],
)
def test_files_without_a_strong_hash_fail_the_pin_check(plugin_site: PluginSite, row: str, problem: str) -> None:
    """A pinned RECORD that leaves a file unhashed (or weakly hashed) would not protect it."""
    installed = plugin_site.install(
        plugins={"hello": "greenroom_hello:plugin"}, source=hello_source(), record_rows=[row]
    )
    (plugin_site.root / "greenroom_hello" / "extra.py").write_text("")
    _, refused = select(discover(plugin_site.search_path), {"allow": [{"id": "hello", "sha256": installed.pin()}]})
    assert refused[0].reason == f"installed files differ from the distribution's RECORD: {problem}"


def test_bytecode_and_record_may_go_unhashed(plugin_site: PluginSite) -> None:
    installed = plugin_site.install(
        plugins={"hello": "greenroom_hello:plugin"},
        source=hello_source(),
        record_rows=["greenroom_hello/__pycache__/__init__.cpython-311.pyc,,"],
    )
    dist = by_id(discover(plugin_site.search_path))["hello"].distribution
    assert dist is not None
    assert verify_record(dist) == []
    allow = {"allow": [{"id": "hello", "sha256": installed.pin()}]}
    assert "hello" in chosen_ids(discover(plugin_site.search_path), allow)


def test_stronger_record_hashes_are_checked(plugin_site: PluginSite) -> None:
    data = b"payload"
    import base64

    digest = base64.urlsafe_b64encode(hashlib.sha512(data).digest()).rstrip(b"=").decode()
    installed = plugin_site.install(
        plugins={"hello": "greenroom_hello:plugin"},
        source=hello_source(),
        record_rows=[f"greenroom_hello/data.bin,sha512={digest},{len(data)}"],
    )
    (plugin_site.root / "greenroom_hello" / "data.bin").write_bytes(data)
    pin = installed.pin()
    assert "hello" in chosen_ids(discover(plugin_site.search_path), {"allow": [{"id": "hello", "sha256": pin}]})
    (plugin_site.root / "greenroom_hello" / "data.bin").write_bytes(b"changed")
    assert "hello" not in chosen_ids(discover(plugin_site.search_path), {"allow": [{"id": "hello", "sha256": pin}]})


def test_unpinned_allow_does_not_verify_files(plugin_site: PluginSite) -> None:
    """Documented behaviour: only a pin turns on the RECORD check."""
    installed = plugin_site.install(plugins={"hello": "greenroom_hello:plugin"}, source=hello_source())
    with installed.module_file("greenroom_hello").open("a") as handle:
        handle.write("\n# edited\n")
    assert "hello" in chosen_ids(discover(plugin_site.search_path), {"allow": ["hello"]})


# -- impostors -------------------------------------------------------------------------------


def test_distribution_calling_itself_greenroom_is_not_a_built_in(plugin_site: PluginSite) -> None:
    """Allow-list bypass: any wheel can put `Name: greenroom` in its METADATA."""
    plugin_site.install(
        "greenroom_evil",
        plugins={"evil": "greenroom_evil:plugin"},
        source=hello_source(plugin_id="evil"),
        metadata_name="greenroom",
    )
    candidates = by_id(discover(plugin_site.search_path))
    assert candidates["evil"].distribution_name == "greenroom"
    assert not candidates["evil"].builtin
    chosen, refused = select(list(candidates.values()), {})
    assert "evil" not in [c.id for c in chosen]
    assert ("evil", "not listed in plugins.allow") in [(r.id, r.reason) for r in refused]


@pytest.mark.parametrize("site_first", [True, False])
def test_impostor_cannot_replace_a_built_in(plugin_site: PluginSite, site_first: bool) -> None:
    plugin_site.install(
        "greenroom_shadow",
        plugins={"catalog": "greenroom_shadow:plugin"},
        source=hello_source(plugin_id="catalog"),
        metadata_name="greenroom",
    )
    path = plugin_site.search_path if site_first else [*sys.path, str(plugin_site.root)]
    catalog = by_id(discover(path))["catalog"]
    assert catalog.builtin
    assert catalog.entry_point.value == "greenroom.plugins.catalog.plugin:plugin"


def test_two_distributions_claiming_one_id_is_an_error(plugin_site: PluginSite) -> None:
    plugin_site.install("greenroom_one", plugins={"hello": "greenroom_one:plugin"}, source=hello_source())
    plugin_site.install("greenroom_two", plugins={"hello": "greenroom_two:plugin"}, source=hello_source())
    with pytest.raises(ConfigError, match=r"plugin id 'hello' is claimed by both greenroom-(one|two) and greenroom-"):
        discover(plugin_site.search_path)


def test_the_same_distribution_twice_on_the_path_counts_once(plugin_site: PluginSite) -> None:
    plugin_site.install(plugins={"hello": "greenroom_hello:plugin"}, source=hello_source())
    found = discover([str(plugin_site.root), str(plugin_site.root)])
    assert [c.id for c in found] == ["hello"]


# -- loading ---------------------------------------------------------------------------------


def test_load_returns_the_plugin(plugin_site: PluginSite) -> None:
    plugin_site.install(plugins={"hello": "greenroom_hello:plugin"}, source=hello_source())
    plugin = load(by_id(discover(plugin_site.search_path))["hello"])
    assert isinstance(plugin, Plugin)
    assert plugin.id == "hello"


def test_load_accepts_a_factory(plugin_site: PluginSite) -> None:
    plugin_site.install(
        plugins={"hello": "greenroom_hello:make"},
        source=hello_source() + "\ndef make():\n    return plugin\n",
    )
    assert load(by_id(discover(plugin_site.search_path))["hello"]).id == "hello"


def test_load_refuses_something_that_is_not_a_plugin(plugin_site: PluginSite) -> None:
    plugin_site.install(plugins={"hello": "greenroom_hello:SEEN"}, source="")
    with pytest.raises(ConfigError, match="entry point greenroom_hello:SEEN is not a greenroom Plugin"):
        load(by_id(discover(plugin_site.search_path))["hello"])


def test_entry_point_name_must_match_the_manifest_id(plugin_site: PluginSite) -> None:
    """A plugin allowed as 'hello' must not come up as another id (and another config subtree)."""
    plugin_site.install(plugins={"hello": "greenroom_hello:plugin"}, source=hello_source(plugin_id="catalog-ext"))
    with pytest.raises(ConfigError, match="entry point 'hello' loads a plugin whose manifest id is 'catalog-ext'"):
        load(by_id(discover(plugin_site.search_path))["hello"])
