"""The API's request and response bodies (pydantic, via ninja): the OpenAPI document's
components. Lengths mirror the models', so the document tells clients what the services
will refuse; the services still check everything."""

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import Field

Priority = Literal["low", "normal", "high", "urgent"]


class ProblemField(Schema):
    field: str
    message: str


class Problem(Schema):
    """An RFC 9457 problem document (``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ProblemField] | None = None


class Company(Schema):
    id: int
    name: str
    email: str
    phone: str
    billing_address: str
    site_address: str
    notes: str
    created_at: datetime


class CompanyIn(Schema):
    name: str = Field(max_length=200)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=40)
    billing_address: str = Field("", max_length=1000)
    site_address: str = Field("", max_length=1000)
    notes: str = Field("", max_length=10000)


class CompanyPage(Schema):
    items: list[Company]
    next_cursor: str | None


class Sla(Schema):
    """Both targets' states: on_track, at_risk, breached, paused, met."""

    first_response: str
    resolution: str
    overall: str
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None


class Ticket(Schema):
    id: int
    number: str
    subject: str
    description: str
    status: str
    priority: str
    category: str
    company_id: int
    requester_name: str
    assignee_id: int | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    sla: Sla


class TicketPage(Schema):
    items: list[Ticket]
    next_cursor: str | None


class TicketIn(Schema):
    """A ticket opened by staff on behalf of a company's contact."""

    company_id: int
    subject: str = Field(max_length=200)
    description: str = Field(max_length=20000)
    priority: Priority = "normal"
    category: str = Field("", max_length=80)
    requester_name: str = Field(max_length=150)
    requester_email: str = Field("", max_length=254)


class RequestIn(Schema):
    """A request a customer submits for their own company."""

    subject: str = Field(max_length=200)
    description: str = Field(max_length=20000)
    priority: Priority = "normal"
    category: str = Field("", max_length=80)


class Message(Schema):
    id: int
    kind: str
    author_name: str
    from_customer: bool
    body: str
    created_at: datetime


class MessageIn(Schema):
    body: str = Field(max_length=20000)
    internal: bool = False


class Member(Schema):
    id: int
    email: str
    full_name: str
    role: str
    company_id: int | None
    created_at: datetime


class MemberPage(Schema):
    items: list[Member]
    next_cursor: str | None
