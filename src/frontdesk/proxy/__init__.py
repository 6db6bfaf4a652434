"""The reverse proxy: forward a route's requests to a pool of backend servers."""
