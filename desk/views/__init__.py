"""The desk's pages: the staff desk (``staff``), the customer portal (``portal``), assets
(``assets``). Every view declares its capability, reads through the selectors and writes
through the services; the portal's pages never show an internal note or an override reason."""
