"""The browser fixtures for the end-to-end tests (``pytest_plugins`` belongs in the root conftest only)."""
from tests.e2e.browser import browser, page  # noqa: F401
