#pragma once
// What a node offers: GPUs (or why there are none), CPU, memory and the engine it runs.

#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <QVector>
#include <optional>

namespace bcd::nodes {

struct GpuInfo {
    int index = 0;
    QString name;
    QString uuid;
    qint64 memoryMiB = 0;
    std::optional<qint64> memoryUsedMiB;
    std::optional<int> utilization; // percent
    QString driver;
    QString computeCapability; // "9.0"; empty when unknown (nvidia-smi does not report it)
};

// A Slurm partition as `sinfo` reports it (nodes/slurm_probe.h); per-node figures are the
// smallest over its nodes, what a job can count on anywhere in it.
struct SlurmPartition {
    QString name;
    bool isDefault = false;
    bool up = true;    // sinfo's availability
    QString timeLimit; // sinfo's form: "infinite", "2:00:00", "1-00:00:00"
    int nodes = 0;
    QStringList states; // "idle", "mixed", "allocated", "drained", ... with their node counts
    int cpusPerNode = 0;
    qint64 memoryMiBPerNode = 0;
    int gpusPerNode = 0; // GRES gpu
    QString gpuType;     // the GRES type ("a100"); empty when the cluster names none
    QJsonObject toJson() const;
    static SlurmPartition fromJson(const QJsonObject& o);
    QString summary() const; // "gpu (default): 4 nodes idle:3 mixed:1, 2× gpu:a100, 64 CPUs, ..."
};

struct NodeProbe {
    QVector<GpuInfo> gpus;
    QString gpuSource; // "nvml" | "nvidia-smi"
    QString gpuNote;   // when there are no GPUs: why (library or tool missing, no device, ...)
    QString driver;
    QString cpuName;
    int cpuThreads = 0;
    qint64 memoryBytes = 0;
    QString arch;
    QString engine;        // the engine's path on the node
    QString engineVersion; // "0.1.0"; empty when it does not run
    QString engineNote;    // why there is no engine version
    // A Slurm cluster: its version ("22.05.8") and partitions; empty for other nodes.
    QString slurmVersion;
    QVector<SlurmPartition> partitions;

    bool cpuOnly() const { return gpus.isEmpty(); }
    QJsonObject toJson() const;
    static NodeProbe fromJson(const QJsonObject& o);
    // One line: "CPU-only (libnvidia-ml.so.1 not found); AMD EPYC, 2 threads, 7.6 GiB; engine
    // 0.1.0", "8 GPU(s): 8× NVIDIA A100-SXM4-80GB 80 GiB, driver 535.129.03; …"
    QString summary() const;
};

// "bcd-train 0.1.0\n" → "0.1.0"; empty when the text is not a version line.
QString parseEngineVersion(const QString& versionOutput);
// Whether an engine of version `node` can run configs written for `local`: same major and minor.
bool enginesCompatible(const QString& node, const QString& local);

} // namespace bcd::nodes
