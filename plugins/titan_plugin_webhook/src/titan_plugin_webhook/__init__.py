"""Titan-AAS webhook plugin: POSTs every event to HTTP endpoints as a signed CloudEvent.

Receivers written in Python can check requests with `verify_signature` from this package.
"""

from importlib.metadata import PackageNotFoundError, version

from titan_plugin_webhook.signature import (
    SIGNATURE_HEADER,
    SignatureError,
    signature_header,
    verify_signature,
)

try:
    __version__ = version("titan-aas-webhook")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["SIGNATURE_HEADER", "SignatureError", "__version__", "signature_header", "verify_signature"]
