#!/bin/sh
# sovstack host-key rotation on a server it created, one step per call (the caller records state
# between steps, so a crash at any point leaves a key the next run can verify):
#   stage CURRENT NEXT|-     a new ed25519 key generated here, beside the live one (kept if there)
#   install NEXT             the staged key put in place, the serving sshd told to reload
#   scrub OLD DIR FLAG       files under DIR holding the key whose fingerprint is OLD removed,
#                            FLAG created so cloud-init does not write them back at the next boot
# Fingerprints are OpenSSH's `SHA256:...`. The key is the ed25519 host key of the sshd serving
# this very session (found by walking up the process tree and asking it for its configuration),
# so nothing here depends on where a distribution keeps its keys.
# Output: one line `sovstack-host-key: <staged|installed|scrubbed> <value>`; exit 0, or non-zero
# with the reason on stderr.
set -eu

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}
fail() { echo "sovstack-host-key: $*" >&2; exit 1; }

field() { sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f"$2"; }
is_sshd() { case "$(cat "/proc/$1/comm" 2>/dev/null)" in sshd|sshd-session|sshd-auth) return 0 ;; esac; return 1; }

# The listening sshd of this session: going up from this shell, the first sshd whose parent is
# no sshd (the chain listener > privileged child > session ends at the first one that is not).
listener() {
  pid=$$
  while [ "$pid" -gt 1 ]; do
    parent=$(field "$pid" 2)
    if is_sshd "$pid" && ! is_sshd "$parent"; then
      echo "$pid"; return 0
    fi
    pid=$parent
  done
  fail "no sshd above this session"
}

# The ed25519 host key files the listening sshd loads.
host_keys() {
  pid=$1
  # sshd rewrites its argv into one title ("sshd: /usr/sbin/sshd -D -f FILE [listener] ..."):
  # split on NULs and spaces alike.
  config=$(tr '\0' ' ' < "/proc/$pid/cmdline" | tr -s ' ' '\n' | awk 'prev == "-f" { print; exit } { prev = $0 }')
  exe=$(readlink "/proc/$pid/exe")
  if keys=$(as_root "$exe" -T ${config:+-f "$config"} 2>/dev/null | awk '$1 == "hostkey" { print $2 }') && [ -n "$keys" ]; then
    printf '%s\n' "$keys"
  else
    awk '$1 == "HostKey" { print $2 }' "${config:-/etc/ssh/sshd_config}"
  fi
}

fingerprint() { ssh-keygen -l -E sha256 -f "$1" 2>/dev/null | awk '{ print $2 }'; }

# The live key file whose fingerprint (or whose staged successor's) is one of the arguments.
live_key() {
  keys=$(host_keys "$(listener)")
  for k in $keys; do
    [ -f "$k" ] || continue
    for want in "$@"; do
      [ "$want" = "-" ] && continue
      if [ "$(fingerprint "$k")" = "$want" ] || [ "$(fingerprint "$k.sovstack-next" 2>/dev/null)" = "$want" ]; then
        echo "$k"; return 0
      fi
    done
  done
  fail "no host key of this sshd ($(echo $keys)) has fingerprint $*"
}

stage() {
  current=$1 next=$2
  key=$(live_key "$current" "$next")
  live=$(fingerprint "$key")
  if [ "$next" != "-" ] && [ "$live" = "$next" ]; then
    echo "sovstack-host-key: installed $live"; return 0
  fi
  staged="$key.sovstack-next"
  if [ ! -f "$staged" ]; then
    as_root rm -f "$staged.tmp" "$staged.tmp.pub"
    as_root ssh-keygen -q -t ed25519 -N '' -C "sovstack-rotated" -f "$staged.tmp"
    as_root mv "$staged.tmp" "$staged"
    as_root rm -f "$staged.tmp.pub"
  fi
  echo "sovstack-host-key: staged $(fingerprint "$staged")"
}

install_key() {
  next=$1
  key=$(live_key "$next")
  staged="$key.sovstack-next"
  if [ "$(fingerprint "$key")" != "$next" ]; then
    [ "$(fingerprint "$staged")" = "$next" ] || fail "the staged key is not $next"
    as_root chmod 0600 "$staged"
    as_root mv "$staged" "$key"
  fi
  as_root sh -c 'ssh-keygen -y -f "$1" > "$1.pub.tmp" && mv "$1.pub.tmp" "$1.pub"' sh "$key"
  as_root rm -f "$staged"
  # sshd reads its host keys when it starts; SIGHUP makes the listener start itself again
  # (what `systemctl reload ssh` does). Sessions already open, this one included, stay.
  as_root kill -HUP "$(listener)"
  echo "sovstack-host-key: installed $next"
}

# 0 when file $1 holds the ed25519 public key whose fingerprint is $2 (beside its private half).
holds_key() {
  as_root grep -aoE 'ssh-ed25519 [A-Za-z0-9+/=]+' "$1" | sort -u | while read -r kind blob; do
    printf '%s %s\n' "$kind" "$blob" | ssh-keygen -l -E sha256 -f - 2>/dev/null | awk '{ print $2 }'
  done | grep -qxF "$2"
}

scrub() {
  old=$1 dir=$2 flag=$3
  n=0
  if [ -d "$dir" ]; then
    for f in $(as_root grep -rlsa -e 'PRIVATE KEY' "$dir" || true); do
      if holds_key "$f" "$old"; then
        as_root rm -f "$f"; n=$((n + 1))
      fi
    done
  fi
  if [ "$n" -gt 0 ]; then
    as_root mkdir -p "$(dirname "$flag")"
    as_root touch "$flag"
  fi
  echo "sovstack-host-key: scrubbed $n"
}

step=${1:-}
[ $# -gt 0 ] && shift
case "$step" in
  stage) [ $# -eq 2 ] || fail "stage CURRENT NEXT|-"; stage "$1" "$2" ;;
  install) [ $# -eq 1 ] || fail "install NEXT"; install_key "$1" ;;
  scrub) [ $# -eq 3 ] || fail "scrub OLD DIR FLAG"; scrub "$1" "$2" "$3" ;;
  *) fail "unknown step '$step'" ;;
esac
