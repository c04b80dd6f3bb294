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
    libopenblas-openmp-dev nlohmann-json3-dev libpcre2-dev libutf8proc-dev
    qt6-base-dev libqt6sql6-sqlite libsqlite3-dev libssh-dev openssh-client fonts-dejavu-core
    libqcustomplot-dev libqcustomplot2.1-qt6
    libopenmpi-dev openmpi-bin
)
if [ "${1:-}" = "--tests" ]; then
    packages+=(
        python3 python3-torch python3-numpy python3-venv python3-pip
        clang clang-format libclang-rt-14-dev libomp-dev
        openssh-server sqlite3
        munge slurmctld slurmd slurm-client
        appstream desktop-file-utils
    )
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}"
