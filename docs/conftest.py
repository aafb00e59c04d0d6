"""pytest collects doctests under docs/; the example scripts are run by tests/unit/test_docs_examples.py."""

collect_ignore_glob = ["examples/*.py"]
