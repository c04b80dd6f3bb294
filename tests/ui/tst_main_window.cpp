// The main window: opens on a fresh store without errors, offers the local node and the bundled
// sample, switches pages with Ctrl+1 … Ctrl+5, and follows the pages' navigation requests.

#include "store/run_status.h"
#include "test_runs.h"
#include "ui/main_window.h"
#include "ui/pages/monitor_page.h"
#include "ui/pages/new_run_page.h"
#include "ui/pages/nodes_page.h"
#include "ui/pages/runs_page.h"
#include "ui/workbench.h"

#include <QAction>
#include <QApplication>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTimer>
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
        QSignalSpy probed(nodes, &NodesPage::probeFinished); // the probe starts from the loop
        auto* newRun = static_cast<NewRunPage*>(window.page(MainWindow::NewRun));
        auto* runs = static_cast<RunsPage*>(window.page(MainWindow::Runs));
        QTRY_VERIFY_WITH_TIMEOUT(nodes->nodeNames() == QStringList{QStringLiteral("local")}, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(newRun->nodeNames().contains(QStringLiteral("local")), 10000);
        QCOMPARE(newRun->node(), QStringLiteral("local"));
        QVERIFY(!wb.sampleCorpus().isEmpty());
        QCOMPARE(newRun->config().value("data").toObject().value("train").toString(),
                 wb.sampleCorpus());
        QVERIFY(runs->visibleRuns().isEmpty());
        // The local node is probed at the first start.
        QTRY_VERIFY_WITH_TIMEOUT(!wb.store()
                                      .callBlocking([](store::RunStore& s) {
                                          return s.node(QStringLiteral("local"))->probe;
                                      })
                                      .isEmpty(),
                                 30000);
        // The empty store points to the next action.
        QTRY_VERIFY(runs->findChild<QLabel*>(QStringLiteral("runDetails"))
                        ->text()
                        .startsWith(QStringLiteral("No runs yet — New run (Ctrl+2)")));
        // What the first start does in the background has ended, and said so: the probe's outcome
        // is stored (its message comes before probeFinished), the engine answered --version.
        QTRY_COMPARE_WITH_TIMEOUT(probed.count(), 1, 30000);
        QVERIFY2(probed.first().at(1).toBool(), qPrintable(probed.first().at(2).toString()));
        QTRY_VERIFY_WITH_TIMEOUT(wb.engineChecked(), 30000);
        QVERIFY(!wb.launcherContext().localEngineVersion.isEmpty());
        for (const auto& m : messages)
            QVERIFY2(!m.first().toString().contains("fail", Qt::CaseInsensitive) &&
                         !m.first().toString().contains("no usable", Qt::CaseInsensitive),
                     qPrintable(m.first().toString()));
    }

    // Usable at 1024×700: no page asks for more, so the window takes that size (a page wider
    // than its share would widen the whole window past the screen).
    void fitsA1024x700Screen() {
        Workbench wb(dir_ + "/small/store.sqlite");
        MainWindow window(wb);
        window.resize(1024, 700);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QString sizes;
        for (int p = MainWindow::Runs; p <= MainWindow::Sample; ++p) {
            const QSize min = window.page(static_cast<MainWindow::Page>(p))->minimumSizeHint();
            sizes += QStringLiteral("page %1: %2×%3; ").arg(p).arg(min.width()).arg(min.height());
        }
        const QSize min = window.minimumSizeHint();
        QVERIFY2(
            min.width() <= 1024 && min.height() <= 700,
            qPrintable(
                QStringLiteral("window %1×%2; %3").arg(min.width()).arg(min.height()).arg(sizes)));
        QTRY_COMPARE(window.size(), QSize(1024, 700));
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

    // The title names the store; the status bar is there before any message (pages never
    // shift); the menus offer open store, quit (Ctrl+Q), the user guide (F1) and about.
    void titleMenusAndStatusBar() {
        Workbench wb(dir_ + "/menus/store.sqlite");
        MainWindow window(wb);
        QVERIFY(window.windowTitle().contains(dir_ + "/menus/store.sqlite"));
        QVERIFY(window.findChild<QStatusBar*>() != nullptr);
        const auto menus = window.menuBar()->actions();
        QCOMPARE(menus.size(), 2);
        QVERIFY(menus[0]->text().contains("File"));
        QVERIFY(menus[1]->text().contains("Help"));
        auto* quit = window.findChild<QAction*>(QStringLiteral("quit"));
        QVERIFY(quit && quit->shortcut() == QKeySequence(Qt::CTRL | Qt::Key_Q));
        auto* guide = window.findChild<QAction*>(QStringLiteral("userGuide"));
        QVERIFY(guide && guide->shortcut() == QKeySequence(Qt::Key_F1));
        // The guide is found (the source tree's, for this build).
        QVERIFY(MainWindow::userGuidePath().endsWith("user-guide.md"));
        window.show();
        QVERIFY(window.isVisible());
        quit->trigger();
        QVERIFY(!window.isVisible());
    }

    // At start Monitor shows the newest active run; closing the window while runs are active
    // says they go on, and Cancel keeps the window open.
    void activeRunsAtStartAndClose() {
        Workbench wb(dir_ + "/active/store.sqlite");
        const qint64 id = wb.store().callBlocking([](store::RunStore& s) {
            store::NewRun n;
            n.name = QStringLiteral("long one");
            n.node = QStringLiteral("local");
            const qint64 a = s.createRun(n);
            s.setRunStatus(a, store::status::kRunning);
            n.name = QStringLiteral("done");
            s.setRunStatus(s.createRun(n), store::status::kFinished);
            return a;
        });
        MainWindow window(wb);
        window.show();
        auto* monitor = static_cast<MonitorPage*>(window.page(MainWindow::Monitor));
        QTRY_COMPARE_WITH_TIMEOUT(window.activeRuns(), 1, 10000);
        QTRY_COMPARE(monitor->runId(), id);
        auto answer = [](QMessageBox::StandardButton b) {
            QTimer::singleShot(0, [b] {
                auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
                QVERIFY(box && box->objectName() == QStringLiteral("runsContinue"));
                QVERIFY(box->text().contains(QStringLiteral("1 run")));
                box->button(b)->click();
            });
        };
        answer(QMessageBox::Cancel);
        window.close();
        QVERIFY(window.isVisible());
        answer(QMessageBox::Close);
        window.close();
        QVERIFY(!window.isVisible());
    }
};

QTEST_MAIN(TstMainWindow)
#include "tst_main_window.moc"
