//! The reference's 1-D box filter (`box1DFloat`) and the in-place passes of
//! it along every row (`boxAlongRowsFloat`) and every column
//! (`boxAlongColsFloat`) of the luminance plane, used by the Jarosz blur in
//! [`super::blur`].
//!
//! Every filtered value results from exactly the reference's sequence of
//! `f32` operations; only the scheduling and memory layout differ: rows are
//! filtered in interleaved blocks and columns in lock step, so the inner
//! loops vectorise.

/// Phase lengths of the reference's 1-D box filter over a vector of length
/// `len` with window `window` (requires `1 <= window <= len`, which holds for
/// all of the Jarosz filter's windows).
#[derive(Clone, Copy)]
pub(super) struct BoxPhases {
    /// Accumulate without writing.
    pub(super) warmup: usize,
    /// Accumulate and write with a growing window.
    pub(super) growing: usize,
    /// Slide the full window.
    pub(super) full: usize,
    /// Drain and write with a shrinking window.
    pub(super) shrinking: usize,
}

impl BoxPhases {
    pub(super) fn new(len: usize, window: usize) -> BoxPhases {
        let window = window.clamp(1, len.max(1));
        let half = (window + 2) / 2;
        BoxPhases {
            warmup: half - 1,
            growing: window + 1 - half,
            full: len - window,
            shrinking: half - 1,
        }
    }
}

/// One 1-D box filter along a contiguous row, matching the reference's
/// `box1DFloat` operation for operation.
fn box_row(input: &[f32], output: &mut [f32], phases: BoxPhases) {
    let mut adds = input.iter();
    let mut subs = input.iter();
    let mut outs = output.iter_mut();
    let mut sum = 0f32;
    let mut count = 0u32;

    for x in adds.by_ref().take(phases.warmup) {
        sum += *x;
        count += 1;
    }
    for (x, o) in adds.by_ref().zip(outs.by_ref()).take(phases.growing) {
        sum += *x;
        count += 1;
        *o = sum / count as f32;
    }
    let denom = count as f32;
    for ((x, y), o) in adds
        .by_ref()
        .zip(subs.by_ref())
        .zip(outs.by_ref())
        .take(phases.full)
    {
        sum += *x;
        sum -= *y;
        *o = sum / denom;
    }
    for (y, o) in subs.by_ref().zip(outs.by_ref()).take(phases.shrinking) {
        sum -= *y;
        count -= 1;
        *o = sum / count as f32;
    }
}

/// Rows filtered together by [`box_rows_in_place`].
const ROW_BLOCK: usize = 8;

/// One pixel position of [`ROW_BLOCK`] interleaved rows.
type Lanes = [f32; ROW_BLOCK];

/// Box filter along a block of [`ROW_BLOCK`] interleaved rows (`input[x]`
/// holds pixel `x` of every row of the block), advancing all rows in lock
/// step. Each row sees exactly the reference's `box1DFloat` sequence of
/// operations.
///
/// Every step works on whole [`Lanes`] values held in locals (load, add,
/// subtract, divide, store), never interleaving stores to `output` with loads
/// from `input`, so the compiler turns each step into a few vector
/// instructions without having to prove that the buffers do not overlap.
fn box_interleaved(input: &[Lanes], output: &mut [Lanes], phases: BoxPhases) {
    let add = |sums: &mut Lanes, x: &Lanes| {
        for (s, x) in sums.iter_mut().zip(x) {
            *s += *x;
        }
    };
    let sub = |sums: &mut Lanes, y: &Lanes| {
        for (s, y) in sums.iter_mut().zip(y) {
            *s -= *y;
        }
    };
    let mean = |sums: &Lanes, denom: f32| sums.map(|s| s / denom);
    let mut sums: Lanes = [0.0; ROW_BLOCK];
    let mut adds = input.iter();
    let mut subs = input.iter();
    let mut outs = output.iter_mut();
    let mut count = 0u32;

    for x in adds.by_ref().take(phases.warmup) {
        count += 1;
        add(&mut sums, x);
    }
    for (x, o) in adds.by_ref().zip(outs.by_ref()).take(phases.growing) {
        count += 1;
        add(&mut sums, x);
        *o = mean(&sums, count as f32);
    }
    let denom = count as f32;
    for ((x, y), o) in adds
        .by_ref()
        .zip(subs.by_ref())
        .zip(outs.by_ref())
        .take(phases.full)
    {
        add(&mut sums, x);
        sub(&mut sums, y);
        *o = mean(&sums, denom);
    }
    for (y, o) in subs.by_ref().zip(outs.by_ref()).take(phases.shrinking) {
        count -= 1;
        sub(&mut sums, y);
        *o = mean(&sums, count as f32);
    }
}

/// Scratch memory for the in-place box passes, allocated once per image.
pub(super) struct BoxScratch {
    /// `ROW_BLOCK` rows interleaved: element `x` holds pixel `x` of each row.
    interleaved_in: Vec<Lanes>,
    /// Filtered counterpart of `interleaved_in`.
    interleaved_out: Vec<Lanes>,
    /// One row, for rows not covered by a full block.
    row: Vec<f32>,
    /// Running sums of the column pass, one per column.
    sums: Vec<f32>,
    /// Ring buffer holding the last `window_along_cols + 1` unfiltered rows.
    ring: Vec<f32>,
}

impl BoxScratch {
    pub(super) fn new(cols: usize, window_along_cols: usize) -> BoxScratch {
        BoxScratch {
            interleaved_in: vec![[0f32; ROW_BLOCK]; cols],
            interleaved_out: vec![[0f32; ROW_BLOCK]; cols],
            row: vec![0f32; cols],
            sums: vec![0f32; cols],
            ring: vec![0f32; cols * (window_along_cols + 1)],
        }
    }
}

/// In-place box filter along every row (`boxAlongRowsFloat`).
///
/// A single row's running sum is a serial dependency chain, so rows are
/// processed [`ROW_BLOCK`] at a time: the block is interleaved (transposed)
/// into scratch memory, filtered by [`box_interleaved`], which advances all
/// of its rows in lock step, then written back.
pub(super) fn box_rows_in_place(
    buf: &mut [f32],
    cols: usize,
    window: usize,
    scratch: &mut BoxScratch,
) {
    let phases = BoxPhases::new(cols, window);
    let mut blocks = buf.chunks_exact_mut(cols * ROW_BLOCK);
    for block in blocks.by_ref() {
        for (k, row) in block.chunks_exact(cols).enumerate() {
            for (cell, &v) in scratch.interleaved_in.iter_mut().zip(row) {
                if let Some(slot) = cell.get_mut(k) {
                    *slot = v;
                }
            }
        }
        box_interleaved(
            &scratch.interleaved_in,
            &mut scratch.interleaved_out,
            phases,
        );
        for (k, row) in block.chunks_exact_mut(cols).enumerate() {
            for (v, cell) in row.iter_mut().zip(&scratch.interleaved_out) {
                if let Some(&x) = cell.get(k) {
                    *v = x;
                }
            }
        }
    }
    for row in blocks.into_remainder().chunks_exact_mut(cols) {
        scratch.row.copy_from_slice(row);
        box_row(&scratch.row, row, phases);
    }
}

// Column-pass kernels: one step of the `cols` box filters of
// [`box_cols_in_place`], advancing in lock step (`sums[c]` is column `c`'s
// running sum). Each performs, per column, exactly the reference's `f32`
// operations for that step, in the same order.

/// Warm-up step: `sum += x`.
#[inline]
fn lanes_add(sums: &mut [f32], add: &[f32]) {
    for (s, x) in sums.iter_mut().zip(add) {
        *s += *x;
    }
}

/// Growing step: `sum += x; out = sum / denom`.
#[inline]
fn lanes_add_emit(sums: &mut [f32], add: &[f32], out: &mut [f32], denom: f32) {
    for ((s, x), o) in sums.iter_mut().zip(add).zip(out.iter_mut()) {
        *s += *x;
        *o = *s / denom;
    }
}

/// Full-window step: `sum += x; sum -= y; out = sum / denom`.
#[inline]
fn lanes_slide_emit(sums: &mut [f32], add: &[f32], sub: &[f32], out: &mut [f32], denom: f32) {
    for (((s, x), y), o) in sums.iter_mut().zip(add).zip(sub).zip(out.iter_mut()) {
        *s += *x;
        *s -= *y;
        *o = *s / denom;
    }
}

/// Shrinking step: `sum -= y; out = sum / denom`.
#[inline]
fn lanes_drain_emit(sums: &mut [f32], sub: &[f32], out: &mut [f32], denom: f32) {
    for ((s, y), o) in sums.iter_mut().zip(sub).zip(out.iter_mut()) {
        *s -= *y;
        *o = *s / denom;
    }
}

/// Ring buffer of the last `slots` unfiltered rows of a plane being filtered
/// in place along its columns.
struct RowRing<'a> {
    ring: &'a mut [f32],
    cols: usize,
    slots: usize,
}

impl RowRing<'_> {
    /// Range of row `r`'s slot in the ring.
    fn slot(&self, r: usize) -> std::ops::Range<usize> {
        let start = (r % self.slots) * self.cols;
        start..start + self.cols
    }

    /// Copies row `r` of `buf` into its slot, before `buf`'s copy is
    /// overwritten.
    fn save(&mut self, buf: &[f32], r: usize) {
        let slot = self.slot(r);
        let src = buf.get(r * self.cols..(r + 1) * self.cols);
        if let (Some(dst), Some(src)) = (self.ring.get_mut(slot), src) {
            dst.copy_from_slice(src);
        }
    }

    /// The saved copy of row `r` (empty if it is not in the ring).
    fn row(&self, r: usize) -> &[f32] {
        self.ring.get(self.slot(r)).unwrap_or_default()
    }
}

/// In-place box filter along every column (`boxAlongColsFloat`).
///
/// All columns advance together one row at a time (sequential memory access,
/// vectorised inner loops). Each input row is copied into a ring buffer of
/// `window + 1` rows before its slot in `buf` can be overwritten; all reads
/// come from the ring. Each column sees exactly the reference's sequence of
/// operations.
pub(super) fn box_cols_in_place(
    buf: &mut [f32],
    rows: usize,
    cols: usize,
    window: usize,
    scratch: &mut BoxScratch,
) {
    let phases = BoxPhases::new(rows, window);
    let slots = scratch.ring.len() / cols.max(1);
    if slots == 0 {
        return;
    }
    let sums = scratch.sums.get_mut(..cols).unwrap_or_default();
    sums.fill(0.0);
    let mut ring = RowRing {
        ring: &mut scratch.ring,
        cols,
        slots,
    };
    let row_range = |r: usize| r * cols..(r + 1) * cols;
    // Next row to add, to subtract, and to write.
    let (mut ri, mut li, mut oi) = (0usize, 0usize, 0usize);
    let mut count = 0u32;

    for _ in 0..phases.warmup {
        ring.save(buf, ri);
        count += 1;
        lanes_add(sums, ring.row(ri));
        ri += 1;
    }
    for _ in 0..phases.growing {
        ring.save(buf, ri);
        count += 1;
        let out = buf.get_mut(row_range(oi)).unwrap_or_default();
        lanes_add_emit(sums, ring.row(ri), out, count as f32);
        ri += 1;
        oi += 1;
    }
    let denom = count as f32;
    for _ in 0..phases.full {
        ring.save(buf, ri);
        let out = buf.get_mut(row_range(oi)).unwrap_or_default();
        lanes_slide_emit(sums, ring.row(ri), ring.row(li), out, denom);
        ri += 1;
        li += 1;
        oi += 1;
    }
    for _ in 0..phases.shrinking {
        count -= 1;
        let out = buf.get_mut(row_range(oi)).unwrap_or_default();
        lanes_drain_emit(sums, ring.row(li), out, count as f32);
        li += 1;
        oi += 1;
    }
}
