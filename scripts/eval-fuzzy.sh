#!/usr/bin/env bash
# The fuzzy-matching measurement of docs/FUZZY.md: installs the picture corpus on demand, then
# runs `blindmatch eval-fuzzy --sweep` (dihedral off) and the recommended configuration with
# each dihedral handling, then the recommended configuration through the real protocol
# (`--protocol`) and `blindmatch simulate --fuzzy` on its open counts. Not part of the test run.
#
# Corpus, from package registries only (nothing else is downloaded):
#   - Debian's openclipart-png (apt-get), every PNG under /usr/share/openclipart/png;
#   - the photos bundled in scikit-image's PyPI wheel (pip, into a venv under target/).
# Both are copied into one flat folder, $OUT/corpus.
#
# Environment: OUT (default target/fuzzy-eval), MAX_IMAGES (default 0 = every picture; N uses
# N spread evenly over the sorted names), SKIMAGE_VERSION (default 0.26.0), FUZZY_ARGS (extra
# arguments for every eval-fuzzy run), NICE (default 19), SWEEPS (default 1; 0 runs only the
# real-protocol evaluation), PROTOCOL_LIST_SIZE (default 100000: hashes in the real fuzzy
# database). Hashing the ~6,900 pictures and their
# 13 edits takes about 5 minutes of 2 cores; the hashes are cached in $OUT/hashes.bin, so the
# sweeps after it take a minute or two each.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-target/fuzzy-eval}
MAX_IMAGES=${MAX_IMAGES:-0}
SKIMAGE_VERSION=${SKIMAGE_VERSION:-0.26.0}
NICE=${NICE:-19}
SWEEPS=${SWEEPS:-1}
PROTOCOL_LIST_SIZE=${PROTOCOL_LIST_SIZE:-100000}
CORPUS=$OUT/corpus
mkdir -p "$CORPUS"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! dpkg -s openclipart-png >/dev/null 2>&1; then
  echo "== apt-get install openclipart-png"
  as_root apt-get update -q
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends openclipart-png
fi

VENV=$OUT/venv
if ! "$VENV/bin/python" -c "import skimage" >/dev/null 2>&1; then
  echo "== pip install scikit-image==$SKIMAGE_VERSION (venv $VENV)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "scikit-image==$SKIMAGE_VERSION"
fi

echo "== corpus: $CORPUS"
find /usr/share/openclipart/png -type f -name '*.png' | sort | while read -r f; do
  rel=${f#/usr/share/openclipart/png/}
  dest="$CORPUS/openclipart--${rel//\//--}"
  [ -e "$dest" ] || cp "$f" "$dest"
done
SKDATA=$("$VENV/bin/python" -c "import os, skimage; print(os.path.join(os.path.dirname(skimage.__file__), 'data'))")
find "$SKDATA" -maxdepth 1 -type f \( -name '*.png' -o -name '*.jpg' -o -name '*.jpeg' \) | sort |
  while read -r f; do
    dest="$CORPUS/skimage--$(basename "$f")"
    [ -e "$dest" ] || cp "$f" "$dest"
  done
echo "   $(find "$CORPUS" -type f | wc -l) files; openclipart-png $(dpkg-query -W -f='${Version}' openclipart-png), scikit-image $("$VENV/bin/python" -c 'import skimage; print(skimage.__version__)')"

echo "== cargo build --release -p blindmatch-cli"
cargo build --release -p blindmatch-cli
BIN=target/release/blindmatch

run() {
  # shellcheck disable=SC2086
  nice -n "$NICE" "$BIN" eval-fuzzy "$CORPUS" --max-images "$MAX_IMAGES" \
    --cache "$OUT/hashes.bin" ${FUZZY_ARGS:-} "$@"
}

if [ "$SWEEPS" != 0 ]; then
  echo "== sweep, dihedral off: $OUT/sweep.txt, $OUT/sweep.json, $OUT/recall.svg"
  run --sweep --json-file "$OUT/sweep.json" --chart "$OUT/recall.svg" | tee "$OUT/sweep.txt"

  # Dihedral handling within the budgets: the list side multiplies database entries by 8 (so one
  # band), the device side multiplies probes per item by 8.
  echo "== sweep, dihedral list (one band): $OUT/sweep-list.txt"
  run --dihedral list --sweep --sweep-bands 1 --json-file "$OUT/sweep-list.json" |
    tee "$OUT/sweep-list.txt"
  echo "== sweep, dihedral device (K <= 85): $OUT/sweep-device.txt"
  run --dihedral device --sweep --sweep-bands 1,2,3 --sweep-max-k 85 \
    --json-file "$OUT/sweep-device.json" | tee "$OUT/sweep-device.txt"
fi

# The recommended configuration through the real protocol: a fuzzy database of half the
# pictures plus random padding, a real probe bundle per edited copy and per unlisted picture.
echo "== through the real protocol: $OUT/protocol.txt, $OUT/protocol.json, $OUT/protocol.svg"
run --protocol --protocol-list-size "$PROTOCOL_LIST_SIZE" --json-file "$OUT/protocol.json" \
  --chart "$OUT/protocol.svg" | tee "$OUT/protocol.txt"
echo "== account-level advantage of the open counts: $OUT/simulate-fuzzy.txt"
nice -n "$NICE" "$BIN" simulate --fuzzy --fuzzy-histograms "$OUT/protocol.json" |
  tee "$OUT/simulate-fuzzy.txt"
