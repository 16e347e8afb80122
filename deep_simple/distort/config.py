"""The distortion settings, with the values of Ciresan et al. 2010 as defaults."""

import ml_collections


def default_config() -> ml_collections.ConfigDict:
  """Ranges of Ciresan et al. 2010, section 4, as quoted in PAPER.md; every part can be switched off."""
  return ml_collections.ConfigDict(dict(
      rotation=True,
      max_rotation_deg=15.0,  # beta = 15 degrees, Ciresan et al. 2010.
      shear=True,
      max_shear_deg=15.0,  # beta = 15 degrees (horizontal shearing), Ciresan et al. 2010.
      narrow_labels=(1, 7),  # Digits 1 and 7 get a narrower beta, Ciresan et al. 2010.
      narrow_max_deg=7.5,  # beta = 7.5 degrees for 1 and 7 (rotation and shear), Ciresan et al. 2010.
      scaling=True,
      max_scale=0.15,  # gamma = 15 (percent; the paper gives 15-20), Ciresan et al. 2010.
      elastic=True,
      sigma_range=(5.0, 6.0),  # sigma in [5, 6] pixels, Ciresan et al. 2010 (Simard et al. 2003: 4).
      alpha_range=(36.0, 38.0),  # alpha in [36, 38], Ciresan et al. 2010 (Simard et al. 2003: 34).
      # Mirror half the images left to right: for datasets whose classes survive it (objects, not digits or
      # signs); not in the papers.
      hflip=False,
  ))


def check(cfg) -> None:
  """Raises a one-line ValueError naming the first setting that cannot describe a distortion."""
  angles_ok = lambda a: 0 <= a < 90
  rules = [("max_rotation_deg", lambda a: a >= 0, ">= 0"),
           ("max_shear_deg", angles_ok, "in [0, 90)"),
           ("narrow_max_deg", angles_ok, "in [0, 90)"),
           ("max_scale", lambda g: 0 <= g < 1, "in [0, 1)"),
           ("sigma_range", lambda r: len(r) == 2 and 0 < r[0] <= r[1], "(low, high) with 0 < low <= high"),
           ("alpha_range", lambda r: len(r) == 2 and 0 <= r[0] <= r[1], "(low, high) with 0 <= low <= high"),
           ("hflip", lambda f: isinstance(f, bool), "True or False")]
  for name, ok, rule in rules:
    if not ok(cfg[name]):
      raise ValueError(f"distort.{name} must be {rule}, got {cfg[name]}")
