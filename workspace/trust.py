"""What the public trust center says: the security pillars, the compliance roadmap, the FAQ.

Invariant: each pillar says only what the product does today (docs/security-model.md, README),
names where a customer checks it inside their own workspace (``checks``: paths on the
workspace host) and links to the workspace's "Verify it yourself" page (``VERIFY_PATH``).
Something not built yet is said to be not built. The page renders this tuple, and
``workspace/tests/test_trust_center.py`` checks every pillar has its section and its link.
"""

from __future__ import annotations

from dataclasses import dataclass

# The "Verify it yourself" page on every workspace host (issue #19, part C: workspace:verify).
# Public pages cannot reverse a workspace URL, so it is written as a path.
VERIFY_PATH = "/settings/verify/"


@dataclass(frozen=True)
class Pillar:
    slug: str  # the section's id on /security/
    title: str
    what_we_do: tuple[str, ...]
    how_to_verify: str
    checks: tuple[tuple[str, str], ...] = ()  # (label, path on your workspace's host)
    not_yet: str = ""  # what is not built, said plainly


PILLARS: tuple[Pillar, ...] = (
    Pillar(
        "isolation",
        "Workspace isolation",
        (
            "Every workspace has its own address and its own PostgreSQL schema.",
            "One server-side gate resolves the workspace from the address and checks your "
            "membership on every request; someone from another workspace gets the same "
            "'not found' as for something that does not exist.",
            "Inside the database, each request runs as a per-workspace role under row-level "
            "security, so even a bug in a query cannot read another workspace's rows.",
            "Sessions are host-only cookies: a session at one workspace's address is worthless "
            "at another's.",
        ),
        "Sign in at your workspace's address, then open another workspace's address in the "
        "same browser: you are asked to sign in again. Links to your records opened by "
        "someone outside your workspace show 'not found'.",
    ),
    Pillar(
        "roles",
        "Roles and permissions",
        (
            "Each member has one role (owner, admin, manager, sales, designer, installer, "
            "accountant, employee, expert; customers are bound to one company).",
            "Every page and API endpoint declares the permission it needs, and services check "
            "again, so a hidden button is never the only protection.",
        ),
        "Your members page lists every member and role; the roles page shows exactly what "
        "each role may do.",
        (("Members", "/settings/members/"), ("Roles", "/settings/roles/")),
    ),
    Pillar(
        "audit",
        "Tamper-evident audit log",
        (
            "Sign-ins, permission changes, exports, deletions and record changes are written to "
            "an append-only audit stream; PostgreSQL itself refuses updates and deletes.",
            "Events are chained with a keyed hash under a key the database never holds, and "
            "signed digests of every stream's head are stored outside the database every hour.",
        ),
        "Owners open the audit log, download the signed digests and check an export offline "
        "with the public key published below.",
        (("Audit log", "/settings/audit/"),),
    ),
    Pillar(
        "two-factor",
        "Two-factor authentication",
        (
            "Every member can enrol an authenticator app (TOTP); recovery codes are stored only "
            "as hashes and authenticator seeds are encrypted at rest.",
            "Owners can require two-factor authentication for every member of the workspace.",
            "Platform support staff cannot open the support console without it.",
        ),
        "The two-factor settings show whether the requirement is on; each member's own "
        "security page shows their enrolment.",
        (("Two-factor requirement", "/settings/two-factor/"),),
    ),
    Pillar(
        "support-access",
        "Support access",
        (
            "Our staff see billing-level figures only. To look inside your workspace they need "
            "a time-limited grant from an owner (read-only unless you allow writing).",
            "Every support session shows a banner, and every request made in it is audited "
            "against the agent's own account. Owners can switch support access off.",
        ),
        "The support settings page lists grants; the audit log lists every support session "
        "and each request made in it.",
        (("Support access", "/settings/support/"), ("Audit log", "/settings/audit/")),
    ),
    Pillar(
        "export-deletion",
        "Export and deletion",
        (
            "Owners export the whole workspace at any time as structured JSON with its files, "
            "hashed so the archive can be checked.",
            "Cancelling keeps the workspace read-only for 30 days to export, then archived for "
            "60 days, then permanently deleted: the schema and the files go, and the platform "
            "keeps only a receipt. Owners can also ask for immediate deletion.",
        ),
        "Start an export from the exports page and download it; the workspace settings show "
        "cancellation and deletion with their dates.",
        (("Exports", "/settings/exports/"), ("Workspace settings", "/settings/")),
    ),
    Pillar(
        "encryption",
        "Encryption in transit and at rest",
        (
            "In transit: pages are served over HTTPS only (HSTS), and production refuses to "
            "start if its connections to PostgreSQL or Redis over a network would not be "
            "encrypted.",
            "At rest: passwords are argon2id hashes; authenticator seeds are encrypted under "
            "keys from the environment; API tokens, document-request links and recovery codes "
            "are stored only as hashes; tasks held while the broker is down are encrypted.",
            "Business records and files are not encrypted by the application itself: they "
            "rely on the encryption of the database disks and the object storage service.",
        ),
        "Your browser shows the HTTPS certificate of your workspace's address; the sub-"
        "processor list names the storage and hosting providers.",
    ),
    Pillar(
        "backups",
        "Backups",
        ("Your own export is always available (see 'Export and deletion').",),
        "Until restore tests exist, the verify page says so rather than showing a result.",
        not_yet=(
            "Scheduled database backups with a tested restore drill are not built yet. We will "
            "publish the restore test's date on the verify page when they are."
        ),
    ),
    Pillar(
        "secrets",
        "Secrets",
        (
            "Every secret (the application key, the audit chain and signing keys, the "
            "authenticator seed keys, database and email credentials) comes from the "
            "environment; production refuses to start when one is missing.",
            "Web processes never hold the database owner's credentials, and logs never "
            "contain passwords, codes, tokens or links.",
        ),
        "Your personal API tokens page shows only each token's prefix; a token is shown "
        "once, when it is made.",
        (("API tokens", "/settings/api-tokens/"),),
    ),
    Pillar(
        "document-links",
        "Document request links",
        (
            "A client without an account reaches one document request only, through a random "
            "link stored as a hash, with an emailed code by default; the link expires and can "
            "be revoked.",
            "Uploads are private, checked by type and size, and accepted by a member before "
            "they join the company's files.",
        ),
        "The document requests page lists every live link with its expiry; revoking one ends "
        "it at once.",
        (("Document requests", "/docrequests/"),),
    ),
)

ROADMAP: tuple[tuple[str, str], ...] = (
    ("Today", "The controls above, each checkable in your workspace. No certification yet."),
    (
        "Next",
        "Scheduled backups with a tested restore drill; a public status page and incident "
        "notices by email and in the product.",
    ),
    (
        "Later",
        "An independent penetration test, with its summary published here, then a SOC 2 "
        "Type I report. We will not claim either before we have it.",
    ),
)

FAQ: tuple[tuple[str, str], ...] = (
    (
        "Can your staff read my data?",
        "Not without an owner's grant. Support sees billing-level figures only; a grant is "
        "time-limited, and every support session is audited in your workspace.",
    ),
    (
        "Where is my data stored?",
        "In the database and object storage of the deployment you sign up to; the "
        "sub-processor list names the vendors and their regions.",
    ),
    (
        "How do I get all my data out?",
        "An owner starts an export at any time and downloads a structured JSON archive with "
        "the files. A cancelled workspace keeps export for 30 days.",
    ),
    (
        "Will you tell me about a change of sub-processors?",
        "Yes: owners are emailed when a change is published, and workspaces on annual plans "
        "at least 30 days before it takes effect.",
    ),
    (
        "How do I report a vulnerability?",
        "Write to the security address on the disclosure page. We answer within 24 business "
        "hours and take no legal action against good-faith research.",
    ),
)
