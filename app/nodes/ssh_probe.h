#pragma once
// A node over SSH: GPUs through nvidia-smi, CPU and memory from /proc, the engine's version.

#include "nodes/node_probe.h"
#include "nodes/ssh_session.h"

namespace bcd::nodes {

// enginePath: how to call the engine there (a path, or "bcd-train" for the one on PATH).
NodeProbe probeOverSsh(SshSession& ssh, const QString& enginePath);

// Runs `engine --version` on the node; the version, or empty with *note saying why.
QString remoteEngineVersion(SshSession& ssh, const QString& enginePath, QString* note = nullptr);

} // namespace bcd::nodes
