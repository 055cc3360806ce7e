"""The UI's own CSS and JavaScript, served under content-hashed names with a year-long cache.

Files are read from the package once at start-up. `/static/ui.<hash>.css` is immutable (a
changed file gets a new name); the plain name `/static/ui.css` is served too, revalidated by
ETag, for anything that cannot know the hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".svg": "image/svg+xml"}
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    name: str
    hashed: str
    body: bytes
    media_type: str
    etag: str


class StaticAssets:
    def __init__(self, package: str = "greenroom.plugins.ui", folder: str = "static") -> None:
        self._by_name: dict[str, Asset] = {}
        self._served: dict[str, tuple[Asset, bool]] = {}
        for entry in resources.files(package).joinpath(folder).iterdir():
            stem, dot, ext = entry.name.rpartition(".")
            media = MEDIA_TYPES.get(f".{ext}")
            if not dot or media is None or not entry.is_file():
                continue
            body = entry.read_bytes()
            digest = hashlib.sha256(body).hexdigest()
            asset = Asset(entry.name, f"{stem}.{digest[:12]}.{ext}", body, media, f'"{digest[:32]}"')
            self._by_name[asset.name] = asset
            self._served[asset.hashed] = (asset, True)
            self._served[asset.name] = (asset, False)

    def url(self, name: str) -> str:
        return f"/static/{self._by_name[name].hashed}"

    def response(self, request: Request, name: str) -> Response | None:
        found = self._served.get(name)
        if found is None:
            return None
        asset, immutable = found
        headers = {"etag": asset.etag, "cache-control": IMMUTABLE if immutable else "no-cache"}
        if request.headers.get("if-none-match") == asset.etag:
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)
