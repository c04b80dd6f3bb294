#include "ui/main_window.h"

#include "store/run_status.h"
#include "ui/pages/compare_page.h"
#include "ui/pages/monitor_page.h"
#include "ui/pages/new_run_page.h"
#include "ui/pages/nodes_page.h"
#include "ui/pages/runs_page.h"
#include "ui/pages/sample_page.h"
#include "ui/widgets/wheel_guard.h"
#include "ui/workbench.h"

#include <QAction>
#include <QCloseEvent>
#include <QCoreApplication>
#include <QDesktopServices>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFrame>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QProcess>
#include <QSettings>
#include <QStackedWidget>
#include <QStatusBar>
#include <QUrl>
#include <algorithm>

namespace bcd::ui {

MainWindow::MainWindow(Workbench& wb, QWidget* parent) : QMainWindow(parent), wb_(wb) {
    setWindowTitle(tr("%1 — BCD Workbench").arg(QDir::toNativeSeparators(wb.dbPath())));
    auto* central = new QWidget(this);
    auto* layout = new QHBoxLayout(central);
    layout->setContentsMargins(0, 0, 0, 0);
    nav_ = new QListWidget(central);
    nav_->setObjectName(QStringLiteral("navigation"));
    nav_->setFixedWidth(150);
    nav_->setFrameShape(QFrame::NoFrame);
    nav_->setStyleSheet(QStringLiteral("QListWidget#navigation { padding-top: 8px; }"
                                       "QListWidget#navigation::item { padding: 9px 14px; }"));
    {
        QFont f = nav_->font();
        f.setPointSizeF(f.pointSizeF() * 1.1);
        nav_->setFont(f);
    }
    stack_ = new QStackedWidget(central);
    layout->addWidget(nav_);
    layout->addWidget(stack_, 1);
    setCentralWidget(central);

    const QList<std::pair<QString, QWidget*>> pages = {
        {tr("Runs"), new RunsPage(wb, stack_)},       {tr("New run"), new NewRunPage(wb, stack_)},
        {tr("Monitor"), new MonitorPage(wb, stack_)}, {tr("Compare"), new ComparePage(wb, stack_)},
        {tr("Nodes"), new NodesPage(wb, stack_)},     {tr("Sample"), new SamplePage(wb, stack_)},
    };
    for (int i = 0; i < pages.size(); ++i) {
        nav_->addItem(pages[i].first);
        stack_->addWidget(pages[i].second);
        auto* action = new QAction(pages[i].first, this);
        action->setShortcut(QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + i)));
        connect(action, &QAction::triggered, this, [this, i] { showPage(static_cast<Page>(i)); });
        addAction(action);
    }
    connect(nav_, &QListWidget::currentRowChanged, stack_, &QStackedWidget::setCurrentIndex);

    // The status bar exists from the start, so that the first message does not shift the pages.
    statusBar()->setSizeGripEnabled(false);
    auto* storeLabel = new QLabel(QFileInfo(wb.dbPath()).fileName(), statusBar());
    storeLabel->setToolTip(tr("The store: %1").arg(QDir::toNativeSeparators(wb.dbPath())));
    statusBar()->addPermanentWidget(storeLabel);
    connect(&wb, &Workbench::message, this,
            [this](const QString& m) { statusBar()->showMessage(m, 10000); });
    connect(&wb, &Workbench::runsChanged, this, [this] { readActiveRuns(false); });
    buildMenus();
    connect(&wb, &Workbench::openMonitor, this, [this](qint64 id) {
        static_cast<MonitorPage*>(page(Monitor))->showRun(id);
        showPage(Monitor);
    });
    connect(&wb, &Workbench::openCompare, this, [this](const QList<qint64>& ids) {
        static_cast<ComparePage*>(page(Compare))->setRuns(ids);
        showPage(Compare);
    });
    connect(static_cast<NewRunPage*>(page(NewRun)), &NewRunPage::probeWanted, this,
            [this](const QString& node) { static_cast<NodesPage*>(page(Nodes))->probe(node); });
    connect(&wb, &Workbench::openNewRun, this,
            [this](const QJsonObject& config, const QString& name, const QStringList& tags,
                   const QString& node) {
                auto* p = static_cast<NewRunPage*>(page(NewRun));
                if (!node.isEmpty()) p->setNode(node);
                p->setConfig(config);
                if (!name.isEmpty()) p->setRunName(name);
                p->setRunTags(tags);
                showPage(NewRun);
            });

    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
    if (settings.value(QStringLiteral("window/geometry")).isNull()) resize(1280, 800);
    showPage(static_cast<Page>(
        qBound(0, settings.value(QStringLiteral("window/page"), 0).toInt(), PageCount - 1)));
    guardWheel(this);
    readActiveRuns(true);
    // The local node is probed at the first start (its GPUs decide the plan and the precision).
    wb.store().call(
        [](store::RunStore& s) {
            const auto local = s.node(QStringLiteral("local"));
            return local && local->probe.isEmpty();
        },
        this,
        [this](bool unprobed) {
            if (unprobed) static_cast<NodesPage*>(page(Nodes))->probe(QStringLiteral("local"));
        });
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open store…"));
    open->setShortcut(QKeySequence::Open);
    connect(open, &QAction::triggered, this, [this] {
        const QString db = QFileDialog::getSaveFileName(this, tr("Open or create a store"),
                                                        QFileInfo(wb_.dbPath()).absolutePath(),
                                                        tr("Stores (*.sqlite *.db);;All files (*)"),
                                                        nullptr, QFileDialog::DontConfirmOverwrite);
        if (db.isEmpty() || QFileInfo(db) == QFileInfo(wb_.dbPath())) return;
        // One store per window and process: a new workbench on the other store, this one closes
        // (runs go on and are re-attached by whichever window opens their store).
        if (QProcess::startDetached(QCoreApplication::applicationFilePath(),
                                    {QStringLiteral("--db"), db}))
            close();
        else
            emit wb_.message(tr("Could not start a workbench on %1").arg(db));
    });
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"));
    quit->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Q));
    quit->setObjectName(QStringLiteral("quit"));
    connect(quit, &QAction::triggered, this, &QWidget::close);

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    QAction* guide = help->addAction(tr("&User guide"));
    guide->setShortcut(QKeySequence(Qt::Key_F1));
    guide->setObjectName(QStringLiteral("userGuide"));
    connect(guide, &QAction::triggered, this, [this] {
        const QString path = userGuidePath();
        if (path.isEmpty() || !QDesktopServices::openUrl(QUrl::fromLocalFile(path)))
            emit wb_.message(
                path.isEmpty()
                    ? tr("The user guide is not installed here; it is docs/user-guide.md in the "
                         "source tree")
                    : tr("No program to open %1").arg(path));
    });
    QAction* about = help->addAction(tr("&About BCD Workbench"));
    connect(about, &QAction::triggered, this, [this] {
        QMessageBox::about(
            this, tr("About BCD Workbench"),
            tr("<b>BCD Workbench %1</b><p>Train and fine-tune language models with full-parameter "
               "quality on cheap GPUs through block coordinate descent.</p><p>Store: %2</p>")
                .arg(QCoreApplication::applicationVersion().isEmpty()
                         ? QStringLiteral(BCD_WORKBENCH_VERSION)
                         : QCoreApplication::applicationVersion(),
                     QDir::toNativeSeparators(wb_.dbPath()).toHtmlEscaped()));
    });
}

QString MainWindow::userGuidePath() {
    const QDir app(QCoreApplication::applicationDirPath());
    for (const QString& rel :
         {QStringLiteral("../share/doc/bcd-workbench/user-guide.md"),
          QStringLiteral("../docs/user-guide.md"), QStringLiteral("../../docs/user-guide.md")}) {
        const QFileInfo fi(app.absoluteFilePath(rel));
        if (fi.isFile()) return fi.canonicalFilePath();
    }
#ifdef BCD_SOURCE_DIR
    const QFileInfo src(QStringLiteral(BCD_SOURCE_DIR "/docs/user-guide.md"));
    if (src.isFile()) return src.canonicalFilePath();
#endif
    return {};
}

void MainWindow::readActiveRuns(bool openMonitor) {
    wb_.store().call(
        [](store::RunStore& s) {
            QVector<qint64> active;
            for (const store::RunRecord& r : s.runs())
                if (!store::status::isTerminal(r.status)) active << r.id;
            return active;
        },
        this,
        [this, openMonitor](const QVector<qint64>& active) {
            activeRuns_ = int(active.size());
            // After a restart Monitor shows the newest active run (the page stays as it was).
            if (openMonitor && !active.isEmpty())
                static_cast<MonitorPage*>(page(Monitor))
                    ->showRun(*std::max_element(active.begin(), active.end()));
        });
}

MainWindow::~MainWindow() = default;

void MainWindow::showPage(Page p) {
    nav_->setCurrentRow(p);
    stack_->setCurrentIndex(p);
}

MainWindow::Page MainWindow::currentPage() const {
    return static_cast<Page>(stack_->currentIndex());
}

QWidget* MainWindow::page(Page p) const {
    return stack_->widget(p);
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (activeRuns_ > 0) {
        const QString what =
            activeRuns_ == 1
                ? tr("1 run is still active: it goes on on its node after the window closes.")
                : tr("%1 runs are still active: they go on on their nodes after the window "
                     "closes.")
                      .arg(activeRuns_);
        QMessageBox box(QMessageBox::Information, tr("Runs continue"),
                        what + QLatin1Char(' ') +
                            tr("The workbench re-attaches to them when it opens this store "
                               "again."),
                        QMessageBox::Close | QMessageBox::Cancel, this);
        box.setObjectName(QStringLiteral("runsContinue"));
        box.setDefaultButton(QMessageBox::Close);
        if (box.exec() != QMessageBox::Close) {
            event->ignore();
            return;
        }
    }
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState());
    settings.setValue(QStringLiteral("window/page"), static_cast<int>(currentPage()));
    event->accept();
}

} // namespace bcd::ui
