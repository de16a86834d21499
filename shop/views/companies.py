"""Company pages, with their contacts, and the confirmed deletion of a company with its
records."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from accounts.twofactor.action_codes import Action
from accounts.twofactor.stepup import action_confirmation_step
from kernel.capabilities import COMPANIES_CREATE, COMPANIES_DELETE, COMPANIES_EDIT, COMPANIES_VIEW
from kernel.decorators import require_capability
from kernel.views import GET_POST, actor_of, delete_page, form_page, list_page

from .. import selectors, services
from ..forms import CompanyForm, ContactForm
from ._common import CONFIRM_DELETE_TEMPLATE, ShopRequest


def _company_url(pk: int) -> str:
    return reverse("shop:company-detail", args=[pk])


# --- Companies -----------------------------------------------------------------------------


@require_capability(COMPANIES_VIEW)
@require_GET
def company_list(request: ShopRequest) -> HttpResponse:
    return list_page(
        request,
        select=selectors.company_list,
        template="shop/company_list.html",
        sorts=selectors.COMPANY_SORTS,
    )


@require_capability(COMPANIES_CREATE)
@require_http_methods(GET_POST)
def company_create(request: ShopRequest) -> HttpResponse:
    return form_page(
        request,
        form=CompanyForm(request.POST or None),
        save=lambda data: services.company_create(**actor_of(request), **data),
        done=lambda company: f"Company “{company.name}” created.",
        success_url=lambda company: _company_url(company.pk),
        template="shop/company_form.html",
    )


@require_capability(COMPANIES_VIEW)
@require_GET
def company_detail(request: ShopRequest, pk: int) -> HttpResponse:
    viewer = request.membership
    company = selectors.company_get(viewer=viewer, pk=pk)
    return render(
        request,
        "shop/company_detail.html",
        {
            "company": company,
            "contacts": selectors.contact_list(viewer=viewer).filter(company=company),
            "quotes": selectors.quote_list(viewer=viewer).filter(company=company)[:10],
            "orders": selectors.order_list(viewer=viewer).filter(company=company)[:10],
            "invoices": selectors.invoice_list(viewer=viewer).filter(company=company)[:10],
            "files": selectors.file_list(viewer=viewer).filter(company=company)[:10],
        },
    )


@require_capability(COMPANIES_EDIT)
@require_http_methods(GET_POST)
def company_edit(request: ShopRequest, pk: int) -> HttpResponse:
    company = selectors.company_get(viewer=request.membership, pk=pk)
    return form_page(
        request,
        form=CompanyForm(request.POST or None, instance=company),
        save=lambda data: services.company_update(**actor_of(request), company=company, **data),
        done="Company saved.",
        success_url=_company_url(company.pk),
        template="shop/company_form.html",
        context={"company": company},
    )


@require_capability(COMPANIES_DELETE)
@require_http_methods(GET_POST)
def company_delete(request: ShopRequest, pk: int) -> HttpResponse:
    """A company without records is deleted here; one with records is offered the
    confirmed deletion of everything (``company_delete_all``)."""
    company = selectors.company_get(viewer=request.membership, pk=pk)
    if request.method != "POST":
        records = selectors.company_records(viewer=request.membership, company=company)
        return render(
            request,
            "shop/company_confirm_delete.html",
            {
                "company": company,
                "records": records,
                "record_lines": _company_record_lines(records),
                "capabilities_needed": services.company_delete_with_records_capabilities(records),
                "cancel_url": _company_url(company.pk),
            },
        )
    return delete_page(
        request,
        template=CONFIRM_DELETE_TEMPLATE,
        obj=company,
        kind="company",
        delete=lambda: services.company_delete(**actor_of(request), company=company),
        cancel_url=_company_url(company.pk),
        done_url=reverse("shop:company-list"),
        done=f"Company “{company.name}” deleted.",
    )


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


def _company_record_lines(records: selectors.CompanyRecords) -> list[str]:
    """What deleting the company with its records removes, one line per kind present."""
    lines = []
    if records.quotes:
        lines.append(
            _count(records.quotes, "quote", "quotes")
            + f" (with {_count(records.quote_lines, 'line', 'lines')})"
        )
    if records.orders:
        lines.append(_count(records.orders, "order", "orders"))
    if records.invoices:
        lines.append(_count(records.invoices, "invoice", "invoices") + ", paid ones included")
    if records.files:
        lines.append(_count(records.files, "file", "files") + " and their stored contents")
    if records.contacts:
        lines.append(_count(records.contacts, "contact", "contacts"))
    for kind, count in records.declared:  # other business apps' records (tickets, assets)
        if count:
            lines.append(f"{count} {kind.replace('_', ' ')}")
    if records.people:
        lines.append(
            _count(records.people, "person", "people")
            + " of this company lose access to the workspace"
        )
    if records.invitations:
        lines.append(
            _count(records.invitations, "open invitation", "open invitations") + " withdrawn"
        )
    return lines


@require_capability(COMPANIES_DELETE)
@require_http_methods(GET_POST)
def company_delete_all(request: ShopRequest, pk: int) -> HttpResponse:
    """Delete a company with all its records, confirmed with an emailed code."""
    company = selectors.company_get(viewer=request.membership, pk=pk)
    records = selectors.company_records(viewer=request.membership, company=company)
    name = company.name

    def perform(confirmation):
        services.company_delete_with_records(
            **actor_of(request), company=company, confirmation=confirmation
        )
        messages.success(request, f"Company “{name}” and all its records deleted.")
        return redirect("shop:company-list")

    return action_confirmation_step(
        request,
        action=Action.COMPANY_DELETE_WITH_RECORDS,
        target=company,
        title=f"Delete {name} and all its records",
        consequences=[
            f"The company “{name}” is deleted.",
            *_company_record_lines(records),
            "Each deleted record is recorded in the audit log.",
        ],
        confirm_label="Delete company and all its records",
        cancel_url=_company_url(company.pk),
        perform=perform,
    )


# --- Contacts ------------------------------------------------------------------------------


@require_capability(COMPANIES_EDIT)
@require_http_methods(GET_POST)
def contact_create(request: ShopRequest, pk: int) -> HttpResponse:
    company = selectors.company_get(viewer=request.membership, pk=pk)
    return form_page(
        request,
        form=ContactForm(request.POST or None),
        save=lambda data: services.contact_create(**actor_of(request), company=company, **data),
        done="Contact added.",
        success_url=_company_url(company.pk),
        template="shop/contact_form.html",
        context={"company": company},
    )


@require_capability(COMPANIES_EDIT)
@require_http_methods(GET_POST)
def contact_edit(request: ShopRequest, pk: int) -> HttpResponse:
    contact = selectors.contact_get(viewer=request.membership, pk=pk)
    return form_page(
        request,
        form=ContactForm(request.POST or None, instance=contact),
        save=lambda data: services.contact_update(**actor_of(request), contact=contact, **data),
        done="Contact saved.",
        success_url=_company_url(contact.company_id),
        template="shop/contact_form.html",
        context={"company": contact.company, "contact": contact},
    )


@require_capability(COMPANIES_EDIT)
@require_http_methods(GET_POST)
def contact_delete(request: ShopRequest, pk: int) -> HttpResponse:
    contact = selectors.contact_get(viewer=request.membership, pk=pk)
    company_url = _company_url(contact.company_id)
    return delete_page(
        request,
        template=CONFIRM_DELETE_TEMPLATE,
        obj=contact,
        kind="contact",
        delete=lambda: services.contact_delete(**actor_of(request), contact=contact),
        cancel_url=company_url,
        done_url=company_url,
        done=f"Contact “{contact.name}” removed.",
    )
