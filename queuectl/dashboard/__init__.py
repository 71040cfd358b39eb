"""The web dashboard (SPEC §5): an HTML page, a JSON API described by OpenAPI, and
Prometheus metrics, served by the standard library's threaded HTTP server.

``server.py`` is the HTTP layer (routing, responses, errors), ``auth.py`` decides who may
ask (the Host check, the token and login sessions, CSRF), ``connections.py`` bounds the
connections and how long a request may take, ``stores.py`` keeps open stores between
requests, ``api.py`` shapes the JSON from the service layer, ``metrics.py`` writes the
Prometheus text, ``openapi.py`` describes the API, and ``static/`` holds the page (HTML, CSS
and JavaScript, no CDN).
"""
