#pragma once
// The batch script of a Slurm run (docs/slurm.md): readable, kept in the run folder as
// job.sbatch, shown before launch. Every value in it is validated (nodes/slurm_job.h) or built by
// the workbench; the shell part quotes every word (nodes/shell_command.h), so no user text
// becomes shell syntax. The same script submitted again continues the run from its newest
// complete checkpoint, which is what a requeued or restarted job does.

#include "nodes/slurm_job.h"

#include <QString>
#include <QStringList>

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

// The file name of the script in the run folder.
inline constexpr char kBatchScriptName[] = "job.sbatch";

} // namespace bcd::plugins::slurm
