#include "ui/main_window.h"

#include "ui/pages/compare_page.h"
#include "ui/pages/monitor_page.h"
#include "ui/pages/new_run_page.h"
#include "ui/pages/nodes_page.h"
#include "ui/pages/runs_page.h"
#include "ui/workbench.h"

#include <QAction>
#include <QCloseEvent>
#include <QFrame>
#include <QHBoxLayout>
#include <QListWidget>
#include <QSettings>
#include <QStackedWidget>
#include <QStatusBar>

namespace bcd::ui {

MainWindow::MainWindow(Workbench& wb, QWidget* parent) : QMainWindow(parent), wb_(wb) {
    setWindowTitle(tr("BCD Workbench"));
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
        {tr("Nodes"), new NodesPage(wb, stack_)},
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

    connect(&wb, &Workbench::message, this,
            [this](const QString& m) { statusBar()->showMessage(m, 10000); });
    connect(&wb, &Workbench::openMonitor, this, [this](qint64 id) {
        static_cast<MonitorPage*>(page(Monitor))->showRun(id);
        showPage(Monitor);
    });
    connect(&wb, &Workbench::openCompare, this, [this](const QList<qint64>& ids) {
        static_cast<ComparePage*>(page(Compare))->setRuns(ids);
        showPage(Compare);
    });
    connect(&wb, &Workbench::openNewRun, this, [this](const QJsonObject& config) {
        static_cast<NewRunPage*>(page(NewRun))->setConfig(config);
        showPage(NewRun);
    });

    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
    if (settings.value(QStringLiteral("window/geometry")).isNull()) resize(1280, 800);
    showPage(static_cast<Page>(
        qBound(0, settings.value(QStringLiteral("window/page"), 0).toInt(), PageCount - 1)));
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
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState());
    settings.setValue(QStringLiteral("window/page"), static_cast<int>(currentPage()));
    event->accept();
}

} // namespace bcd::ui
