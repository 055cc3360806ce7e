"""Which IP addresses the reader may connect to.

Two classes of refused address:

* never reachable, even with `dangerouslyAllowPrivateAddresses`: unspecified, multicast,
  broadcast and reserved ranges (no TCP service lives there), link-local ranges (where the
  cloud metadata services live: 169.254.169.254, fe80::/10) and the other known metadata
  addresses (fd00:ec2::254, Alibaba's 100.100.100.200, Azure's 168.63.129.16);
* not publicly routable, refused unless the matching allow entry sets
  `dangerouslyAllowPrivateAddresses: true`: loopback, RFC 1918, CGNAT, unique-local,
  documentation/benchmark ranges and the IETF special-purpose blocks.

IPv6 forms that carry an IPv4 address (IPv4-mapped, NAT64, 6to4) are judged by the IPv4
address inside them. The tables are explicit rather than `ipaddress.is_global`, whose
answers for mapped addresses changed across Python patch releases.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _nets(*specs: tuple[str, str]) -> tuple[tuple[_Network, str], ...]:
    return tuple((ipaddress.ip_network(cidr), label) for cidr, label in specs)


_NEVER = _nets(
    ("0.0.0.0/8", "unspecified ('this network')"),
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("100.100.100.200/32", "cloud metadata"),
    ("168.63.129.16/32", "cloud platform endpoint"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("fe80::/10", "link-local"),
    ("fd00:ec2::254/128", "cloud metadata"),
    ("ff00::/8", "multicast"),
)

_PRIVATE = _nets(
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2001::/23", "IETF protocol assignments"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "segment routing"),
    ("fc00::/7", "unique-local"),
    ("fec0::/10", "site-local"),
)

_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


@dataclass(frozen=True, slots=True)
class AddressVerdict:
    """Why an address is refused; `never` means no configuration can allow it."""

    address: str
    reason: str
    never: bool


def parse_ip(text: str) -> IPAddress:
    """Parse a resolver answer; a scope (`fe80::1%eth0`) is dropped, not trusted."""
    return ipaddress.ip_address(text.split("%", 1)[0])


def classify(address: IPAddress) -> AddressVerdict | None:
    """None if the address is publicly routable, else why it is refused."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        inner = classify(embedded)
        if inner is None:
            return None
        return AddressVerdict(str(address), f"{inner.reason} (embedded in IPv6)", inner.never)
    for network, label in _NEVER:
        if address.version == network.version and address in network:
            return AddressVerdict(str(address), label, never=True)
    for network, label in _PRIVATE:
        if address.version == network.version and address in network:
            return AddressVerdict(str(address), label, never=False)
    if isinstance(address, ipaddress.IPv6Address) and address not in _GLOBAL_UNICAST_V6:
        return AddressVerdict(str(address), "reserved", never=True)
    return None


def refusal(address: IPAddress, *, allow_private: bool) -> AddressVerdict | None:
    """The verdict that refuses `address` under the given allowance, or None."""
    verdict = classify(address)
    if verdict is None or (allow_private and not verdict.never):
        return None
    return verdict


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return address.sixtofour
    return None
