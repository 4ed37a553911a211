import pickle

import numpy as np
import pytest
import torch

from conslaw.data import Dataset
from conslaw.data_cifar import CIFAR_DIR, cifar10, image_data
from conslaw.data_text import (
    DATA_ENV,
    TokenWindows,
    data_root,
    encode,
    pydoc_text,
    read_corpus,
    text_corpus,
)


def _write_cifar(root, per_batch=4):
    """Small files in the CIFAR-10 python format: pickled dicts of bytes keys."""
    folder = root / CIFAR_DIR
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        batch = {
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"labels": [(k + j) % 10 for j in range(per_batch)],
            b"batch_label": name.encode(),
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    return folder


def test_cifar10_reads_the_python_batches(tmp_path):
    folder = _write_cifar(tmp_path)
    train = cifar10("train", data_dir=tmp_path, dtype=torch.float64)
    assert train.x.shape == (20, 3, 32, 32) and train.y.shape == (20,)
    assert train.y[:4].tolist() == [0, 1, 2, 3]
    # channel-major pixels: the first 1024 bytes are the red plane of image 0
    with open(folder / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="bytes")[b"data"][0]
    red = torch.tensor(raw[:1024], dtype=torch.float64).reshape(32, 32)
    corr = torch.corrcoef(torch.stack([red.flatten(), train.x[0, 0].flatten()]))
    assert corr[0, 1] > 0.999999
    # standardized per channel
    assert torch.allclose(train.x.mean((0, 2, 3)), torch.zeros(3), atol=1e-12)
    test = cifar10("test", data_dir=tmp_path, n=3)
    assert test.x.shape == (3, 3, 32, 32) and test.x.dtype == torch.float32


def test_cifar10_missing_is_one_clear_line(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        cifar10(data_dir=tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / CIFAR_DIR / "data_batch_1") in message
    assert "cifar-10-python.tar.gz" in message and DATA_ENV in message
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        cifar10("dev", data_dir=tmp_path)


def test_data_root_reads_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert data_root() == tmp_path
    assert data_root("elsewhere").name == "elsewhere"
    _write_cifar(tmp_path)
    assert image_data("cifar10").x.shape == (20, 3, 32, 32)


@pytest.mark.parametrize(
    "name, relative",
    [
        ("wikitext103", "wikitext-103-raw/wiki.{split}.raw"),
        ("wikitext103", "wikitext-103/wiki.{split}.tokens"),
        ("ptb", "ptb.{split}.txt"),
        ("ptb", "simple-examples/data/ptb.{split}.txt"),
    ],
)
def test_text_corpora_read_their_layouts(tmp_path, name, relative):
    text = " = Valkyria = \n the game 's <unk> was released in N . \n"
    for split in ("train", "valid"):
        path = tmp_path / relative.format(split=split)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text * (3 if split == "train" else 1), encoding="utf-8")
    assert read_corpus(name, "valid", tmp_path) == text
    windows = text_corpus(name, 8, level="chars", data_dir=tmp_path)
    assert windows.vocab == len(set(text))
    assert windows.decode(windows.stream[: len(text)]) == text


@pytest.mark.parametrize("name", ["wikitext103", "ptb"])
def test_missing_corpus_is_one_clear_line(tmp_path, name):
    with pytest.raises(FileNotFoundError) as err:
        text_corpus(name, 8, data_dir=tmp_path)
    message = str(err.value)
    assert "\n" not in message and str(tmp_path) in message
    assert "nothing is downloaded" in message


def test_encode_bytes_and_chars():
    stream, vocab, alphabet = encode("aé", "bytes")
    assert vocab == 256 and stream.tolist() == [97, 195, 169] and alphabet == ""
    stream, vocab, alphabet = encode("abca", "chars")
    assert vocab == 3 and stream.tolist() == [0, 1, 2, 0] and alphabet == "abc"
    with pytest.raises(ValueError, match="unknown token level 'words'"):
        encode("a", "words")


def test_token_windows_shift_by_one():
    w = TokenWindows(torch.arange(10, dtype=torch.int32), 3, 10, "count")
    assert len(w) == 7
    x, y = w.batch(torch.tensor([[0, 6], [2, 3]]))
    assert x.shape == (2, 2, 3) and x.dtype == torch.long
    assert x[0, 1].tolist() == [6, 7, 8] and y[0, 1].tolist() == [7, 8, 9]


def test_pydoc_corpus_ships_with_python():
    text = pydoc_text()
    assert len(text) > 100_000 and "assert" in text
    w = text_corpus("pydoc", 16)
    assert w.vocab == 256 and len(w) == len(text.encode()) - 16
    with pytest.raises(ValueError, match="unknown corpus 'c4'"):
        text_corpus("c4")
    with pytest.raises(ValueError, match="seq_len must be a positive integer"):
        text_corpus("pydoc", 0)


def test_digits_as_images():
    d = image_data("digits")
    assert d.x.shape == (1797, 1, 8, 8) and d.x.dtype == torch.float64
    with pytest.raises(ValueError, match="unknown image data 'mnist'"):
        image_data("mnist")


def test_to_casts_floating_inputs_only():
    d = Dataset(torch.ones(3, 2, dtype=torch.float32), torch.arange(3), "t")
    moved = d.to("cpu", torch.float64)
    assert moved.x.dtype == torch.float64 and moved.y.dtype == torch.long
    assert d.to("cpu").x.dtype == torch.float32
    tokens = Dataset(torch.arange(6).reshape(3, 2), torch.arange(3), "ids")
    assert tokens.to("cpu", torch.float64).x.dtype == torch.long
    w = TokenWindows(torch.arange(10, dtype=torch.int32), 3, 10, "count")
    assert w.to("cpu", torch.float64).stream.dtype == torch.int32
