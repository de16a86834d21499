"""Document requests: the staff pages under docrequests/, the client's link pages under r/
(no account; each declares PUBLIC and its rate limits in ``views/client.py``)."""

from django.urls import path

from .views import client, staff

app_name = "docrequests"

urlpatterns = [
    path("docrequests/", staff.request_list, name="list"),
    path("docrequests/new/", staff.request_create, name="create"),
    path("docrequests/<int:pk>/", staff.request_detail, name="detail"),
    path("docrequests/<int:pk>/resend/", staff.request_resend, name="resend"),
    path("docrequests/<int:pk>/extend/", staff.request_extend, name="extend"),
    path("docrequests/<int:pk>/revoke/", staff.request_revoke, name="revoke"),
    path("docrequests/items/<int:pk>/review/", staff.item_review, name="item-review"),
    path("docrequests/uploads/<int:pk>/download/", staff.upload_download, name="upload-download"),
    # The client's side: the link sets a session bound to the request and redirects to r/.
    path("r/", client.checklist, name="checklist"),
    path("r/code/", client.code_step, name="code"),
    path("r/items/<int:pk>/upload/", client.item_upload, name="item-upload"),
    path("r/<str:token>/", client.link_open, name="link-open"),
]
