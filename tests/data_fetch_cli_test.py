"""`python -m deep_simple.data.fetch` as a real subprocess, with the mirror from the environment."""

import pathlib
import subprocess
import sys

import pytest

from deep_simple import data

REPO = pathlib.Path(__file__).resolve().parents[1]


def _fetch(*args):
  return subprocess.run([sys.executable, "-m", "deep_simple.data.fetch", *args], cwd=REPO,
                        capture_output=True, text=True, timeout=300)


def test_fetch_prints_summary_and_writes_samples(mnist_dir, tmp_path):
  png = tmp_path / "samples.png"
  proc = _fetch("--dataset=mnist", f"--samples_png={png}")
  assert proc.returncode == 0, proc.stderr
  assert f"mnist: {mnist_dir}" in proc.stdout
  assert ("train: 60000 images, per class "
          "0=5923 1=6742 2=5958 3=6131 4=5842 5=5421 6=5918 7=6265 8=5851 9=5949") in proc.stdout
  assert "test: 10000 images, per class 0=980 1=1135 2=1032 3=1010 4=982 5=892 6=958 7=1028 8=974 9=1009" in proc.stdout
  assert f"samples: {png}" in proc.stdout
  assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_fetch_writes_nothing_but_the_verified_files_into_the_cache(tmp_path):
  """It used to write samples.png into the cache, so `make run` failed on a read-only cache of verified data."""
  proc = _fetch("--dataset=mnist", f"--data_dir={tmp_path}")
  assert proc.returncode == 0, proc.stderr
  assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(s.name for s in data.MNIST.files)
  assert "samples" not in proc.stdout


@pytest.mark.parametrize("flag, message", [
    ("--dataset=bogus", "flag --dataset=bogus: value should be one of <mnist|fashion_mnist>"),
    ("--mirror=/no/such/folder", "flag --mirror=/no/such/folder: must be an existing folder"),
    ("--timeout=0", "flag --timeout=0: 0.0 is not number >= 0.001"),
])
def test_bad_flag_is_a_one_line_error(flag, message):
  proc = _fetch(flag)
  assert proc.returncode != 0
  assert proc.stdout == ""
  assert proc.stderr.strip().splitlines() == [f"fetch: {message}"]


def test_unusable_data_dir_is_a_one_line_error(tmp_path):
  (tmp_path / "file").write_text("not a folder")
  proc = _fetch(f"--data_dir={tmp_path / 'file'}")
  assert proc.returncode != 0
  assert proc.stderr.strip().splitlines()[-1].startswith("fetch: ")
  assert str(tmp_path / "file") in proc.stderr.strip().splitlines()[-1]
