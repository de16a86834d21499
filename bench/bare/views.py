"""One view and its URL: page 1 of the companies, 25 rows, the shop list's query shape."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import path

from .models import BareCompany

PAGE_SIZE = 25  # the shop's list page size


def company_list(request):
    page = Paginator(BareCompany.objects.order_by("name"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "bare/company_list.html", {"page_obj": page})


urlpatterns = [path("companies/", company_list, name="company-list")]
