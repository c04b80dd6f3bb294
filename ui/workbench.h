#pragma once
// Workbench: what every page of the GUI shares — the store (on its worker thread), the launcher
// plugins, the run controller (launch, follow, cancel; followers on worker threads) — and the
// requests by which one page sends the user to another. Lives on the GUI thread; nothing in it
// blocks.

#include "launch/node_prober.h"
#include "launch/plugin_registry.h"
#include "launch/run_controller.h"
#include "launch/run_log_tail.h"
#include "launch/run_sampler.h"
#include "store/store_service.h"

#include <QJsonObject>
#include <QList>
#include <QObject>
#include <memory>

namespace bcd::nodes {
class EngineVersionCheck;
}

namespace bcd::ui {

class Workbench : public QObject {
    Q_OBJECT
public:
    // Opens (creating) the store at dbPath; loads the launcher plugins; finds this machine's
    // engine and asks it for its version in the background (engineVersionKnown). Local runs live in
    // <folder of the store>/runs, as for the CLI. Runs that an earlier workbench (or the CLI) left
    // running are re-attached once the store is open: their metrics continue from the stored
    // offset.
    explicit Workbench(const QString& dbPath, QObject* parent = nullptr);
    ~Workbench() override;

    store::StoreService& store() { return *store_; }
    launch::RunController& runs() { return *runs_; }
    // Probes nodes on worker threads (Nodes page); outcomes come back as its finished signal.
    launch::NodeProber& prober() { return *prober_; }
    // The last lines of a run's train.log on any node, through its launcher session on a worker
    // thread; answers with its tailRead signal.
    launch::RunLogTail& logTail() { return *logTail_; }
    // Lists and samples runs' checkpoints on any node, through their launcher sessions on worker
    // threads (Sample page).
    launch::RunSampler& sampler() { return *sampler_; }
    // Removes run folders on their nodes (launch/run_folders.h) off the GUI thread.
    launch::NodeWorker& runFiles() { return *runFiles_; }
    // Whether `bcd-train --version` has answered (or failed); launcherContext().localEngineVersion
    // is empty until then.
    bool engineChecked() const;
    const launch::PluginRegistry& plugins() const { return plugins_; }
    const launch::LauncherContext& launcherContext() const { return ctx_; }
    QString dbPath() const { return dbPath_; }
    // The bundled sample model folder and corpus (resources/sample), empty when not found.
    QString sampleCorpus() const;
    QString sampleValCorpus() const;

signals:
    // Navigation requests, handled by the main window.
    void openMonitor(qint64 runId);
    void openCompare(const QList<qint64>& runIds);
    // A config to start from (Run again, Fork), with the new run's name, tags and node when
    // given (a fork starts on its parent's node, where the checkpoint is).
    void openNewRun(const QJsonObject& config, const QString& name = {},
                    const QStringList& tags = {}, const QString& node = {});
    // Something the user should see in the status bar.
    void message(const QString& text);
    // The set of runs or nodes changed (a launch, an end, a node added): lists refresh.
    void runsChanged();
    void nodesChanged();
    // New points or events of a run were stored (RunController::newData): views pull what they
    // show, at most ~30 times a second.
    void newData(qint64 runId);
    // This machine's engine answered --version (version), or could not (empty, note says why).
    void engineVersionKnown(const QString& version, const QString& note);

private:
    QString dbPath_;
    launch::PluginRegistry plugins_;
    launch::LauncherContext ctx_;
    std::unique_ptr<store::StoreService> store_;
    std::unique_ptr<launch::RunController> runs_;
    std::unique_ptr<launch::NodeProber> prober_;
    std::unique_ptr<launch::RunLogTail> logTail_;
    std::unique_ptr<launch::RunSampler> sampler_;
    std::unique_ptr<launch::NodeWorker> runFiles_;
    nodes::EngineVersionCheck* engineCheck_ = nullptr;
};

} // namespace bcd::ui
