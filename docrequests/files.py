"""Accepted uploads among the company's files, across the sibling-app wall.

Document requests and the shop are business apps on the same floor: neither imports the
other (``make lint``). The link is kept here, on ``Upload.stored_file_id`` (a plain id, like
``company_id``), and each side reaches the other through a declaration (kernel.plugins):

- the shop declares ``company_files``: ``add(...)`` puts bytes the caller already stored
  among a company's files and returns the file's id, ``remove(id)`` takes it out again,
  ``describe(ids)`` names the files that still exist with their page;
- this app declares ``file_sources``: ``sources(file_ids)`` tells the shop's file pages
  which request item a file came from (``FILE_SOURCES`` below).

Invariant: an upload has a ``stored_file_id`` only while its item is accepted; rejecting the
item removes the company's copy, and a replacement uploaded afterwards gets its own copy when
it is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from django.urls import reverse

from kernel.plugins import declared_one

from .models import Upload


class CompanyFileInfo(Protocol):
    name: str
    url: str


class CompanyFiles(Protocol):
    def add(
        self,
        *,
        company_id: int,
        storage_key: str,
        filename: str,
        content_type: str,
        extension: str,
        size: int,
        sha256: str,
    ) -> int: ...

    def remove(self, file_id: int) -> bool: ...

    def describe(self, ids: set[int]) -> dict[int, CompanyFileInfo]: ...


def company_files() -> CompanyFiles | None:
    """The app keeping company files, or None when no installed app declares it (then an
    accepted upload stays only on its request)."""
    return declared_one("company_files")


def files_described(ids: Iterable[int | None]) -> dict[int, CompanyFileInfo]:
    provider = company_files()
    wanted = {pk for pk in ids if pk is not None}
    return provider.describe(wanted) if provider is not None and wanted else {}


@dataclass(frozen=True)
class FileSource:
    label: str
    url: str


class DocRequestFileSources:
    def sources(self, file_ids: set[int]) -> dict[int, FileSource]:
        """Which request item each of ``file_ids`` was accepted for (the current schema)."""
        found: dict[int, FileSource] = {}
        uploads = Upload.objects.filter(stored_file_id__in=file_ids).select_related("item__request")
        for upload in uploads:
            document_request = upload.item.request
            found[upload.stored_file_id] = FileSource(  # type: ignore[index]
                label=f"Document request “{document_request.title}”: {upload.item.description}",
                url=reverse("docrequests:detail", kwargs={"pk": document_request.pk}),
            )
        return found


FILE_SOURCES = DocRequestFileSources()
