"""Data-quality gates: great-expectations suites over micro-batches of the pipeline's topics.

``frames`` flattens record bytes into a table (no great-expectations import), ``suites`` builds
the expectation suites, ``validate`` runs them and maps failures back to records, ``agent``
wires the faust agents and ``report`` writes Data Docs over a sample. great-expectations takes
seconds to import, so nothing here imports it until a batch is validated.
"""
