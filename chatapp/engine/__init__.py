"""Qt-free model engine: the backend protocol and its implementations."""
