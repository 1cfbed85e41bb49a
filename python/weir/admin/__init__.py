"""The management HTTP API (JSON), off the hot path: key owners under `/v1/account` with a management key, operators
under `/admin/v1` with an admin token. Handlers parse the request, call the service layer (weir.service) and render
its views; errors are OpenAI-shaped (http.py); routes.py is the table. README "Management API" lists every endpoint.

This package's face imports nothing: the CLI reads tokens.py without loading the web stack (whose metrics must not
be imported before `weir serve` has chosen their multi-process directory)."""
