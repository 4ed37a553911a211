"""Text for the language models: CPython's own documentation, and local corpora.

Nothing here downloads. The default corpus is ``pydoc_data.topics`` (the text of
``help()``, about 465 kB of English that ships with CPython). The ``paper``
profile reads WikiText-103 or Penn Treebank from a folder the reader gives
(``data_dir``, or the ``CONSLAW_DATA`` environment variable), in the layouts their
usual archives unpack to; a missing file is a one-line error naming the path and
how to get the data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .paths import repository_root

DATA_ENV = "CONSLAW_DATA"
LEVELS = ("bytes", "chars")
CORPORA = ("pydoc", "wikitext103", "ptb")

# where each local corpus's split lives under the data folder, first match wins
CORPUS_FILES = {
    "wikitext103": (
        "wikitext-103-raw/wiki.{split}.raw",
        "wikitext-103/wiki.{split}.tokens",
    ),
    "ptb": (
        "ptb/ptb.{split}.txt",
        "simple-examples/data/ptb.{split}.txt",
        "ptb.{split}.txt",
    ),
}
CORPUS_HELP = {
    "wikitext103": "unzip wikitext-103-raw-v1.zip (Merity et al.; e.g. the "
    "Salesforce/wikitext files on Hugging Face) into it",
    "ptb": "put ptb.train.txt, ptb.valid.txt, ptb.test.txt (from Mikolov's "
    "simple-examples.tgz) into it",
}
SPLITS = {"train": "train", "valid": "valid", "test": "test"}


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder local data sets are read from, as an absolute path:
    ``data_dir``, else ``$CONSLAW_DATA``, else ``data/`` in the repository's root
    folder (the book's root found from the working directory upward, which holds
    when a chapter runs from ``book/``, else the checkout the package was
    installed from), else ``./data``."""
    if data_dir is not None:
        return Path(data_dir).expanduser().resolve()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser().resolve()
    root = repository_root()
    return (root if root is not None else Path.cwd()) / "data"


def missing_data(what: str, expected: Path, how: str) -> FileNotFoundError:
    """The one-line error for a data set that is not on disk."""
    return FileNotFoundError(
        f"{what} not found: expected {Path(expected).resolve()}; {how}, or pass "
        f"data_dir / set {DATA_ENV} to the folder that holds it (nothing is "
        "downloaded)"
    )


@dataclass(frozen=True)
class TokenWindows:
    """Next-token windows over a token stream.

    ``stream (N,)`` holds token ids (uint8 for bytes, int32 for characters);
    example ``i`` is ``x = stream[i : i + T]``, ``y = stream[i + 1 : i + T + 1]``.
    ``alphabet`` maps character ids back to characters (empty for bytes).
    """

    stream: torch.Tensor
    seq_len: int
    vocab: int
    name: str
    alphabet: str = ""

    def __len__(self) -> int:
        return len(self.stream) - self.seq_len

    def batch(self, idx: torch.Tensor):
        """Windows starting at ``idx (..., B)``: ``x, y (..., B, T)``, int64."""
        offsets = torch.arange(self.seq_len + 1, device=self.stream.device)
        w = self.stream[idx[..., None] + offsets].long()
        return w[..., :-1], w[..., 1:]

    def to(self, device, dtype: torch.dtype | None = None) -> TokenWindows:
        """The windows on ``device`` (``dtype`` is accepted like
        :meth:`Dataset.to`'s and ignored: token ids stay integers)."""
        return TokenWindows(
            self.stream.to(device), self.seq_len, self.vocab, self.name, self.alphabet
        )

    def decode(self, ids) -> str:
        """Token ids back to text (bytes decoded as UTF-8, errors replaced)."""
        ids = [int(i) for i in ids]
        if self.alphabet:
            return "".join(self.alphabet[i] for i in ids)
        return bytes(ids).decode("utf-8", errors="replace")


def pydoc_text() -> str:
    """The ``help()`` topics of this Python, concatenated in sorted order."""
    from pydoc_data.topics import topics

    return "".join(topics[k] for k in sorted(topics))


def read_corpus(name: str, split: str = "train", data_dir=None) -> str:
    """The raw text of ``split`` of a local corpus (``"wikitext103"``, ``"ptb"``).

    Raises:
        FileNotFoundError: one line naming the path looked at and how to get it.
    """
    if name not in CORPUS_FILES:
        raise ValueError(
            f"unknown local corpus {name!r}: expected one of {', '.join(CORPUS_FILES)}"
        )
    if split not in SPLITS:
        raise ValueError(
            f"unknown split {split!r}: expected one of {', '.join(SPLITS)}"
        )
    root = data_root(data_dir)
    candidates = [root / p.format(split=split) for p in CORPUS_FILES[name]]
    for path in candidates:
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise missing_data(name, candidates[0], f"create {root} and {CORPUS_HELP[name]}")


def encode(text: str, level: str = "bytes") -> tuple[torch.Tensor, int, str]:
    """Tokenize ``text``: ``(stream, vocab, alphabet)``.

    ``"bytes"``: UTF-8 bytes, vocabulary 256, ``stream`` uint8. ``"chars"``: the
    sorted distinct characters, ``stream`` int32, ``alphabet`` those characters.
    """
    if level == "bytes":
        stream = torch.frombuffer(bytearray(text.encode("utf-8")), dtype=torch.uint8)
        return stream.clone(), 256, ""
    if level == "chars":
        alphabet = "".join(sorted(set(text)))
        index = {c: i for i, c in enumerate(alphabet)}
        stream = torch.tensor([index[c] for c in text], dtype=torch.int32)
        return stream, len(alphabet), alphabet
    raise ValueError(
        f"unknown token level {level!r}: expected one of {', '.join(LEVELS)}"
    )


def text_corpus(
    name: str = "pydoc",
    seq_len: int = 16,
    *,
    level: str = "bytes",
    split: str = "train",
    data_dir=None,
) -> TokenWindows:
    """Next-token windows of length ``seq_len`` over a corpus.

    Args:
        name: ``"pydoc"`` (ships with CPython), ``"wikitext103"`` or ``"ptb"``
            (read from :func:`data_root`).
        seq_len: context length ``T``.
        level: ``"bytes"`` or ``"chars"``.
        split: for the local corpora, ``"train"``, ``"valid"`` or ``"test"``
            (the pydoc text has a single split).
        data_dir: where the local corpora are (see :func:`data_root`).
    """
    if name not in CORPORA:
        raise ValueError(
            f"unknown corpus {name!r}: expected one of {', '.join(CORPORA)}"
        )
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f"seq_len must be a positive integer, got {seq_len!r}")
    text = pydoc_text() if name == "pydoc" else read_corpus(name, split, data_dir)
    stream, vocab, alphabet = encode(text, level)
    if len(stream) <= seq_len:
        raise ValueError(
            f"the {name} text has {len(stream)} tokens, too few for windows of "
            f"{seq_len}: use a shorter seq_len"
        )
    return TokenWindows(stream, seq_len, vocab, f"{name} ({level})", alphabet)


__all__ = [
    "CORPORA",
    "DATA_ENV",
    "LEVELS",
    "TokenWindows",
    "data_root",
    "encode",
    "missing_data",
    "pydoc_text",
    "read_corpus",
    "text_corpus",
]
