"""Media hashing from Python: exact hashes, PDQ with its quality gate, typed-hash helpers."""

import pytest

import blindmatch as bm


def test_exact_hashes_match_known_digests():
    assert bm.sha256(b"abc").bytes.hex() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert bm.sha1(b"abc").bytes.hex() == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert bm.md5(b"").bytes.hex() == "d41d8cd98f00b204e9800998ecf8427e"
    assert bm.sha256(b"abc").kind == bm.HashKind.SHA256
    assert bm.hash_bytes(bm.HashKind.MD5, b"") == bm.md5(b"")


def test_hash_file_streams_the_same_digest(tmp_path):
    data = bytes(i * 7 % 256 for i in range(300_000))
    p = tmp_path / "media.bin"
    p.write_bytes(data)
    assert bm.hash_file(bm.HashKind.SHA256, str(p)) == bm.sha256(data)
    with pytest.raises(bm.BlindMatchError.Io):
        bm.hash_file(bm.HashKind.SHA256, str(tmp_path / "missing"))


def test_pdq_of_raw_bytes_is_bad_input():
    with pytest.raises(bm.BlindMatchError.BadInput):
        bm.hash_bytes(bm.HashKind.PDQ, b"not pixels")


def gradient(width, height, channels):
    out = bytearray()
    for y in range(height):
        for x in range(width):
            v = (x * 255 // width) ^ (y * 255 // height)
            px = [v, (x * 3) % 256, (y * 5) % 256]
            out += bytes(px + [255] * (channels - 3))
    return bytes(out)


def test_pdq_rgb_and_rgba_agree_and_pass_the_gate():
    rgb = bm.pdq_hash(gradient(96, 80, 3), 96, 80, bm.PixelFormat.RGB)
    rgba = bm.pdq_hash(gradient(96, 80, 4), 96, 80, bm.PixelFormat.RGBA)
    assert rgb.hash is not None and rgb.hash.kind == bm.HashKind.PDQ
    assert len(rgb.hash.bytes) == 32
    assert rgb == rgba
    assert rgb.quality >= bm.default_min_pdq_quality()


def test_pdq_quality_gate_rejects_a_flat_image():
    flat = bytes([128]) * (64 * 64 * 3)
    r = bm.pdq_hash(flat, 64, 64, bm.PixelFormat.RGB)
    assert r.hash is None
    assert r.quality < 50
    # The gate is the caller's to set.
    assert bm.pdq_hash(flat, 64, 64, bm.PixelFormat.RGB, min_quality=0).hash is not None


@pytest.mark.parametrize(
    "pixels,width,height",
    [(b"\x00" * 10, 4, 4), (b"", 0, 0), (b"\x00" * 12, 2, 2 + 1), (b"\x00" * 3, 1 << 20, 1)],
)
def test_pdq_rejects_bad_buffers(pixels, width, height):
    with pytest.raises(bm.BlindMatchError.BadInput):
        bm.pdq_hash(pixels, width, height, bm.PixelFormat.RGB)


def test_typed_hash_helpers():
    h = bm.sha1(b"abc")
    text = bm.typed_hash_to_string(h)
    assert text == "sha1:a9993e364706816aba3e25717850c26c9cd0d89d"
    assert bm.parse_typed_hash(text) == h
    assert bm.hash_from_hex(bm.HashKind.SHA1, text.split(":")[1].upper()) == h
    with pytest.raises(bm.BlindMatchError.BadInput):
        bm.parse_typed_hash("blake3:00")
    with pytest.raises(bm.BlindMatchError.BadInput):
        bm.hash_from_hex(bm.HashKind.SHA256, "00ff")
    with pytest.raises(bm.BlindMatchError.BadInput):
        bm.typed_hash_to_string(bm.TypedHash(kind=bm.HashKind.MD5, bytes=b"\x00" * 15))


def test_hash_list_parsing_names_the_line_not_its_content():
    text = "# a list\nmd5,d41d8cd98f00b204e9800998ecf8427e\n\n" + "ab" * 32 + "\n"
    hashes = bm.parse_hash_list(text, bm.HashKind.SHA256)
    assert [h.kind for h in hashes] == [bm.HashKind.MD5, bm.HashKind.SHA256]
    with pytest.raises(bm.BlindMatchError.BadInput) as e:
        bm.parse_hash_list("ab" * 32 + "\nzz-secret-line\n", bm.HashKind.SHA256)
    assert e.value.line == 2
    assert "line 2" in str(e.value)
    assert "secret" not in str(e.value)
    with pytest.raises(bm.BlindMatchError.BadInput) as e:
        bm.parse_hash_list("# header\n\nmd5,00\n")
    assert e.value.line == 3
