"""A score's breakdown of each company's disruption by key (material, controlling country), held compactly.

A breakdown is a companies x keys block that is mostly filled (at 1M companies, 6.5M material values), read one
company at a time. So only its positive values are kept, row by row with their key's code: 9 bytes a value and 4
a company, built by one compiled pass over the block (a table of (key, value) rows took 114 ms at 1M companies,
most of it in NumPy and Polars temporaries).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from server.core._kernels import count_nonzero_rows, nonzero_rows


@dataclass(frozen=True)
class Breakdown:
    """Company i's positive values are `values[rows[i]:rows[i + 1]]`, of the keys `keys[codes[...]]`."""

    keys: tuple[str, ...]
    rows: np.ndarray  # per company, in SciPy's smallest index type (int32 below 2**31 values)
    codes: np.ndarray  # uint8, or uint16 past 256 keys
    values: np.ndarray

    @classmethod
    def of_block(cls, block: np.ndarray, keys: list[str]) -> Breakdown:
        """The positive values of an n x len(keys) block (any strides), column k being key k."""
        if block.shape[1] != len(keys):
            raise ValueError(f"a block of {block.shape[1]} columns for {len(keys)} keys")
        pointers = np.empty(block.shape[0] + 1, dtype=np.int64)
        count = count_nonzero_rows(block, pointers)
        codes = np.empty(count, dtype=np.uint8 if len(keys) <= 256 else np.uint16)
        values = np.empty(count)
        nonzero_rows(block, codes, values)
        rows = pointers.astype(sp.get_index_dtype(maxval=count), copy=False)
        return cls(tuple(keys), rows, codes, values)

    def of(self, company: int) -> list[tuple[str, float]]:
        """One company's (key, value) pairs, largest first (ties by key)."""
        start, end = int(self.rows[company]), int(self.rows[company + 1])
        found = zip((self.keys[code] for code in self.codes[start:end]), self.values[start:end].tolist(), strict=True)
        return sorted(found, key=lambda item: (-item[1], item[0]))

    @property
    def size(self) -> int:
        return int(self.values.size)
