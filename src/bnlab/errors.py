"""Errors that stop a job with one line naming the bad input (the CLI prints them without a traceback)."""


class BnlabError(Exception):
    """Bad input from the user: a config key, a data file, a name."""


class ConfigError(BnlabError):
    pass


class DataError(BnlabError):
    pass


class AnalysisError(BnlabError):
    pass


class RunFolderError(BnlabError):
    """A run folder lacks a file a reader needs (an unfinished or foreign run)."""
