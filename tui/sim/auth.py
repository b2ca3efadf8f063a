"""Who may do what: two bearer-token identities and the authorizer and review APIs built on them.

`admin` may do everything; `viewer` may only get, list and watch, which is exactly what a read-only
operator account looks like, and what calico-tui's read-only mode must live with. The same rules
answer SelfSubjectAccessReview and SelfSubjectRulesReview, so `kubectl auth can-i` and the app's
capability map agree with what the server enforces.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from tui.sim import errors

ADMIN = "admin"
VIEWER = "viewer"
READ_VERBS = frozenset({"get", "list", "watch"})
# Everyone may ask who they are and what they may do (system:basic-user).
REVIEW_RESOURCES = frozenset({("authorization.k8s.io", "selfsubjectaccessreviews"),
                              ("authorization.k8s.io", "selfsubjectrulesreviews"),
                              ("authentication.k8s.io", "selfsubjectreviews")})


@dataclass(frozen=True)
class Identity:
    name: str
    groups: tuple[str, ...]
    verbs: frozenset[str] | None  # None: every verb
    cluster_role: str

    def may(self, verb: str) -> bool:
        return self.verbs is None or verb in self.verbs

    def allowed_reason(self) -> str:
        return (f'RBAC: allowed by ClusterRoleBinding "calico-demo-{self.name}" of ClusterRole '
                f'"{self.cluster_role}" to User "{self.name}"')


IDENTITIES = {
    ADMIN: Identity(ADMIN, ("system:masters", "system:authenticated"), None, "cluster-admin"),
    VIEWER: Identity(VIEWER, ("system:authenticated",), READ_VERBS, "view"),
}


class Auth:
    """Random bearer tokens per simulator instance, mapped to the identities above."""

    def __init__(self, tokens: dict[str, str] | None = None):
        self.tokens = tokens or {name: secrets.token_urlsafe(24) for name in IDENTITIES}
        self._by_token = {token: IDENTITIES[name] for name, token in self.tokens.items()}

    def authenticate(self, authorization: str | None) -> Identity | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self._by_token.get(token.strip())

    def authorize(self, who: Identity, verb: str, group: str, resource: str, namespace: str | None,
                  name: str | None) -> None:
        """Raise the real 403 Forbidden Status when `who` may not do `verb` on `resource`."""
        base = resource.split("/")[0]
        if (group, base) in REVIEW_RESOURCES or who.may(verb):
            return
        raise errors.forbidden(who.name, verb, resource, group, namespace, name)

    def access_review(self, who: Identity, review: dict) -> dict:
        """Answer a SelfSubjectAccessReview body (JSON form) with its status filled in."""
        spec = review.get("spec") if isinstance(review.get("spec"), dict) else {}
        attrs = spec.get("resourceAttributes") or spec.get("nonResourceAttributes")
        if not isinstance(attrs, dict):
            raise errors.invalid(None, "", [errors.field_error(
                "Invalid", "spec.resourceAttributes", "exactly one of nonResourceAttributes or "
                "resourceAttributes must be specified", None)], kind="SelfSubjectAccessReview.authorization.k8s.io")
        verb = str(attrs.get("verb") or "")
        group, resource = str(attrs.get("group") or ""), str(attrs.get("resource") or "")
        asks_review = "resourceAttributes" in spec and (group, resource) in REVIEW_RESOURCES and verb == "create"
        allowed = asks_review or who.may(verb)
        status = {"allowed": bool(allowed), "denied": False, "reason": who.allowed_reason() if allowed else "",
                  "evaluationError": ""}
        return {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}

    def rules_review(self, who: Identity, review: dict) -> dict:
        """SelfSubjectRulesReview (`kubectl auth can-i --list`)."""
        spec = review.get("spec") if isinstance(review.get("spec"), dict) else {}
        verbs = ["*"] if who.verbs is None else sorted(who.verbs)
        rules = [{"verbs": verbs, "apiGroups": ["*"], "resources": ["*"]},
                 {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                  "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
                 {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]}]
        return {"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": None}, "spec": spec,
                "status": {"resourceRules": rules,
                           "nonResourceRules": [{"verbs": ["get"] if who.verbs else ["*"], "nonResourceURLs": ["*"]}],
                           "incomplete": False}}

    def self_review(self, who: Identity) -> dict:
        """SelfSubjectReview (`kubectl auth whoami`)."""
        return {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": None},
                "status": {"userInfo": {"username": who.name, "groups": list(who.groups)}}}
