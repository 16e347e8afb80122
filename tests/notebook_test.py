"""colabs/quickstart.ipynb, executed end to end in its small setting by a kernel running this interpreter."""

import json
import os
import sys

import nbclient
import nbformat

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(REPO, "colabs", "quickstart.ipynb")


def _kernel_of_this_interpreter(root) -> str:
  """A kernel spec under `root` that starts sys.executable (the venv's python), whatever else is installed."""
  name = "deep_simple_test"
  folder = root / "kernels" / name
  folder.mkdir(parents=True)
  spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
          "display_name": "deep_simple test", "language": "python"}
  (folder / "kernel.json").write_text(json.dumps(spec))
  return name


def test_notebook_is_stored_without_outputs():
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  nbformat.validate(notebook)
  for cell in notebook.cells:
    if cell.cell_type == "code":
      assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_every_cell_runs_in_the_small_setting(tmp_path, monkeypatch, mnist_dir):
  del mnist_dir  # fetched once here; the kernel inherits the data environment variables
  monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))  # searched before every other kernel folder
  monkeypatch.setenv("DEEP_SIMPLE_NOTEBOOK_SMALL", "1")
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  client = nbclient.NotebookClient(notebook, kernel_name=_kernel_of_this_interpreter(tmp_path), timeout=600,
                                   resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
  client.execute()  # raises CellExecutionError, naming the cell, if any cell (or its assertions) fails
  outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
  assert not [o for o in outputs if o.output_type == "error"]
  text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
  assert "small setting" in text and "test error at best validation" in text and "committee:" in text
  # The distortion grid, the net's learning curve and misclassified digits, the committee's curve.
  assert sum("image/png" in o.get("data", {}) for o in outputs) == 4
