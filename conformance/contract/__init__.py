"""The contract: the vendored OpenAPI 3.1 document, its overlay profiles, its validators.

Owns loading and checking the document (``_spec``), the OpenAPI Overlay that makes the
``openai`` profile (``_overlay``), and validation that reports every violation with its JSON
path and a pointer into the document (``_validation``).

May import: ``conformance._errors``, ``conformance.checks._model``, ``conformance._version`` only.
"""
