"""Views of a finished job: the summary table and report.html."""
