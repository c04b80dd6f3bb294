#pragma once
// The batch script of a Slurm run (docs/slurm.md): readable, kept in the run folder as
// job.sbatch, shown before launch. Every value in it is validated (nodes/slurm_job.h) or built by
// the workbench; the shell part quotes every word (nodes/shell_command.h), so no user text
// becomes shell syntax. The same script submitted again continues the run from its newest
// complete checkpoint, which is what a requeued or restarted job does.

#include "nodes/slurm_job.h"

#include <QPair>
#include <QString>
#include <QStringList>
#include <QVector>

namespace bcd::plugins::slurm {

struct BatchJob {
    qint64 runId = 0;
    QString runName; // shown in a comment (sanitised); the job name is built from its slug
    QString runDir;  // absolute path on the cluster (a shared folder)
    QString engine;  // bcd-train on the cluster: an absolute path, or "bcd-train" (PATH)
    nodes::SlurmJobDefaults job;
    // Engine processes per node. One per GPU once the engine runs data-parallel ranks (MPI ranks
    // from Slurm's PMI); the launcher passes 1 until then (docs/slurm.md).
    int tasksPerNode = 1;
    QString mpi; // srun --mpi=TYPE (pmix, pmi2); empty: the cluster's MpiDefault
    // A preview before launch: the run folder may still be relative to the login directory
    // ("~/bcd-runs/…"); the launch itself always has an absolute one.
    bool preview = false;
};

// "bcd-<id>-<slug>", at most 64 characters.
QString jobName(qint64 runId, const QString& runName);

// The script, or LaunchError(badInput) naming the field that cannot go into one.
QString batchScript(const BatchJob& b);

// The job options that the node's defaults set, as (option, value) pairs: partition, account,
// QoS and time limit, only those set. The batch script writes them as #SBATCH lines and a sample's
// srun passes them as options, so both ask the cluster for the same.
QVector<QPair<QString, QString>> jobOptions(const nodes::SlurmJobDefaults& j);

// `srun` and its options for one engine process that samples a checkpoint (docs/slurm.md): the
// node's job options, one task on one node, its CPUs and memory per task, and one GPU by GRES
// when `gpu`. LaunchError(badInput) when the defaults are not valid.
QStringList sampleSrun(const nodes::SlurmJobDefaults& j, bool gpu);

// The file name of the script in the run folder.
inline constexpr char kBatchScriptName[] = "job.sbatch";

} // namespace bcd::plugins::slurm
