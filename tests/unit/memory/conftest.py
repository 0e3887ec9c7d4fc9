import pytest


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2, loaded offline from its PyPI package."""
    from chatapp.memory.embedder import shared_embedder

    return shared_embedder()


@pytest.fixture(scope="module")
def attributes(embedder):  # type: ignore[no-untyped-def]
    """The attribute reader fitted on the real embedder (what the slots read with)."""
    from chatapp.memory.attributes import model_for

    return model_for(embedder.encode)
