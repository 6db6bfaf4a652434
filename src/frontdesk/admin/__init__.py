"""What operators look at: per-worker counters (metrics.py), their Prometheus form in
the master (prometheus.py), the status page (page.py, assets/), the admin API's
OpenAPI document (openapi.json) and `frontdesk explain` (explain.py)."""
