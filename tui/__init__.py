"""calico-tui: a terminal app to watch Calico networking and migrate a cluster's pod CIDR."""

__version__ = "0.1.0"
