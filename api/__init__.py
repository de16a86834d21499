"""The public JSON API (``/api/v1/`` on every workspace host) and personal API tokens.

Why django-ninja. It builds the OpenAPI 3.1 document natively from the type hints of the
endpoints (pydantic models), so the contract cannot drift from the code, and its operations
are plain functions that call our services and selectors like a view does. DRF with
drf-spectacular would also work, but brings a second request/permission/throttle framework
next to ours (DRF's authentication classes, permission classes and throttles) which we would
have to switch off piece by piece; ninja has almost nothing of that kind to switch off.

Invariants:

* Every call carries a workspace and a person: the host names the workspace (the gate's
  tenant middleware), the bearer token names one member of it (``api.gate``). No session or
  cookie is read, so there is nothing for CSRF to forge, and no CORS header is ever sent.
* Every operation declares the capability it needs (``api.gate.endpoint``); the suite fails
  on one that does not. What a token may do is computed at each request: its scopes
  intersected with the member's capabilities as stored now, narrowed by the workspace's
  lifecycle state (a cancelled workspace reads only).
* Writes go through the same services as the pages (shop.services, desk.services), so
  validation, lifecycle, customer-company narrowing and audit events are identical; the
  audit context names the person, actor kind ``api_token`` and the token's id.
* Errors are RFC 9457 problem documents (``application/problem+json``).

Floor: above the business apps (shop, desk), below workspace.
"""
