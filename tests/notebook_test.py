"""The notebooks in colabs/, executed end to end in their small settings by a kernel running this interpreter."""

import json
import os
import sys

import nbclient
import nbformat
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Notebook -> (what its printed output must hold, the number of figures it shows).
NOTEBOOKS = {
    "quickstart.ipynb": (("small setting", "test error at best validation", "committee:"), 4),
    # The live column's misclassified digits; the committed column's curve, highway losses, pre-training curves.
    "sequels.ipynb": (("small setting", "76,040 weights", "test error at best validation"), 4),
}


def _kernel_of_this_interpreter(root) -> str:
  """A kernel spec under `root` that starts sys.executable (the venv's python), whatever else is installed."""
  name = "deep_simple_test"
  folder = root / "kernels" / name
  folder.mkdir(parents=True)
  spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
          "display_name": "deep_simple test", "language": "python"}
  (folder / "kernel.json").write_text(json.dumps(spec))
  return name


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stored_without_outputs(name):
  notebook = nbformat.read(os.path.join(REPO, "colabs", name), as_version=4)
  nbformat.validate(notebook)
  for cell in notebook.cells:
    if cell.cell_type == "code":
      assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_cell_runs_in_the_small_setting(tmp_path, monkeypatch, mnist_dir, name):
  del mnist_dir  # fetched once here; the kernel inherits the data environment variables
  monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))  # searched before every other kernel folder
  monkeypatch.setenv("DEEP_SIMPLE_NOTEBOOK_SMALL", "1")
  path = os.path.join(REPO, "colabs", name)
  notebook = nbformat.read(path, as_version=4)
  client = nbclient.NotebookClient(notebook, kernel_name=_kernel_of_this_interpreter(tmp_path), timeout=600,
                                   resources={"metadata": {"path": os.path.dirname(path)}})
  client.execute()  # raises CellExecutionError, naming the cell, if any cell (or its assertions) fails
  outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
  assert not [o for o in outputs if o.output_type == "error"]
  text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
  expected_text, figures = NOTEBOOKS[name]
  for expected in expected_text:
    assert expected in text
  assert sum("image/png" in o.get("data", {}) for o in outputs) == figures
