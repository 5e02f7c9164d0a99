"""The HTML report and the local web viewer over the log; both read the store and never write it."""
from hanprompt.report.build import build_report, write_report

__all__ = ["build_report", "write_report"]
