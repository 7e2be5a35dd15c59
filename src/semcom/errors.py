"""One exception type for bad input: the CLI turns it into a one-line message and exit code 2."""


class SemcomError(ValueError):
    """Bad input or an impossible request, with a message that names the problem."""
