"""The report: our results and timing tables beside the papers' published numbers, as Markdown, CSV and LaTeX.

One job per module: :mod:`ncsn.report.tables` (our rows from the workflow's records and benchmark
files, and the tables with the published rows), :mod:`ncsn.report.published` (the papers' numbers,
read from ``published.yaml`` with each number's source), :mod:`ncsn.report.render` (text and files).
The statistics over seeds live with the other statistics in :mod:`ncsn.comparisons`.
"""
