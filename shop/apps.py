from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The shop plugs into the floors around it by these declarations (kernel.plugins)."""

    name = "shop"

    audited_models = "__all__"
    not_audited = {
        "numbersequence": "the document-number counter; the documents are audited",
    }
    demo_seeder = "shop.demo.seed_demo_records"
    customer_companies = "shop.companies.CUSTOMER_COMPANIES"
    company_files = "shop.companies.COMPANY_FILES"
    export_file_key_fields = {"storedfile": ("storage_key",)}
