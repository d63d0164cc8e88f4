"""The web side: the live board now; the agent screen and the supervisor's actions grow from it.

* :mod:`.site` — ``build_site(...)``: resources, security headers, connection tracking
* :mod:`.service` — ``WebService``: listens where the config says, stops cleanly
* :mod:`.feed` — domain events to pages: SSE fan-out, last calls, alerts
* :mod:`.sse` — the Server-Sent Events wire format and a memory-bounded broadcaster
* :mod:`.snapshot` — the board's data, and the masking every copy goes through
* :mod:`.render` / :mod:`.markup` — server-side HTML, escaped by construction
* :mod:`.i18n` — zh-CN (default) and English catalogs, language choice
* ``static/`` — plain ES modules and CSS, no build step
"""
