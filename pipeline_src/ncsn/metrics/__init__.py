"""Sample quality: feature extractors, FID/IS through torch-fidelity and clean-fid, reference statistics, selection.

Modules: ``classifier`` (the extractor network the workflow trains on a labelled data set), ``extractors``
(both libraries' views of an extractor), ``fidelity`` (streamed statistics and metrics),
``refstats`` (cached reference statistics), ``selection`` (best checkpoint).
"""
