# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The scoring engine's compiled loops: sparse rows times a dense block of K columns (`rows_times`, the inner loop
of every propagation: propagation.py), a whole sweep over level parts on one or two threads (`sweep`, with its
clusters' solve; `store` for the parts swept from Python: sweeps.py), the links' terms read per
shipment signature (`link_sums` for M's values, `links_times` for tier 1), the breakdowns' `count_nonzero_rows`
and `nonzero_rows` (breakdowns.py), and the supply order's `component_levels` (supply_order.py).

Why a loop of our own: the block's rows are read at random (each link reads its supplier's row), so the time goes
in memory latency, and SciPy's `csr_matvecs` adds to it by updating each output value in memory once per link.
Measured at 1M companies / 5M links, one core, as a share of SciPy's time in the same run (K = 5 and 10
columns): MKL's `mkl_sparse_d_mm` 0.79 and 0.95; SuiteSparse:GraphBLAS 1.8 and 2.0; the same loop in Numba
0.8 and 1.2; this one, which keeps a row's K sums in registers and asks for the supplier row 16 links ahead,
0.58 and 0.50 (51 against 88 ms, 69 against 137). K=1 gains nothing (the vector fits in cache), but takes the
same path: one way to multiply.
"""

ctypedef fused pointer_t:
    int
    long long

ctypedef fused index_t:
    int
    long long

ctypedef fused scatter_t:
    int
    long long

ctypedef fused row_t:
    unsigned int
    int
    long long

ctypedef fused code_t:
    unsigned char
    unsigned short

cdef extern from *:
    void __builtin_prefetch(const void* address) nogil

from libc.stdlib cimport free, malloc

cdef enum:
    AHEAD = 16  # links: far enough for the row to arrive, near enough to stay in cache
    RECEIVED = 1  # state[2] of a sweep: a closed cluster received something (ABANDONED: see `chokepoint_meet`)


cdef inline void _product_rows(
    const pointer_t[::1] indptr,
    const index_t[::1] indices,
    const double[::1] data,
    const double[:, ::1] block,
    double[:, ::1] out,
    Py_ssize_t out_first,
    Py_ssize_t start,
    Py_ssize_t end,
    const double[:, ::1] given,
    double* sums,
) noexcept nogil:
    """out[r - out_first] = given[r] (None: 0) + sum over row r's entries e of data[e] * block[indices[e]], for
    the rows start..end; `sums` holds a row's K sums."""
    cdef Py_ssize_t columns = block.shape[1], last = indices.shape[0] - 1, r, k, e, stop
    cdef double value, total
    cdef const double* supplier
    for r in range(start, end):
        if given is None:
            for k in range(columns):
                sums[k] = 0.0
        else:
            for k in range(columns):
                sums[k] = given[r, k]
        stop = indptr[r + 1]
        if columns == 1:
            # The sum in a register: 18 against 25 ms for the loop below at 1M companies (the tariff's sweeps).
            total = sums[0]
            for e in range(indptr[r], stop):
                __builtin_prefetch(&block[indices[min(e + AHEAD, last)], 0])
                total = total + data[e] * block[indices[e], 0]
            out[r - out_first, 0] = total
            continue
        for e in range(indptr[r], stop):
            __builtin_prefetch(&block[indices[min(e + AHEAD, last)], 0])
            value = data[e]
            supplier = &block[indices[e], 0]
            for k in range(columns):
                sums[k] += value * supplier[k]
        for k in range(columns):
            out[r - out_first, k] = sums[k]


def rows_times(
    const pointer_t[::1] indptr,
    const index_t[::1] indices,
    const double[::1] data,
    const double[:, ::1] block,
    double[:, ::1] out,
    Py_ssize_t first,
    const double[:, ::1] given=None,
):
    """out[r] = given[first + r] + sum over row first + r's entries e of data[e] * block[indices[e]], for the
    out.shape[0] rows from `first` (`given` None: 0). Runs without the GIL."""
    cdef Py_ssize_t columns = block.shape[1], rows = out.shape[0]
    cdef double* sums
    if out.shape[1] != columns:
        raise ValueError(f"block of {columns} columns into out of {out.shape[1]}")
    if first < 0 or first + rows > indptr.shape[0] - 1:
        raise ValueError(f"rows {first}..{first + rows} outside the matrix's {indptr.shape[0] - 1}")
    if given is not None and (given.shape[0] < first + rows or given.shape[1] != columns):
        raise ValueError("given does not cover the rows and columns")
    if rows == 0 or columns == 0:
        return
    sums = <double*> malloc(columns * sizeof(double))
    if sums == NULL:
        raise MemoryError()
    with nogil:
        _product_rows(indptr, indices, data, block, out, first, first, first + rows, given, sums)
    free(sums)


def link_sums(
    const pointer_t[::1] indptr,
    const index_t[::1] entry,
    const double[::1] shares,
    const double[::1] per_row,
    double[::1] out,
    const row_t[::1] row=None,
    Py_ssize_t first=0,
    Py_ssize_t end=-1,
) -> None:
    """out[i] += shares[l] * per_row[row[l]] (`row` None: l) for each link l of the buyers first..end (all by
    default; `indptr`: each buyer's links) with entry[l] = i: a matrix's values from terms given per shipment
    signature, without a per-link array (36 ms at 5M links, where a per-link carry, its product with the shares
    and a weighted bincount took about 55). `out` starts at 0; two calls on disjoint buyers write disjoint
    entries when each entry is one buyer's. Without the GIL."""
    cdef Py_ssize_t size = out.shape[0], rows = per_row.shape[0], l, i, r, start, stop
    cdef Py_ssize_t buyers = indptr.shape[0] - 1
    end = buyers if end < 0 else end
    if first < 0 or first > end or end > buyers:
        raise ValueError(f"buyers {first}..{end} outside the {buyers}")
    start, stop = <Py_ssize_t> indptr[first], <Py_ssize_t> indptr[end]
    if shares.shape[0] < stop or entry.shape[0] < stop or (row is not None and row.shape[0] < stop):
        raise ValueError("fewer entries, shares or rows than links")
    with nogil:
        for l in range(start, stop):
            i = entry[l]
            r = l if row is None else <Py_ssize_t> row[l]
            if i < 0 or i >= size or r < 0 or r >= rows:
                with gil:
                    raise ValueError(f"link {l}: entry or row out of range")
            out[i] += shares[l] * per_row[r]


def links_times(
    const pointer_t[::1] indptr,
    const double[::1] shares,
    const double[:, ::1] per_row,
    const unsigned char[::1] live,
    double[:, ::1] out,
    const row_t[::1] row=None,
    const scatter_t[::1] scatter=None,
    Py_ssize_t first=0,
    Py_ssize_t end=-1,
) -> None:
    """For the buyers b of first..end (all by default), out[b] = sum over b's links l (indptr[b]:indptr[b + 1]) of
    shares[l] * per_row[row[l]] (`row` None: l), skipping the rows whose `live` is 0; with `scatter` (a
    permutation), into out[scatter[b]]. Per-link terms given per shipment signature, gathered to the buyers
    without a per-link block. Without the GIL."""
    cdef Py_ssize_t buyers = indptr.shape[0] - 1, columns = per_row.shape[1], rows = per_row.shape[0], b, l, k, r
    cdef Py_ssize_t o
    cdef double share
    cdef double* sums
    cdef Py_ssize_t links
    end = buyers if end < 0 else end
    if first < 0 or first > end or end > buyers:
        raise ValueError(f"buyers {first}..{end} outside the {buyers}")
    links = <Py_ssize_t> indptr[end]
    if out.shape[1] != columns or live.shape[0] != rows or out.shape[0] != buyers:
        raise ValueError("out, per_row and live do not match")
    if shares.shape[0] < links or (row is not None and row.shape[0] < links) or (row is None and rows < links):
        raise ValueError("fewer shares or rows than links")
    if scatter is not None and scatter.shape[0] != buyers:
        raise ValueError("scatter needs one row per buyer")
    if columns == 0:
        return
    sums = <double*> malloc(columns * sizeof(double))
    if sums == NULL:
        raise MemoryError()
    with nogil:
        for b in range(first, end):
            for k in range(columns):
                sums[k] = 0.0
            for l in range(indptr[b], indptr[b + 1]):
                r = l if row is None else <Py_ssize_t> row[l]
                if r < 0 or r >= rows:
                    with gil:
                        free(sums)
                        raise ValueError(f"link {l}: row out of range")
                if not live[r]:
                    continue
                share = shares[l]
                for k in range(columns):
                    sums[k] += share * per_row[r, k]
            o = b if scatter is None else scatter[b]
            if o < 0 or o >= buyers:
                with gil:
                    free(sums)
                    raise ValueError(f"buyer {b}: scatter row out of range")
            for k in range(columns):
                out[o, k] = sums[k]
    free(sums)


cdef inline double _store_rows(
    const double[:, ::1] values, double[:, ::1] solution, Py_ssize_t values_first, Py_ssize_t start, Py_ssize_t end
) noexcept nogil:
    """solution[r] = values[r - values_first] for the rows start..end; the largest absolute change."""
    cdef Py_ssize_t columns = values.shape[1], r, k
    cdef double change, largest = 0.0
    for r in range(start, end):
        for k in range(columns):
            change = values[r - values_first, k] - solution[r, k]
            if change < 0:
                change = -change
            if change > largest:
                largest = change
            solution[r, k] = values[r - values_first, k]
    return largest


def store(const double[:, ::1] values, double[:, ::1] solution, Py_ssize_t first) -> float:
    """solution[first:first + len(values)] = values; the largest absolute change. Runs without the GIL."""
    cdef Py_ssize_t rows = values.shape[0]
    cdef double largest
    if first < 0 or first + rows > solution.shape[0] or solution.shape[1] != values.shape[1]:
        raise ValueError("values do not fit the solution at first")
    with nogil:
        largest = _store_rows(values, solution, first, first, first + rows)
    return largest


cdef bint _solve_clusters(
    double[:, ::1] updated,
    const double[:, ::1] solution,
    Py_ssize_t first,
    const long long[::1] positions,
    const long long[::1] starts,
    const long long[::1] blocks,
    const double[::1] inverse,
    const double[::1] inside,
    const unsigned char[::1] closed,
    Py_ssize_t cluster_start,
    Py_ssize_t cluster_end,
    double* given,
    double* solved,
) noexcept nogil:
    """Solve the clusters cluster_start..cluster_end of a level part in `updated` (the part's rows, from position
    `first`), in place: cluster c has the members positions[starts[c]:starts[c + 1]] (s of them) and the s x s
    blocks at blocks[c] of `inside` (its matrix entries C) and `inverse` ((I - C)^-1). The sweep's product
    counted C at the last sweep's values, still in `solution`: x = inverse (updated - C last). A `closed` cluster
    must receive nothing (then it holds 0): True as soon as one does (the part is left half solved), else False.
    `given` and `solved`: room for the widest cluster's rows."""
    cdef Py_ssize_t columns = updated.shape[1], c, i, j, k, size
    cdef long long at, block, row
    cdef double total
    for c in range(cluster_start, cluster_end):
        at, size, block = starts[c], starts[c + 1] - starts[c], blocks[c]
        for i in range(size):
            row = positions[at + i]
            for k in range(columns):
                total = updated[row - first, k]
                for j in range(size):
                    total = total - inside[block + i * size + j] * solution[positions[at + j], k]
                given[i * columns + k] = total
                if closed[c] and total != 0.0:
                    return True
        for i in range(size):
            for k in range(columns):
                total = 0.0
                for j in range(size):
                    total = total + inverse[block + i * size + j] * given[j * columns + k]
                solved[i * columns + k] = total
        for i in range(size):
            row = positions[at + i]
            for k in range(columns):
                updated[row - first, k] = solved[i * columns + k]
    return False


cdef extern from *:
    """
    #include <sched.h>
    #define CHOKEPOINT_ABANDONED 2
    /* The meeting point of a sweep's two threads: state[0] counts who has arrived, state[1] counts the meetings,
       state[2] is set by a thread that stops the sweep (RECEIVED: a closed cluster received) or, to
       CHOKEPOINT_ABANDONED, by the caller of one that gave up before it started (then the other must not wait). The waits are microseconds, so a thread spins;
       it yields its core once a wait gets long (its partner was descheduled). The atomics order every write
       before a meeting before every read after it. */
    static void chokepoint_meet(long long *state) {
        long long meeting = __atomic_load_n(&state[1], __ATOMIC_ACQUIRE);
        long spins = 0;
        if (__atomic_add_fetch(&state[0], 1, __ATOMIC_ACQ_REL) == 2) {
            __atomic_store_n(&state[0], 0, __ATOMIC_RELAXED);
            __atomic_store_n(&state[1], meeting + 1, __ATOMIC_RELEASE);
            return;
        }
        while (__atomic_load_n(&state[1], __ATOMIC_ACQUIRE) == meeting) {
            if (__atomic_load_n(&state[2], __ATOMIC_ACQUIRE) == CHOKEPOINT_ABANDONED) {
                return;
            }
            if (++spins > 4096) {
                sched_yield();
            } else {
    #if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
    #endif
            }
        }
    }
    """
    void chokepoint_meet(long long* state) nogil
    const long long CHOKEPOINT_ABANDONED


# What a caller sets state[2] of a sweep to when one of its two threads will never come.
ABANDONED = CHOKEPOINT_ABANDONED


def sweep(
    const pointer_t[::1] indptr,
    const index_t[::1] indices,
    const double[::1] data,
    double[:, ::1] solution,
    const double[:, ::1] given,
    double[:, ::1] values,
    const long long[:, ::1] parts,
    const long long[::1] positions,
    const long long[::1] starts,
    const long long[::1] blocks,
    const double[::1] inverse,
    const double[::1] inside,
    const unsigned char[::1] closed,
    double[:, ::1] scratch,
    long long[::1] state,
    int me,
    int threads,
) -> float:
    """One thread's share of a sweep over level parts, in order: for each part (a row of `parts`: its positions
    start..end, the position `middle` where the second thread's rows begin, its clusters first..end), every row
    r = given[r] + (M solution)[r] into `values` (the part's rows), the part's clusters solved there
    (`_solve_clusters`; `positions`..`closed` hold every cluster of the parts), and the rows stored into
    `solution`. With `threads` 2, thread `me` 0 takes the rows before `middle`, 1 the rest and the two meet
    (`state`: 3 zeros, shared) after the products, the clusters and the stores, so a part reads only stored rows;
    with 1, one thread does all. Both threads must be given the same arguments but `me`. The largest change of
    this thread's rows, or -1.0 when a closed cluster received anything (for both threads: the sweep stops there)
    or the caller set state[2] to ABANDONED (its other thread never came).
    `scratch`: a row per thread, of at least K + 2 K s values (s: the widest cluster). Without the GIL."""
    cdef Py_ssize_t columns = solution.shape[1], rows = solution.shape[0], p, c, start, middle, end, low, high
    cdef Py_ssize_t widest = 0, clusters = starts.shape[0] - 1, size
    cdef double largest = 0.0, change
    cdef double* sums
    cdef bint received
    if threads not in (1, 2) or me < 0 or me >= threads:
        raise ValueError(f"thread {me} of {threads}")
    if given.shape[0] != rows or given.shape[1] != columns or values.shape[1] != columns:
        raise ValueError("given and values do not match the solution")
    if indptr.shape[0] - 1 != rows or parts.shape[1] != 5 or state.shape[0] != 3:
        raise ValueError("the matrix, parts or state do not match")
    if blocks.shape[0] != clusters or closed.shape[0] != clusters or inverse.shape[0] != inside.shape[0]:
        raise ValueError("the clusters' arrays do not match")
    for c in range(clusters):
        size = starts[c + 1] - starts[c]
        widest = max(widest, size)
        if blocks[c] < 0 or blocks[c] + size * size > inverse.shape[0]:
            raise ValueError(f"cluster {c}: its blocks are outside the arrays")
    if scratch.shape[0] < threads or scratch.shape[1] < columns + 2 * columns * widest:
        raise ValueError("scratch is too small")
    for p in range(parts.shape[0]):
        start, middle, end = parts[p, 0], parts[p, 1], parts[p, 2]
        if not (0 <= start <= middle <= end <= rows) or end - start > values.shape[0]:
            raise ValueError(f"part {p}: rows {start}..{middle}..{end} outside the solution or values")
        if not (0 <= parts[p, 3] <= parts[p, 4] <= clusters):
            raise ValueError(f"part {p}: clusters outside the arrays")
        for c in range(parts[p, 3], parts[p, 4]):
            for low in range(starts[c], starts[c + 1]):
                if positions[low] < start or positions[low] >= end:
                    raise ValueError(f"cluster {c}: a member outside its part")
    if columns == 0:
        return 0.0
    sums = &scratch[me, 0]
    with nogil:
        for p in range(parts.shape[0]):
            start, middle, end = parts[p, 0], parts[p, 1], parts[p, 2]
            low, high = start, end
            if threads == 2 and me == 0:
                high = middle
            elif threads == 2:
                low = middle
            _product_rows(indptr, indices, data, solution, values, start, low, high, given, sums)
            if threads == 2:
                chokepoint_meet(&state[0])
            if parts[p, 3] < parts[p, 4]:
                if me == 0:
                    received = _solve_clusters(
                        values, solution, start, positions, starts, blocks, inverse, inside, closed,
                        parts[p, 3], parts[p, 4], sums + columns, sums + columns + columns * widest,
                    )
                    if received:
                        state[2] = RECEIVED
                if threads == 2:
                    chokepoint_meet(&state[0])
                if state[2]:
                    break
            change = _store_rows(values, solution, start, low, high)
            largest = max(largest, change)
            if threads == 2:
                chokepoint_meet(&state[0])
                if state[2]:
                    break
    return -1.0 if state[2] else largest


def count_nonzero_rows(const double[:, :] values, long long[::1] pointers) -> int:
    """pointers[i + 1] = how many of values' rows 0..i are positive, pointers[0] = 0; the count of all. Without
    the GIL."""
    cdef Py_ssize_t rows = values.shape[0], columns = values.shape[1], r, k
    cdef long long count = 0
    if pointers.shape[0] != rows + 1:
        raise ValueError("pointers need one more row than values")
    with nogil:
        pointers[0] = 0
        for r in range(rows):
            for k in range(columns):
                if values[r, k] > 0:
                    count += 1
            pointers[r + 1] = count
    return count


def nonzero_rows(const double[:, :] values, code_t[::1] codes, double[::1] kept) -> None:
    """The positive values, row by row, into `kept`, and their columns into `codes` (both count_nonzero_rows
    long). Without the GIL."""
    cdef Py_ssize_t rows = values.shape[0], columns = values.shape[1], r, k, at = 0, size = kept.shape[0]
    if codes.shape[0] != size:
        raise ValueError("codes and kept differ in length")
    with nogil:
        for r in range(rows):
            for k in range(columns):
                if values[r, k] > 0:
                    if at == size:
                        with gil:
                            raise ValueError("more positive values than kept has room for")
                    codes[at] = <code_t> k
                    kept[at] = values[r, k]
                    at += 1
    if at != size:
        raise ValueError("fewer positive values than kept has room for")


def component_levels(
    const pointer_t[::1] indptr,
    const index_t[::1] indices,
    const long long[::1] component,
    const long long[::1] by_component,
    long long[::1] level,
) -> None:
    """level[c] = 0 for a component without forward suppliers, else one past its deepest forward supplier, for a
    pattern (row = buyer, column = supplier) whose components are numbered suppliers first (a forward entry has
    component[supplier] < component[buyer]); `by_component`: the rows in ascending component. One pass: every
    supplier component is final before its buyers are visited. `level` starts at 0. Without the GIL."""
    cdef Py_ssize_t rows = indptr.shape[0] - 1, i, e
    cdef long long buyer, supplier, row
    if component.shape[0] != rows or by_component.shape[0] != rows:
        raise ValueError("component and by_component need one entry per row")
    with nogil:
        for i in range(rows):
            row = by_component[i]
            buyer = component[row]
            for e in range(indptr[row], indptr[row + 1]):
                supplier = component[indices[e]]
                if supplier < buyer and level[supplier] + 1 > level[buyer]:
                    level[buyer] = level[supplier] + 1
