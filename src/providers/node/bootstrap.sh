#!/bin/sh
# sovstack node bootstrap: Docker Engine, the Compose plugin and (with --nvidia-ctk) the NVIDIA
# Container Toolkit from their vendors' apt repositories, and the Hetzner volumes the stack mounts.
#
# sovstack passes every version (its pins are checked against the vendors' repository metadata
# and a table of container-escape CVEs, `validate/knowledge/runtime.rs`); the script has none:
#   --docker=V --docker-min=V             Docker Engine to install, and the lowest one accepted
#   --compose=V --compose-min=V           the Compose plugin, likewise
#   --nvidia-ctk=V --nvidia-ctk-min=V     the NVIDIA Container Toolkit (only where GPUs are wanted)
#   --mount=DEVICE,PATH,FSTYPE            mount a volume by its device at PATH, grow its filesystem
#   --fstab=FILE                          the fstab to keep mount entries in (default /etc/fstab)
#   --apt-sources=DIR                     where apt source lists live (default /etc/apt/sources.list.d)
#
# Idempotent: when what is installed is acceptable it changes nothing and runs no package manager.
# An installation older than the minimum is upgraded to the pin when this script made it (its apt
# source list is in place); one it did not make is refused with a message, so the operator decides.
#
# Output: the last stdout line is
# `sovstack-bootstrap: ok docker=<v> compose=<v> installed=<0|1> nvidia=<0|1> mounts=<n>`.
# Exit 0 ok; 3 refused (the stderr line `sovstack-bootstrap: refused: ...` says why);
# 4 unsupported system; 5 the Docker daemon does not answer; other: an install step failed.
set -eu

DOCKER_REPO="https://download.docker.com/linux"
DOCKER_KEY_FINGERPRINT="9DC858229FC7DD38854AE2D88D81803C0EBFCD88"
NVIDIA_REPO="https://nvidia.github.io/libnvidia-container"
NVIDIA_KEY_FINGERPRINT="C95B321B61E88C1809C4F759DDCAE044F796ECB0"

docker_pin="" docker_min="" compose_pin="" compose_min="" ctk_pin="" ctk_min=""
fstab=/etc/fstab
apt_sources=/etc/apt/sources.list.d
mounts=""
for arg in "$@"; do
  case "$arg" in
    --docker=*) docker_pin=${arg#*=} ;;
    --docker-min=*) docker_min=${arg#*=} ;;
    --compose=*) compose_pin=${arg#*=} ;;
    --compose-min=*) compose_min=${arg#*=} ;;
    --nvidia-ctk=*) ctk_pin=${arg#*=} ;;
    --nvidia-ctk-min=*) ctk_min=${arg#*=} ;;
    --mount=*) mounts="$mounts ${arg#*=}" ;;
    --fstab=*) fstab=${arg#*=} ;;
    --apt-sources=*) apt_sources=${arg#*=} ;;
    *) echo "sovstack-bootstrap: unknown argument $arg" >&2; exit 2 ;;
  esac
done
for v in "$docker_pin" "$docker_min" "$compose_pin" "$compose_min"; do
  [ -n "$v" ] || { echo "sovstack-bootstrap: --docker, --docker-min, --compose and --compose-min are required" >&2; exit 2; }
done
if [ -n "$ctk_pin" ] && [ -z "$ctk_min" ]; then
  echo "sovstack-bootstrap: --nvidia-ctk needs --nvidia-ctk-min" >&2; exit 2
fi
# Lists this script writes: their presence says it made the installation.
DOCKER_LIST="$apt_sources/docker.list"
NVIDIA_LIST="$apt_sources/nvidia-container-toolkit.list"

say() { echo "sovstack-bootstrap: $*"; }
refuse() { echo "sovstack-bootstrap: refused: $*" >&2; exit 3; }

# 0 when version $1 >= version $2 (numeric dotted comparison, leading "v" ignored).
version_ge() {
  a=${1#v}; b=${2#v}
  for i in 1 2 3; do
    x=$(printf '%s' "$a" | cut -d. -f"$i" | tr -cd 0-9); y=$(printf '%s' "$b" | cut -d. -f"$i" | tr -cd 0-9)
    x=${x:-0}; y=${y:-0}
    if [ "$x" -gt "$y" ]; then return 0; fi
    if [ "$x" -lt "$y" ]; then return 1; fi
  done
  return 0
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

docker_server_version() { docker version --format '{{.Server.Version}}' 2>/dev/null; }
compose_version() { docker compose version --short 2>/dev/null; }
# "NVIDIA Container Toolkit CLI version X.Y.Z" -> X.Y.Z
ctk_version() { nvidia-ctk --version 2>/dev/null | awk '/version/ { print $NF; exit }'; }

os_field() { ( . /etc/os-release 2>/dev/null && eval "printf '%s' \"\${$1-}\"" ); }

apt_prepare() {
  id=$(os_field ID)
  case "$id" in
    debian|ubuntu) ;;
    *) echo "sovstack-bootstrap: unsupported system: ID=$id (Debian and Ubuntu are supported)" >&2; exit 4 ;;
  esac
  codename=$(os_field VERSION_CODENAME); version_id=$(os_field VERSION_ID)
  suffix="-1~$id.$version_id~$codename"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q ca-certificates curl gnupg
  as_root install -m 0755 -d /etc/apt/keyrings
}

# fetch_key URL FINGERPRINT DEST: the key is kept only if it is exactly the pinned one.
fetch_key() {
  tmp=$(mktemp)
  curl -fsSL --proto '=https' --tlsv1.2 -o "$tmp" "$1"
  got=$(gpg --show-keys --with-colons "$tmp" 2>/dev/null | awk -F: '$1=="fpr"{print $10; exit}')
  if [ "$got" != "$2" ]; then rm -f "$tmp"; echo "sovstack-bootstrap: key from $1 has fingerprint '$got', expected $2" >&2; exit 6; fi
  as_root gpg --dearmor --yes -o "$3" "$tmp"
  as_root chmod 0644 "$3"
  rm -f "$tmp"
}

install_docker() {
  apt_prepare
  fetch_key "$DOCKER_REPO/$id/gpg" "$DOCKER_KEY_FINGERPRINT" /etc/apt/keyrings/docker.gpg
  echo "deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.gpg] $DOCKER_REPO/$id $codename stable" \
    | as_root tee "$DOCKER_LIST" >/dev/null
  as_root apt-get update -q
  as_root apt-get install -y -q \
    "docker-ce=5:$docker_pin$suffix" "docker-ce-cli=5:$docker_pin$suffix" \
    containerd.io "docker-compose-plugin=$compose_pin$suffix"
  as_root systemctl enable --now docker
  installed=1
}

install_ctk() {
  apt_prepare
  fetch_key "$NVIDIA_REPO/gpgkey" "$NVIDIA_KEY_FINGERPRINT" /etc/apt/keyrings/nvidia-container-toolkit.gpg
  echo "deb [signed-by=/etc/apt/keyrings/nvidia-container-toolkit.gpg] $NVIDIA_REPO/stable/deb/\$(ARCH) /" \
    | as_root tee "$NVIDIA_LIST" >/dev/null
  as_root apt-get update -q
  # From 1.18.0 on the four packages depend on each other at exactly the same version.
  as_root apt-get install -y -q \
    "nvidia-container-toolkit=$ctk_pin-1" "nvidia-container-toolkit-base=$ctk_pin-1" \
    "libnvidia-container-tools=$ctk_pin-1" "libnvidia-container1=$ctk_pin-1"
  as_root nvidia-ctk runtime configure --runtime=docker
  as_root systemctl restart docker
  installed=1
}

# mount_volume DEVICE PATH FSTYPE: by device (stable across resize and re-attach), with an fstab
# entry that does not hold up boot when the volume is away (nofail).
mount_volume() {
  dev=$1 path=$2 fs=$3
  # The device appears once the attach action is done; udev may lag behind it briefly.
  waited=0
  while [ ! -e "$dev" ]; do
    waited=$((waited + 1))
    [ "$waited" -le 60 ] || { echo "sovstack-bootstrap: volume device $dev did not appear within 60 s" >&2; exit 8; }
    sleep 1
  done
  real=$(readlink -f "$dev")
  current=$(findmnt -n -o SOURCE --mountpoint "$path" 2>/dev/null || true)
  if [ -n "$current" ] && [ "$(readlink -f "$current")" != "$real" ]; then
    refuse "$path is already a mount of $current, not of the volume $dev; unmount it or choose another mount_path"
  fi
  got=$(as_root blkid -o value -s TYPE "$dev" 2>/dev/null || true)
  [ "$got" = "$fs" ] \
    || refuse "volume $dev has filesystem '${got:-none}', expected $fs (the volume's \`format\`); sovstack never formats a volume"
  if [ -z "$current" ]; then
    as_root mkdir -p "$path"
    # Nothing may be written to the bare directory: a service binding a directory below it then
    # fails to start, instead of filling the root disk, when the volume is not mounted.
    as_root chattr +i "$path" 2>/dev/null || true
  fi
  line="$dev $path $fs defaults,nofail,discard 0 2"
  if ! grep -qxF "$line" "$fstab" 2>/dev/null; then
    tmp=$(mktemp)
    { awk -v p="$path" '$1 ~ /^#/ || $2 != p' "$fstab" 2>/dev/null || true; echo "$line"; } > "$tmp"
    as_root cp "$tmp" "$fstab.sovstack-new" && as_root mv "$fstab.sovstack-new" "$fstab"
    rm -f "$tmp"
  fi
  [ -n "$current" ] || as_root mount "$path"
  # A resized volume keeps its data; its filesystem grows to the new size here.
  case "$fs" in
    ext4) as_root resize2fs "$dev" >/dev/null 2>&1 || { echo "sovstack-bootstrap: resize2fs $dev failed" >&2; exit 9; } ;;
    xfs) as_root xfs_growfs "$path" >/dev/null ;;
  esac
  mounted=$((mounted + 1))
}

installed=0
docker_version=""
if command -v docker >/dev/null 2>&1; then
  if ! docker_version=$(docker_server_version) || [ -z "$docker_version" ]; then
    echo "sovstack-bootstrap: docker is installed but the daemon does not answer (docker version failed)" >&2
    exit 5
  fi
  if ! version_ge "$docker_version" "$docker_min"; then
    [ -f "$DOCKER_LIST" ] \
      || refuse "Docker Engine $docker_version is older than $docker_min (known container escapes); upgrade it (sovstack does not replace an installation it did not make)"
    install_docker
    docker_version=$(docker_server_version) || { echo "sovstack-bootstrap: docker was upgraded but does not answer" >&2; exit 5; }
  fi
else
  install_docker
  docker_version=$(docker_server_version) || { echo "sovstack-bootstrap: docker was installed but does not answer" >&2; exit 5; }
fi

if ! compose=$(compose_version) || [ -z "$compose" ]; then
  if [ "$installed" -eq 1 ]; then echo "sovstack-bootstrap: the compose plugin was installed but does not answer" >&2; exit 7; fi
  apt_prepare
  if [ ! -f "$DOCKER_LIST" ]; then
    refuse "docker is installed but not from Docker's apt repository and has no compose plugin; install docker-compose-plugin >= $compose_min"
  fi
  as_root apt-get install -y -q "docker-compose-plugin=$compose_pin$suffix"
  installed=1
  compose=$(compose_version) || { echo "sovstack-bootstrap: the compose plugin was installed but does not answer" >&2; exit 7; }
fi
compose=${compose#v}
version_ge "$compose" "$compose_min" \
  || refuse "Docker Compose $compose is older than $compose_min (needed for --progress json); upgrade docker-compose-plugin"

nvidia=0
if [ -n "$ctk_pin" ]; then
  if docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"nvidia"'; then
    ctk=$(ctk_version || true)
    if [ -z "$ctk" ] || ! version_ge "$ctk" "$ctk_min"; then
      [ -f "$NVIDIA_LIST" ] \
        || refuse "NVIDIA Container Toolkit ${ctk:-(version unknown)} is older than $ctk_min (CVE-2025-23266/23267: container escape); upgrade it (sovstack does not replace an installation it did not make)"
      install_ctk
    fi
  else
    if ! command -v nvidia-smi >/dev/null 2>&1; then
      refuse "a service asks for GPUs but no NVIDIA driver is installed (nvidia-smi not found); install the driver first"
    fi
    install_ctk
  fi
  nvidia=1
fi

mounted=0
for m in $mounts; do
  IFS=, read -r dev path fs <<EOF
$m
EOF
  mount_volume "$dev" "$path" "$fs"
done

say "ok docker=$docker_version compose=$compose installed=$installed nvidia=$nvidia mounts=$mounted"
