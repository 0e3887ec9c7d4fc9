"""The bundle's entry point: the same `main` as the `chatapp` command."""

import multiprocessing
import os
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models are in the bundle; never a hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from chatapp.app import main

    sys.exit(main())
