#!/usr/bin/env bash
# Installs the Debian packages the project needs. Run as root or with sudo available.
#   scripts/install-deps.sh           build and run (the demo), and build the packages (dpkg-dev)
#   scripts/install-deps.sh --tests   also what the tests need (PyTorch oracle, clang for fuzzing,
#                                     the desktop file and AppStream validators, sshd and a Slurm
#                                     the tests start themselves)
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(
    build-essential cmake ninja-build ccache pkg-config dpkg-dev
    libopenblas-openmp-dev nlohmann-json3-dev libpcre2-dev libutf8proc-dev libsentencepiece-dev
    qt6-base-dev libqt6sql6-sqlite libsqlite3-dev libssh-dev openssh-client fonts-dejavu-core
    libqcustomplot-dev libqcustomplot2.1-qt6
    libopenmpi-dev openmpi-bin
)
if [ "${1:-}" = "--tests" ]; then
    packages+=(
        python3 python3-torch python3-numpy python3-venv python3-pip
        python3-matplotlib
        clang clang-format libclang-rt-14-dev libomp-dev
        openssh-server sqlite3
        munge slurmctld slurmd slurm-client
        appstream desktop-file-utils
    )
fi

export DEBIAN_FRONTEND=noninteractive
# Another apt/dpkg process (unattended-upgrades, cloud-init, a second install) may hold the lock on a
# fresh machine: wait for it, bounded, instead of failing at once. apt-get's DPkg::Lock::Timeout
# covers both the dpkg lock and the lists lock (apt >= 1.9.11, Debian 11+).
lock_wait_s="${BCD_APT_LOCK_TIMEOUT:-600}"
apt_wait=(-o "DPkg::Lock::Timeout=${lock_wait_s}")
if command -v fuser >/dev/null 2>&1 &&
    $SUDO fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock >/dev/null 2>&1; then
    echo "install-deps: another apt/dpkg process holds the package lock; waiting up to ${lock_wait_s} s for it" >&2
fi
$SUDO apt-get "${apt_wait[@]}" update -qq
$SUDO apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends "${packages[@]}"
