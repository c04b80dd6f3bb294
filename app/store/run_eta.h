#pragma once
// The time a running run still needs (docs/workbench.md "Progress and ETA"): its remaining steps
// at the pace of its own training steps, plus the evaluations, checkpoints and final model still
// to come. A phase's length is measured from the run's own phase records once it has some, and
// planned before: an evaluation as a pass over the validation tokens at the measured training
// rate (half of it per token in full training, all of it in BCD), a checkpoint and the final
// model as their bytes at the planner's assumed disk rate (docs/planner.md#run-time). (The
// evaluation's plan is conservative; docs/workbench.md "Progress and ETA" says why.)

#include "store/store_types.h"

#include <QJsonObject>
#include <QString>
#include <QVector>
#include <optional>

namespace bcd::store {

// The planner's assumed disk write rate (bcd::PlanConstants::disk_write_gbps).
inline constexpr double kAssumedDiskBytesPerSecond = 0.5e9;

struct EtaInput {
    qint64 done = 0;    // steps done (the last step record)
    qint64 total = 0;   // train.steps
    double elapsed = 0; // the run's elapsed seconds at that step record
    double tokens = 0;  // tokens trained by then
    QJsonObject config; // the run's config (output.eval_every, checkpoint_every, data.val)
    QJsonObject start;  // the engine's start record (params, blocks, eval_tokens, mode)
    QVector<PhaseRecord> phases;
};

struct Eta {
    double remaining_s = 0;  // all of it
    double train_s = 0;      // the remaining steps
    double eval_s = 0;       // the remaining evaluations (the one in progress included)
    double checkpoint_s = 0; // the remaining checkpoints and the final model
    double step_s = 0;       // a training step's own time (phases left out)
    std::optional<double> one_eval_s, one_checkpoint_s; // per occurrence
    bool eval_measured = false, checkpoint_measured = false;
};

// nullopt before the first step.
std::optional<Eta> estimateRemaining(const EtaInput& in);

// "evaluating 3/12", "writing checkpoint", "writing the final model"; empty when no phase is in
// progress (the last phase has ended, or there is none).
QString phaseInProgress(const QVector<PhaseRecord>& phases);

} // namespace bcd::store
