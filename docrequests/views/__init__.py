"""Document requests' pages: ``staff`` (members, capability-gated) and ``client`` (the link,
no account)."""
