"""Judging config values: secret-looking keys and values, hosts, URLs and durations."""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from greenroom.config.loader import SECRET_KEY_PATTERN

# -- secret key names ---------------------------------------------------------------------

_EXTRA_SECRET_KEY = re.compile(
    r"(?:api[-_]?key|auth[-_]?token|private[-_]?key|client[-_]?secret|passphrase|^pass$|^pwd$|bearer|^cookie$)",
    re.IGNORECASE,
)
# Names that contain a secret word but hold something else: an algorithm, a URL, a duration...
_NOT_SECRET_KEY = re.compile(
    r"(?:alg|algorithm|url|uri|urls|endpoint|endpoints|file|filename|path|name|type|id|ids|method|expiration"
    r"|lifetime|duration|provider|audience|scope|ttl|timeout|version|enabled|mode|store|format|field|header|headers"
    r"|length|policy|location|key[-_]?id|kid|secretsKey|secretRef|issuer|prefix|source|sources|env|environment)$",
    re.IGNORECASE,
)


# Kubernetes/Helm keys that name a Secret object rather than hold one (`existingSecret`,
# `certificatesSecret`, `tlsSecretName`).
_SECRET_OBJECT_KEY = re.compile(r"^(?:existing|[a-z][A-Za-z]*s)Secret$|Secret(?:Name|Ref)$")
_K8S_NAME = re.compile(r"^[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?$")


def is_secret_key(key: str) -> bool:
    """Whether a config key's name says its value is a credential."""
    if _NOT_SECRET_KEY.search(key):
        return False
    return bool(SECRET_KEY_PATTERN.search(key) or _EXTRA_SECRET_KEY.search(key))


# -- what a secret value looks like ---------------------------------------------------------

_PLACEHOLDER = re.compile(
    r"^<.*>$|^\[.*\]$|^\{\{.*\}\}$|x{4,}|\*{3,}|^\.\.\.$|changeme|change[-_ ]me|replace[-_ ]?me|your[-_ ]|^my[-_ ]"
    r"|example|dummy|^fake|[-_]fake|placeholder|^todo|^tbd$|^none$|^null$|^n/?a$|^redacted|^secret$|^password$"
    r"|^token$|^test$|^temp$|^tmp$|^sample",
    re.IGNORECASE,
)
_SEQUENCES = ("0123456789", "123456789", "abcdefghij", "qwertyuiop", "abcdef0123")
COMMON_WEAK = frozenset(
    {
        "password", "passw0rd", "secret", "supersecret", "supersecretsecret", "changeit", "changeme", "admin",
        "letmein", "welcome", "qwerty", "temp", "test", "token", "backstage", "default", "guest", "root",
        "1234", "12345", "123456", "12345678", "123456789", "secretsecret", "mysecret", "my-secret",
    }
)


def shannon_entropy(text: str) -> float:
    """Bits per character of `text`'s character distribution."""
    if not text:
        return 0.0
    counts = Counter(text)
    total = len(text)
    return -sum(c / total * math.log2(c / total) for c in counts.values())


def is_placeholder(value: str) -> bool:
    """An obvious stand-in (`<YOUR_SECRET>`, `github_pat_XXXX`, `my-token`, `changeme`)."""
    text = value.strip()
    if len(text) <= 2:  # `a`, `b`: nobody's real credential
        return True
    if _PLACEHOLDER.search(text):
        return True
    lowered = text.lower()
    return any(seq in lowered for seq in _SEQUENCES) and shannon_entropy(text) < 4.2


def weakness(value: str, *, min_length: int = 24) -> str | None:
    """Why a credential value is guessable, or None when it looks random and long enough."""
    text = value.strip()
    lowered = text.lower()
    if lowered in COMMON_WEAK or lowered.replace("-", "").replace("_", "") in COMMON_WEAK:
        return "a common word"
    if any(seq in lowered for seq in _SEQUENCES):
        return "a keyboard or counting sequence"
    if len(set(text)) <= 3:
        return "a repeated character"
    if len(text) < min_length:
        return f"only {len(text)} characters (want at least {min_length})"
    if re.fullmatch(r"[A-Za-z]+", text) and len(text) < 40:
        return "letters only, like a word or phrase"
    if shannon_entropy(text) < 3.0:
        return "low character variety"
    return None


def names_secret_object(key: str, value: Any) -> bool:
    """`certificatesSecret: backstage-postgresql-certs`: the name of a Kubernetes Secret."""
    return bool(_SECRET_OBJECT_KEY.search(key)) and isinstance(value, str) and bool(_K8S_NAME.match(value))


def redact(value: Any) -> str:
    """How a secret value appears in evidence: never the value, only its size."""
    text = str(value)
    return f"[REDACTED {len(text)} chars]"


# -- known credential formats ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenPattern:
    name: str
    regex: re.Pattern[str]
    group: int = 0


TOKEN_PATTERNS = (
    TokenPattern("GitHub personal access token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,255})\b"), 1),
    TokenPattern("GitHub fine-grained token", re.compile(r"\b(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b"), 1),
    TokenPattern(
        "GitLab token",
        re.compile(r"\b(gl(?:pat|dt|rt|ptt|ft|soat|cbt|imt|oas)-[A-Za-z0-9_\-]{20,})(?![A-Za-z0-9_\-])"),
        1,
    ),
    TokenPattern("AWS access key id", re.compile(r"\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})\b"), 1),
    TokenPattern(
        "AWS secret access key",
        re.compile(r"(?i)aws.{0,24}?(?:secret|access).{0,16}?[\"'\s:=]+([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"),
        1,
    ),
    TokenPattern("Slack token", re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]{10,})\b"), 1),
    TokenPattern("Slack app token", re.compile(r"\b(xapp-\d-[A-Z0-9]+-\d+-[a-f0-9]{20,})\b"), 1),
    TokenPattern(
        "Slack webhook URL",
        re.compile(r"(https://hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{16,})"),
        1,
    ),
    TokenPattern(
        "private key",
        re.compile(r"(-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----)"),
        1,
    ),
    TokenPattern("Google API key", re.compile(r"\b(AIza[0-9A-Za-z_\-]{35})(?![0-9A-Za-z_\-])"), 1),
    TokenPattern("npm access token", re.compile(r"\b(npm_[A-Za-z0-9]{36})\b"), 1),
    TokenPattern(
        "JSON Web Token",
        re.compile(r"\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,})(?![A-Za-z0-9_-])"),
        1,
    ),
    TokenPattern("Stripe live key", re.compile(r"\b((?:sk|rk)_live_[0-9A-Za-z]{24,})\b"), 1),
)


def _looks_random(token: str) -> bool:
    """Real tokens have a varied body; `ghp_XXXX...` or `AKIAEXAMPLE...` examples do not."""
    body = re.sub(r"^[a-z]+[-_]", "", token) if not token.startswith("-----") else "random"
    if "EXAMPLE" in token.upper() or re.search(r"(.)\1{7,}", body):
        return False
    return token.startswith("-----") or len(set(body)) >= 10


def find_tokens(text: str) -> list[tuple[str, str, int]]:
    """(kind, token, offset) for each credential of a known format in `text`."""
    found: list[tuple[str, str, int]] = []
    seen: set[str] = set()
    for pattern in TOKEN_PATTERNS:
        for match in pattern.regex.finditer(text):
            token = match.group(pattern.group)
            if token in seen or not _looks_random(token):
                continue
            seen.add(token)
            found.append((pattern.name, token, match.start(pattern.group)))
    return found


def token_evidence(kind: str, token: str) -> str:
    if kind == "private key":
        return token
    prefix = re.match(r"^[A-Za-z]+[-_]|^(?:AKIA|ASIA|ABIA|ACCA|AIza)", token)
    shown = prefix.group(0) if prefix else ""
    return f"{shown}[REDACTED {len(token) - len(shown)} chars]"


# -- high-entropy values under ordinary names --------------------------------------------------

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_TOKENISH = re.compile(r"^[A-Za-z0-9+/=_\-.~]+$")
_ENTROPY_EXEMPT_KEY = re.compile(
    r"(?:sha\d*|hash|digest|checksum|integrity|fingerprint|id|ids|name|title|url|uri|host|path|version|region"
    r"|pattern|regex|ref|image|tag|color|colour|icon|label|description|target|domain|email|ca|cadata|cert"
    r"|certificate|publickey|public[-_]key|kid|thumbprint|bucket|bucketName|project|projectId|account)$",
    re.IGNORECASE,
)


def high_entropy(key: str, value: str) -> bool:
    """A literal that looks like a random credential although its key name does not say so."""
    text = value.strip()
    if _ENTROPY_EXEMPT_KEY.search(key) or not _TOKENISH.match(text) or _UUID.match(text):
        return False
    if "://" in text or text.startswith(("/", "./", "../")) or ("." in text and not re.search(r"[+/=]", text)):
        return False
    if _HEX.match(text):
        return len(text) >= 32 and shannon_entropy(text) >= 3.5 and not is_placeholder(text)
    has_digit = any(c.isdigit() for c in text)
    has_upper = any(c.isupper() for c in text)
    has_lower = any(c.islower() for c in text)
    if len(text) < 20 or not (has_digit and has_lower and has_upper):
        return False
    return shannon_entropy(text) >= 4.0 and not is_placeholder(text)


# -- hosts and URLs -------------------------------------------------------------------------

METADATA_HOSTS = frozenset(
    {"169.254.169.254", "metadata.google.internal", "metadata", "fd00:ec2::254", "100.100.100.200", "169.254.170.2"}
)
_PRIVATE_SUFFIXES = (".internal", ".local", ".lan", ".svc", ".cluster.local", ".corp", ".home", ".intranet", ".private")


def host_class(host: str) -> str:
    """'loopback', 'metadata', 'private', 'public', or 'unknown' (empty or a template)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if not name or "${" in name or name.startswith("<"):
        return "unknown"
    if name in METADATA_HOSTS:
        return "metadata"
    if name == "localhost" or name.endswith(".localhost"):
        return "loopback"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        if name.endswith(_PRIVATE_SUFFIXES) or ("." not in name and not name.startswith("*")):
            return "private"
        return "public"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "metadata" if str(address).startswith("169.254.") else "private"
    if address.is_private or address.is_reserved or address.is_unspecified or address.is_multicast:
        return "private"
    return "public"


def url_host(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return parts.hostname


def url_scheme(url: str) -> str:
    try:
        return urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return ""


def is_local_url(url: str) -> bool:
    host = url_host(url)
    return host is not None and host_class(host) == "loopback"


# -- durations ------------------------------------------------------------------------------

_HUMAN_UNITS = {
    "years": 365 * 86400, "months": 30 * 86400, "weeks": 7 * 86400, "days": 86400, "hours": 3600,
    "minutes": 60, "seconds": 1, "milliseconds": 0.001,
}
_ISO = re.compile(
    r"^P(?:(?P<years>\d+(?:\.\d+)?)Y)?(?:(?P<months>\d+(?:\.\d+)?)M)?(?:(?P<weeks>\d+(?:\.\d+)?)W)?"
    r"(?:(?P<days>\d+(?:\.\d+)?)D)?(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_MS_STYLE = re.compile(
    r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|msecs?|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?"
    r"|d|days?|w|weeks?|y|yrs?|years?)?\s*$",
    re.IGNORECASE,
)
_MS_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_duration(value: Any) -> timedelta | None:
    """Backstage's HumanDuration objects, ISO 8601 durations, 'ms'-style strings, or seconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    if isinstance(value, dict):
        total = 0.0
        for unit, amount in value.items():
            if unit not in _HUMAN_UNITS or isinstance(amount, bool) or not isinstance(amount, int | float):
                return None
            total += float(amount) * _HUMAN_UNITS[unit]
        return timedelta(seconds=total)
    if not isinstance(value, str):
        return None
    iso = _ISO.match(value.strip())
    if iso and value.strip().upper() not in ("P", "PT"):
        seconds = sum(float(v) * _HUMAN_UNITS[k] for k, v in iso.groupdict().items() if v)
        return timedelta(seconds=seconds)
    ms = _MS_STYLE.match(value)
    if ms:
        unit = (ms["unit"] or "ms").lower()
        factor = _MS_UNITS["ms" if unit.startswith("ms") or unit.startswith("milli") else unit[0]]
        return timedelta(seconds=float(ms["n"]) * factor)
    return None


def describe_duration(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} seconds"
