#pragma once
// A Slurm cluster's job defaults, as a Slurm node record holds them (nodes/node_record.h,
// jobDefaults), and their validation: every value reaches a batch script's #SBATCH lines, so
// names, time limits and extra lines are checked against what Slurm accepts and nothing else —
// no user text can become shell syntax (docs/slurm.md).

#include <QJsonObject>
#include <QString>
#include <QStringList>

namespace bcd::nodes {

struct SlurmJobDefaults {
    QString partition; // empty: the cluster's default partition
    QString account;
    QString qos;
    QString timeLimit; // Slurm's forms: "MIN", "H:M:S", "D-H", "D-H:M", "D-H:M:S"; empty: default
    int nodes = 1;
    int gpusPerNode = 0;      // --gpus-per-node; 0: no GPUs asked for (a CPU run)
    int cpusPerTask = 0;      // 0: the cluster's default
    qint64 memPerTaskMiB = 0; // 0: the cluster's default
    QStringList extraLines;   // "#SBATCH --option[=value]" lines, added as they are

    QJsonObject toJson() const;
    // Missing keys keep their defaults; the result is not validated (validate()).
    static SlurmJobDefaults fromJson(const QJsonObject& o);
    // Empty when every value is acceptable; else one line naming the field and what is expected.
    QString validate() const;
    // One line for listings: "partition gpu, 2 GPU(s)/node, 4:00:00".
    QString summary() const;
};

// Whether `name` is a Slurm partition, account or QoS name as the workbench accepts it:
// letters, digits, '_', '-', '.', at most 64 characters.
bool isSlurmName(const QString& name);
// Whether `limit` is a Slurm time limit ("30", "4:00:00", "2-00:00:00", "UNLIMITED").
bool isSlurmTimeLimit(const QString& limit);
// Whether `line` is an extra "#SBATCH --option" or "#SBATCH --option=value" line with a value of
// [A-Za-z0-9_.,:=@%/+-]; options the workbench sets itself (job name, folder, output) are not.
QString checkExtraSbatchLine(const QString& line); // empty when acceptable, else why not
// Whether a path can appear in a batch script's #SBATCH lines: absolute (or ~-relative),
// [A-Za-z0-9_.,/+@%-] only.
bool isBatchSafePath(const QString& path);

} // namespace bcd::nodes
