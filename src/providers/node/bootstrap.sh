#!/bin/sh
# sovstack node bootstrap: Docker Engine, the Compose plugin and (with --nvidia) the NVIDIA
# Container Toolkit, from their vendors' apt repositories at pinned versions.
#
# Idempotent: when what is installed is acceptable it changes nothing and runs no package
# manager. It never upgrades or replaces an installation it did not make: an unacceptable one
# is refused with a message, so the operator decides.
#
# Output: the last stdout line is `sovstack-bootstrap: ok docker=<v> compose=<v> installed=<0|1> nvidia=<0|1>`.
# Exit 0 ok; 3 refused (the stderr line `sovstack-bootstrap: refused: ...` says why);
# 4 unsupported system; 5 the Docker daemon does not answer; other: an install step failed.
set -eu

DOCKER_ENGINE_VERSION="27.3.1"
COMPOSE_PLUGIN_VERSION="2.29.7"
NVIDIA_CTK_VERSION="1.17.3-1"
# The oldest Engine the reference stack is tested on (Debian 12's docker.io); Compose needs API 1.41.
DOCKER_MIN_VERSION="20.10.0"
COMPOSE_MIN_VERSION="2.29.0"
DOCKER_REPO="https://download.docker.com/linux"
DOCKER_KEY_FINGERPRINT="9DC858229FC7DD38854AE2D88D81803C0EBFCD88"
NVIDIA_REPO="https://nvidia.github.io/libnvidia-container"
NVIDIA_KEY_FINGERPRINT="C95B321B61E88C1809C4F759DDCAE044F796ECB0"

want_nvidia=0
for arg in "$@"; do
  case "$arg" in
    --nvidia) want_nvidia=1 ;;
    *) echo "sovstack-bootstrap: unknown argument $arg" >&2; exit 2 ;;
  esac
done

say() { echo "sovstack-bootstrap: $*"; }
refuse() { echo "sovstack-bootstrap: refused: $*" >&2; exit 3; }

# 0 when version $1 >= version $2 (numeric dotted comparison, leading "v" ignored; a field counts
# by its leading digits, so distribution suffixes such as Debian's `20.10.24+dfsg1` do not).
version_ge() {
  a=${1#v}; b=${2#v}
  for i in 1 2 3; do
    x=$(printf '%s' "$a" | cut -d. -f"$i" | sed 's/[^0-9].*//'); y=$(printf '%s' "$b" | cut -d. -f"$i" | sed 's/[^0-9].*//')
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

os_field() { ( . /etc/os-release 2>/dev/null && eval "printf '%s' \"\${$1-}\"" ); }

apt_prepare() {
  id=$(os_field ID)
  case "$id" in
    debian|ubuntu) ;;
    *) echo "sovstack-bootstrap: unsupported system: ID=$id (Debian and Ubuntu are supported)" >&2; exit 4 ;;
  esac
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

installed=0
docker_version=""
if command -v docker >/dev/null 2>&1; then
  if ! docker_version=$(docker_server_version) || [ -z "$docker_version" ]; then
    echo "sovstack-bootstrap: docker is installed but the daemon does not answer (docker version failed)" >&2
    exit 5
  fi
  version_ge "$docker_version" "$DOCKER_MIN_VERSION" \
    || refuse "Docker Engine $docker_version is older than $DOCKER_MIN_VERSION; upgrade it (sovstack does not replace an installation it did not make)"
else
  apt_prepare
  id=$(os_field ID); codename=$(os_field VERSION_CODENAME); version_id=$(os_field VERSION_ID)
  fetch_key "$DOCKER_REPO/$id/gpg" "$DOCKER_KEY_FINGERPRINT" /etc/apt/keyrings/docker.gpg
  echo "deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.gpg] $DOCKER_REPO/$id $codename stable" \
    | as_root tee /etc/apt/sources.list.d/docker.list >/dev/null
  as_root apt-get update -q
  suffix="-1~$id.$version_id~$codename"
  as_root apt-get install -y -q \
    "docker-ce=5:$DOCKER_ENGINE_VERSION$suffix" "docker-ce-cli=5:$DOCKER_ENGINE_VERSION$suffix" \
    containerd.io "docker-compose-plugin=$COMPOSE_PLUGIN_VERSION$suffix"
  as_root systemctl enable --now docker
  installed=1
  docker_version=$(docker_server_version) || { echo "sovstack-bootstrap: docker was installed but does not answer" >&2; exit 5; }
fi

if ! compose=$(compose_version) || [ -z "$compose" ]; then
  if [ "$installed" -eq 1 ]; then echo "sovstack-bootstrap: the compose plugin was installed but does not answer" >&2; exit 7; fi
  apt_prepare
  id=$(os_field ID); codename=$(os_field VERSION_CODENAME); version_id=$(os_field VERSION_ID)
  if [ ! -f /etc/apt/sources.list.d/docker.list ]; then
    refuse "docker is installed but not from Docker's apt repository and has no compose plugin; install docker-compose-plugin >= $COMPOSE_MIN_VERSION"
  fi
  as_root apt-get install -y -q "docker-compose-plugin=$COMPOSE_PLUGIN_VERSION-1~$id.$version_id~$codename"
  installed=1
  compose=$(compose_version) || { echo "sovstack-bootstrap: the compose plugin was installed but does not answer" >&2; exit 7; }
fi
compose=${compose#v}
version_ge "$compose" "$COMPOSE_MIN_VERSION" \
  || refuse "Docker Compose $compose is older than $COMPOSE_MIN_VERSION (needed for --progress json); upgrade docker-compose-plugin"

nvidia=0
if [ "$want_nvidia" -eq 1 ]; then
  if docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"nvidia"'; then
    nvidia=1
  else
    if ! command -v nvidia-smi >/dev/null 2>&1; then
      refuse "a service asks for GPUs but no NVIDIA driver is installed (nvidia-smi not found); install the driver first"
    fi
    apt_prepare
    fetch_key "$NVIDIA_REPO/gpgkey" "$NVIDIA_KEY_FINGERPRINT" /etc/apt/keyrings/nvidia-container-toolkit.gpg
    echo "deb [signed-by=/etc/apt/keyrings/nvidia-container-toolkit.gpg] $NVIDIA_REPO/stable/deb/\$(ARCH) /" \
      | as_root tee /etc/apt/sources.list.d/nvidia-container-toolkit.list >/dev/null
    as_root apt-get update -q
    as_root apt-get install -y -q \
      "nvidia-container-toolkit=$NVIDIA_CTK_VERSION" "nvidia-container-toolkit-base=$NVIDIA_CTK_VERSION" \
      "libnvidia-container-tools=$NVIDIA_CTK_VERSION" "libnvidia-container1=$NVIDIA_CTK_VERSION"
    as_root nvidia-ctk runtime configure --runtime=docker
    as_root systemctl restart docker
    installed=1
    nvidia=1
  fi
fi

say "ok docker=$docker_version compose=$compose installed=$installed nvidia=$nvidia"
