"""AAS meta-model glue: identifiers, idShortPaths, element navigation, projections and verification.

Import from the submodules (`titan_core.model.elements`, `.paths`, ...): each is the one place for its job.
"""
