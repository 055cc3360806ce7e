"""Relative Location targets stay on their host and inside their repository tree."""

from __future__ import annotations

import pytest

from greenroom.errors import InputError
from greenroom.reading import UrlNotAllowedError, resolve_relative

GITHUB = "https://github.com/o/r/blob/main/dir/catalog-info.yaml"
GITLAB = "https://gitlab.example.com/g/p/-/blob/main/dir/catalog-info.yaml"
PLAIN = "https://files.example.com/catalog/team/all.yaml?sig=abc"


@pytest.mark.parametrize(
    ("base", "target", "resolved"),
    [
        (GITHUB, "./other.yaml", "https://github.com/o/r/blob/main/dir/other.yaml"),
        (GITHUB, "other.yaml", "https://github.com/o/r/blob/main/dir/other.yaml"),
        (GITHUB, "../x.yaml", "https://github.com/o/r/blob/main/x.yaml"),
        (GITHUB, "sub/./y.yaml", "https://github.com/o/r/blob/main/dir/sub/y.yaml"),
        (GITHUB, "/docs/x.yaml", "https://github.com/o/r/blob/main/docs/x.yaml"),
        (GITHUB, "./x.yaml#frag", "https://github.com/o/r/blob/main/dir/x.yaml"),
        (GITHUB, "https://github.com/o/r/blob/main/abs.yaml", "https://github.com/o/r/blob/main/abs.yaml"),
        (GITHUB, "//github.com/o/r/blob/main/abs.yaml", "https://github.com/o/r/blob/main/abs.yaml"),
        (GITLAB, "../x.yaml", "https://gitlab.example.com/g/p/-/blob/main/x.yaml"),
        (GITLAB, "/x.yaml", "https://gitlab.example.com/g/p/-/blob/main/x.yaml"),
        (PLAIN, "./b.yaml", "https://files.example.com/catalog/team/b.yaml?sig=abc"),
        (PLAIN, "../../b.yaml", "https://files.example.com/b.yaml?sig=abc"),
        (PLAIN, "/other/b.yaml?x=1", "https://files.example.com/other/b.yaml?sig=abc"),
        (PLAIN, "../../../../../b.yaml", "https://files.example.com/b.yaml?sig=abc"),
    ],
)
def test_resolve_relative(base: str, target: str, resolved: str) -> None:
    assert resolve_relative(base, target) == resolved


@pytest.mark.parametrize(
    ("base", "target", "rule"),
    [
        (GITHUB, "https://evil.com/x.yaml", "escapes-host"),
        (GITHUB, "//evil.com/x.yaml", "escapes-host"),
        (GITHUB, "http://github.com/o/r/blob/main/x.yaml", "escapes-host"),
        (GITHUB, "https://github.com:8443/o/r/blob/main/x.yaml", "escapes-host"),
        (GITHUB, "https://raw.githubusercontent.com/o/r/main/x.yaml", "escapes-host"),
        (PLAIN, "http://169.254.169.254/latest/meta-data/", "escapes-host"),
        (GITHUB, "file:///etc/passwd", "scheme"),
        (GITHUB, "../../x.yaml", "escapes-tree"),
        (GITHUB, "../../../other-repo/blob/main/x.yaml", "escapes-tree"),
        (GITHUB, "../../../../other-org/r/blob/main/x.yaml", "escapes-tree"),
        (GITHUB, "%2e%2e/%2e%2e/%2e%2e/x", "escapes-tree"),
        (GITHUB, "https://github.com/other/r/blob/main/x.yaml", "escapes-tree"),
        (GITLAB, "../../../../other/-/blob/main/x.yaml", "escapes-tree"),
    ],
)
def test_path_traversal_relative_target_refused(base: str, target: str, rule: str) -> None:
    with pytest.raises(UrlNotAllowedError) as info:
        resolve_relative(base, target)
    assert info.value.rule == rule


@pytest.mark.parametrize("target", ["", "..\\..\\x", "./a\nb", "https://user:pw@github.com/x"])
def test_relative_target_malformed(target: str) -> None:
    with pytest.raises((InputError, UrlNotAllowedError)):
        resolve_relative(GITHUB, target)
