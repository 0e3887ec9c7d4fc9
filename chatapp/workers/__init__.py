"""Qt threads that keep slow work off the GUI thread."""
