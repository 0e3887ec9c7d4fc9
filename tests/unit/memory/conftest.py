import pytest


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2, loaded offline from its PyPI package."""
    from chatapp.memory.embedder import shared_embedder

    return shared_embedder()
