#pragma once
// The local machine: GPUs through NVML, CPU and memory from /proc, the engine's version.
// Blocking (runs the engine); call it from a worker thread in the GUI.

#include "nodes/node_probe.h"

namespace bcd::nodes {

NodeProbe probeLocal(const QString& enginePath, const char* nvmlLibrary = "libnvidia-ml.so.1");

// Runs `engine --version`; the version, or empty with *note saying why.
QString localEngineVersion(const QString& enginePath, QString* note = nullptr);

// CPU model, hardware threads and memory of this machine (from /proc on Linux).
void fillLocalCpu(NodeProbe* probe);

} // namespace bcd::nodes
