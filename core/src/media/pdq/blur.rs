//! Steps 2 and 3: the Jarosz tent filter and centre-sampling decimation to
//! 64×64 (the reference's `jaroszFilterFloat` + `decimateFloat`).
//!
//! The reference filters out of place between two full-size buffers. Here
//! both box passes run in place on the luminance plane (using small scratch
//! buffers, see [`super::box_filter`]) and the last vertical pass is fused
//! with decimation. Every output value still results from exactly the
//! reference's sequence of `f32` operations; only the scheduling and memory
//! layout differ.

use super::box_filter::{BoxPhases, BoxScratch, box_cols_in_place, box_rows_in_place};
use super::{DOWNSAMPLED, Image64, JAROSZ_PASSES};

/// Blurs the luminance plane with the reference's Jarosz tent filter (two
/// rounds of rows-then-columns box filters) and samples it down to 64×64
/// (`jaroszFilterFloat` + `decimateFloat`).
pub(super) fn blur_and_decimate(mut buf: Vec<f32>, rows: usize, cols: usize) -> Image64 {
    let window_along_rows = jarosz_window(cols, DOWNSAMPLED);
    let window_along_cols = jarosz_window(rows, DOWNSAMPLED);
    let mut scratch = BoxScratch::new(cols, window_along_cols);
    for pass in 0..JAROSZ_PASSES {
        box_rows_in_place(&mut buf, cols, window_along_rows, &mut scratch);
        if pass + 1 < JAROSZ_PASSES {
            box_cols_in_place(&mut buf, rows, cols, window_along_cols, &mut scratch);
        }
    }
    box_along_cols_decimate(&buf, rows, cols, window_along_cols)
}

/// Copies an exactly-64×64 plane, which the reference uses without blurring.
pub(super) fn copy_64x64(luma: &[f32]) -> Image64 {
    let mut out = [[0f32; DOWNSAMPLED]; DOWNSAMPLED];
    for (dst, src) in out.iter_mut().zip(luma.chunks_exact(DOWNSAMPLED)) {
        dst.copy_from_slice(src);
    }
    out
}

/// Box-filter window for reducing `old_dim` to `new_dim` in two passes:
/// `ceil(old_dim / (2 * new_dim))` (the reference's
/// `computeJaroszFilterWindowSize`).
fn jarosz_window(old_dim: usize, new_dim: usize) -> usize {
    old_dim.div_ceil(2 * new_dim)
}

/// Source index sampled for output index `out_index` (pixel centres), in the
/// reference's double-precision arithmetic.
fn decimation_index(out_index: usize, in_len: usize) -> usize {
    let idx = (((out_index as f64) + 0.5) * (in_len as f64) / (DOWNSAMPLED as f64)) as usize;
    // Mathematically idx < in_len always; the clamp only guards the slice.
    idx.min(in_len.saturating_sub(1))
}

// ----------------------------------------------------------------------------
// The last vertical pass, fused with decimation.

/// State of the final vertical box pass restricted to the 64 sampled
/// columns, and the 64×64 output it fills.
struct SampledColumns {
    /// Source column of each output column.
    col_idx: [usize; DOWNSAMPLED],
    /// Source row of each output row (non-decreasing).
    row_idx: [usize; DOWNSAMPLED],
    /// Running sums of the sampled columns.
    sums: [f32; DOWNSAMPLED],
    /// The sampled columns of the filtered row `out_row`.
    current: [f32; DOWNSAMPLED],
    /// The decimated image.
    out: Image64,
    /// Output rows filled so far.
    filled: usize,
    /// Index of the next filtered row.
    out_row: usize,
}

impl SampledColumns {
    fn new(rows: usize, cols: usize) -> SampledColumns {
        let mut col_idx = [0usize; DOWNSAMPLED];
        let mut row_idx = [0usize; DOWNSAMPLED];
        for (k, (c, r)) in col_idx.iter_mut().zip(row_idx.iter_mut()).enumerate() {
            *c = decimation_index(k, cols);
            *r = decimation_index(k, rows);
        }
        SampledColumns {
            col_idx,
            row_idx,
            sums: [0f32; DOWNSAMPLED],
            current: [0f32; DOWNSAMPLED],
            out: [[0f32; DOWNSAMPLED]; DOWNSAMPLED],
            filled: 0,
            out_row: 0,
        }
    }

    /// Warm-up step: `sum += x` for the sampled columns of `add`.
    fn add(&mut self, add: &[f32]) {
        for (s, &c) in self.sums.iter_mut().zip(&self.col_idx) {
            *s += add.get(c).copied().unwrap_or(0.0);
        }
    }

    /// Growing step; returns whether more filtered rows are needed.
    fn add_emit(&mut self, add: &[f32], denom: f32) -> bool {
        let lanes = self.sums.iter_mut().zip(&self.col_idx);
        for ((s, &c), o) in lanes.zip(self.current.iter_mut()) {
            *s += add.get(c).copied().unwrap_or(0.0);
            *o = *s / denom;
        }
        self.emit()
    }

    /// Full-window step; returns whether more filtered rows are needed.
    fn slide_emit(&mut self, add: &[f32], sub: &[f32], denom: f32) -> bool {
        let lanes = self.sums.iter_mut().zip(&self.col_idx);
        for ((s, &c), o) in lanes.zip(self.current.iter_mut()) {
            *s += add.get(c).copied().unwrap_or(0.0);
            *s -= sub.get(c).copied().unwrap_or(0.0);
            *o = *s / denom;
        }
        self.emit()
    }

    /// Shrinking step; returns whether more filtered rows are needed.
    fn drain_emit(&mut self, sub: &[f32], denom: f32) -> bool {
        let lanes = self.sums.iter_mut().zip(&self.col_idx);
        for ((s, &c), o) in lanes.zip(self.current.iter_mut()) {
            *s -= sub.get(c).copied().unwrap_or(0.0);
            *o = *s / denom;
        }
        self.emit()
    }

    /// Stores `current` (filtered row `out_row`) into every output row that
    /// samples it and moves on to the next filtered row. Returns false once
    /// all 64 output rows are filled.
    fn emit(&mut self) -> bool {
        let pending = self.out.iter_mut().zip(&self.row_idx).skip(self.filled);
        for (dst, &src) in pending {
            if src != self.out_row {
                break;
            }
            *dst = self.current;
            self.filled += 1;
        }
        self.out_row += 1;
        self.filled < DOWNSAMPLED
    }
}

/// Final vertical box pass fused with decimation.
///
/// Produces exactly the values the reference would read from its fully
/// filtered buffer at the 64×64 sample positions, but only runs the column
/// filters for the 64 sampled columns and stops after the last sampled row.
fn box_along_cols_decimate(input: &[f32], rows: usize, cols: usize, window: usize) -> Image64 {
    let phases = BoxPhases::new(rows, window);
    let mut state = SampledColumns::new(rows, cols);
    let mut adds = input.chunks_exact(cols);
    let mut subs = input.chunks_exact(cols);
    let mut count = 0u32;

    for row in adds.by_ref().take(phases.warmup) {
        count += 1;
        state.add(row);
    }
    for row in adds.by_ref().take(phases.growing) {
        count += 1;
        if !state.add_emit(row, count as f32) {
            return state.out;
        }
    }
    let denom = count as f32;
    for (add, sub) in adds.by_ref().zip(subs.by_ref()).take(phases.full) {
        if !state.slide_emit(add, sub, denom) {
            return state.out;
        }
    }
    for sub in subs.by_ref().take(phases.shrinking) {
        count -= 1;
        if !state.drain_emit(sub, count as f32) {
            break;
        }
    }
    state.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::pdq::PixelFormat;
    use crate::media::pdq::luma::luma_plane;
    use crate::media::pdq::tests::test_image;

    /// Literal index-based port of the reference's `box1DFloat`.
    fn reference_box1d(
        input: &[f32],
        output: &mut [f32],
        offset: usize,
        len: usize,
        stride: usize,
        window: usize,
    ) {
        let half = (window + 2) / 2;
        let (p1, p2, p3, p4) = (half - 1, window - half + 1, len - window, half - 1);
        let (mut li, mut ri, mut oi) = (offset, offset, offset);
        let mut sum = 0f32;
        let mut size = 0i32;
        for _ in 0..p1 {
            sum += input[ri];
            size += 1;
            ri += stride;
        }
        for _ in 0..p2 {
            sum += input[ri];
            size += 1;
            output[oi] = sum / size as f32;
            ri += stride;
            oi += stride;
        }
        for _ in 0..p3 {
            sum += input[ri];
            sum -= input[li];
            output[oi] = sum / size as f32;
            li += stride;
            ri += stride;
            oi += stride;
        }
        for _ in 0..p4 {
            sum -= input[li];
            size -= 1;
            output[oi] = sum / size as f32;
            li += stride;
            oi += stride;
        }
    }

    /// Literal port of `jaroszFilterFloat` + `decimateFloat`.
    fn reference_downsample(luma: &[f32], rows: usize, cols: usize) -> Image64 {
        let mut b1 = luma.to_vec();
        let mut b2 = vec![0f32; b1.len()];
        let wr = jarosz_window(cols, DOWNSAMPLED);
        let wc = jarosz_window(rows, DOWNSAMPLED);
        for _ in 0..JAROSZ_PASSES {
            for i in 0..rows {
                reference_box1d(&b1, &mut b2, i * cols, cols, 1, wr);
            }
            for j in 0..cols {
                reference_box1d(&b2, &mut b1, j, rows, cols, wc);
            }
        }
        let mut out = [[0f32; DOWNSAMPLED]; DOWNSAMPLED];
        for (i, row) in out.iter_mut().enumerate() {
            let ini = ((i as f64 + 0.5) * rows as f64 / 64.0) as usize;
            for (j, v) in row.iter_mut().enumerate() {
                let inj = ((j as f64 + 0.5) * cols as f64 / 64.0) as usize;
                *v = b1[ini * cols + inj];
            }
        }
        out
    }

    #[test]
    fn optimised_downsample_matches_literal_port() {
        let sizes = [
            (23usize, 37usize),
            (5, 5),
            (64, 64),
            (200, 130),
            (7, 300),
            (513, 65),
            (427, 640),
            (1031, 257),
        ];
        for &(rows, cols) in &sizes {
            let luma = luma_plane(&test_image(cols, rows), PixelFormat::Rgb8, rows * cols);
            let expected = reference_downsample(&luma, rows, cols);
            let got = blur_and_decimate(luma, rows, cols);
            for (g, e) in got.iter().flatten().zip(expected.iter().flatten()) {
                assert_eq!(g.to_bits(), e.to_bits(), "{rows}x{cols}");
            }
        }
    }
}
