from django.apps import AppConfig


class RbacConfig(AppConfig):
    name = "rbac"
    verbose_name = "Roles and memberships"

    # Answers accounts' membership questions (accounts.memberships, kernel.plugins).
    account_memberships = "rbac.membership_questions.ACCOUNT_MEMBERSHIPS"
