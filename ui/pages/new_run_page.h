#pragma once
// The New run page: the run config as a form (ConfigForm) with the planner's live view beside it
// (PlanView), the node to run on (with processes per node and further SSH nodes for a
// data-parallel run), name and tags, load / save of config JSON, and a preview of the
// exact command the node will run. Launch hands the config to RunController and opens the
// Monitor on the new run. On a fresh store the form holds a working default — the `small`
// preset (created in the store's models/ folder at launch) on the bundled Shakespeare sample, on
// the local node — so that a first run is two clicks away.

#include "store/store_types.h"

#include <QJsonObject>
#include <QList>
#include <QSet>
#include <QVector>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QHBoxLayout;
class QLabel;
class QSpinBox;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QTimer;

namespace bcd::ui {

class ConfigForm;
class PlanView;
class SlurmPartitionBox;
class Workbench;

class NewRunPage : public QWidget {
    Q_OBJECT
public:
    explicit NewRunPage(Workbench& wb, QWidget* parent = nullptr);
    ~NewRunPage() override;

    // Fills the form (an empty object: the default run).
    void setConfig(const QJsonObject& config);
    QJsonObject config() const;
    // The config a fresh store starts with.
    QJsonObject defaultConfig() const;

    ConfigForm* form() const { return form_; }
    PlanView* planView() const { return plan_; }
    QString node() const;
    QStringList nodeNames() const;
    void setNode(const QString& name);
    // A data-parallel run (docs/data-parallel.md): processes per node (0: the default) and the
    // further SSH nodes that run ranks besides the chosen (head) node.
    int processesPerNode() const;
    void setProcessesPerNode(int n);
    QStringList extraNodes() const;
    void setExtraNodes(const QStringList& names);
    // Every node of the launch, the head first.
    QStringList launchNodes() const;
    void setRunName(const QString& name);
    void setRunTags(const QStringList& tags);
    QStringList runTags() const;
    QString commandPreview() const;
    // The name a launch without one gets: "<model>-<mode>".
    QString defaultRunName() const;

public slots:
    // Creates the preset model if needed, then launches; on success the Monitor opens.
    void launch();
    bool loadConfig(const QString& file);
    bool saveConfig(const QString& file);

signals:
    void launchStarted();
    void launchFinished(qint64 runId, bool ok, const QString& message);
    // The chosen node was never probed and the page is showing: its GPUs decide the plan.
    void probeWanted(const QString& node);

protected:
    void showEvent(QShowEvent* event) override;

private:
    void planPartition();
    void askForProbe();
    QJsonObject jobOverrides() const;
    void refreshNodes();
    void refreshExtraNodes();
    void worldChanged();
    void formChanged();
    void updatePreview();
    void startLaunch();
    void setBusy(bool busy, const QString& text = {});
    bool nodeHasGpus() const;
    void applyNodePrecision();

    Workbench& wb_;
    ConfigForm* form_;
    PlanView* plan_;
    SlurmPartitionBox* partition_;
    QComboBox* node_;
    QSpinBox* perNode_;
    QWidget* extraBox_;
    QHBoxLayout* extraRow_;
    QList<QCheckBox*> extraChecks_; // one per other SSH node, its name as object name
    QStringList wantedExtra_;
    QLineEdit* name_;
    QLineEdit* tags_;
    QPlainTextEdit* preview_;
    QPushButton* launch_;
    QLabel* state_;
    QVector<store::NodeRecord> nodes_;
    QString wantedNode_ = QStringLiteral("local");
    bool launching_ = false;
    bool precisionChosen_ = false; // by the user or a loaded config: the node no longer decides
    QSet<QString> probeAsked_;     // nodes this page asked to probe
};

} // namespace bcd::ui
