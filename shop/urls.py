"""The shop's workspace pages. Each view declares its capability in ``shop/views/``."""

from django.urls import path

from . import views

app_name = "shop"

urlpatterns = [
    path("", views.home, name="home"),
    # Companies and their contacts
    path("companies/", views.company_list, name="company-list"),
    path("companies/new/", views.company_create, name="company-create"),
    path("companies/<int:pk>/", views.company_detail, name="company-detail"),
    path("companies/<int:pk>/edit/", views.company_edit, name="company-edit"),
    path("companies/<int:pk>/delete/", views.company_delete, name="company-delete"),
    path("companies/<int:pk>/delete-all/", views.company_delete_all, name="company-delete-all"),
    path("companies/<int:pk>/contacts/new/", views.contact_create, name="contact-create"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact-edit"),
    path("contacts/<int:pk>/delete/", views.contact_delete, name="contact-delete"),
    # Quotes
    path("quotes/", views.quote_list, name="quote-list"),
    path("quotes/new/", views.quote_create, name="quote-create"),
    path("quotes/<int:pk>/", views.quote_detail, name="quote-detail"),
    path("quotes/<int:pk>/edit/", views.quote_edit, name="quote-edit"),
    path("quotes/<int:pk>/delete/", views.quote_delete, name="quote-delete"),
    path("quotes/<int:pk>/send/", views.quote_send, name="quote-send"),
    path("quotes/<int:pk>/accept/", views.quote_accept, name="quote-accept"),
    path("quotes/<int:pk>/decline/", views.quote_decline, name="quote-decline"),
    path(
        "quotes/<int:pk>/record-acceptance/",
        views.quote_mark_accepted,
        name="quote-mark-accepted",
    ),
    path("quotes/<int:pk>/record-decline/", views.quote_mark_declined, name="quote-mark-declined"),
    # Orders (created from an accepted quote)
    path("quotes/<int:pk>/order/", views.order_create, name="order-create"),
    path("orders/", views.order_list, name="order-list"),
    path("orders/<int:pk>/", views.order_detail, name="order-detail"),
    path("orders/<int:pk>/edit/", views.order_edit, name="order-edit"),
    path("orders/<int:pk>/status/", views.order_status, name="order-status"),
    path("orders/<int:pk>/delete/", views.order_delete, name="order-delete"),
    # Invoices (created from an order)
    path("orders/<int:pk>/invoice/", views.invoice_create, name="invoice-create"),
    path("invoices/", views.invoice_list, name="invoice-list"),
    path("invoices/<int:pk>/", views.invoice_detail, name="invoice-detail"),
    path("invoices/<int:pk>/edit/", views.invoice_edit, name="invoice-edit"),
    path("invoices/<int:pk>/pay/", views.invoice_pay, name="invoice-pay"),
    path("invoices/<int:pk>/void/", views.invoice_void, name="invoice-void"),
    path("invoices/<int:pk>/delete/", views.invoice_delete, name="invoice-delete"),
    # Files
    path("files/", views.file_list, name="file-list"),
    path("files/upload/", views.file_upload, name="file-upload"),
    path("files/<int:pk>/", views.file_detail, name="file-detail"),
    path("files/<int:pk>/download/", views.file_download, name="file-download"),
    path("files/<int:pk>/delete/", views.file_delete, name="file-delete"),
]
