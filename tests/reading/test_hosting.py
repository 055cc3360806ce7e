"""Translating git-hosting file URLs to raw-content URLs."""

from __future__ import annotations

import pytest

from greenroom.reading import parse_url, translate_url
from greenroom.reading.hosting import tree_root


@pytest.mark.parametrize(
    ("url", "translated"),
    [
        (
            "https://github.com/o/r/blob/main/catalog-info.yaml",
            "https://raw.githubusercontent.com/o/r/main/catalog-info.yaml",
        ),
        (
            "https://github.com/o/r/blob/v1.2/dir/sub/c.yaml",
            "https://raw.githubusercontent.com/o/r/v1.2/dir/sub/c.yaml",
        ),
        (
            "https://github.com/o/r/tree/main/c.yaml",
            "https://raw.githubusercontent.com/o/r/main/c.yaml",
        ),
        (
            "https://github.com/o/r/raw/main/c.yaml",
            "https://raw.githubusercontent.com/o/r/main/c.yaml",
        ),
        (
            "https://github.com/o/r/blob/feature/x/c.yaml",
            "https://raw.githubusercontent.com/o/r/feature/x/c.yaml",
        ),
        (
            "http://GitHub.com/o/r/blob/main/c.yaml",
            "https://raw.githubusercontent.com/o/r/main/c.yaml",
        ),
        (
            "https://github.com/o/r/blob/main/c.yaml?plain=1#L3",
            "https://raw.githubusercontent.com/o/r/main/c.yaml?plain=1",
        ),
        (
            "https://gitlab.com/group/project/-/blob/main/catalog-info.yaml",
            "https://gitlab.com/group/project/-/raw/main/catalog-info.yaml",
        ),
        (
            "https://gitlab.example.com:8443/g/sub/p/-/tree/dev/c.yaml",
            "https://gitlab.example.com:8443/g/sub/p/-/raw/dev/c.yaml",
        ),
        # Not file URLs: unchanged (canonical form).
        ("https://github.com/o/r", "https://github.com/o/r"),
        ("https://github.com/o/r/blob/main/", "https://github.com/o/r/blob/main/"),
        ("https://github.com/o/r/issues/1/2", "https://github.com/o/r/issues/1/2"),
        ("https://github.com:8443/o/r/blob/main/c.yaml", "https://github.com:8443/o/r/blob/main/c.yaml"),
        (
            "https://raw.githubusercontent.com/o/r/main/c.yaml",
            "https://raw.githubusercontent.com/o/r/main/c.yaml",
        ),
        ("https://gitlab.com/g/p/-/raw/main/c.yaml", "https://gitlab.com/g/p/-/raw/main/c.yaml"),
        ("https://example.com/a/-/blob/x", "https://example.com/a/-/blob/x"),
        ("https://Example.com/x/../y", "https://example.com/y"),
    ],
)
def test_translate_url(url: str, translated: str) -> None:
    assert translate_url(url) == translated


def test_path_traversal_is_resolved_before_translation() -> None:
    # The allow-list sees (and the translation uses) the same canonical path, so `..` cannot
    # make the checked URL and the fetched raw URL point at different repositories.
    translated = translate_url(
        "https://github.com/my-org/r/blob/main/../../../../evil-org/r/blob/main/x.yaml"
    )
    assert translated == "https://raw.githubusercontent.com/evil-org/r/main/x.yaml"


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("https://github.com/o/r/blob/main/dir/c.yaml", "/o/r/blob/main/"),
        ("https://github.com/o/r/tree/main/c.yaml", "/o/r/tree/main/"),
        ("https://raw.githubusercontent.com/o/r/main/dir/c.yaml", "/o/r/main/"),
        ("https://gitlab.com/g/sub/p/-/blob/main/dir/c.yaml", "/g/sub/p/-/blob/main/"),
        ("https://example.com/some/dir/c.yaml", "/"),
        ("https://github.com/o/r", "/"),
    ],
)
def test_tree_root(url: str, root: str) -> None:
    assert tree_root(parse_url(url)) == root
