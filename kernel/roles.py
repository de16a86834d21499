"""The eleven workspace roles. Names only; what each may do lives in ``capabilities.py``."""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "Manager"
    SALES = "sales", "Sales"
    DESIGNER = "designer", "Designer"
    INSTALLER = "installer", "Installer"
    ACCOUNTANT = "accountant", "Accountant"
    EMPLOYEE = "employee", "Employee"
    EXPERT = "expert", "Expert"
    CUSTOMER = "customer", "Customer"
    COMPANY_ADMIN = "company_admin", "Company administrator"


STAFF_ROLES = (
    Role.OWNER,
    Role.ADMIN,
    Role.MANAGER,
    Role.SALES,
    Role.DESIGNER,
    Role.INSTALLER,
    Role.ACCOUNTANT,
    Role.EMPLOYEE,
    Role.EXPERT,
)
CUSTOMER_ROLES = (Role.CUSTOMER, Role.COMPANY_ADMIN)
