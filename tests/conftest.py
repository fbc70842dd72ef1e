from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def test_cfg() -> dict:
    """config/test.yaml as the workflow sees it (validated, defaults filled)."""
    from pipeline_lib.config import check_config, load_yaml

    return check_config(load_yaml(ROOT / "config/test.yaml"), ROOT / "config/schema.yaml")
