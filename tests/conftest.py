"""Test-suite settings and shared fixtures.

Installed plugins never load in-process during tests (``sys._called_from_test``); the fixtures
name the checks the core registers, to turn them all off where a test is about conversion only.
"""

from __future__ import annotations

import sys

import pytest


def pytest_configure(config):
    """Tell converter that it runs under pytest: entry points are not autoloaded."""
    sys._called_from_test = True


@pytest.fixture(scope="session")
def check_names() -> list[str]:
    """Every translator-check registered without third-party plugins."""
    from converter.plugins import build_manager, build_registry

    return sorted(build_registry(build_manager(autoload=False)).checks)


@pytest.fixture(scope="session")
def checks_off(check_names: list[str]) -> dict[str, str]:
    """A ``StreamJob.checks`` value that turns every check off (pure conversion)."""
    return dict.fromkeys(check_names, "off")


@pytest.fixture(scope="session")
def checks_off_args(check_names: list[str]) -> list[str]:
    """Command-line options that turn every check off (pure conversion)."""
    return [arg for name in check_names for arg in ("--check", f"{name}=off")]
