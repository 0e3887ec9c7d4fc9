"""chatapp: a desktop chat app for local language models with long-term memory."""

__version__ = "0.1.0"
