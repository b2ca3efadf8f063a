"""What the operator asks for, and the complete parameters the plan is built from.

Every input except the target CIDR has a default taken from the cluster itself: the new pool copies
the old pool's block size, encapsulation, natOutgoing and nodeSelector (a different encapsulation
would make calico-node drop the nodes' tunnel addresses), and the node CIDR mask is
kube-controller-manager's. Problems with the inputs are findings like any other preflight check,
so `check` reports them all at once instead of stopping at the first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tui.model.cidr import CidrError, Network, cidr_name, parse_cidr
from tui.model.cluster import Cluster
from tui.model.findings import Finding
from tui.model.selector import SelectorError, parse_selector

ROLLOUT, DRAIN = "rollout", "drain"
RECREATE_NODES, DISABLE_ALLOCATION, KEEP = "recreate-nodes", "disable-allocation", "keep"
ROLL_STRATEGIES = (ROLLOUT, DRAIN)
NODE_STRATEGIES = (RECREATE_NODES, DISABLE_ALLOCATION, KEEP)
ENCAP_MODES = ("Always", "CrossSubnet", "Never")
DEFAULT_NODE_MASK = 24


@dataclass(frozen=True)
class MigrationRequest:
    """The operator's inputs; None means "derive it from the cluster"."""

    target_cidr: str
    from_pool: str | None = None
    pool_name: str | None = None
    block_size: int | None = None
    ipip_mode: str | None = None
    vxlan_mode: str | None = None
    nat_outgoing: bool | None = None
    node_selector: str | None = None
    node_cidr_mask: int | None = None
    roll: str = ROLLOUT
    node_strategy: str = RECREATE_NODES
    allow_crd_writes: bool = False
    allow_bare_pod_loss: bool = False


@dataclass(frozen=True)
class MigrationParams:
    target_cidr: str
    pool_name: str
    old_pool: str
    old_cidr: str
    block_size: int
    ipip_mode: str
    vxlan_mode: str
    nat_outgoing: bool
    node_selector: str
    node_cidr_mask: int
    roll: str
    node_strategy: str
    allow_crd_writes: bool
    allow_bare_pod_loss: bool
    new_pool_exists: bool  # a pool with the target CIDR is already there (adopted, not created)

    @property
    def target(self) -> Network:
        return parse_cidr(self.target_cidr)

    @property
    def old(self) -> Network:
        return parse_cidr(self.old_cidr, strict=False)

    @property
    def old_refs(self) -> list[str]:
        """How pins may name the old pool: by name or by CIDR."""
        return [self.old_pool, self.old_cidr]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "MigrationParams":
        return cls(**data)


def default_pool_name(target: Network) -> str:
    return f"ipv{target.version}-ippool-{cidr_name(target)}"


def _finding(id_: str, severity: str, message: str, evidence: tuple[str, ...], fix: str) -> Finding:
    return Finding(id=id_, severity=severity, message=message, evidence=evidence, fix=fix)


def _old_pool(request: MigrationRequest, cluster: Cluster, target: Network) -> tuple[object, list[Finding]]:
    """The pool the pods move out of: named with --from-pool, else the only other IPv4 pool."""
    if request.from_pool:
        pool = cluster.pool(request.from_pool)
        if pool is None:
            return None, [_finding("params-from-pool", "blocking", f"no IP pool named {request.from_pool!r}",
                                   tuple(f"pool {p.name} {p.cidr}" for p in cluster.pools),
                                   "name an existing pool with --from-pool")]
        return pool, []
    candidates = [p for p in cluster.pools if p.cidr.version == target.version and p.cidr != target]
    if len(candidates) == 1:
        return candidates[0], []
    if not candidates:
        return None, [_finding("params-no-old-pool", "blocking",
                               f"no IPv{target.version} pool other than {target} to migrate from",
                               tuple(f"pool {p.name} {p.cidr}" for p in cluster.pools),
                               "check the cluster and the target CIDR")]
    return None, [_finding("params-ambiguous-pool", "blocking",
                           "several pools could be the one to migrate from",
                           tuple(f"pool {p.name} {p.cidr}" for p in candidates),
                           "say which with --from-pool NAME")]


def resolve_params(request: MigrationRequest, cluster: Cluster) -> tuple[MigrationParams | None, list[Finding]]:
    """Complete parameters (None when the inputs cannot make a plan) and the findings about them."""
    findings: list[Finding] = []
    try:
        target = parse_cidr(request.target_cidr)
    except CidrError as exc:
        return None, [_finding("cidr-invalid", "blocking", f"target CIDR: {exc}",
                               (f"--target-cidr {request.target_cidr}",),
                               "give the network address with its prefix, e.g. 172.21.0.0/16")]
    if str(target) != request.target_cidr.strip():
        findings.append(_finding("cidr-normalised", "info", f"target CIDR normalised to {target}",
                                 (f"given {request.target_cidr!r}",), "none needed"))
    if target.version != 4:
        findings.append(_finding("cidr-ipv6", "blocking", "only IPv4 pool migrations are supported",
                                 (f"target {target}",), "migrate the IPv4 pool; IPv6 pools are left alone"))
    for name, value, allowed in (("roll strategy", request.roll, ROLL_STRATEGIES),
                                 ("node strategy", request.node_strategy, NODE_STRATEGIES)):
        if value not in allowed:
            findings.append(_finding("params-strategy", "blocking", f"unknown {name} {value!r}",
                                     (value,), f"use one of {', '.join(allowed)}"))
    old, pool_findings = _old_pool(request, cluster, target)
    findings += pool_findings
    existing = next((p for p in cluster.pools if p.cidr == target), None)
    template = existing or old
    if template is None:
        return None, findings
    pool_name = request.pool_name or (existing.name if existing else default_pool_name(target))
    if existing is None and cluster.pool(pool_name) is not None:
        findings.append(_finding("params-pool-name", "blocking",
                                 f"a pool named {pool_name!r} already exists with another CIDR",
                                 (f"pool {pool_name} {cluster.pool(pool_name).cidr}",),
                                 "choose another name with --pool-name"))
    block_size = request.block_size or template.block_size
    if not (20 <= block_size <= 32):
        findings.append(_finding("params-block-size", "blocking",
                                 f"block size /{block_size} is outside Calico's 20–32 for IPv4",
                                 (f"--block-size {block_size}",), "use a block size between 20 and 32"))
    elif block_size < target.prefixlen:
        findings.append(_finding("params-block-size", "blocking",
                                 f"a /{block_size} block does not fit in {target}",
                                 (f"--block-size {block_size}", f"target {target}"),
                                 "use a block size at least as long as the pool prefix"))
    ipip = request.ipip_mode or (old.ipip_mode if old else template.ipip_mode)
    vxlan = request.vxlan_mode or (old.vxlan_mode if old else template.vxlan_mode)
    for label, mode in (("ipipMode", ipip), ("vxlanMode", vxlan)):
        if mode not in ENCAP_MODES:
            findings.append(_finding("params-encapsulation", "blocking", f"{label} {mode!r} is not valid",
                                     (mode,), f"use one of {', '.join(ENCAP_MODES)}"))
    if ipip != "Never" and vxlan != "Never":
        findings.append(_finding("params-encapsulation", "blocking", "IPIP and VXLAN cannot both be on",
                                 (f"ipipMode {ipip}", f"vxlanMode {vxlan}"), "turn one of them off"))
    node_selector = request.node_selector or str(template.node_selector)
    try:
        parse_selector(node_selector)
    except SelectorError as exc:
        findings.append(_finding("params-node-selector", "blocking", f"nodeSelector: {exc}",
                                 (node_selector,), "give a valid Calico selector, e.g. all()"))
    kcm_masks = {k.node_cidr_mask_size_ipv4 for k in cluster.controller_managers}
    mask = request.node_cidr_mask or (min(kcm_masks) if kcm_masks else DEFAULT_NODE_MASK)
    params = MigrationParams(
        target_cidr=str(target), pool_name=pool_name, old_pool=old.name if old else "",
        old_cidr=str(old.cidr) if old else "", block_size=block_size, ipip_mode=ipip,
        vxlan_mode=vxlan,
        nat_outgoing=request.nat_outgoing if request.nat_outgoing is not None else template.nat_outgoing,
        node_selector=node_selector, node_cidr_mask=mask, roll=request.roll,
        node_strategy=request.node_strategy, allow_crd_writes=request.allow_crd_writes,
        allow_bare_pod_loss=request.allow_bare_pod_loss, new_pool_exists=existing is not None)
    return (params if old is not None else None), findings
