#pragma once
// What Slurm's commands answer about a job, parsed: sbatch --parsable's job id, squeue's state
// and reason, sacct's state where accounting answers. Commands are built from quoted words.

#include "nodes/shell_command.h"

#include <QByteArray>
#include <QString>
#include <optional>

namespace bcd::plugins::slurm {

struct JobState {
    QString state;  // PENDING, RUNNING, COMPLETED, CANCELLED, TIMEOUT, ...
    QString reason; // squeue's %r: Priority, Resources, JobHeldUser, TimeLimit, None, ...
};

// "12\n" or "12;cluster\n" → "12"; empty when the output is not a job id.
QString parseSbatchJobId(const QByteArray& out);

nodes::ShellCommand sbatchCommand(const QString& scriptPath);
nodes::ShellCommand squeueCommand(const QString& jobId);
nodes::ShellCommand sacctCommand(const QString& jobId);
// SIGTERM: scancel (Slurm signals every step with SIGTERM, then SIGKILL after the cluster's
// KillWait; a queued job just leaves the queue). SIGKILL: every process of the job now.
nodes::ShellCommand scancelCommand(const QString& jobId, int signal);

// squeue's "STATE|REASON" line for the job; nullopt when there is none.
std::optional<JobState> parseSqueue(const QByteArray& out);
// sacct's "STATE|REASON" of the allocation ("CANCELLED by 0" → CANCELLED); nullopt when none.
std::optional<JobState> parseSacct(const QByteArray& out);
// Whether squeue's error says that the job is unknown (gone from the controller's memory)
// rather than that the controller could not be asked.
bool squeueSaysUnknownJob(const QByteArray& err);

// Whether the job may still run or write: queued, running, completing, requeued, suspended.
bool jobAlive(const QString& state);

} // namespace bcd::plugins::slurm
