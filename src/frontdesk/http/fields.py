"""Request field names as clients commonly spell them (pure data).

A name found here exactly as sent is known without a lower-cased copy: the server and
the proxy test it with one set lookup and pass the field by, where any other name (in
any case) is lower-cased and compared. Browsers, curl and proxies spell them so;
HTTP/2-era clients send them in lower case, so both spellings are here.
"""

from __future__ import annotations

COMMON_REQUEST_FIELDS = frozenset(
    spelling
    for name in (
        b"Accept",
        b"Accept-Charset",
        b"Accept-Encoding",
        b"Accept-Language",
        b"Authorization",
        b"Cache-Control",
        b"Connection",
        b"Content-Type",
        b"Cookie",
        b"DNT",
        b"Forwarded",
        b"If-Match",
        b"If-Modified-Since",
        b"If-None-Match",
        b"If-Range",
        b"If-Unmodified-Since",
        b"Keep-Alive",
        b"Origin",
        b"Pragma",
        b"Priority",
        b"Range",
        b"Referer",
        b"Sec-Ch-Ua",
        b"Sec-Ch-Ua-Mobile",
        b"Sec-Ch-Ua-Platform",
        b"Sec-Fetch-Dest",
        b"Sec-Fetch-Mode",
        b"Sec-Fetch-Site",
        b"Sec-Fetch-User",
        b"TE",
        b"Upgrade-Insecure-Requests",
        b"User-Agent",
        b"Via",
        b"X-Forwarded-For",
        b"X-Forwarded-Host",
        b"X-Forwarded-Proto",
        b"X-Real-IP",
        b"X-Request-ID",
        b"X-Requested-With",
    )
    for spelling in (name, name.lower())
)
