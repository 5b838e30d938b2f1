"""Sample quality: feature extractors, FID/IS through torch-fidelity and clean-fid, reference statistics, selection.

Modules: ``digits_classifier`` (the embedded default's extractor network), ``extractors``
(both libraries' views of an extractor), ``fidelity`` (streamed statistics and metrics),
``refstats`` (cached reference statistics), ``selection`` (best checkpoint).
"""
