"""`TranscriptSpace`: the text space of thinkgym observations, safe in vector envs.

Gymnasium's ``AsyncVectorEnv`` (default ``shared_memory=True``) reads the observations of a
``spaces.Text`` back from shared memory once, when the vector env is built, as a tuple of
strings; later writes by the workers never reach it (gymnasium 1.x,
``gymnasium/vector/utils/shared_memory.py``: ``_read_text_from_shared_memory`` returns a
``tuple`` where the ``Box`` reader returns a view). Every observation is then the decoded
all-zero buffer: ``max_length`` copies of the first character of the charset (a tab for
thinkgym's charset).

:class:`TranscriptSpace` is a ``spaces.Text`` (equal to one with the same bounds and charset;
``isinstance(space, spaces.Text)`` holds) whose shared-memory reader returns
:class:`SharedTexts`, a live read-only view of the buffer. ``AsyncVectorEnv`` deep-copies
its observations before returning them (``copy=True``, the default), and a deep copy of the
view is a plain ``tuple`` of ``str``: what ``SyncVectorEnv`` returns. The writer checks the
text fits the buffer and says what is wrong when it does not, instead of an ``IndexError``
or ``KeyError`` raised deep inside a worker process.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from ctypes import c_int32
from multiprocessing.sharedctypes import SynchronizedArray
from typing import Any, overload

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils.shared_memory import (
    read_from_shared_memory,
    write_to_shared_memory,
)

__all__ = ["TranscriptSpace", "SharedTexts"]


class TranscriptSpace(spaces.Text):
    """A ``spaces.Text`` that works in ``AsyncVectorEnv`` with shared memory (the default).

    Same arguments and behaviour as ``gymnasium.spaces.Text``; only the vector-env
    shared-memory reader and writer differ (see the module docstring).
    """

    def _codes(self) -> tuple[np.ndarray, np.ndarray]:
        """Code point -> index lookup (-1: not in the charset) and index -> code point."""
        cached = getattr(self, "_code_tables", None)
        if cached is None:
            points = np.array([ord(c) for c in self.character_list], dtype=np.int64)
            lookup = np.full(int(points.max()) + 1, -1, dtype=np.int32)
            lookup[points] = np.arange(len(points), dtype=np.int32)
            cached = (lookup, points.astype(np.uint32))
            self._code_tables = cached
        return cached

    def encode(self, text: str) -> np.ndarray:
        """``text`` as ``max_length`` charset indexes, padded with ``len(charset)``.

        Raises:
            ValueError: ``text`` is longer than ``max_length`` or holds a character outside
                the charset (the message names it).
        """
        if len(text) > self.max_length:
            raise ValueError(
                f"an observation of {len(text)} characters does not fit this Text space "
                f"(max_length={self.max_length}); raise the env's max_observation_chars()"
            )
        lookup, _ = self._codes()
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        idx = np.where(points < len(lookup), lookup[np.minimum(points, len(lookup) - 1)], -1)
        if (idx < 0).any():
            bad = text[int(np.argmax(idx < 0))]
            raise ValueError(
                f"the observation holds the character {bad!r}, which is not in the space's "
                "charset; add it to the charset or keep it out of the transcript"
            )
        out = np.full(self.max_length, len(self.character_list), dtype=np.int32)
        out[: len(idx)] = idx
        return out

    def decode(self, row: np.ndarray) -> str:
        """Inverse of :meth:`encode`: padding (any index >= ``len(charset)``) is dropped."""
        _, points = self._codes()
        row = row[row < len(points)]
        return points[row].tobytes().decode("utf-32-le")


class SharedTexts(Sequence[str]):
    """A live, read-only view of ``n`` strings in an ``AsyncVectorEnv`` shared buffer.

    Indexing decodes the current contents. ``copy.deepcopy`` and pickling give a plain
    ``tuple`` of ``str`` (what ``AsyncVectorEnv`` hands out with ``copy=True``).
    """

    def __init__(self, space: TranscriptSpace, shared_memory: SynchronizedArray, n: int) -> None:
        self._space = space
        self._data = np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape(
            (n, space.max_length)
        )

    def __len__(self) -> int:
        return self._data.shape[0]

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...

    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        if isinstance(index, slice):
            return tuple(self._space.decode(row) for row in self._data[index])
        return self._space.decode(self._data[index])

    def __iter__(self) -> Iterator[str]:
        return (self._space.decode(row) for row in self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return tuple(self) == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # contents change under the view

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return tuple(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (tuple, (tuple(self),))


@read_from_shared_memory.register(TranscriptSpace)
def _read_transcripts(
    space: TranscriptSpace, shared_memory: SynchronizedArray[c_int32], n: int = 1
) -> SharedTexts:
    return SharedTexts(space, shared_memory, n)


@write_to_shared_memory.register(TranscriptSpace)
def _write_transcript(
    space: TranscriptSpace, index: int, value: str, shared_memory: SynchronizedArray[c_int32]
) -> None:
    size = space.max_length
    dest = np.frombuffer(shared_memory.get_obj(), dtype=np.int32)
    np.copyto(dest[index * size : (index + 1) * size], space.encode(str(value)))
