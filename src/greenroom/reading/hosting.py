"""What greenroom knows about the URL shapes of git hosting services.

Two jobs: turn a "view this file" URL into the URL that serves the raw file
(`translate_url`), and find the root of the repository tree a file URL lives in
(`tree_root`, used to keep relative references inside their own tree).

Backstage's GitHub reader accepts `blob`, `tree` and `raw` file URLs alike (GitHub itself
redirects `tree` URLs of files to `blob`); greenroom does the same. A `tree` URL of a
directory translates to a raw URL that answers 404.

Only github.com is recognised for GitHub (GitHub Enterprise hosts need integration
config, which is not in scope yet); any host whose path has a `/-/blob/`, `/-/tree/` or
`/-/raw/` segment is treated as GitLab.
"""

from __future__ import annotations

from dataclasses import dataclass

from greenroom.reading.urls import HttpUrl, parse_url

GITHUB_HOST = "github.com"
GITHUB_RAW_HOST = "raw.githubusercontent.com"
_FILE_KINDS = ("blob", "tree", "raw")


@dataclass(frozen=True, slots=True)
class Translation:
    """The raw-content URL for a file URL, and whether it differs from the original."""

    original: HttpUrl
    target: HttpUrl

    @property
    def changed(self) -> bool:
        return self.target != self.original


def translate(url: HttpUrl) -> Translation:
    """The URL that serves the raw bytes of the file `url` shows."""
    segments = url.path.split("/")[1:]
    if url.host == GITHUB_HOST and url.port is None and len(segments) >= 5 and segments[2] in _FILE_KINDS:
        owner, repo, _kind, *rest = segments
        if all(segments[:4]) and rest[-1]:
            raw = parse_url(f"https://{GITHUB_RAW_HOST}/{owner}/{repo}/" + "/".join(rest))
            return Translation(url, raw.with_query(url.query))
    gitlab = _gitlab_marker(segments)
    if gitlab is not None and segments[gitlab + 1] in ("blob", "tree") and segments[-1]:
        rewritten = [*segments[: gitlab + 1], "raw", *segments[gitlab + 2 :]]
        return Translation(url, url.with_path("/" + "/".join(rewritten)))
    return Translation(url, url)


def translate_url(url: str) -> str:
    """`translate` for strings: GitHub/GitLab blob and tree URLs become raw URLs.

    `https://github.com/o/r/blob/<ref>/<path>` becomes
    `https://raw.githubusercontent.com/o/r/<ref>/<path>`;
    `https://<gitlab>/<group>/<project>/-/blob/<ref>/<path>` becomes `.../-/raw/<ref>/<path>`.
    Any other URL is returned in canonical form.
    """
    return str(translate(parse_url(url)).target)


def tree_root(url: HttpUrl) -> str:
    """The path prefix of the repository tree (at one ref) that `url` is a file of.

    `/o/r/blob/main/` for GitHub, `/group/sub/project/-/blob/main/` for GitLab,
    `/o/r/main/` for raw.githubusercontent.com, `/` for anything else. A ref containing
    `/` cannot be told apart from a directory, so its first segment is taken as the ref:
    the root is then still inside the same repository.
    """
    segments = url.path.split("/")[1:]
    if url.host == GITHUB_HOST and len(segments) >= 5 and segments[2] in _FILE_KINDS:
        return "/" + "/".join(segments[:4]) + "/"
    if url.host == GITHUB_RAW_HOST and len(segments) >= 4:
        return "/" + "/".join(segments[:3]) + "/"
    gitlab = _gitlab_marker(segments)
    if gitlab is not None and segments[gitlab + 1] in _FILE_KINDS and len(segments) > gitlab + 3:
        return "/" + "/".join(segments[: gitlab + 3]) + "/"
    return "/"


def _gitlab_marker(segments: list[str]) -> int | None:
    """Index of GitLab's `-` separator segment, if the path has `/-/<kind>/<ref>/<file>`."""
    for index, segment in enumerate(segments):
        if segment == "-" and index >= 2 and len(segments) > index + 3 and segments[index + 1] in _FILE_KINDS:
            return index
    return None
