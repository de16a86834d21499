from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The top floor: the gate, the lifecycle, workspace settings, sign-up, the public pages
    and demo seeding. It composes the floors below and owns no tables of its own."""

    name = "workspace"
    verbose_name = "Workspace"
    # kernel.plugins: the support console (a floor below) restores a cancelled or archived
    # workspace through this service, found by this declaration rather than by an import.
    workspace_restore = "workspace.lifecycle.workspace_restore"
