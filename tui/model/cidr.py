"""CIDR and address parsing with messages an operator can act on.

Calico and Kubernetes accept only `address/prefix` with a decimal prefix; Python's ipaddress also
takes netmasks (`10.0.0.0/255.0.0.0`) and bare addresses, so the text is checked first. Every
failure is a `CidrError` (a ValueError) whose message names the text and says what is wrong.
"""

from __future__ import annotations

import ipaddress
import re

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

_CIDR_SHAPE = re.compile(r"^([0-9A-Fa-f.:]+)/([0-9]{1,3})$")


class CidrError(ValueError):
    """A CIDR or address that cannot be used, with a human message."""


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise CidrError(f"{what} must be a string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise CidrError(f"{what} is empty")
    return text


def _split(value: object, what: str) -> tuple[str, Address, int]:
    text = _text(value, what)
    match = _CIDR_SHAPE.match(text)
    if not match:
        raise CidrError(f"{text!r} is not a CIDR (expected address/prefix, e.g. 10.0.0.0/16)")
    address_text, prefix_text = match.groups()
    try:
        address = ipaddress.ip_address(address_text)
    except ValueError:
        raise CidrError(f"{text!r}: {address_text!r} is not an IP address") from None
    prefix = int(prefix_text)
    if prefix > address.max_prefixlen:
        raise CidrError(f"{text!r}: prefix /{prefix} is longer than /{address.max_prefixlen}")
    return text, address, prefix


def parse_cidr(value: object, strict: bool = True) -> Network:
    """Parse `address/prefix`.

    strict=True rejects host bits (as calicoctl does for pools); strict=False returns the
    enclosing network, the way kube-controller-manager reads `--cluster-cidr`.
    """
    text, address, prefix = _split(value, "CIDR")
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    if strict and network.network_address != address:
        raise CidrError(f"{text!r} has host bits set; did you mean {network}?")
    return network


def parse_cidr_list(value: object, strict: bool = True) -> tuple[Network, ...]:
    """Parse a comma-separated list such as kube-proxy's `clusterCIDR` or `--cluster-cidr`."""
    text = _text(value, "CIDR list")
    return tuple(parse_cidr(part, strict) for part in text.split(","))


def parse_interface(value: object) -> Interface:
    """Parse an address with its subnet (`10.0.0.5/24`, the form of Calico's IPv4Address annotation)."""
    _, address, prefix = _split(value, "interface address")
    return ipaddress.ip_interface(f"{address}/{prefix}")


def parse_address(value: object) -> Address:
    """Parse a bare IP address."""
    text = _text(value, "IP address")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise CidrError(f"{text!r} is not an IP address") from None


def overlaps(a: Network, b: Network) -> bool:
    """True when the two networks share an address (never across families)."""
    return a.version == b.version and a.overlaps(b)


def contains(outer: Network, inner: Network | Address) -> bool:
    """True when `inner` (network or address) lies entirely inside `outer`."""
    if outer.version != inner.version:
        return False
    if isinstance(inner, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return inner.subnet_of(outer)
    return inner in outer


def address_count(network: Network) -> int:
    """Number of addresses in the network (calicoctl counts network and broadcast addresses too)."""
    return network.num_addresses


def nth_address(network: Network, ordinal: int) -> Address:
    """The address at `ordinal` from the network's base: how an IPAM block ordinal maps to an IP."""
    if not 0 <= ordinal < network.num_addresses:
        raise CidrError(f"ordinal {ordinal} is outside {network} ({network.num_addresses} addresses)")
    return network.network_address + ordinal


def cidr_name(network: Network) -> str:
    """The Kubernetes object name Calico derives from a CIDR (IPAMBlock names, affinity suffixes).

    `192.168.1.0/26` -> `192-168-1-0-26`; `fd00:1::40/122` -> `fd00-1--40-122`.
    """
    return str(network).replace(".", "-").replace(":", "-").replace("/", "-")
