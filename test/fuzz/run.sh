#!/usr/bin/env bash
# test/fuzz/run.sh - build flexplace's libFuzzer targets and fuzz each one.
#
# Usage: test/fuzz/run.sh [-t SECONDS] [-b BUILD_DIR] [TARGET...]
#   -t SECONDS  fuzzing time per target (default 60); the wall time is about
#               SECONDS x targets plus the build
#   -b DIR      build directory (default build-fuzz, configured with clang,
#               -DFP_FUZZ=ON, ASan+UBSan)
#   TARGET      short names (extender_args policy ...); default: every
#               test/fuzz/fuzz_*.c
#
# Seeds: test/fuzz/corpus/<target>, test/fuzz/regressions/<target> and the
# folders test/fuzz/seeds.txt names (repository files, and the public
# reference data from $FP_SHARED_DATA, default ../shared/data beside the
# checkout, read in place).  They are copied into DIR/fuzz-corpus/<target>,
# the working corpus, which is kept, so repeated or longer runs build on
# earlier ones.  Findings go to DIR/fuzz-artifacts/<target>/; the script
# exits 1 when there is one: fix the bug, then copy the input into
# test/fuzz/regressions/<target>/ so ctest replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

seconds=60
build=build-fuzz
while getopts "t:b:h" opt; do
  case $opt in
    t) seconds=$OPTARG ;;
    b) build=$OPTARG ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

shared=${FP_SHARED_DATA:-$root/../shared/data}
# GSlice keeps its own pools, where ASan cannot see misuse.
export G_SLICE=always-malloc
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in test/fuzz/fuzz_*.c; do
    t=$(basename "$f" .c)
    targets+=("${t#fuzz_}")
  done
fi

echo "== fuzz: build $build (clang, libFuzzer, ASan+UBSan)"
CC=${FP_FUZZ_CC:-clang} cmake -S . -B "$build" -G Ninja -DFP_FUZZ=ON -DBUILD_TESTING=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target "${targets[@]/#/fuzz_}"

# Copy the regular files of $2 (if it exists) into corpus $1, prefixed by $3.
seed_from() {
  local dest=$1 src=$2 tag=$3 f
  [ -d "$src" ] || return 0
  for f in "$src"/*; do
    [ -f "$f" ] || continue
    [ "$(stat -c %s "$f")" -le 1048576 ] || continue
    cp -n "$f" "$dest/$tag-$(basename "$f")"
  done
}

failed=()
summary=()
for t in "${targets[@]}"; do
  corpus=$build/fuzz-corpus/$t
  artifacts=$build/fuzz-artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  seed_from "$corpus" test/fuzz/corpus/$t seed
  seed_from "$corpus" test/fuzz/regressions/$t regression
  while read -r target dir; do
    [ "$target" = "$t" ] || continue
    case $dir in
      shared:*) seed_from "$corpus" "$shared/${dir#shared:}" shared ;;
      *) seed_from "$corpus" "$dir" repo ;;
    esac
  done < <(grep -E '^[a-z_]+ ' test/fuzz/seeds.txt)

  echo "== fuzz $t for ${seconds}s ($(ls "$corpus" | wc -l) inputs in the corpus)"
  log=$build/fuzz-artifacts/$t.log
  start=$(date +%s)
  # -timeout: one input may take at most 10 s; -rss_limit_mb: a run past
  # 2 GiB is a finding (unbounded memory); -max_len: requests the size of
  # the reference captures, with room to grow.
  if "$build/test/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/" \
      "$corpus" >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$t")
    tail -40 "$log" >&2
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  elapsed=$(($(date +%s) - start))
  size=$(ls "$corpus" | wc -l)
  summary+=("$(printf '%-16s %-7s %5ss %10s runs  cov %-6s corpus %s' "$t" "$status" \
    "$elapsed" "${runs:-?}" "${cov:-?}" "$size")")
done

echo "== fuzz summary (logs and findings in $build/fuzz-artifacts)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets with findings: ${failed[*]}" >&2
  ls -l "$build"/fuzz-artifacts/*/ >&2 || true
  exit 1
fi
