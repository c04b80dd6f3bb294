// The main window: opens on a fresh store without errors, offers the local node and the bundled
// sample, switches pages with Ctrl+1 … Ctrl+5, and follows the pages' navigation requests.

#include "test_runs.h"
#include "ui/main_window.h"
#include "ui/pages/new_run_page.h"
#include "ui/pages/nodes_page.h"
#include "ui/pages/runs_page.h"
#include "ui/workbench.h"

#include <QListWidget>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QStatusBar>
#include <QtTest>
#include <memory>

using namespace bcd;
using namespace bcd::ui;

class TstMainWindow : public QObject {
    Q_OBJECT
    QString dir_;

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        qputenv("BCD_PLUGIN_PATH", test::pluginDir().toLocal8Bit());
        qputenv("BCD_TRAIN", test::trainExe().toLocal8Bit());
        dir_ = test::freshDir(QStringLiteral("main_window"));
    }

    void freshStoreOpensWithDefaults() {
        Workbench wb(dir_ + "/fresh/store.sqlite");
        QSignalSpy messages(&wb, &Workbench::message);
        MainWindow window(wb);
        window.show();
        auto* nodes = static_cast<NodesPage*>(window.page(MainWindow::Nodes));
        auto* newRun = static_cast<NewRunPage*>(window.page(MainWindow::NewRun));
        auto* runs = static_cast<RunsPage*>(window.page(MainWindow::Runs));
        QTRY_VERIFY_WITH_TIMEOUT(nodes->nodeNames() == QStringList{QStringLiteral("local")}, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(newRun->nodeNames().contains(QStringLiteral("local")), 10000);
        QCOMPARE(newRun->node(), QStringLiteral("local"));
        QVERIFY(!wb.sampleCorpus().isEmpty());
        QCOMPARE(newRun->config().value("data").toObject().value("train").toString(),
                 wb.sampleCorpus());
        QVERIFY(runs->visibleRuns().isEmpty());
        QTest::qWait(200);
        for (const auto& m : messages)
            QVERIFY2(!m.first().toString().contains("fail", Qt::CaseInsensitive),
                     qPrintable(m.first().toString()));
    }

    void shortcutsSwitchPages() {
        Workbench wb(dir_ + "/keys/store.sqlite");
        MainWindow window(wb);
        window.show();
        QVERIFY(QTest::qWaitForWindowActive(&window));
        const MainWindow::Page order[] = {MainWindow::Nodes, MainWindow::Runs, MainWindow::Compare,
                                          MainWindow::NewRun, MainWindow::Monitor};
        for (MainWindow::Page p : order) {
            QTest::keyClick(&window, static_cast<Qt::Key>(Qt::Key_1 + static_cast<int>(p)),
                            Qt::ControlModifier);
            QCOMPARE(window.currentPage(), p);
            QCOMPARE(window.findChild<QListWidget*>("navigation")->currentRow(),
                     static_cast<int>(p));
        }
        // The navigation list switches too.
        window.findChild<QListWidget*>("navigation")->setCurrentRow(MainWindow::Runs);
        QCOMPARE(window.currentPage(), MainWindow::Runs);
    }

    void navigationRequests() {
        Workbench wb(dir_ + "/nav/store.sqlite");
        MainWindow window(wb);
        window.show();
        QJsonObject cfg{{"model", QJsonObject{{"path", dir_ + "/models/tiny"}}},
                        {"train", QJsonObject{{"steps", 77}}}};
        emit wb.openNewRun(cfg);
        QCOMPARE(window.currentPage(), MainWindow::NewRun);
        auto* newRun = static_cast<NewRunPage*>(window.page(MainWindow::NewRun));
        QCOMPARE(newRun->config().value("train").toObject().value("steps").toInt(), 77);
        emit wb.openMonitor(1);
        QCOMPARE(window.currentPage(), MainWindow::Monitor);
        emit wb.openCompare({1, 2});
        QCOMPARE(window.currentPage(), MainWindow::Compare);
        emit wb.message(QStringLiteral("hello"));
        QCOMPARE(window.statusBar()->currentMessage(), QStringLiteral("hello"));
    }
};

QTEST_MAIN(TstMainWindow)
#include "tst_main_window.moc"
