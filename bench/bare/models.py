from django.db import models


class BareCompany(models.Model):
    """The same columns the shop's company list shows, in a plain table of the public schema."""

    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "bench_bare_company"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
