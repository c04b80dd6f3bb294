#pragma once
// What a Slurm cluster offers, from its login node: `sinfo` lists partitions, their nodes, CPUs,
// memory, GPUs (GRES) and states. The parser takes text from another machine and is fuzzed
// (tests/fuzz/fuzz_sinfo.cpp).

#include "nodes/node_probe.h"

#include <QByteArray>
#include <QStringList>

namespace bcd::nodes {

// sinfo's arguments: one line per (partition, node), fields separated by '|':
// partition (with '*' for the default), availability, time limit, node, state, CPUs, memory
// (MiB), GRES.
QStringList sinfoArguments();

// Partitions in sinfo's order. A line that does not have the eight fields, or whose numbers are
// not numbers, is skipped and counted in *skipped (when given).
QVector<SlurmPartition> parseSinfo(const QByteArray& out, int* skipped = nullptr);

// GPUs in a GRES text ("gpu:a100:4(S:0-1),nvme:1" → 4, type "a100"); 0 when it names none.
int gresGpus(const QString& gres, QString* type = nullptr);

// "slurm 22.05.8" → "22.05.8"; empty when it is not sinfo's version line.
QString parseSlurmVersion(const QByteArray& out);

} // namespace bcd::nodes
