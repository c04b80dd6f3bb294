#pragma once
// Sampling a run's checkpoint, as every launcher plugin does it (docs/workbench.md, "Launcher
// plugins", 2.3): which checkpoints a run folder holds (one rule for a local folder and a remote
// listing), the engine's `sample` arguments, and the shell line that runs it on a node and first
// tells its process id, so that a stop can end it even where sshd ignores signal requests.

#include "launch/launcher.h"
#include "nodes/shell_command.h"

#include <QByteArray>
#include <QString>
#include <QStringList>

namespace bcd::launch {

// The checkpoints that a listing of a run folder shows complete: "final" when final/config.json
// is there, then each checkpoints/step-N holding checkpoints/step-N/DONE, the newest (largest N)
// first. `paths` are relative to the run folder ("final/config.json",
// "checkpoints/step-00000010/DONE"); other entries are ignored.
QStringList checkpointsFromListing(const QStringList& paths);

// Whether `name` can name a checkpoint ("final", "step-" and digits): nothing else reaches a path.
bool isCheckpointName(const QString& name);
// The request refused as bad input (LaunchError), naming the field and what it expects.
void checkSampleRequest(const SampleRequest& req);

// `sample --model DIR --prompt … --max-new … --temperature … --top-p … --seed …` (+ --threads,
// --device when the request sets them): the engine's arguments after its program.
QStringList sampleArguments(const QString& modelDir, const SampleRequest& req);

// A command that prints the paths checkpointsFromListing reads, one a line, relative to runDir;
// it prints nothing (and succeeds) when there is no checkpoint yet; exit 3: no such folder.
nodes::ShellCommand checkpointListingCommand(const QString& runDir);
inline constexpr int kNoRunFolderExit = 3;

// `echo $$; exec PROGRAM ARGS…`: the remote shell's pid (the engine's, or srun's, after exec) on
// the first line of stdout, then the program's output. argv: the program and its arguments.
nodes::ShellCommand pidThenExec(const QStringList& argv);

// Splits the pid line that pidThenExec prints from the output that follows it.
class PidThenOutput {
public:
    // The output after the pid line (possibly empty); the pid is kept once its line is complete.
    QByteArray feed(const QByteArray& chunk);
    qint64 pid() const { return pid_; }

private:
    QByteArray head_;
    bool seen_ = false;
    qint64 pid_ = 0;
};

// The last `n` non-empty lines of a text, joined by "; " (an engine's stderr in an error).
QString lastLines(const QByteArray& text, int n = 3);

} // namespace bcd::launch
