"""semcom: semantic communication on one correct channel core."""

from semcom.errors import SemcomError

__version__ = "0.1.0"
__all__ = ["SemcomError", "__version__"]
