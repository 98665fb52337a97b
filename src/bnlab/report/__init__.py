"""The report: tables, the claims audit, findings and the rendered Markdown."""
