#pragma once
// This machine's GPUs through NVML, loaded at run time (dlopen): the workbench builds and runs
// without the NVIDIA driver, and a machine without it is reported as CPU-only, with the reason.

#include "nodes/node_probe.h"

namespace bcd::nodes {

struct NvmlResult {
    bool loaded = false; // the library was found and initialised
    QVector<GpuInfo> gpus;
    QString driver;
    QString note; // why there are no GPUs
};

NvmlResult probeNvml(const char* library = "libnvidia-ml.so.1");

} // namespace bcd::nodes
