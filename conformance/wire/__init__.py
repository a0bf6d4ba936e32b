"""The wire to an endpoint: send one chat-completions request, record what came back.

Owns the HTTP client (``_client``) and the reading of one response (``_reader``: status,
headers, body or event stream, ``_decoding`` of Content-Encoding, ``_sse`` framing), the
recorded evidence (``_exchange``) with secrets redacted as it is recorded (``_redact``), and
the politeness rules of a run: retries and waits (``_retry``), ``--rate-limit`` (``_ratelimit``),
timeouts (``_timeouts``), the durations users write (``_units``), when an answer's parts
arrived and the latency figures of a run (``_latency``), and text an endpoint controls made
safe to show (``_visible``).

May import: ``conformance._errors``, ``conformance.checks._model``, ``conformance._version`` only.
Knows nothing of the contract, the checks, pytest, HTML, click or the server.
"""
