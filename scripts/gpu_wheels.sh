#!/usr/bin/env bash
# Wheels that the lent GPU machine's image lacks, for scripts/gpu_check.sh there.
#
#   scripts/gpu_wheels.sh [--no-bitsandbytes]
#
# Downloads into .whl/ (gitignored) with `pip download --no-deps` for the
# image's Python (3.12, manylinux x86_64), builds the few pure-Python
# packages that PyPI ships only as source, and prints each wheel's size and
# the total that would travel (working tree + .whl), which must stay within
# the device tool's 64 MiB per call. The image already has torch, transformers,
# accelerate, nvidia-ml-py, pandas, pyarrow, scikit-learn, sacrebleu, jinja2,
# rich, httpx (see /work/.library/device/KINDS.md); pip never resolves
# dependencies here, so every missing one is named below. Not verified there:
# datasets 5.2 asks for pyarrow >= 24 and huggingface-hub >= 1.31 (the image's
# hub is 1.33; its pyarrow version is not recorded). If `import datasets` fails
# there, carry a pyarrow wheel (about 40 MiB) with --no-bitsandbytes.
#
# On the GPU machine (no network), before the check:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
#       --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
set -euo pipefail
cd "$(dirname "$0")/.."

with_bnb=1
for arg in "$@"; do
    case "$arg" in
        --no-bitsandbytes) with_bnb=0 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "gpu_wheels: unknown option $arg (known: --no-bitsandbytes)" >&2; exit 2 ;;
    esac
done

PIP=(python3 -m pip)
DEST=${GPU_WHEELS_DEST:-.whl}
PYVER=${GPU_WHEELS_PYTHON:-3.12}  # the image's python3 is 3.12.3; another version only to rehearse elsewhere
LIMIT_BYTES=$((64 * 1024 * 1024))
TARGET=(--python-version "$PYVER" --implementation cp --only-binary=:all:
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)

# capture: zeus (+ amdsmi, which it imports), lm-eval and the dependencies the image lacks, hydra
WHEELS=(
    zeus==0.16.0 amdsmi==7.0.2 pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0
    typing-inspection==0.4.5 tyro==1.0.17 docstring-parser==0.18.0 typeguard==4.6.1 shtab==1.13.0
    lm-eval==0.4.13 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 evaluate==0.4.6 more-itertools==11.2.1
    pytablewriter==1.2.1 dataproperty==1.1.1 mbstrdecoder==1.1.5 pathvalidate==3.3.1 tabledata==1.3.5
    tcolorpy==0.1.7 typepy==2.0.0 chardet==7.7.0 nltk==3.10.4
    hydra-core==1.3.8 omegaconf==2.3.1
)
# pure Python, published as source only: built into wheels here
SOURCE_ONLY=(antlr4-python3-runtime==4.9.3 sqlitedict==2.1.0 word2number==1.1 rouge-score==0.1.2)
# 4-bit quantization for backend=hf (ships kernels for CUDA 11.8-13.2; torch 2.11 there is cu130)
BNB=bitsandbytes==0.50.2

mkdir -p "$DEST"
rm -f "$DEST"/*.whl
quiet() { grep -v "^WARNING: Location" || true; }
"${PIP[@]}" download -q --no-deps "${TARGET[@]}" -d "$DEST" "${WHEELS[@]}" 2>&1 | quiet
"${PIP[@]}" wheel -q --no-deps -w "$DEST" "${SOURCE_ONLY[@]}" 2>&1 | quiet
if [[ $with_bnb == 1 ]]; then
    "${PIP[@]}" download -q --no-deps "${TARGET[@]}" -d "$DEST" "$BNB" 2>&1 | quiet
fi

wheels_bytes=0
for f in "$DEST"/*.whl; do
    size=$(stat -c %s "$f")
    wheels_bytes=$((wheels_bytes + size))
    printf '%9.2f MiB  %s\n' "$(echo "$size / 1048576" | bc -l)" "$(basename "$f")"
done
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | paste -sd+ - | bc)
total=$((wheels_bytes + tree_bytes))
mib() { printf '%.1f' "$(echo "$1 / 1048576" | bc -l)"; }
echo "gpu_wheels: $(ls "$DEST"/*.whl | wc -l) wheels, $(mib $wheels_bytes) MiB; working tree $(mib $tree_bytes) MiB;" \
     "travels $(mib $total) MiB of 64 MiB"
if (( total > LIMIT_BYTES )); then
    echo "gpu_wheels: over the 64 MiB a device call may carry; rerun with --no-bitsandbytes (check 3 then SKIPs)" >&2
    exit 1
fi
