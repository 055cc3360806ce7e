"""Backstage's config-loader rules: merging, substitution, `$env`/`$file`/`$include`,
`APP_CONFIG_*` overrides, bounded input, and secret marking."""

from __future__ import annotations

import json
import os
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from greenroom.config import Config, load_config
from greenroom.config.loader import (
    MAX_CONFIG_BYTES,
    MAX_CONFIG_DEPTH,
    MAX_INCLUDE_DEPTH,
    MAX_INCLUDED_FILES,
    SECRET_KEY_PATTERN,
)
from greenroom.errors import ConfigError, GreenroomError

Write = Callable[..., Path]
Load = Callable[..., Config]


# -- merging ------------------------------------------------------------------------------


def test_later_files_override_objects_merge_arrays_and_scalars_are_replaced(write: Write, load: Load) -> None:
    base = write(
        "app-config.yaml",
        """
        app: {title: Base, baseUrl: http://localhost:3000}
        backend:
          cors: {origin: http://localhost:3000, methods: [GET, POST, PUT]}
          listen: {port: 7007}
        list: [1, 2, 3]
        """,
    )
    prod = write(
        "app-config.production.yaml",
        """
        app: {title: Prod}
        backend:
          cors: {methods: [GET]}
          listen: 8080
        list: [9]
        """,
    )
    config = load(base, prod)
    assert config.get("app") == {"title": "Prod", "baseUrl": "http://localhost:3000"}
    assert config.get("backend.cors") == {"origin": "http://localhost:3000", "methods": ["GET"]}
    assert config.get("backend.listen") == 8080  # an object replaced by a scalar
    assert config.get("list") == [9]
    assert config.sources == (str(base.resolve()), str(prod.resolve()))


def test_three_files_apply_in_order(write: Write, load: Load) -> None:
    files = [write(f"c{i}.yaml", f"value: {i}\nkeep{i}: true\n") for i in range(3)]
    config = load(*files)
    assert config.get("value") == 2
    assert config.get_bool("keep0")
    assert config.get_bool("keep2")
    assert load(*reversed(files)).get("value") == 0


def test_null_removes_a_key_set_by_an_earlier_file(write: Write, load: Load) -> None:
    base = write(
        "base.yaml",
        """
        auth:
          providers:
            guest: {dangerouslyAllowOutsideDevelopment: true}
            github: {development: {clientId: abc}}
        """,
    )
    prod = write("prod.yaml", "auth:\n  providers:\n    guest: null\n")
    config = load(base, prod)
    assert not config.has("auth.providers.guest")
    assert config.get("auth.providers") == {"github": {"development": {"clientId": "abc"}}}


def test_null_removes_a_default(write: Write) -> None:
    config = load_config([write("a.yaml", "app:\n  title: ~\n")], defaults={"app": {"title": "t", "x": 1}}, env={})
    assert config.get("app") == {"x": 1}


def test_nulls_never_survive_into_the_config(write: Write, load: Load) -> None:
    config = load(write("a.yaml", "a: null\nb: {c: null, d: 1}\ne: [1, null, 2]\n"))
    assert config.as_dict() == {"b": {"d": 1}, "e": [1, 2]}


def test_unset_substitution_in_a_later_file_keeps_the_earlier_value(write: Write, load: Load) -> None:
    base = write("base.yaml", "backend:\n  baseUrl: http://localhost:7007\n")
    prod = write("prod.yaml", "backend:\n  baseUrl: ${BASE_URL}\n")
    assert load(base, prod).get("backend.baseUrl") == "http://localhost:7007"
    assert load(base, prod, env={"BASE_URL": "https://portal.example.com"}).get("backend.baseUrl") == (
        "https://portal.example.com"
    )


def test_defaults_sit_below_every_file(write: Write) -> None:
    config = load_config(
        [write("a.yaml", "backend:\n  listen: {port: 8000}\n")],
        defaults={"backend": {"listen": {"host": "127.0.0.1", "port": 7007}}},
        env={},
    )
    assert config.get("backend.listen") == {"host": "127.0.0.1", "port": 8000}
    # a default has no line of its own: the nearest ancestor that a file wrote is named
    assert config.origin("backend.listen.host") == config.origin("backend.listen")
    assert config.origin("backend.listen").line == 2


def test_empty_file_and_comment_only_file_are_empty_objects(write: Write, load: Load) -> None:
    assert load(write("empty.yaml", ""), write("comments.yaml", "# nothing\n")).as_dict() == {}


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_root_must_be_an_object(write: Write, load: Load, text: str) -> None:
    path = write("a.yaml", text)
    with pytest.raises(ConfigError, match=rf"{path}: expected an object at the config root"):
        load(path)


def test_one_document_per_file(write: Write, load: Load) -> None:
    with pytest.raises(ConfigError, match="must hold one YAML document"):
        load(write("a.yaml", "a: 1\n---\nb: 2\n"))


def test_missing_config_file_is_a_clear_error(tmp_path: Path, load: Load) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=rf"cannot read config file {missing}: No such file"):
        load(missing)


def test_config_errors_are_greenroom_errors(write: Write, load: Load) -> None:
    with pytest.raises(GreenroomError):
        load(write("a.yaml", "a: {$env: [1]}\n"))


# -- ${VAR} substitution ----------------------------------------------------------------


def test_substitution_is_trimmed_and_works_inside_text(write: Write, load: Load) -> None:
    config = load(
        write(
            "a.yaml",
            """
            a: ${A}
            b: https://${HOST}:${PORT}/api
            c: ${ A }
            d: ${A}${A}
            """,
        ),
        env={"A": "  value\n", "HOST": "portal.example.com", "PORT": "7007"},
    )
    assert config.get("a") == "value"
    assert config.get("b") == "https://portal.example.com:7007/api"
    assert config.get("c") == "value"
    assert config.get("d") == "valuevalue"


def test_substituted_numbers_stay_strings(write: Write, load: Load) -> None:
    config = load(write("a.yaml", "port: ${PORT}\n"), env={"PORT": "7007"})
    assert config.get("port") == "7007"


def test_any_unset_variable_unsets_the_whole_value(write: Write, load: Load) -> None:
    config = load(write("a.yaml", "url: https://${HOST}:${PORT}\nother: 1\n"), env={"HOST": "h"})
    assert not config.has("url")
    assert config.unresolved == {"url": "https://${HOST}:${PORT}"}
    assert config.get("other") == 1


def test_unset_list_items_are_dropped(write: Write, load: Load) -> None:
    config = load(write("a.yaml", "items: ['${NOPE}', kept, '${YES}']\n"), env={"YES": "y"})
    assert config.get("items") == ["kept", "y"]
    assert "items[0]" in config.unresolved


def test_double_dollar_escapes_substitution(write: Write, load: Load) -> None:
    config = load(write("a.yaml", "a: $${A}\nb: $${UNSET} and ${A}\nc: cost $$5\n"), env={"A": "x"})
    assert config.get("a") == "${A}"
    assert config.get("b") == "${UNSET} and x"
    assert config.get("c") == "cost $$5"


@pytest.mark.parametrize(
    ("expression", "env", "expected"),
    [
        ("${V:-fallback}", {}, "fallback"),
        ("${V:-fallback}", {"V": ""}, "fallback"),
        ("${V:-fallback}", {"V": "set"}, "set"),
        ("${V-fallback}", {}, "fallback"),
        ("${V-fallback}", {"V": ""}, ""),
        ("${V:+alt}", {"V": "set"}, "alt"),
        ("${V:+alt}", {"V": ""}, ""),
        ("${V+alt}", {"V": ""}, "alt"),
        ("${V+alt}", {}, ""),
        ("${V:-a default with spaces}", {}, "a default with spaces"),
        ("${V:-}", {}, ""),
    ],
)
def test_default_value_forms(write: Write, load: Load, expression: str, env: dict[str, str], expected: str) -> None:
    config = load(write("a.yaml", f"v: '{expression}'\n"), env=env)
    assert config.get("v", "<unset>") == expected


@pytest.mark.parametrize("expression", ["${1BAD}", "${}", "${A B}", "${V:?required}"])
def test_malformed_or_required_variables_unset_the_value(write: Write, load: Load, expression: str) -> None:
    config = load(write("a.yaml", f"v: '{expression}'\n"), env={"A": "x"})
    assert not config.has("v")
    assert config.unresolved["v"] == expression


# -- $env, $file ------------------------------------------------------------------------


def test_env_reference_is_trimmed(write: Write, load: Load) -> None:
    config = load(write("a.yaml", "token: {$env: TOKEN}\n"), env={"TOKEN": " abc-123-def \n"})
    assert config.get("token") == "abc-123-def"


def test_unset_env_reference_leaves_the_key_unset(write: Write, load: Load) -> None:
    config = load(write("a.yaml", "token: {$env: TOKEN}\n"))
    assert not config.has("token")
    assert config.unresolved == {"token": "$env: TOKEN"}


def test_file_reference_is_relative_to_the_config_file_not_the_cwd(
    write: Write, load: Load, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("conf/secrets/ca.pem", "-----BEGIN CERTIFICATE-----\nabc\n")
    config_file = write("conf/app.yaml", "ca: {$file: secrets/ca.pem}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load(config_file).get("ca") == "-----BEGIN CERTIFICATE-----\nabc\n"  # not trimmed


def test_missing_file_reference_names_key_and_file(write: Write, load: Load) -> None:
    with pytest.raises(ConfigError, match=r"backend\.ca: failed to read file missing\.pem, No such file"):
        load(write("a.yaml", "backend:\n  ca: {$file: missing.pem}\n"))


def test_missing_file_reference_is_recorded_when_not_strict(write: Write, load: Load) -> None:
    config = load(write("a.yaml", "ca: {$file: missing.pem}\n"), strict_files=False)
    assert config.unresolved == {"ca": "$file: missing.pem"}
    assert config.is_secret("ca")


def test_unbounded_file_reference_is_refused_quickly(write: Write, load: Load) -> None:
    """`$file: /dev/zero` (or any huge file) must not be read into memory whole."""
    if not Path("/dev/zero").exists():
        pytest.skip("needs /dev/zero")
    started = time.monotonic()
    with pytest.raises(ConfigError, match="larger than the limit"):
        load(write("a.yaml", "a: {$file: /dev/zero}\n"))
    assert time.monotonic() - started < 2


def test_unknown_dollar_keys_are_plain_data(write: Write, load: Load) -> None:
    """Backstage treats only its reference keys specially: plugin config can hold `$in` filters."""
    config = load(write("a.yaml", "a: {$secret: {env: X}}\nfilter: {kind: {$in: [a, b]}, $not: {x: 1}}\n"))
    assert config.get("a") == {"$secret": {"env": "X"}}
    assert config.get("filter") == {"kind": {"$in": ["a", "b"]}, "$not": {"x": 1}}


def test_file_reference_must_be_utf8(write: Write, load: Load) -> None:
    write("bin.dat", b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match=r"a: file bin\.dat is not valid UTF-8"):
        load(write("a.yaml", "a: {$file: bin.dat}\n"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: {$env: X, other: 1}\n", r"a: \$env should not have adjacent keys"),
        ("a: {$env: [X]}\n", r"a: \$env value is not a string"),
        ("a: {$file: {x: 1}}\n", r"a: \$file value is not a string"),
        ("a: {$include: 5}\n", r"a: \$include value is not a string"),
        ("a: {$vault: secret/x}\n", r"a: \$vault takes an object"),
        ("a: {$vault: {key: x}}\n", r"a: \$vault needs a non-empty 'path'"),
        ("a: {$vault: {path: p, version: 2}}\n", r"a: \$vault has unknown keys: version"),
        ("a: {$awsSecret: {key: x}}\n", r"a: \$awsSecret needs a non-empty 'secretId'"),
        ("a: {$awsSecret: {secretId: s, key: 5}}\n", r"a: \$awsSecret 'key' must be a string"),
        ("a: {$vault: {path: p, mount: 5}}\n", r"a: \$vault 'mount' must be a non-empty string"),
    ],
)
def test_malformed_references_are_errors(write: Write, load: Load, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(write("a.yaml", text), resolve_secrets=False)


def test_secret_store_reference_without_a_store_fails_closed(write: Write, load: Load) -> None:
    with pytest.raises(ConfigError, match=r"db.password: \$vault reference but no secret store is configured"):
        load(write("a.yaml", "db:\n  password: {$vault: {path: db, key: password}}\n"))


def test_unresolved_secret_store_references_are_placeholders(write: Write, load: Load) -> None:
    config = load(
        write("a.yaml", "db:\n  password: {$vault: {path: db, key: password, mount: kv}}\n"),
        resolve_secrets=False,
    )
    assert config.get("db.password") == "<unresolved secret: vault:db#password>"
    assert config.unresolved == {"db.password": "vault:db#password"}
    assert config.is_secret("db.password")


# -- $include ---------------------------------------------------------------------------


def test_include_yaml_and_json_with_dotted_fragment(write: Write, load: Load) -> None:
    write("inc/common.yaml", "catalog:\n  rules:\n    - allow: [Component]\n")
    write("inc/data.json", json.dumps({"a": {"b": {"c": "deep", "n": 3}}}))
    config = load(
        write(
            "app.yaml",
            """
            whole: {$include: inc/common.yaml}
            part: {$include: 'inc/data.json#a.b'}
            leaf: {$include: 'inc/data.json#a.b.c'}
            missing: {$include: 'inc/data.json#a.zz'}
            """,
        )
    )
    assert config.get("whole") == {"catalog": {"rules": [{"allow": ["Component"]}]}}
    assert config.get("part") == {"c": "deep", "n": 3}
    assert config.get("leaf") == "deep"
    assert not config.has("missing")


def test_include_fragment_through_a_scalar_is_an_error(write: Write, load: Load) -> None:
    write("data.json", json.dumps({"a": {"b": "scalar"}}))
    with pytest.raises(ConfigError, match=r"x: value at 'c' in included file data\.json is not an object"):
        load(write("app.yaml", "x: {$include: 'data.json#a.b.c'}\n"))


def test_nested_includes_resolve_relative_to_the_including_file(write: Write, load: Load) -> None:
    write("a/b/inner.yaml", "next: {$include: c/leaf.yaml}\ntext: {$file: c/note.txt}\n")
    write("a/b/c/leaf.yaml", "leaf: true\ntoken: {$env: TOKEN}\n")
    write("a/b/c/note.txt", "note")
    config = load(write("a/app.yaml", "x: {$include: b/inner.yaml}\n"), env={"TOKEN": "t-123456789"})
    assert config.get("x") == {"next": {"leaf": True, "token": "t-123456789"}, "text": "note"}
    assert config.is_secret("x.next.token")


def test_included_keys_remember_the_included_file_and_line(write: Write, load: Load) -> None:
    included = write("inc.yaml", "# header\nfirst: 1\nsecond:\n  third: 3\n")
    config = load(write("app.yaml", "top:\n  x: {$include: inc.yaml}\n"))
    assert str(config.origin("top.x.second.third")) == f"{included.resolve()}:4"
    assert str(config.origin("top.x.first")) == f"{included.resolve()}:2"


@pytest.mark.parametrize("name", ["inc.txt", "inc.toml", "inc"])
def test_include_needs_a_yaml_or_json_file(write: Write, load: Load, name: str) -> None:
    write(name, "a = 1\n")
    with pytest.raises(ConfigError, match=f"no configuration parser available for included file {name}"):
        load(write("app.yaml", f"x: {{$include: {name}}}\n"))


def test_missing_include_is_an_error_or_unresolved(write: Write, load: Load) -> None:
    app = write("app.yaml", "x: {$include: nope.yaml}\n")
    with pytest.raises(ConfigError, match=r"x: cannot read config file .*nope\.yaml"):
        load(app)
    config = load(app, strict_files=False)
    assert config.unresolved == {"x": "$include: nope.yaml"}


def test_includes_nest_up_to_the_depth_limit(write: Write, load: Load) -> None:
    levels = MAX_INCLUDE_DEPTH - 1
    for i in range(levels):
        target = f"v: {{$include: inc{i + 1}.yaml}}\n" if i < levels - 1 else "leaf: 1\n"
        write(f"chain/inc{i}.yaml", target)
    config = load(write("chain/app.yaml", "a: {$include: inc0.yaml}\n"))
    assert config.get("a" + ".v" * (levels - 1) + ".leaf") == 1


def test_two_hundred_nested_includes_fail_cleanly(write: Write, load: Load) -> None:
    for i in range(200):
        write(f"deep/inc{i}.yaml", f"v: {{$include: inc{i + 1}.yaml}}\n" if i < 199 else "leaf: 1\n")
    started = time.monotonic()
    with pytest.raises(ConfigError, match=f"\\$include nested more than {MAX_INCLUDE_DEPTH} deep"):
        load(write("deep/app.yaml", "a: {$include: inc0.yaml}\n"))
    assert time.monotonic() - started < 2


def test_cyclic_include_names_the_cycle(write: Write, load: Load) -> None:
    a = write("cyc/a.yaml", "x: {$include: b.yaml}\n")
    b = write("cyc/b.yaml", "y: {$include: a.yaml}\n")
    app = write("cyc/app.yaml", "top: {$include: a.yaml}\n")
    with pytest.raises(ConfigError) as info:
        load(app)
    message = str(info.value)
    assert "cyclic $include" in message
    assert f"{app.resolve()} -> {a.resolve()} -> {b.resolve()} -> {a.resolve()}" in message
    assert message.startswith("top.x.y: ")


def test_self_include_is_a_cycle(write: Write, load: Load) -> None:
    app = write("app.yaml", "x: {$include: app.yaml}\n")
    with pytest.raises(ConfigError, match="cyclic \\$include"):
        load(app)


def test_include_cycle_through_a_symlink_is_still_a_cycle(write: Write, load: Load, tmp_path: Path) -> None:
    write("s/a.yaml", "x: {$include: link.yaml}\n")
    (tmp_path / "s" / "link.yaml").symlink_to(tmp_path / "s" / "a.yaml")
    with pytest.raises(ConfigError, match="cyclic \\$include"):
        load(write("s/app.yaml", "top: {$include: a.yaml}\n"))


def test_more_than_the_file_limit_of_includes_is_refused(write: Write, load: Load) -> None:
    count = MAX_INCLUDED_FILES + 1
    for i in range(count):
        write(f"many/f{i}.yaml", f"v: {i}\n")
    ok = write("many/ok.yaml", "".join(f"k{i}: {{$include: f{i}.yaml}}\n" for i in range(MAX_INCLUDED_FILES)))
    assert load(ok).get(f"k{MAX_INCLUDED_FILES - 1}.v") == MAX_INCLUDED_FILES - 1
    too_many = write("many/app.yaml", "".join(f"k{i}: {{$include: f{i}.yaml}}\n" for i in range(count)))
    with pytest.raises(ConfigError, match=f"more than {MAX_INCLUDED_FILES} files included"):
        load(too_many)


def test_included_literals_are_not_references(write: Write, load: Load) -> None:
    """An included file is config like any other: a password written in it is a literal."""
    write("db.yaml", "password: hunter2-literal\nuser: {$env: DB_USER}\n")
    config = load(write("app.yaml", "db: {$include: db.yaml}\n"), env={"DB_USER": "portal"})
    assert "db" not in config.reference_paths
    assert "db.password" not in config.reference_paths
    assert "db.user" in config.reference_paths
    assert config.is_secret("db.password")  # by its key name


def test_included_nulls_are_dropped(write: Write, load: Load) -> None:
    write("inc.yaml", "a: 1\nb: null\n")
    assert load(write("app.yaml", "x: {$include: inc.yaml}\n")).get("x") == {"a": 1}


# -- APP_CONFIG_* overrides ---------------------------------------------------------------


def test_env_overrides_parse_json_and_win_over_files(write: Write, load: Load) -> None:
    config = load(
        write("a.yaml", "app:\n  title: From file\n  x: {y: 1}\nbackend:\n  listen: {port: 7007}\n"),
        env={
            "APP_CONFIG_app_title": "From env",
            "APP_CONFIG_app_x_z": "[1, 2]",
            "APP_CONFIG_backend_listen_port": "8080",
            "APP_CONFIG_app_flag": "true",
            "APP_CONFIG_app_obj": '{"k": "v"}',
            "APP_CONFIG_app_plain": "not json {",
            "UNRELATED": "x",
        },
    )
    assert config.get("app") == {
        "title": "From env",
        "x": {"y": 1, "z": [1, 2]},
        "flag": True,
        "obj": {"k": "v"},
        "plain": "not json {",
    }
    assert config.get("backend.listen.port") == 8080
    assert str(config.origin("app.title")) == "environment (APP_CONFIG_*)"


def test_env_override_keys_may_hold_dashes(write: Write, load: Load) -> None:
    config = load(write("a.yaml", "{}\n"), env={"APP_CONFIG_my-plugin_setting": "1"})
    assert config.get("my-plugin.setting") == 1


def test_empty_env_override_is_ignored(write: Write, load: Load) -> None:
    config = load(write("a.yaml", "app:\n  title: t\n"), env={"APP_CONFIG_app_title": ""})
    assert config.get("app.title") == "t"


def test_null_env_override_is_refused_not_a_deletion(write: Write, load: Load) -> None:
    """Backstage refuses `null` here; it must not quietly remove a key such as an auth setting."""
    with pytest.raises(ConfigError, match="APP_CONFIG_backend_auth may not be null"):
        load(write("a.yaml", "backend:\n  auth: {keys: [{secret: abc}]}\n"), env={"APP_CONFIG_backend_auth": "null"})


@pytest.mark.parametrize("name", ["APP_CONFIG_app__title", "APP_CONFIG_", "APP_CONFIG_app_1title", "APP_CONFIG_a.b"])
def test_malformed_env_override_names_are_refused(write: Write, load: Load, name: str) -> None:
    with pytest.raises(ConfigError, match="invalid environment override"):
        load(write("a.yaml", "{}\n"), env={name: "x"})


def test_conflicting_env_overrides_are_refused(write: Write, load: Load) -> None:
    with pytest.raises(ConfigError, match="conflicts with another override"):
        load(write("a.yaml", "{}\n"), env={"APP_CONFIG_app": "1", "APP_CONFIG_app_title": "x"})


def test_env_overrides_are_not_transformed(write: Write, load: Load, tmp_path: Path) -> None:
    """Reference injection through an override: its value is data, never `$file`/`${VAR}`."""
    (tmp_path / "host-secret.txt").write_text("do-not-read")
    config = load(
        write("a.yaml", "{}\n"),
        env={
            "APP_CONFIG_app_a": json.dumps({"$file": str(tmp_path / "host-secret.txt")}),
            "APP_CONFIG_app_b": "${SECRET}",
            "SECRET": "hidden",
        },
    )
    assert config.get("app.a") == {"$file": str(tmp_path / "host-secret.txt")}
    assert config.get("app.b") == "${SECRET}"


def test_secret_named_env_override_is_a_secret(write: Write, load: Load) -> None:
    config = load(write("a.yaml", "{}\n"), env={"APP_CONFIG_backend_auth_keys": '[{"secret": "s3cr3t-key-value"}]'})
    assert config.is_secret("backend.auth.keys[0].secret")
    assert "s3cr3t-key-value" not in json.dumps(config.redacted())


# -- YAML input: strictness and bounds ----------------------------------------------------


def test_duplicate_keys_are_refused_with_file_and_line(write: Write, load: Load) -> None:
    path = write("a.yaml", "backend:\n  baseUrl: a\n  listen: 1\n  baseUrl: b\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"backend.baseUrl: {path.resolve()}:4: duplicate key 'baseUrl'"
    assert info.value.path == "backend.baseUrl"


@pytest.mark.parametrize(
    ("text", "line"),
    [("a:\n  1: x\n", 2), ("true: x\n", 1), ("~: x\n", 1), ("a: 1\n? [x]\n: y\n", 2), ("1.5: x\n", 1)],
)
def test_non_string_keys_are_refused_with_file_and_line(write: Write, load: Load, text: str, line: int) -> None:
    path = write("a.yaml", text)
    with pytest.raises(ConfigError, match=rf"{path.resolve()}:{line}: config keys must be strings"):
        load(path)


def test_twenty_megabyte_yaml_is_refused_quickly(write: Write, load: Load) -> None:
    """Memory exhaustion via a huge config file: refused after reading no more than the limit."""
    path = write("big.yaml", b"a: '" + b"x" * (20 * 1024 * 1024) + b"'\n")
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ConfigError, match=f"more than the limit of {MAX_CONFIG_BYTES}"):
            load(path)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1
    assert peak < 3 * MAX_CONFIG_BYTES


def test_billion_laughs_config_is_refused_quickly_with_bounded_memory(write: Write, load: Load) -> None:
    text = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in range(1, 10):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n"
    path = write("bomb.yaml", text)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ConfigError, match=rf"{path.resolve()}:1: .*billion laughs"):
            load(path)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1
    assert peak < 20 * 1024 * 1024


@pytest.mark.parametrize("depth", [MAX_CONFIG_DEPTH + 1, 500, 990])
@pytest.mark.parametrize("shape", ["list", "flow-map", "block-map"])
def test_deeply_nested_config_fails_cleanly(write: Write, load: Load, depth: int, shape: str) -> None:
    """Stack exhaustion: deep nesting is a ConfigError naming the file, never a RecursionError."""
    if shape == "list":
        text = "a: " + "[" * depth + "]" * depth + "\n"
    elif shape == "flow-map":
        text = "a: " + "{a: " * depth + "1" + "}" * depth + "\n"
    else:
        text = "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "v: 1\n"
    path = write("deep.yaml", text)
    with pytest.raises(ConfigError, match=f"{path.resolve()}:\\d+: config nested more than {MAX_CONFIG_DEPTH}"):
        load(path)


def test_nesting_beyond_libyaml_limit_fails_cleanly(write: Write, load: Load) -> None:
    path = write("deep.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="exceeded maximum nesting depth"):
        load(path)


def test_nesting_within_the_limit_loads(write: Write, load: Load) -> None:
    depth = MAX_CONFIG_DEPTH - 1
    config = load(write("ok.yaml", "a: " + "{a: " * depth + "1" + "}" * depth + "\n"))
    assert config.get("a" + ".a" * depth) == 1


def test_nesting_limit_counts_the_include_position(write: Write, load: Load) -> None:
    depth = MAX_CONFIG_DEPTH - 5
    write("inc.yaml", "a: " + "{a: " * depth + "1" + "}" * depth + "\n")
    app = write("app.yaml", "x: {y: {z: {w: {v: {u: {$include: inc.yaml}}}}}}\n")
    with pytest.raises(ConfigError, match="config nested more than"):
        load(app)


def test_recursive_alias_fails_cleanly(write: Write, load: Load) -> None:
    path = write("rec.yaml", "a: &x [*x]\n")
    with pytest.raises(ConfigError, match="recursive document"):
        load(path)


def test_invalid_utf8_names_the_file(write: Write, load: Load) -> None:
    path = write("bad.yaml", b"app:\n  title: caf\xe9\n")
    with pytest.raises(ConfigError, match=rf"{path.resolve()}: not valid UTF-8"):
        load(path)


def test_syntax_error_names_file_line_and_column(write: Write, load: Load) -> None:
    path = write("bad.yaml", "app:\n  title: [unclosed\nbackend: 1\n")
    with pytest.raises(ConfigError, match=rf"{path.resolve()}:3: .*column"):
        load(path)


def test_yaml_1_1_booleans_stay_strings_in_config(write: Write, load: Load) -> None:
    config = load(write("a.yaml", "country: no\nenabled: true\nswitch: on\n"))
    assert config.as_dict() == {"country": "no", "enabled": True, "switch": "on"}


# -- secret marking -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "clientSecret",
        "token",
        "apiKey",
        "api_key",
        "privateKey",
        "secretAccessKey",
        "signingKey",
        "accessToken",
        "passwd",
        "keys",
        "key",
        "credentials",
        "authorization",
        "certificate",
        "secretId",
        "webhookSecret",
    ],
)
def test_secret_key_names(key: str) -> None:
    assert SECRET_KEY_PATTERN.search(key)


@pytest.mark.parametrize(
    "key",
    ["tokenUrl", "clientId", "roleId", "passwordFile", "secretName", "type", "title", "host", "tokenEndpoint", "keyId"],
)
def test_non_secret_key_names(key: str) -> None:
    assert not SECRET_KEY_PATTERN.search(key)


def test_secret_marking_by_key_name_and_by_source(write: Write, load: Load) -> None:
    write("ca.pem", "-----BEGIN CERTIFICATE-----\n")
    config = load(
        write(
            "a.yaml",
            """
            app:
              title: Portal
              fromEnv: {$env: E}
              fromSubst: x-${S}
              fromFile: {$file: ca.pem}
              password: literal-password
              enabled: true
              token: {nested: {value: 1}}
            backend:
              auth:
                keys: [{secret: key-one}, {secret: key-two}]
            secrets:
              vault:
                auth:
                  approle: {roleId: role, secretId: approle-secret-id}
            db:
              password: {$vault: {path: db, key: password}}
            """,
        ),
        env={"E": "env-value", "S": "subst"},
        resolve_secrets=False,
    )
    for path in (
        "app.fromEnv",
        "app.fromSubst",
        "app.fromFile",
        "app.password",
        "backend.auth.keys",
        "backend.auth.keys[1].secret",
        "secrets.vault.auth.approle.secretId",
        "db.password",
    ):
        assert config.is_secret(path), path
    for path in ("app.title", "app.enabled", "app.token", "app.token.nested.value",
                 "secrets.vault.auth.approle.roleId"):
        assert not config.is_secret(path), path
    assert config.reference_paths == {"app.fromEnv", "app.fromSubst", "app.fromFile", "db.password"}


def test_approle_secret_id_from_env_never_reaches_the_redacted_view(write: Write, load: Load) -> None:
    config = load(
        write("a.yaml", "secrets:\n  vault:\n    auth:\n      approle: {roleId: r, secretId: {$env: SID}}\n"),
        env={"SID": "approle-secret-4e1d"},
        resolve_secrets=False,
    )
    assert "approle-secret-4e1d" not in json.dumps(config.redacted())


def test_database_url_from_environment_is_redacted(write: Write, load: Load) -> None:
    url = "postgresql://portal:db-pass-9f8e7d@db.internal:5432/portal"
    path = write("a.yaml", "backend:\n  database:\n    connection: ${DATABASE_URL}\n")
    config = load(path, env={"DATABASE_URL": url})
    assert config.get("backend.database.connection") == url
    assert "db-pass-9f8e7d" not in json.dumps(config.redacted())
    assert config.redact_text(f"connecting to {url}") == "connecting to [REDACTED]"


def test_a_password_written_into_a_url_is_redacted(write: Write, load: Load) -> None:
    """A literal connection string (which `greenroom audit` flags) still never shows its password."""
    path = write("a.yaml", "backend:\n  database:\n    connection: postgresql://portal:Lit3ral-pw@db:5432/x\n"
                           "  reading:\n    allow: [{host: 'example.com'}]\n")
    config = load(path, env={})
    shown = json.dumps(config.redacted())
    assert "Lit3ral-pw" not in shown
    assert "postgresql://portal:[REDACTED]@db:5432/x" in shown
    assert config.redact_text("could not connect: password Lit3ral-pw rejected") == (
        "could not connect: password [REDACTED] rejected")
    assert config.get("backend.database.connection") == "postgresql://portal:Lit3ral-pw@db:5432/x"


def test_loader_reads_the_process_environment_when_none_is_given(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREENROOM_TEST_VALUE", "from-process")
    config = load_config([write("a.yaml", "v: ${GREENROOM_TEST_VALUE}\n")])
    assert config.get("v") == "from-process"
    assert os.environ["GREENROOM_TEST_VALUE"] == "from-process"
