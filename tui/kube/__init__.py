"""The cluster data layer: connection from kubeconfig, detection, RBAC capability map, the live cache.

Everything here talks to a real Kubernetes API over HTTP and hands plain JSON (`RawCluster`, see
docs/ARCHITECTURE.md) to the pure model in `tui.model`.
"""
