//! Criterion benches for on-device media hashing: PDQ of a 1-megapixel RGB image and SHA-256
//! streamed over 64 MiB through `media::hash_reader` (the path `blindmatch hash` takes).
#![allow(missing_docs)]

use blindmatch_core::media::{self, pdq};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// A deterministic, textured 1000×1000 RGB image (PDQ's cost does not depend on content, but a
/// flat image would be an unrepresentative quality-0 input).
fn image_1mp() -> Vec<u8> {
    let (w, h) = (1000u32, 1000u32);
    let mut px = Vec::with_capacity((w * h * 3) as usize);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for y in 0..h {
        for x in 0..w {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let base = ((x / 40 + y / 25) % 7 * 36) as u8;
            px.extend_from_slice(&[
                base.wrapping_add((state & 0x1f) as u8),
                (x * 255 / w) as u8,
                (y * 255 / h) as u8,
            ]);
        }
    }
    px
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("hashing");

    let px = image_1mp();
    let out = pdq::pdq_hash(&px, 1000, 1000, pdq::PixelFormat::Rgb8).unwrap();
    assert!(out.quality >= media::DEFAULT_MIN_PDQ_QUALITY);
    g.throughput(Throughput::Elements(1));
    g.bench_function("pdq_rgb_1000x1000", |b| {
        b.iter(|| pdq::pdq_hash(black_box(&px), 1000, 1000, pdq::PixelFormat::Rgb8).unwrap())
    });

    let data: Vec<u8> = (0..64u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("sha256_hash_reader_64MiB", |b| {
        b.iter(|| media::hash_reader(media::ExactKind::Sha256, black_box(data.as_slice())).unwrap())
    });
    g.finish();
}

criterion_group!(hashing, benches);
criterion_main!(hashing);
