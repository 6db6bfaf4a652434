"""TLS: certificates chosen by SNI, shared session-ticket keys, ACME."""
