r"""Trains one of the paper's MLPs.

    python -m experiments.train --config=experiments/configs/paper.py:net4 --workdir=runs/net4 \
        --config.epochs=20
"""

from experiments import cli

if __name__ == "__main__":
  cli.main(default_config="paper.py:quick")
