"""Every committed result can be checked from what is committed beside it: each "test error at best
validation" that a file under results/ reports is re-derived here from the per-epoch curves committed with
it (selection by validation error, the earliest epoch on ties, never by test error), and no committed file
names a folder of the machine it ran on."""

import json
import pathlib
import re

import pytest

RESULTS = pathlib.Path(__file__).resolve().parent.parent / "results"

COLUMNS = ("best_validation_epoch", "validation_error", "test_error_at_best_validation", "best_test_error")
# A folder of some machine: /tmp/..., /work/..., /home/... (placeholders such as <scratch>/work/... are not).
ABSOLUTE = re.compile(r"(?<![\w.<>~-])/(tmp|work|home|root|opt|mnt|var|srv|usr|scratch|Users|data|media|run"
                      r"|private|etc)(/|\b)")
# Hand-written notes, not records of a run: their commands name example folders such as /tmp/gpu.
NOTES = "README.md"


def _at_best_validation(validation: list, test: list) -> dict:
  epoch = min(range(len(validation)), key=lambda i: (validation[i], i))
  return {"best_validation_epoch": epoch + 1, "validation_error": validation[epoch],
          "test_error_at_best_validation": test[epoch], "best_test_error": min(test)}


def _history_columns(history: list, prefix: str, member=None) -> dict:
  """Table 1's columns of one model from a run's per-epoch entries (metrics.jsonl's lines)."""
  if member is None:
    return _at_best_validation([e[f"{prefix}validation_selected_error"] for e in history],
                               [e[f"{prefix}test_selected_error"] for e in history])
  return _at_best_validation([e[f"{prefix}validation_error"][member] for e in history],
                             [e[f"{prefix}test_error"][member] for e in history])


def _jsonl(path: pathlib.Path) -> list:
  assert path.exists(), f"{path}: no per-epoch curves committed beside the result"
  return [json.loads(line) for line in path.read_text().splitlines()]


def _run_results(path, record):
  """results.json of a workdir: the selected model and every member, from metrics.jsonl beside it."""
  history = _jsonl(path.parent / "metrics.jsonl")
  yield record["selected"], _history_columns(history, "")
  for prefix in ("", "ema_", "params_"):
    for m, columns in enumerate(record.get(f"{prefix}per_member", [])):
      yield columns, _history_columns(history, prefix, m)


def _search_record(path, record):
  """A recipe of experiments/search.py: its models, from the run's history inside the record."""
  yield record["selected"], record["models"][0]
  for model in record["models"]:
    prefix = next((p for p in ("ema ", "params ") if model["model"].startswith(p)), "").replace(" ", "_")
    yield model, _history_columns(record["history"], prefix, model.get("run_member"))


def _table1(path, record):
  """table1.json of experiments/reproduce.py: each run, from <run>_metrics.jsonl beside it."""
  for row in record["rows"]:
    if "metrics" in row:
      yield row, _history_columns(_jsonl(path.parent / row["metrics"]), "")


def _pretraining(path, record):
  """table.json of experiments/pretraining.py: the member and epoch the validation digits pick, from every
  member's fine-tuning curves."""
  for row in record["rows"]:
    if "finetune_members" in row:
      curves = row["finetune_members"]
      members = [_at_best_validation(v, t) for v, t in zip(curves["validation"], curves["test"])]
      best = min(range(len(members)), key=lambda m: (members[m]["validation_error"], m))
      assert row["selected_member"] == best, f"{path.name}: {row['method']} reports member " \
                                             f"{row['selected_member']}; the curves pick {best}"
      yield row, members[best]


def _derivations(path: pathlib.Path, record):
  """(what the file reports, what its curves give) for every model it reports."""
  if path.name == "results.json":
    return _run_results(path, record)
  if isinstance(record, dict) and "models" in record and "history" in record:
    return _search_record(path, record)
  if path.name == "table1.json":
    return _table1(path, record)
  if path.parent.parent.name == "pretraining" and path.name == "table.json":
    return _pretraining(path, record)
  return iter(())


def _reported(value):
  """Every dict in a JSON value that reports a test error at best validation of ours (not a paper's)."""
  if isinstance(value, dict):
    if "test_error_at_best_validation" in value:
      yield value
    for key, v in value.items():
      if key != "paper":
        yield from _reported(v)
  elif isinstance(value, list):
    for v in value:
      yield from _reported(v)


def _check(path: pathlib.Path, record) -> tuple[list, int, int]:
  """(mismatches, models checked, models reported but not checked) of one record."""
  mismatches, checked = [], []
  for claimed, derived in _derivations(path, record):
    mismatches += [f"{key} {claimed[key]} but the curves give {derived[key]}"
                   for key in COLUMNS if key in claimed and claimed[key] != derived[key]]
    checked.append(id(claimed))
  unchecked = [r for r in _reported(record) if id(r) not in checked]
  return mismatches, len(checked), len(unchecked)


RECORDS = sorted(RESULTS.rglob("*.json"))


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: str(p.relative_to(RESULTS)))
def test_every_test_error_at_best_validation_is_re_derived_from_the_committed_curves(path):
  name = str(path.relative_to(RESULTS))
  mismatches, checked, unchecked = _check(path, json.loads(path.read_text()))
  assert not mismatches, f"{name}: {'; '.join(mismatches)}"
  assert not unchecked, f"{name}: {unchecked} reported results have no committed curves to check them"


def test_table1_and_pretraining_records_are_re_derived_and_a_wrong_figure_is_caught(tmp_path):
  """table1.json with <run>_metrics.jsonl, and a pre-training table with every member's fine-tuning curves,
  as experiments/reproduce.py and experiments/pretraining.py write them."""
  history = [{"validation_selected_error": v, "test_selected_error": t} for v, t in
             [(0.03, 0.031), (0.02, 0.025), (0.02, 0.021), (0.025, 0.02)]]
  (tmp_path / "net1_metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in history))
  paper = {"test_error_at_best_validation": 0.0049}
  table1 = {"rows": [{"run": "net1", "metrics": "net1_metrics.jsonl", "paper": paper, "best_validation_epoch": 2,
                      "validation_error": 0.02, "test_error_at_best_validation": 0.025, "best_test_error": 0.02}]}
  assert _check(tmp_path / "table1.json", table1) == ([], 1, 0)
  table1["rows"][0]["test_error_at_best_validation"] = 0.021  # the tied later epoch's
  assert _check(tmp_path / "table1.json", table1) == (["test_error_at_best_validation 0.021 but the curves give "
                                                       "0.025"], 1, 0)
  members = {"validation": [[0.03, 0.02], [0.02, 0.01]], "test": [[0.031, 0.022], [0.024, 0.015]]}
  row = {"method": "end_to_end", "finetune_members": members, "selected_member": 1, "best_validation_epoch": 2,
         "validation_error": 0.01, "test_error_at_best_validation": 0.015, "best_test_error": 0.015}
  assert _check(tmp_path / "pretraining" / "cpu" / "table.json", {"rows": [row]}) == ([], 1, 0)
  row["selected_member"] = 0
  with pytest.raises(AssertionError, match="end_to_end"):
    _check(tmp_path / "pretraining" / "cpu" / "table.json", {"rows": [row]})


@pytest.mark.parametrize("path", sorted(p for p in RESULTS.rglob("*") if p.is_file() and p.suffix != ".png"
                                        and p.name != NOTES), ids=lambda p: str(p.relative_to(RESULTS)))
def test_no_result_names_a_folder_of_the_machine_it_ran_on(path):
  for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
    found = ABSOLUTE.search(line)
    assert not found, f"{path.relative_to(RESULTS)}:{number}: absolute path {line[found.start():][:60]!r}"


def _refuse(constant):
  raise ValueError(f"{constant} is not JSON")


@pytest.mark.parametrize("path", sorted(p for p in RESULTS.rglob("*") if p.suffix in (".json", ".jsonl")),
                         ids=lambda p: str(p.relative_to(RESULTS)))
def test_every_committed_json_file_is_valid_json(path):
  # Python's json reads and writes NaN and Infinity, which are not JSON: a diverged run's loss is null.
  for line in [path.read_text()] if path.suffix == ".json" else path.read_text().splitlines():
    json.loads(line, parse_constant=_refuse)
