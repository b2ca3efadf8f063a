"""`Status` objects exactly as kube-apiserver returns them, and the exception that carries them.

Clients branch on `code`, `reason` and `details` (kubectl, the Python client's watch, our own data
layer), so every builder here reproduces the real wording and detail shape.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.sim.resources import ResourceType

REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    406: "NotAcceptable", 409: "Conflict", 410: "Expired", 413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
    503: "ServiceUnavailable", 504: "Timeout",
}


class ApiError(Exception):
    """An API failure; `status` is the full Status object sent to the client."""

    def __init__(self, status: dict):
        super().__init__(status.get("message", ""))
        self.status = status

    @property
    def code(self) -> int:
        return self.status["code"]

    @property
    def reason(self) -> str:
        return self.status.get("reason", "")


def status(code: int, message: str, reason: str | None = None, details: dict | None = None,
           metadata: dict | None = None) -> dict:
    out = {"kind": "Status", "apiVersion": "v1", "metadata": metadata or {}, "status": "Failure",
           "message": message, "reason": reason if reason is not None else REASONS.get(code, ""), "code": code}
    if details is not None:
        out["details"] = details
    return out


def success(details: dict | None = None, code: int | None = None) -> dict:
    out = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details is not None:
        out["details"] = details
    if code is not None:
        out["code"] = code
    return out


def _details(res: ResourceType, name: str, kind: str | None = None) -> dict:
    out = {"name": name}
    if res.group:
        out["group"] = res.group
    out["kind"] = kind or res.plural
    return out


def _named(res: ResourceType, name: str) -> str:
    return f'{res.qualified} "{name}"'


def error(code: int, message: str, reason: str | None = None, details: dict | None = None,
          metadata: dict | None = None) -> ApiError:
    return ApiError(status(code, message, reason, details, metadata))


def not_found(res: ResourceType, name: str) -> ApiError:
    return error(404, f"{_named(res, name)} not found", details=_details(res, name))


def namespace_not_found(name: str) -> ApiError:
    return error(404, f'namespaces "{name}" not found', details={"name": name, "kind": "namespaces"})


def route_not_found() -> ApiError:
    return error(404, "the server could not find the requested resource", details={})


def already_exists(res: ResourceType, name: str) -> ApiError:
    return error(409, f"{_named(res, name)} already exists", "AlreadyExists", _details(res, name))


def conflict(res: ResourceType, name: str, why: str = "the object has been modified; please apply your "
             "changes to the latest version and try again") -> ApiError:
    return error(409, f"Operation cannot be fulfilled on {_named(res, name)}: {why}", "Conflict",
                 _details(res, name))


def field_error(kind: str, field: str, detail: str, value=None) -> dict:
    """One cause of an Invalid error. `kind` is Required, Invalid, Forbidden, NotSupported, Duplicate."""
    texts = {"Required": "Required value", "Forbidden": "Forbidden", "Invalid": "Invalid value",
             "NotSupported": "Unsupported value", "Duplicate": "Duplicate value"}
    message = texts[kind]
    if value is not None:
        message += f": {json.dumps(value) if isinstance(value, str) else value}"
    if detail:
        message += f": {detail}"
    return {"reason": f"FieldValue{kind}", "message": message, "field": field}


def invalid(res: ResourceType | None, name: str, causes: list[dict], kind: str | None = None) -> ApiError:
    """422 Invalid; details.kind is the Kind here, not the plural (a real-server quirk clients rely on)."""
    qualified = kind or (res.qualified_kind if res else "")
    parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    body = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details = {"name": name}
    if res and res.group and not kind:
        details["group"] = res.group
    details["kind"] = (kind or res.kind) if (kind or res) else ""
    details["causes"] = causes
    return error(422, f'{qualified} "{name}" is invalid: {body}', "Invalid", details)


def forbidden(user: str, verb: str, res_name: str, group: str, namespace: str | None,
              name: str | None = None) -> ApiError:
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    base = res_name.split("/")[0]
    qualified = f"{base}.{group}" if group else base
    subject = f'{qualified} "{name}"' if name else qualified
    message = (f'{subject} is forbidden: User "{user}" cannot {verb} resource "{res_name}" '
               f'in API group "{group}" {scope}')
    details = {"name": name} if name else {}
    if group:
        details["group"] = group
    details["kind"] = base
    return error(403, message, "Forbidden", details)


def forbidden_message(res: ResourceType, name: str, why: str) -> ApiError:
    return error(403, f"{_named(res, name)} is forbidden: {why}", "Forbidden", _details(res, name))


def bad_request(message: str) -> ApiError:
    return error(400, message, "BadRequest")


def expired(message: str, continue_token: str | None = None) -> ApiError:
    return error(410, message, "Expired", metadata={"continue": continue_token} if continue_token else None)


def too_many_requests(message: str, causes: list[dict] | None = None) -> ApiError:
    return error(429, message, "TooManyRequests", {"causes": causes} if causes else None)


def unsupported_media_type(content_type: str, accepted: tuple[str, ...]) -> ApiError:
    return error(415, f"the body of the request was in an unknown format - accepted media types include: "
                 f"{', '.join(accepted)}", "UnsupportedMediaType")


def method_not_allowed(res: ResourceType | None = None, verb: str = "") -> ApiError:
    details = {"name": "", "kind": res.plural} if res else {}
    return error(405, "the server does not allow this method on the requested resource", "MethodNotAllowed",
                 details)


def unauthorized() -> ApiError:
    return error(401, "Unauthorized", "Unauthorized")


def timeout(message: str) -> ApiError:
    return error(504, message, "Timeout", {"retryAfterSeconds": 1})


def internal(message: str) -> ApiError:
    return error(500, message, "InternalError", {"causes": [{"message": message}]})
