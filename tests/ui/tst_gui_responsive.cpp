// The GUI thread never waits (docs/architecture.md, "Nothing blocks the GUI thread"): while the
// workbench starts with an engine that takes seconds to answer --version and the Nodes page probes
// an SSH node whose server accepts the connection but never speaks, a 10 ms timer on the GUI
// thread keeps firing, with no gap above 100 ms. Both slow calls are checked to be still in
// progress at the end of the measured window, then to end by themselves with their reasons.

#include "test_runs.h"
#include "ui/pages/nodes_page.h"
#include "ui/workbench.h"

#include <QElapsedTimer>
#include <QFile>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>
#include <QtTest>
#include <memory>

using namespace bcd;
using namespace bcd::ui;

namespace {

// The longest time between two consecutive ticks of a 10 ms timer on this thread.
class LoopWatch : public QObject {
public:
    LoopWatch() {
        timer_.setInterval(10);
        timer_.setTimerType(Qt::PreciseTimer);
        connect(&timer_, &QTimer::timeout, this, [this] {
            maxGapMs_ = std::max(maxGapMs_, clock_.restart());
            ++ticks_;
        });
        clock_.start();
        timer_.start();
    }
    qint64 maxGapMs() const { return maxGapMs_; }
    int ticks() const { return ticks_; }

private:
    QTimer timer_;
    QElapsedTimer clock_;
    qint64 maxGapMs_ = 0;
    int ticks_ = 0;
};

constexpr int kEngineDelayS = 4;

} // namespace

class TstGuiResponsive : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        qputenv("BCD_PLUGIN_PATH", test::pluginDir().toLocal8Bit());
    }

    void slowEngineAndSilentSshServer() {
        const QString dir = test::freshDir(QStringLiteral("gui_responsive"));
        // An engine that answers --version only after kEngineDelayS seconds.
        const QString engine = dir + QStringLiteral("/bcd-train");
        {
            QFile f(engine);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(QStringLiteral("#!/bin/sh\nsleep %1\necho 'bcd-train 0.1.0'\n")
                        .arg(kEngineDelayS)
                        .toUtf8());
            f.close();
            QVERIFY(f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner));
        }
        qputenv("BCD_TRAIN", engine.toLocal8Bit());
        // An "SSH server" that accepts TCP connections and never sends its banner.
        QTcpServer silent;
        QVERIFY(silent.listen(QHostAddress::LocalHost));
        QList<QTcpSocket*> held;
        connect(&silent, &QTcpServer::newConnection, this, [&] {
            while (QTcpSocket* s = silent.nextPendingConnection()) held << s;
        });

        store::NodeRecord node;
        node.name = QStringLiteral("silent");
        node.kind = QStringLiteral("ssh");
        node.host = QStringLiteral("127.0.0.1");
        node.port = silent.serverPort();
        node.knownHosts = dir + QStringLiteral("/known_hosts");

        LoopWatch watch; // ticks from before the workbench exists
        QElapsedTimer window;
        window.start();
        std::unique_ptr<Workbench> wb;
        std::unique_ptr<NodesPage> page;
        // Built from the event loop, so that a constructor that waits shows as a gap.
        QTimer::singleShot(0, this, [&] {
            wb = std::make_unique<Workbench>(dir + QStringLiteral("/store.sqlite"));
            wb->store().call([node](store::RunStore& s) { s.addNode(node); }, this,
                             [&] {
                                 page = std::make_unique<NodesPage>(*wb);
                                 page->probe(node.name);
                             });
        });
        QTRY_VERIFY_WITH_TIMEOUT(page && page->probesRunning() == 1, 10000);
        QSignalSpy engineKnown(wb.get(), &Workbench::engineVersionKnown);
        QSignalSpy probed(page.get(), &NodesPage::probeFinished);
        // The probe's connection is open and waiting for a banner that never comes.
        QTRY_VERIFY_WITH_TIMEOUT(!held.isEmpty(), 10000);
        // Let both slow calls run together for a while (the engine sleeps kEngineDelayS s; the
        // probe waits up to its 15 s SSH timeout).
        QTest::qWait(1500);
        QVERIFY2(
            watch.maxGapMs() <= 100,
            qPrintable(QStringLiteral("the event loop stopped for %1 ms").arg(watch.maxGapMs())));
        QVERIFY(watch.ticks() >= 50);
        QVERIFY2(window.elapsed() < kEngineDelayS * 1000,
                 "the set-up took longer than the engine's delay; nothing was measured");
        QVERIFY(!wb->engineChecked());
        QCOMPARE(page->probesRunning(), 1);
        QVERIFY(engineKnown.isEmpty() && probed.isEmpty());

        // The server hangs up: the probe ends at once, with the reason, on the page's row.
        for (QTcpSocket* s : held) s->abort();
        silent.close();
        QVERIFY(probed.wait(20000));
        QCOMPARE(probed.first().at(0).toString(), node.name);
        QVERIFY(!probed.first().at(1).toBool());
        QCOMPARE(page->probesRunning(), 0);
        // The engine answers in its time; the workbench then knows its version.
        QVERIFY(engineKnown.wait(kEngineDelayS * 1000 + 10000));
        QCOMPARE(engineKnown.first().at(0).toString(), QStringLiteral("0.1.0"));
        QCOMPARE(wb->launcherContext().localEngineVersion, QStringLiteral("0.1.0"));
        QVERIFY2(
            watch.maxGapMs() <= 100,
            qPrintable(QStringLiteral("the event loop stopped for %1 ms").arg(watch.maxGapMs())));
        qInfo("longest gap between 10 ms ticks: %lld ms over %d ticks",
              static_cast<long long>(watch.maxGapMs()), watch.ticks());
        page.reset();
        wb.reset();
        qDeleteAll(held);
    }
};

QTEST_MAIN(TstGuiResponsive)
#include "tst_gui_responsive.moc"
