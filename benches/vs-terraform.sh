#!/usr/bin/env bash
# sovstack plan vs terraform plan on the same graph, side by side.
#
#   benches/vs-terraform.sh [N ...]        (default: 1000)
#
# For each N, generates the bench stack (benches/plan.rs --generate) with its matching state,
# and the same graph as Terraform `terraform_data` resources (--generate-terraform), applied
# once so that Terraform has a state. Then times the no-op plan of both, `RUNS` rounds after a
# warm-up in which the two take turns (median wall time and peak RSS, measured for both tools
# by the bench binary's own fork/exec/wait4 loop), and prints the ratio. Fails (exit 1) when
# sovstack is less than MIN_RATIO times faster at N=1000. Without terraform on PATH it says so,
# still times sovstack, and exits 0.
#
# Environment: RUNS (default 11), MIN_RATIO (default 50), KEEP=DIR to keep the generated dirs,
# CARGO_TARGET_DIR as for cargo.
set -euo pipefail

RUNS=${RUNS:-11}
MIN_RATIO=${MIN_RATIO:-50}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000)

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
target=${CARGO_TARGET_DIR:-$repo/target}

# Terraform must not phone home (version checkpoint) from a benchmark.
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0

echo "building the release binary and the bench generator..." >&2
cargo build --release --quiet --bin sovstack
cargo bench --quiet --bench plan --no-run 2>/dev/null || cargo bench --bench plan --no-run
sovstack="$target/release/sovstack"
gen() { cargo bench --quiet --bench plan -- "$@" >/dev/null; }

work=${KEEP:-$(mktemp -d)}
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
# An empty CLI configuration: no user mirrors or credentials take part in the comparison.
: >"$work/terraformrc"
export TF_CLI_CONFIG_FILE="$work/terraformrc"

have_tf=0
command -v terraform >/dev/null 2>&1 && have_tf=1

# A warm-up, then RUNS rounds of the commands given (separated by --vs), which take turns,
# timed by the bench binary's fork/exec/wait4 loop: prints "<median seconds> <peak KiB> <exit
# code>" per command. Exit codes must be 0 or 2.
bench() {
  cargo bench --quiet --bench plan -- --time "$RUNS" -- "$@"
}

status=0
printf '\n%6s | %14s | %14s | %14s | %14s | %8s\n' N "sovstack ms" "sovstack MB" "terraform ms" "terraform MB" ratio
printf '%s\n' "-------------------------------------------------------------------------------------"
for n in "${SIZES[@]}"; do
  dir="$work/n$n"
  gen --generate "$dir/sovstack" "$n"
  sov_cmd=("$sovstack" -C "$dir/sovstack" plan --refresh=false --detailed-exitcode)
  if [ $have_tf = 1 ]; then
    gen --generate-terraform "$dir/terraform" "$n"
    (
      cd "$dir/terraform"
      terraform init -input=false -no-color >/dev/null
      terraform apply -input=false -auto-approve -no-color -parallelism=10 >/dev/null
    )
    # Both tools take turns, so a drift in the machine's speed affects both alike.
    r=$(bench "${sov_cmd[@]}" --vs terraform -chdir="$dir/terraform" plan -refresh=false -detailed-exitcode -input=false -no-color -lock=false)
    { read -r s_t s_kb s_code; read -r t_t t_kb t_code; } <<<"$r"
  else
    r=$(bench "${sov_cmd[@]}")
    read -r s_t s_kb s_code <<<"$r"
  fi
  [ "$s_code" = 0 ] || { echo "sovstack plan of the unchanged stack exited $s_code, expected 0" >&2; exit 1; }
  s_ms=$(echo "$s_t * 1000" | bc -l)
  s_mb=$(echo "$s_kb / 1024" | bc -l)
  if [ $have_tf = 1 ]; then
    [ "$t_code" = 0 ] || { echo "terraform plan of the applied config exited $t_code, expected 0" >&2; exit 1; }
    t_ms=$(echo "$t_t * 1000" | bc -l)
    t_mb=$(echo "$t_kb / 1024" | bc -l)
    ratio=$(echo "$t_t / $s_t" | bc -l)
    state_kb=$(($(stat -c %s "$dir/terraform/terraform.tfstate") / 1024))
    s_state_kb=$(($(stat -c %s "$dir/sovstack/.sovstack/state.json") / 1024))
    printf '%6s | %14.1f | %14.1f | %14.1f | %14.1f | %7.1fx\n' "$n" "$s_ms" "$s_mb" "$t_ms" "$t_mb" "$ratio"
    printf '       state: sovstack %s KB, terraform %s KB\n' "$s_state_kb" "$state_kb"
    if [ "$n" = 1000 ]; then
      if [ "$(echo "$ratio >= $MIN_RATIO" | bc -l)" = 1 ]; then
        echo "PASS sovstack is $(printf '%.1f' "$ratio")x faster than terraform plan at 1,000 resources (target >= ${MIN_RATIO}x)"
      else
        echo "FAIL sovstack is only $(printf '%.1f' "$ratio")x faster than terraform plan at 1,000 resources (target >= ${MIN_RATIO}x)"
        status=1
      fi
    fi
  else
    printf '%6s | %14.1f | %14.1f | %14s | %14s | %8s\n' "$n" "$s_ms" "$s_mb" - - -
  fi
done
if [ $have_tf = 0 ]; then
  echo "terraform is not on PATH: only sovstack was timed (no comparison made)."
  exit 0
fi
echo "(medians over $RUNS rounds after a warm-up, sovstack repeated within each round; $(nproc) core(s); $(terraform version | head -1))"
exit $status
