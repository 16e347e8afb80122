r"""Trains a committee of MLPs side by side, spread over the available devices, outputs averaged.

    python -m experiments.committee --config=experiments/configs/committee.py:mlp7 --workdir=runs/mlp7
"""

from experiments import cli

if __name__ == "__main__":
  cli.main(default_config="committee.py:mlp7")
