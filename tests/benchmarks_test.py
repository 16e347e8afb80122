"""The benchmark scripts run end to end at their smallest size on real MNIST and print complete tables.

Nothing here asserts a time: only that every case is measured, every comparison has its peer and ratio, and
the printed table holds every row.
"""

import contextlib
import io
import math

import pytest

from benchmarks import cnn_bench
from benchmarks import committee_bench
from benchmarks import common
from benchmarks import distort_bench
from benchmarks import highway_bench
from benchmarks import run_all
from benchmarks import train_bench

QUICK = run_all.benchmark_args(["--quick"])


MAINS = {"distort": distort_bench.main, "train": train_bench.main, "committee": committee_bench.main,
         "highway": highway_bench.main, "cnn": cnn_bench.main}


@pytest.fixture(scope="module")
def quick_runs():
  """{benchmark: (rows, printed text)} from one real quick run of each benchmark's main()."""
  runs = {}
  for name, bench in MAINS.items():
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
      rows = bench(list(QUICK))
    runs[name] = (rows, printed.getvalue())
  return runs


def _table_lines(text):
  return [line for line in text.splitlines() if line.startswith("| ")]


def _assert_complete(rows, columns):
  for row in rows:
    missing = [c for c in columns if row.get(c) is None]
    assert not missing, f"{row['case']}: no {missing}"


def _assert_printed(rows, text, columns):
  lines = _table_lines(text)
  assert [cell.strip() for cell in lines[0].strip("|").split("|")] == columns
  assert len(lines) == 2 + len(rows)  # header, rule, one line per row
  for row, line in zip(rows, lines[2:]):
    assert row["case"] in line


def test_quick_flag_is_forwarded_as_size():
  assert QUICK == ["--size=quick"]
  assert run_all.benchmark_args([]) == ["--size=cpu"]
  assert run_all.benchmark_args(["--size=gpu", "--repeats=5"]) == ["--size=gpu", "--repeats=5"]
  with pytest.raises(SystemExit):
    run_all.benchmark_args(["--quick", "--size=cpu"])


def test_train_bench_measures_every_case_against_pytorch(quick_runs):
  rows, text = quick_runs["train"]
  assert [r["case"] for r in rows] == ["online, distorted", "online, no distortion", "B=32, distorted",
                                       "B=32, no distortion"]
  _assert_printed(rows, text, train_bench.COLUMNS)
  jax_columns = ["case", "net", "JAX digits", "JAX s", "JAX median s", "JAX s/60k", "peer"]
  _assert_complete(rows, jax_columns)
  for row in rows:
    assert 0 < row["JAX s"] <= row["JAX median s"]
    assert row["JAX s/60k"] == pytest.approx(row["JAX s"] * 60_000 / row["JAX digits"])
  if common.optional_torch() is None:
    # Without PyTorch every row says so instead of failing.
    assert all(r["peer"].startswith("PyTorch not installed") and r["ratio"] is None for r in rows)
  else:
    _assert_complete(rows, train_bench.COLUMNS)
    for row in rows:
      assert row["ratio"] == pytest.approx(row["JAX s/60k"] / row["PyTorch s/60k"])


def test_distort_bench_rows_are_complete(quick_runs):
  rows, text = quick_runs["distort"]
  _assert_printed(rows, text, distort_bench.COLUMNS)
  if common.optional_torch() is None:
    with_peer = [r for r in rows if not r["peer"].startswith("torchvision not installed")]
    assert len(with_peer) == len(rows) - 1
    _assert_complete(with_peer, distort_bench.COLUMNS)
  else:
    _assert_complete(rows, distort_bench.COLUMNS)


def test_train_bench_row_without_pytorch_says_so():
  mode = train_bench.Mode("online", 1, "net1", (8,), digits=16, torch_digits=16, torch_distorted_digits=16)
  row = train_bench.measure(mode, distorted=False, torch_modules=None, repeats=1)
  assert row["peer"].startswith("PyTorch not installed") and row["ratio"] is None
  assert row["JAX digits"] == 16 and row["JAX s"] > 0 and row["net"] == "8-10"


def test_committee_bench_compares_with_one_member_and_members_in_a_row(quick_runs):
  rows, text = quick_runs["committee"]
  _assert_printed(rows, text, committee_bench.COLUMNS)
  sizes = committee_bench.SIZES["quick"].members
  assert [(r["members"], r["peer"]) for r in rows] == [(1, "(the baseline)")] + [
      (m, peer) for m in sizes[1:] for peer in ("1 member", f"{m} members in a row")]
  baseline = rows[0]
  _assert_complete([baseline], committee_bench.COLUMNS[:-2])
  _assert_complete(rows[1:], committee_bench.COLUMNS)
  for row in rows[1:]:
    assert row["ratio"] == pytest.approx(row["committee s"] / row["peer s"])


def test_highway_bench_compares_with_pytorch(quick_runs):
  rows, text = quick_runs["highway"]
  _assert_printed(rows, text, highway_bench.COLUMNS)
  assert len(rows) == 1 and rows[0]["net"] == "highway 10x16 relu-10"
  if common.optional_torch() is None:
    assert rows[0]["peer"].startswith("PyTorch not installed") and rows[0]["ratio"] is None
    return
  _assert_complete(rows, highway_bench.COLUMNS)
  assert rows[0]["ratio"] == pytest.approx(rows[0]["JAX s"] / rows[0]["PyTorch s"]) and rows[0]["digits"] == 512


def _cnn_tables(quick_runs):
  """(rows, printed text) of cnn_bench's two tables: the convolutions against PyTorch, the member's epoch against
  the matrix-multiply rate (its last two rows)."""
  rows, text = quick_runs["cnn"]
  convolutions, peak = text.split("\n## ")[1:]
  return (rows[:-2], convolutions), (rows[-2:], peak)


def test_cnn_bench_times_every_convolution_against_pytorch(quick_runs):
  (rows, text), _ = _cnn_tables(quick_runs)
  _assert_printed(rows, text, cnn_bench.COLUMNS)
  assert [row["case"] for row in rows] == [
      f"{impl}, B={b}, model only" for b in (1, 32) for impl in ("im2col", "xla", "split")] + [
      "auto, B=1, distorted", "auto, B=32, distorted"]
  assert {row["net"] for row in rows} == {"20C4-MP2-40C5-MP3-150N-10N"}
  if common.optional_torch() is None:
    assert all(row["peer"].startswith("PyTorch not installed") and row["ratio"] is None for row in rows)
    return
  _assert_complete(rows, cnn_bench.COLUMNS)
  for row in rows:
    assert row["ratio"] == pytest.approx(row["JAX s/60k"] / row["PyTorch s/60k"])


def test_cnn_bench_measures_the_member_epoch_against_the_matmul_rate(quick_runs):
  _, (rows, text) = _cnn_tables(quick_runs)
  _assert_printed(rows, text, cnn_bench.PEAK_COLUMNS)
  assert [row["case"] for row in rows] == ["mcdnn35 member, B=16, model only", "mcdnn35 member, B=16, distorted"]
  _assert_complete(rows, cnn_bench.PEAK_COLUMNS + ["peer", "ratio"])
  for row in rows:
    # The column's forward pass is 1.89 M multiply-adds per digit (26x26x20x16 + 9x9x40x500 + 360x150 + 150x10),
    # 3.8 MFLOP; a training step about three times that, less the first layer's input gradient.
    assert 10 < row["MFLOP/digit"] < 12.5
    assert row["fraction"] == pytest.approx(row["GFLOP/s"] / row["matmul GFLOP/s"]) and row["fraction"] > 0
    assert row["ratio"] == pytest.approx(1 / row["fraction"])  # time over the time at the matmul rate


def test_run_all_combines_every_comparison_under_the_machine(quick_runs, monkeypatch, capsys):
  # The benchmarks already ran above: run_all gets their real rows back instead of running them again.
  planned = []

  def replay(name, forwarded, cores=None):
    assert forwarded == QUICK
    planned.append((name, cores))
    return [dict(row, cores=cores or 2) for row in quick_runs[name][0]]

  monkeypatch.setattr(run_all, "run_benchmark", replay)
  rows = run_all.main(["--quick"])
  assert planned == [("distort", None), ("train", None), ("committee", None), ("highway", None), ("cnn", None)]
  expected = [(name, cores or 2, r["case"], r["peer"]) for name, cores in planned
              for r in quick_runs[name][0] if "ratio" in r]
  assert [(r["benchmark"], r["cores"], r["case"], r["peer"]) for r in rows] == expected
  assert all(r["ratio"] is None or (math.isfinite(r["ratio"]) and r["ratio"] > 0) for r in rows)
  text = capsys.readouterr().out
  _assert_printed(rows, text, run_all.COLUMNS)
  for key in ("date", "cpu", "cores", "cores used", "jax devices", "jax", "torch"):
    assert f"\n- {key}: " in text
  assert run_all.plan(["--size=cpu"]) == planned + [("distort", 1), ("train", 1), ("highway", 1), ("cnn", 1)]
  assert run_all.plan(["--size=gpu"]) == planned  # the peers run on the GPU


def test_a_benchmark_pinned_to_one_core_runs_there_in_its_own_process(mnist_dir):
  del mnist_dir  # fetched once here, not by the subprocess
  rows = run_all.run_benchmark("committee", QUICK, cores=1)
  assert rows and all(row["cores"] == 1 for row in rows)
  assert [row["case"] for row in rows] == [row["case"] for row in run_all.run_benchmark("committee", QUICK)]
