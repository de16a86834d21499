"""The desk's pages: staff under desk/, the customer portal under portal/. Each view
declares its capability in ``desk/views/``."""

from django.urls import path

from .views import assets, portal, staff

app_name = "desk"

urlpatterns = [
    # Staff
    path("desk/", staff.ticket_list, name="ticket-list"),
    path("desk/new/", staff.ticket_create, name="ticket-create"),
    path("desk/bulk/", staff.ticket_bulk, name="ticket-bulk"),
    path("desk/dashboard/", staff.dashboard, name="dashboard"),
    path("desk/sla/", staff.sla_policy, name="sla-policy"),
    path("desk/tickets/<int:pk>/", staff.ticket_detail, name="ticket-detail"),
    path("desk/tickets/<int:pk>/edit/", staff.ticket_edit, name="ticket-edit"),
    path("desk/tickets/<int:pk>/reply/", staff.ticket_reply, name="ticket-reply"),
    path("desk/tickets/<int:pk>/status/", staff.ticket_status, name="ticket-status"),
    path("desk/tickets/<int:pk>/assign/", staff.ticket_assign, name="ticket-assign"),
    path("desk/tickets/<int:pk>/merge/", staff.ticket_merge, name="ticket-merge"),
    path("desk/tickets/<int:pk>/sla/", staff.ticket_sla_override, name="ticket-sla-override"),
    path(
        "desk/attachments/<int:pk>/download/",
        staff.attachment_download,
        name="attachment-download",
    ),
    path("desk/assets/", assets.asset_list, name="asset-list"),
    path("desk/assets/new/", assets.asset_create, name="asset-create"),
    path("desk/assets/<int:pk>/", assets.asset_detail, name="asset-detail"),
    path("desk/assets/<int:pk>/edit/", assets.asset_edit, name="asset-edit"),
    path("desk/assets/<int:pk>/delete/", assets.asset_delete, name="asset-delete"),
    # The customer portal
    path("portal/requests/", portal.request_list, name="request-list"),
    path("portal/requests/new/", portal.request_create, name="request-create"),
    path("portal/requests/<int:pk>/", portal.request_detail, name="request-detail"),
    path("portal/requests/<int:pk>/reply/", portal.request_reply, name="request-reply"),
    path("portal/requests/<int:pk>/solved/", portal.request_solved, name="request-solved"),
    path("portal/requests/<int:pk>/reopen/", portal.request_reopen, name="request-reopen"),
    path(
        "portal/attachments/<int:pk>/download/",
        portal.request_attachment_download,
        name="request-attachment-download",
    ),
    path("portal/export/", portal.portal_export, name="portal-export"),
    path("portal/assets/", portal.portal_asset_list, name="portal-asset-list"),
    path("portal/assets/<int:pk>/", portal.portal_asset_detail, name="portal-asset-detail"),
]
