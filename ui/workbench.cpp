#include "ui/workbench.h"

#include "launch/run_files.h"
#include "nodes/engine_version_check.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

namespace bcd::ui {

namespace {

// resources/sample next to the build tree's or the installed program.
QString sampleFile(const QString& name) {
    const QDir app(QCoreApplication::applicationDirPath());
    for (const QString& rel :
         {QStringLiteral("../share/bcd-workbench/sample/"),
          QStringLiteral("../../resources/sample/"), QStringLiteral("../resources/sample/")}) {
        const QFileInfo fi(app.absoluteFilePath(rel + name));
        if (fi.isFile()) return fi.canonicalFilePath();
    }
#ifdef BCD_SOURCE_DIR
    const QFileInfo src(QStringLiteral(BCD_SOURCE_DIR "/resources/sample/") + name);
    if (src.isFile()) return src.canonicalFilePath();
#endif
    return {};
}

} // namespace

Workbench::Workbench(const QString& dbPath, QObject* parent) : QObject(parent), dbPath_(dbPath) {
    plugins_.load(launch::PluginRegistry::defaultSearchPaths());
    ctx_.localEngine = launch::findLocalEngine();
    ctx_.localRunRoot = QFileInfo(dbPath_).absolutePath() + QStringLiteral("/runs");
    store_ = std::make_unique<store::StoreService>(dbPath_);
    // The engine's version is not known yet: whoever needs it before engineVersionKnown asks the
    // engine on its own worker thread (RunFollower does, for a launch).
    runs_ = std::make_unique<launch::RunController>(*store_, plugins_, ctx_);
    prober_ = std::make_unique<launch::NodeProber>(plugins_, ctx_);
    logTail_ = std::make_unique<launch::RunLogTail>(plugins_, ctx_);
    sampler_ = std::make_unique<launch::RunSampler>(plugins_, ctx_);
    runFiles_ =
        std::make_unique<launch::NodeWorker>(plugins_, ctx_, QStringLiteral("bcd-run-files"));
    engineCheck_ = new nodes::EngineVersionCheck(this);
    connect(engineCheck_, &nodes::EngineVersionCheck::finished, this,
            [this](const QString& version, const QString& note) {
                ctx_.localEngineVersion = version;
                prober_->setContext(ctx_);
                logTail_->setContext(ctx_);
                sampler_->setContext(ctx_);
                runFiles_->setContext(ctx_);
                if (version.isEmpty())
                    emit message(tr("No usable engine on this machine: %1").arg(note));
                emit engineVersionKnown(version, note);
            });
    engineCheck_->start(ctx_.localEngine);
    connect(runs_.get(), &launch::RunController::launched, this, [this] { emit runsChanged(); });
    connect(runs_.get(), &launch::RunController::runEnded, this, [this] { emit runsChanged(); });
    // A batch job's queue state changes the run's status (queued, running) and what is shown.
    connect(runs_.get(), &launch::RunController::jobStateChanged, this,
            [this] { emit runsChanged(); });
    connect(
        runs_.get(), &launch::RunController::launchFailed, this,
        [this](qint64, const QString& m, bool) { emit message(tr("Launch failed: %1").arg(m)); });
    connect(runs_.get(), &launch::RunController::problem, this,
            [this](qint64 id, const QString& m) { emit message(tr("Run %1: %2").arg(id).arg(m)); });
    connect(runs_.get(), &launch::RunController::newData, this, &Workbench::newData);
    connect(store_.get(), &store::StoreService::openFailed, this,
            [this](const QString& m) { emit message(m); });
    connect(store_.get(), &store::StoreService::opened, this, [this] {
        store_->call([](store::RunStore& s) { return s.runs(); }, this,
                     [this](const QVector<store::RunRecord>& runs) {
                         for (const store::RunRecord& r : runs)
                             if (launch::RunController::reattachesAtStart(r) &&
                                 !runs_->following(r.id))
                                 runs_->attach(r.id);
                     });
    });
}

// The run controller goes first: its followers post to the store.
Workbench::~Workbench() {
    runs_.reset();
    prober_.reset();
    logTail_.reset();
    sampler_.reset();
    runFiles_.reset();
}

bool Workbench::engineChecked() const {
    return engineCheck_->done();
}

QString Workbench::sampleCorpus() const {
    return sampleFile(QStringLiteral("shakespeare-train.txt"));
}
QString Workbench::sampleValCorpus() const {
    return sampleFile(QStringLiteral("shakespeare-val.txt"));
}

} // namespace bcd::ui
