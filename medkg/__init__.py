"""medkg: knowledge-graph-grounded medical question answering and clinical-text annotation."""

from medkg.errors import MedkgError

__version__ = "0.1.0"
__all__ = ["MedkgError", "__version__"]
