"""pytest configuration shared by the unit tests and nbval's notebook runs."""


def pytest_collectstart(collector):
    # Notebook cells: compare what a cell prints and returns, not the warnings TensorFlow and
    # transformers write to stderr (they vary by machine and library version).
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr", "text/html", "application/javascript")
