"""The one user-facing error type of the analysis package (the CLI prints it as one line)."""


class AnalysisError(ValueError):
    """Bad or unusable input for analysis; the message names what and where (file, line, column)."""
