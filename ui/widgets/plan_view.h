#pragma once
// PlanView: the engine's planner (bcd/plan.h) run in-process on the form's settings — full
// training and BCD side by side: per device a stacked memory bar against the capacity (red when
// it does not fit), the planner's setting and advice, time and cost for the run's steps, and the
// model's layers coloured by block in schedule order. Recomputed, debounced, as settings change.
//
// Hardware: the chosen node's GPUs from its stored probe; a CPU-only node plans for its CPU
// memory, as `bcd-train plan` does without --gpu; or a GPU model of the planner's table.

#include "bcd/plan.h"
#include "store/store_types.h"

#include <QJsonObject>
#include <QVector>
#include <QWidget>
#include <optional>

class QComboBox;
class QLabel;
class QBoxLayout;
class QResizeEvent;
class QSpinBox;
class QTimer;

namespace bcd::ui {

class BlockStrip;
class MemoryBar;

// The planner's input from a run config (JSON, as the form gives it) and the model's shape:
// RunConfig::from_json without file checks, then PlanInput::from_run_config. Throws the engine's
// InputError (naming the key) for a value the engine would refuse.
bcd::PlanInput planInputFromConfig(const QJsonObject& config, const bcd::ModelConfig& model);

// The hardware a node's stored probe describes; a local node never probed: this machine's CPU.
// nullopt when a remote node has not been probed.
std::optional<bcd::Hardware> nodeHardware(const store::NodeRecord& node, int threads,
                                          QString* description);

class PlanView : public QWidget {
    Q_OBJECT
public:
    explicit PlanView(QWidget* parent = nullptr);
    ~PlanView() override;

    void setNode(const store::NodeRecord& node);
    // Plans again after a short pause (typing does not re-plan every keystroke).
    void setInput(const QJsonObject& config, const std::optional<bcd::ModelConfig>& model);
    // Plans now.
    void replan();
    // Plans for GPUs of the planner's table instead of the node ("" goes back to the node).
    void setGpuChoice(const QString& gpuName, int count = 1);
    // A data-parallel run: processes per node (0: one per GPU, one on a CPU) over `nodes` nodes
    // like the chosen one (docs/data-parallel.md).
    void setWorld(int processesPerNode, int nodes);
    // The planner's GPU names (its table), for matching a node's GPUs to them.
    static QStringList gpuNames();

    const std::optional<bcd::PlanPair>& plan() const { return plan_; }
    // Whether the Full and BCD cards stand side by side (else one above the other: narrower
    // than kSideBySideWidth, as on a 1024-pixel screen).
    bool cardsSideBySide() const;
    static constexpr int kSideBySideWidth = 560;
    QString error() const { return error_; }
    int debounceMs = 200;

    // A suggestion of the plan: its text and, when one click can follow it, the form changes
    // (dotted keys) or the GPU count to plan for.
    struct Suggestion {
        QString text;
        QJsonObject changes;
        int gpus = 0;
    };

signals:
    void planned();
    // Apply on a suggestion: the form takes these values (dotted keys: "data.seq_len").
    void applyRequested(const QJsonObject& changes);

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    struct Column;
    void fillHardwareChoices();
    void showPlan(Column& c, const bcd::Plan& p, bool chosenMode, double steps);
    QVector<Suggestion> suggestions(const bcd::Plan& p) const;
    void setSuggestions(Column& c, const QVector<Suggestion>& list);

    store::NodeRecord node_;
    int processesPerNode_ = 0;
    int nodes_ = 1;
    QJsonObject config_;
    std::optional<bcd::ModelConfig> model_;
    std::optional<bcd::PlanPair> plan_;
    QString error_;
    QTimer* debounce_;
    QComboBox* hardware_;
    QSpinBox* gpuCount_;
    QLabel* device_;
    QLabel* legend_;
    BlockStrip* strip_;
    QLabel* stripCaption_;
    Column* full_;
    Column* bcd_;
    QBoxLayout* columns_;
};

} // namespace bcd::ui
