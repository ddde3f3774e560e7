"""Pure event types, below the store: a `Change`, its CloudEvents envelope, the envelope's schema and the
Event Feed's type names. No I/O: the store builds envelopes from these inside its write transaction.
"""
