from django.apps import AppConfig


class DocRequestsConfig(AppConfig):
    """Document requests plug into the floors around them by these declarations
    (kernel.plugins); the app imports no other business app."""

    name = "docrequests"

    audited_models = "__all__"
    # Every change is a named action that docrequests.services audits itself, naming the
    # request, the client's verified address and the issuing member; row snapshots would add
    # the token's hash and the code's hash to the stream and nothing a reader needs.
    not_audited = {
        "documentrequest": "the services write docrequests.request.* themselves",
        "requestitem": "the services write docrequests.item.* themselves",
        "upload": "the service writes docrequests.item.uploaded itself",
        "linkcode": "only a hash; the services write docrequests.code.* themselves",
    }
    export_file_key_fields = {"upload": ("storage_key",)}
    demo_seeder = "docrequests.demo.seed_demo_records"
    company_records = "docrequests.companies.COMPANY_RECORDS"
    file_sources = "docrequests.files.FILE_SOURCES"
