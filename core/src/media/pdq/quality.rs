//! Step 4: the quality score (0..=100), from the quantised gradients of the
//! 64×64 image.

use super::Image64;

/// The reference's image-domain quality metric: sum of quantised absolute
/// vertical and horizontal gradients (`(int)((u - v) * 100 / 255)` in `f32`),
/// divided by 90 and capped at 100.
pub(super) fn quality_metric(image: &Image64) -> u32 {
    let step = |u: f32, v: f32| -> i32 { (((u - v) * 100.0) / 255.0) as i32 };
    let mut gradient_sum: i32 = 0;
    // Vertical neighbours: rows i and i + 1.
    for (upper, lower) in image.iter().zip(image.iter().skip(1)) {
        for (&u, &v) in upper.iter().zip(lower.iter()) {
            gradient_sum += step(u, v).abs();
        }
    }
    // Horizontal neighbours: columns j and j + 1.
    for row in image.iter() {
        for (&u, &v) in row.iter().zip(row.iter().skip(1)) {
            gradient_sum += step(u, v).abs();
        }
    }
    (gradient_sum / 90).clamp(0, 100) as u32
}
