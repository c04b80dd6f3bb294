#pragma once
// Remote GPUs through nvidia-smi's CSV query (DESIGN.md §4). The parser sees what the command
// left: stdout, stderr and the exit status — also when nvidia-smi is missing or finds no GPU.

#include "nodes/node_probe.h"

#include <QByteArray>

namespace bcd::nodes {

// The fields, in this order, after --query-gpu=; every driver since R418 knows them.
inline constexpr char kNvidiaSmiFields[] =
    "index,uuid,name,memory.total,memory.used,utilization.gpu,driver_version";

// The command line (fixed words: nothing to quote).
QString nvidiaSmiCommand();

struct NvidiaSmiResult {
    QVector<GpuInfo> gpus;
    QString driver;
    // Without GPUs: why ("nvidia-smi not found", "no NVIDIA GPU found", the driver's complaint).
    // With GPUs: lines that could not be read, or the failure that left some GPUs unlisted.
    QString note;
};

// Never throws: garbage becomes a note quoting (the start of) the first line not understood.
NvidiaSmiResult parseNvidiaSmi(const QByteArray& out, const QByteArray& err, int exitStatus);

} // namespace bcd::nodes
