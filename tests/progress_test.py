"""The progress line of the entry points: what an epoch's entry holds, every few epochs, and a resume said once."""

import types

from experiments import progress

CFG = types.SimpleNamespace(epochs=4)


def _entry(epoch, **measures):
  return {"epoch": epoch, "train_loss": [0.25, 0.75], "seconds": 2.0, **measures}


def test_a_classifier_line_holds_its_loss_errors_and_eta(capsys):
  progress.Progress()(_entry(1, validation_selected_error=0.0123, test_selected_error=0.02), CFG)
  assert capsys.readouterr().out == ("[########......................] epoch 1/4  loss 0.5000  validation 1.23%  "
                                     "test 2.00%  2.0s/epoch  ETA 0:00:06\n")


def test_a_study_prints_every_few_epochs_the_first_and_the_last_and_counts_diverged_members(capsys):
  printer = progress.Progress("cell rbm1", every=2)
  for epoch in (2, 3, 4):  # a stage resumed after epoch 1
    printer({**_entry(epoch, validation_reconstruction_error=[0.1, 0.2]), "train_loss": [0.5, float("nan")]}, CFG)
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == "cell rbm1: resumed after epoch 1 from the checkpoint in the workdir"
  assert [line.split("epoch ")[1].split()[0] for line in lines[1:]] == ["2/4", "4/4"]
  assert all(line.startswith("cell rbm1: [") and "loss 0.5000  1 of 2 diverged  reconstruction error 0.1500" in line
             for line in lines[1:])
