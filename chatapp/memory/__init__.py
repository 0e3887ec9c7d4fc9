"""Qt-free memory: what goes into the model's context for each reply."""
