from django.apps import AppConfig


class DeskConfig(AppConfig):
    """The service desk plugs into the floors around it by these declarations
    (kernel.plugins); it imports no other business app."""

    name = "desk"

    audited_models = "__all__"
    not_audited = {
        "ticketsequence": "the ticket-number counter; the tickets are audited",
        "ticketmessage": "the service writes desk.ticket.reply_posted / note_posted itself",
        "ticketattachment": "the service writes desk.ticket.attachment_added itself",
        "slaoverride": "the service writes desk.sla.overridden (reason, before -> after) itself",
        "slapause": "opened and closed by desk.ticket.status_changed, which the service writes",
    }
    demo_seeder = "desk.demo.seed_demo_records"
    export_file_key_fields = {"ticketattachment": ("storage_key",)}
    company_records = "desk.companies.COMPANY_RECORDS"
