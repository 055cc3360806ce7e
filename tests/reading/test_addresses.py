"""Address vetting: which resolved addresses the reader may connect to."""

from __future__ import annotations

import pytest

from greenroom.reading.addresses import classify, parse_ip, refusal

NEVER = [
    "169.254.169.254",  # AWS/GCP/Azure/OCI metadata
    "169.254.170.2",  # ECS task metadata
    "169.254.0.1",
    "fd00:ec2::254",  # AWS metadata over IPv6
    "100.100.100.200",  # Alibaba metadata
    "168.63.129.16",  # Azure platform endpoint
    "0.0.0.0",
    "0.1.2.3",
    "::",
    "fe80::1",
    "fe80::1%eth0",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "240.0.0.1",
    "ff02::1",
    "::ffff:169.254.169.254",  # IPv4-mapped metadata
    "64:ff9b::a9fe:a9fe",  # NAT64 metadata
    "2002:a9fe:a9fe::1",  # 6to4 metadata
    "4000::1",  # outside global unicast
]

PRIVATE = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "100.64.0.1",  # CGNAT
    "192.0.0.8",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "::1",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",
    "2001:db8::1",
    "2001::1",  # Teredo
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible
    "64:ff9b::7f00:1",  # NAT64 loopback
    "64:ff9b:1::1",
    "2002:7f00:1::1",  # 6to4 loopback
    "2002:c0a8:101::1",  # 6to4 192.168.1.1
]

PUBLIC = [
    "93.184.215.14",
    "8.8.8.8",
    "1.1.1.1",
    "172.32.0.1",
    "100.128.0.1",
    "2606:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2a00:1450:4001::1",
]


@pytest.mark.parametrize("address", NEVER)
def test_ssrf_metadata_and_special_addresses_never_allowed(address: str) -> None:
    verdict = classify(parse_ip(address))
    assert verdict is not None
    assert verdict.never
    assert refusal(parse_ip(address), allow_private=True) is not None


@pytest.mark.parametrize("address", PRIVATE)
def test_ssrf_private_addresses_need_the_dangerous_flag(address: str) -> None:
    verdict = refusal(parse_ip(address), allow_private=False)
    assert verdict is not None
    assert not verdict.never
    assert refusal(parse_ip(address), allow_private=True) is None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_allowed(address: str) -> None:
    assert classify(parse_ip(address)) is None
