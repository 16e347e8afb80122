"""Results that name no folder of the machine they ran on: its folders replaced by names like `<out>`.

Standard library only: the GPU runner and its simulation use it before anything is installed.
"""

import os
import re

# The runner's scratch folders (tempfile.mkdtemp(prefix="deep_simple_gpu_")) and the simulation's, absolute or
# relative to the checkout, wherever it lies (results record workdirs relative to the working directory:
# "../../tmp/deep_simple_gpu_...", or "../deep_simple_gpu_..." from a checkout in the temporary folder itself).
SCRATCH = r"(?:/|(?:\.\./)+)(?:[\w.-]+/)*deep_simple_gpu_\w+"
TEXT = (".json", ".jsonl", ".md", ".txt", ".log")


def portable(text: str, folders: dict) -> str:
  """`text` with each of `folders` ({folder: name}; the longest first) and any scratch folder replaced."""
  for folder, name in sorted(folders.items(), key=lambda item: -len(item[0])):
    text = text.replace(os.path.abspath(folder), name)
  return re.sub(SCRATCH, "<scratch>", text)


def make_portable(root: str, folders: dict) -> None:
  """Every text file under `root` rewritten by `portable`."""
  for parent, _, names in os.walk(root):
    for name in names:
      if name.endswith(TEXT):
        path = os.path.join(parent, name)
        with open(path, encoding="utf-8", errors="replace") as f:
          text = f.read()
        changed = portable(text, folders)
        if changed != text:
          with open(path, "w", encoding="utf-8") as f:
            f.write(changed)
