"""Benchmarks: they measure, return rows and :class:`~ecgtrace.bench.table.Table` s, and leave
printing to the CLI.

* :mod:`~ecgtrace.bench.crops`: single-lead crops through the shipped lead-box segmenter.
* :mod:`~ecgtrace.bench.pages`, :mod:`~ecgtrace.bench.page_sources`,
  :mod:`~ecgtrace.bench.page_summary`: whole pages, scored as the Challenge scores a record.
* :mod:`~ecgtrace.bench.grid`, :mod:`~ecgtrace.bench.grid_summary`,
  :mod:`~ecgtrace.bench.scans`: the grid detector.
* :mod:`~ecgtrace.bench.ecgtizer`, :mod:`~ecgtrace.bench.ecgtizer_crops`: the ECGtizer PDFs
  (a foreign renderer) and the truth of their lead crops.
* :mod:`~ecgtrace.bench.speed`: rendering, U-Net and page timings.
* :mod:`~ecgtrace.bench.table`: the one table type.
"""
