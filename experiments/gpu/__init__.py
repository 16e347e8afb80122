"""GPU evidence in one command: `make gpu-prep` here (prep.py), `make gpu` on the GPU machine (run.py)."""
