import numpy as np

ABANDONED: int

def rows_times(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    block: np.ndarray,
    out: np.ndarray,
    first: int,
    given: np.ndarray | None = None,
) -> None: ...
def link_sums(
    indptr: np.ndarray,
    entry: np.ndarray,
    shares: np.ndarray,
    per_row: np.ndarray,
    out: np.ndarray,
    row: np.ndarray | None = None,
    first: int = 0,
    end: int = -1,
) -> None: ...
def links_times(
    indptr: np.ndarray,
    shares: np.ndarray,
    per_row: np.ndarray,
    live: np.ndarray,
    out: np.ndarray,
    row: np.ndarray | None = None,
    scatter: np.ndarray | None = None,
    first: int = 0,
    end: int = -1,
) -> None: ...
def store(values: np.ndarray, solution: np.ndarray, first: int) -> float: ...
def sweep(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    solution: np.ndarray,
    given: np.ndarray,
    values: np.ndarray,
    parts: np.ndarray,
    positions: np.ndarray,
    starts: np.ndarray,
    blocks: np.ndarray,
    inverse: np.ndarray,
    inside: np.ndarray,
    closed: np.ndarray,
    scratch: np.ndarray,
    state: np.ndarray,
    me: int,
    threads: int,
) -> float: ...
def count_nonzero_rows(values: np.ndarray, pointers: np.ndarray) -> int: ...
def nonzero_rows(values: np.ndarray, codes: np.ndarray, kept: np.ndarray) -> None: ...
def component_levels(
    indptr: np.ndarray, indices: np.ndarray, component: np.ndarray, by_component: np.ndarray, level: np.ndarray
) -> None: ...
