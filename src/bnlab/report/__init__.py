"""The report stage: tables, the claims audit, findings written from measured values, and the rendered report."""
