"""CIDR helpers: strict parsing with human messages, containment, block naming."""

from __future__ import annotations

import ipaddress

import pytest

from tui.model.cidr import (
    CidrError,
    address_count,
    cidr_name,
    contains,
    nth_address,
    overlaps,
    parse_address,
    parse_cidr,
    parse_cidr_list,
    parse_interface,
)


def test_parse_valid() -> None:
    assert parse_cidr("192.168.0.0/16") == ipaddress.ip_network("192.168.0.0/16")
    assert parse_cidr(" 172.21.0.0/16 ") == ipaddress.ip_network("172.21.0.0/16")
    assert parse_cidr("fd00:1::/64") == ipaddress.ip_network("fd00:1::/64")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("192.168.1.5/24", "did you mean 192.168.1.0/24"),
        ("10.0.0.0/255.0.0.0", "not a CIDR"),
        ("10.0.0.0", "not a CIDR"),
        ("10.0.0.0/33", "longer than /32"),
        ("300.0.0.0/8", "not an IP address"),
        ("", "empty"),
        ("banana/8", "not a CIDR"),
    ],
)
def test_parse_errors(text: str, fragment: str) -> None:
    with pytest.raises(CidrError, match=fragment.replace(".", r"\.").replace("/", "/")):
        parse_cidr(text)


def test_non_string_is_cidr_error() -> None:
    with pytest.raises(CidrError, match="must be a string"):
        parse_cidr(24)


def test_lenient_mode_returns_enclosing_network() -> None:
    assert parse_cidr("192.168.1.5/24", strict=False) == ipaddress.ip_network("192.168.1.0/24")


def test_lists_and_interfaces() -> None:
    assert parse_cidr_list("10.244.0.0/16,fd00::/108") == (
        ipaddress.ip_network("10.244.0.0/16"), ipaddress.ip_network("fd00::/108"))
    iface = parse_interface("10.0.0.5/24")
    assert iface.ip == ipaddress.ip_address("10.0.0.5")
    assert iface.network == ipaddress.ip_network("10.0.0.0/24")
    assert parse_address("10.0.0.5") == ipaddress.ip_address("10.0.0.5")
    with pytest.raises(CidrError):
        parse_address("10.0.0.5/32")


def test_overlap_and_containment() -> None:
    pool = parse_cidr("192.168.0.0/16")
    assert overlaps(pool, parse_cidr("192.168.3.0/24"))
    assert overlaps(parse_cidr("192.0.0.0/8"), pool)
    assert not overlaps(pool, parse_cidr("172.21.0.0/16"))
    assert not overlaps(parse_cidr("0.0.0.0/0"), parse_cidr("fd00::/64"))
    assert contains(pool, parse_cidr("192.168.3.0/26"))
    assert not contains(parse_cidr("192.168.3.0/26"), pool)
    assert contains(pool, parse_address("192.168.200.1"))
    assert not contains(pool, parse_address("fd00::1"))


def test_block_arithmetic() -> None:
    block = parse_cidr("192.168.1.64/26")
    assert address_count(block) == 64
    assert nth_address(block, 0) == ipaddress.ip_address("192.168.1.64")
    assert nth_address(block, 63) == ipaddress.ip_address("192.168.1.127")
    with pytest.raises(CidrError):
        nth_address(block, 64)
    assert cidr_name(parse_cidr("192.168.1.0/26")) == "192-168-1-0-26"
    assert cidr_name(parse_cidr("fd00:1::40/122")) == "fd00-1--40-122"
