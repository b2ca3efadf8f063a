"""The migration's parameters, validated as the operator types.

Every field but the target CIDR shows what the engine derives from the cluster (the old pool's block
size, encapsulation, NAT and selector; kube-controller-manager's node mask) until the operator
changes it; only changed fields are sent as choices, so the defaults always come from one place
(tui.migrate.params). Blocking findings about an input are shown under that input.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

from tui.migrate.params import (DISABLE_ALLOCATION, DRAIN, ENCAP_MODES, KEEP, RECREATE_NODES, ROLLOUT,
                                MigrationParams, MigrationRequest)
from widgets.static_sync import set_content

ROLL_CHOICES = {
    ROLLOUT: "restart each workload in turn; PodDisruptionBudget-guarded ones are evicted pod by pod",
    DRAIN: "node by node: cordon, evict the pods with old addresses, uncordon",
}
NODE_CHOICES = {
    RECREATE_NODES: "re-create each Node with a podCIDR in the new range, then change kube-controller-manager",
    DISABLE_ALLOCATION: "kube-controller-manager stops allocating node podCIDRs (needs calico-ipam)",
    KEEP: "nodes keep their podCIDRs: only when the new range contains every one of them",
}
YES_NO = (("yes", True), ("no", False))

# Which input a finding is about, so its message appears under that input.
FIELD_OF = {
    "cidr-invalid": "target_cidr", "cidr-ipv6": "target_cidr", "cidr-overlap-pool": "target_cidr",
    "cidr-overlap-service": "target_cidr", "cidr-overlap-node": "target_cidr", "cidr-link-local": "target_cidr",
    "capacity-blocks": "target_cidr", "new-pool-exists": "target_cidr", "cidr-normalised": "target_cidr",
    "params-from-pool": "from_pool", "params-no-old-pool": "from_pool", "params-ambiguous-pool": "from_pool",
    "params-pool-name": "pool_name", "params-block-size": "block_size",
    "params-encapsulation": "ipip_mode", "encapsulation-mismatch": "ipip_mode",
    "params-node-selector": "node_selector", "capacity-node-cidrs": "node_cidr_mask", "kcm-node-mask": "node_cidr_mask",
    "kcm-cluster-cidr": "node_strategy", "ipam-host-local": "node_strategy", "kcm-allocate-node-cidrs": "node_strategy",
    "bare-pods": "allow_bare_pod_loss", "write-path": "allow_crd_writes",
}


@dataclass(frozen=True)
class Field:
    name: str  # MigrationRequest field
    label: str
    kind: str  # text, integer, choice, yes-no
    choices: tuple = ()


FIELDS = (  # the decisions first, then what is derived from the cluster unless changed
    Field("target_cidr", "target CIDR", "text"),
    Field("roll", "workloads", "choice", tuple((k, k) for k in ROLL_CHOICES)),
    Field("node_strategy", "node podCIDRs", "choice", tuple((k, k) for k in NODE_CHOICES)),
    Field("allow_bare_pod_loss", "bare pod loss", "yes-no", YES_NO),
    Field("from_pool", "from pool", "choice"),
    Field("pool_name", "new pool name", "text"),
    Field("block_size", "block size", "integer"),
    Field("ipip_mode", "ipipMode", "choice", tuple((m, m) for m in ENCAP_MODES)),
    Field("vxlan_mode", "vxlanMode", "choice", tuple((m, m) for m in ENCAP_MODES)),
    Field("nat_outgoing", "natOutgoing", "yes-no", YES_NO),
    Field("node_selector", "nodeSelector", "text"),
    Field("node_cidr_mask", "node CIDR mask", "integer"),
    Field("allow_crd_writes", "v1 CRD writes", "yes-no", YES_NO),
)
EXPLAINED = {"roll": ROLL_CHOICES, "node_strategy": NODE_CHOICES}
DEFAULTS = {"roll": ROLLOUT, "node_strategy": RECREATE_NODES, "allow_bare_pod_loss": False,
            "allow_crd_writes": False}


def shown_value(params: MigrationParams, name: str):
    value = getattr(params, "old_pool" if name == "from_pool" else name)
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def field_notes(findings) -> dict[str, list]:
    """Blocking findings (and the CIDR normalisation note) by the input they are about."""
    notes: dict[str, list] = {}
    for f in findings:
        name = FIELD_OF.get(f.id)
        if name is not None and (f.severity == "blocking" or f.id == "cidr-normalised"):
            notes.setdefault(name, []).append(f)
    return notes


def note_text(findings) -> Text:
    return Text("\n").join(Text(f"{'✖' if f.severity == 'blocking' else 'ℹ'} {f.message}",
                                 style="bold red" if f.severity == "blocking" else "") for f in findings)


class ParametersForm(VerticalScroll):
    """Posts `Changed` on every edit (the screen debounces it) and `Submitted` on enter in a text
    field (ctrl+r plans from anywhere on the screen)."""

    DEFAULT_CSS = """
    ParametersForm { height: 1fr; }
    ParametersForm Horizontal { height: 1; }
    ParametersForm .field-label { width: 16; color: $text-muted; }
    ParametersForm Input, ParametersForm Select { width: 1fr; }
    ParametersForm .field-note { display: none; height: auto; padding-left: 16; }
    ParametersForm .field-note.-shown { display: block; }
    ParametersForm .explain { height: auto; padding-left: 16; color: $text-muted; }
    """

    @dataclass
    class Changed(Message):
        request: MigrationRequest | None

    class Submitted(Message):
        """Enter in a text field: plan with these values."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.touched: set[str] = set()
        self.pools: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        for field in FIELDS:
            with Horizontal():
                yield Label(field.label, classes="field-label")
                yield self._widget(field)
            if field.name in EXPLAINED:
                yield Static(EXPLAINED[field.name][DEFAULTS[field.name]], id=f"explain-{field.name}",
                             classes="explain")
            yield Static("", id=f"note-{field.name}", classes="field-note")

    @staticmethod
    def _widget(field: Field):
        wid = f"field-{field.name}"
        if field.kind == "text":
            placeholder = "e.g. 172.21.0.0/16" if field.name == "target_cidr" else "(derived from the cluster)"
            return Input(placeholder=placeholder, id=wid, compact=True)
        if field.kind == "integer":
            return Input(placeholder="(derived from the cluster)", type="integer", id=wid, compact=True)
        value = DEFAULTS.get(field.name, Select.NULL)
        return Select(field.choices, value=value, allow_blank=field.name not in DEFAULTS,
                      prompt="(derived from the cluster)", id=wid, compact=True)

    def widget(self, name: str):
        return self.query_one(f"#field-{name}")

    # -- values ------------------------------------------------------------------------------------

    def request(self) -> MigrationRequest | None:
        """The operator's choices; None until a target CIDR is typed."""
        target = self.widget("target_cidr").value.strip()
        if not target:
            return None
        values = {}
        for field in FIELDS[1:]:
            widget = self.widget(field.name)
            value = widget.value
            if field.name not in self.touched and field.name not in DEFAULTS:
                continue
            if value is Select.NULL or value == "":
                continue
            values[field.name] = int(value) if field.kind == "integer" else value
        return MigrationRequest(target_cidr=target, **values)

    def fill(self, params: MigrationParams | None) -> None:
        """Show what the engine derived in every field the operator has not changed."""
        if params is None:
            return
        with self.prevent(Input.Changed, Select.Changed):
            if params.old_pool not in self.pools:
                self.set_pools([*self.pools, params.old_pool])
            for field in FIELDS[1:]:
                if field.name not in self.touched and field.name not in DEFAULTS:
                    self.widget(field.name).value = shown_value(params, field.name)

    def set_pools(self, names: list[str]) -> None:
        """The pools the operator may migrate from (the cluster's IPv4 pools)."""
        self.pools = tuple(names)
        with self.prevent(Select.Changed):
            self.widget("from_pool").set_options(tuple((n, n) for n in names))

    def show_findings(self, findings) -> None:
        notes = field_notes(findings)
        for field in FIELDS:
            mine = notes.get(field.name, [])
            note = self.query_one(f"#note-{field.name}", Static)
            set_content(note, note_text(mine) if mine else "")
            note.set_class(bool(mine), "-shown")
            self.widget(field.name).set_class(any(f.severity == "blocking" for f in mine), "-invalid")

    # -- events ------------------------------------------------------------------------------------

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self, event) -> None:
        name = event.control.id.removeprefix("field-")
        self.touched.add(name)
        if name in EXPLAINED and event.value in EXPLAINED[name]:
            self.query_one(f"#explain-{name}", Static).update(EXPLAINED[name][event.value])
        self.post_message(self.Changed(self.request()))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Submitted())
