// libFuzzer target for the parser of sinfo's partition listing (app/nodes/slurm_probe.cpp): text a
// Slurm cluster's login host printed over SSH, and of its GRES strings. Whatever comes, the parser
// must not crash, and what it returns must keep its promises.

#include "nodes/slurm_probe.h"

#include <QByteArray>
#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace bcd::nodes;
    const QByteArray out(reinterpret_cast<const char*>(data), static_cast<qsizetype>(size));
    int skipped = -1;
    const QVector<SlurmPartition> parts = parseSinfo(out, &skipped);
    if (skipped < 0 || skipped > out.count('\n') + 1) __builtin_trap();
    for (const SlurmPartition& p : parts) {
        if (p.name.isEmpty() || p.name.endsWith('*')) __builtin_trap();
        if (p.nodes < 1 || p.cpusPerNode < 0 || p.memoryMiBPerNode < 0) __builtin_trap();
        if (p.gpusPerNode < 0) __builtin_trap();
        int counted = 0;
        for (const QString& s : p.states) counted += s.section(':', -1).toInt();
        if (counted != p.nodes) __builtin_trap(); // every node in exactly one state
        // The record survives its JSON.
        if (SlurmPartition::fromJson(p.toJson()).toJson() != p.toJson()) __builtin_trap();
    }
    // Names are unique.
    for (qsizetype i = 0; i < parts.size(); ++i)
        for (qsizetype j = i + 1; j < parts.size(); ++j)
            if (parts[i].name == parts[j].name) __builtin_trap();
    QString type;
    if (gresGpus(QString::fromUtf8(out), &type) < 0) __builtin_trap();
    (void)parseSlurmVersion(out);
    // Deterministic.
    int again = -1;
    if (parseSinfo(out, &again).size() != parts.size() || again != skipped) __builtin_trap();
    return 0;
}
