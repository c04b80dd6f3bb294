// The Nodes page: adding an SSH node stores it and probes it; against a real sshd, an unknown host
// key brings up the host-key dialog with the server's SHA256 fingerprint, and only accepting it
// lets the probe through (the key lands in known_hosts); a changed key is refused with a message;
// a price change says which active runs it reaches.

#include "sshd_fixture.h"
#include "test_runs.h"
#include "ui/pages/nodes_page.h"
#include "ui/widgets/host_key_dialog.h"
#include "ui/widgets/node_dialog.h"
#include "ui/workbench.h"

#include <QDoubleSpinBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTcpServer>
#include <QtTest>
#include <memory>

using namespace bcd;
using namespace bcd::ui;

class TstNodesPage : public QObject {
    Q_OBJECT
    QString dir_;
    std::unique_ptr<Workbench> wb_;
    test::SshdFixture sshd_;
    bool haveSshd_ = false;

    store::NodeRecord sshNode(const QString& name, const QString& knownHosts) const {
        store::NodeRecord n;
        n.name = name;
        n.kind = QStringLiteral("ssh");
        n.host = QStringLiteral("127.0.0.1");
        n.port = sshd_.port();
        n.user = sshd_.user();
        n.identity = sshd_.userKey();
        n.knownHosts = knownHosts;
        n.pricePerHour = 1.5;
        return n;
    }

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        qputenv("BCD_PLUGIN_PATH", test::pluginDir().toLocal8Bit());
        qputenv("BCD_TRAIN", test::trainExe().toLocal8Bit());
        dir_ = test::freshDir(QStringLiteral("nodes_page"));
        wb_ = std::make_unique<Workbench>(dir_ + "/store.sqlite");
        haveSshd_ = sshd_.start(dir_ + "/sshd");
        if (!haveSshd_) qWarning("no sshd: %s", qPrintable(sshd_.skipReason()));
    }
    void cleanupTestCase() {
        wb_.reset();
        sshd_.stop();
    }

    void listsLocalAndProbesIt() {
        NodesPage page(*wb_);
        QTRY_COMPARE_WITH_TIMEOUT(page.nodeNames(), QStringList{QStringLiteral("local")}, 10000);
        QSignalSpy done(&page, &NodesPage::probeFinished);
        page.probe(QStringLiteral("local"));
        QVERIFY(done.wait(20000));
        QVERIFY2(done.first().at(1).toBool(), qPrintable(done.first().at(2).toString()));
        QTRY_VERIFY_WITH_TIMEOUT(!page.table()->item(0, NodesPage::Engine)->text().isEmpty(), 5000);
        QVERIFY(!page.table()->item(0, NodesPage::Probed)->text().isEmpty());
    }

    void hostKeyDialogShowsTheFingerprint() {
        // Without a server: the dialog as the page builds it, from a host key it was given.
        nodes::HostKey key{QStringLiteral("ssh-ed25519"),
                           QStringLiteral("SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")};
        HostKeyDialog d(QStringLiteral("box"), QStringLiteral("me@box:22"), key);
        QVERIFY(d.fingerprintText().contains(key.sha256));
        QVERIFY(d.fingerprintText().contains(key.type));
        QVERIFY(!d.trustButton()->isDefault()); // Enter does not trust a key
    }

    void addNodeAcceptUnknownKeyThenProbe() {
        if (!haveSshd_) QSKIP(qPrintable(sshd_.skipReason()));
        NodesPage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("local")), 10000);
        const QString knownHosts = dir_ + "/known_hosts";
        QFile::remove(knownHosts);
        QSignalSpy done(&page, &NodesPage::probeFinished);
        page.saveNode(sshNode(QStringLiteral("box"), knownHosts));
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("box")), 10000);
        const auto stored = wb_->store().callBlocking(
            [](store::RunStore& s) { return s.node(QStringLiteral("box")); });
        QVERIFY(stored.has_value());
        QCOMPARE(stored->port, sshd_.port());
        QCOMPARE(stored->pricePerHour.value_or(0), 1.5);

        // The unknown key is shown, not accepted on its own.
        QTRY_VERIFY_WITH_TIMEOUT(page.hostKeyDialog() != nullptr, 20000);
        QVERIFY(page.hostKeyDialog()->fingerprintText().contains(sshd_.hostFingerprint()));
        QVERIFY(done.isEmpty());
        QVERIFY(!QFile::exists(knownHosts) || QFile(knownHosts).size() == 0);

        page.hostKeyDialog()->trustButton()->click();
        QTRY_VERIFY_WITH_TIMEOUT(!done.isEmpty(), 30000);
        QCOMPARE(done.first().at(0).toString(), QStringLiteral("box"));
        QVERIFY2(done.first().at(1).toBool(), qPrintable(done.first().at(2).toString()));
        QVERIFY(QFile::exists(knownHosts));
        const auto probed = wb_->store().callBlocking(
            [](store::RunStore& s) { return s.node(QStringLiteral("box")); });
        QVERIFY(!probed->probe.isEmpty());
    }

    void changedKeyIsRefused() {
        if (!haveSshd_) QSKIP(qPrintable(sshd_.skipReason()));
        const QString knownHosts = dir_ + "/known_hosts_changed";
        {
            QFile f(knownHosts);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(sshd_.otherKnownHostsLine().toUtf8() + '\n');
        }
        NodesPage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("local")), 10000);
        QSignalSpy done(&page, &NodesPage::probeFinished);
        page.saveNode(sshNode(QStringLiteral("changed"), knownHosts));
        QTRY_VERIFY_WITH_TIMEOUT(!done.isEmpty(), 30000);
        QCOMPARE(done.first().at(1).toBool(), false);
        QVERIFY(page.hostKeyDialog() == nullptr);
        QVERIFY2(done.first().at(2).toString().contains(QStringLiteral("refused")),
                 qPrintable(done.first().at(2).toString()));
        QVERIFY(page.findChild<QWidget*>(QStringLiteral("hostKeyRefused")) != nullptr);
    }

    void editLocalPrice() {
        // This machine's node: only its price is editable (cost of local runs); its other fields
        // are disabled and stay as they are.
        NodesPage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("local")), 10000);
        const auto before = wb_->store().callBlocking(
            [](store::RunStore& s) { return s.node(QStringLiteral("local")); });
        QVERIFY(before.has_value());
        page.table()->selectRow(
            static_cast<int>(page.nodeNames().indexOf(QStringLiteral("local"))));
        QPushButton* edit = nullptr;
        for (auto* b : page.findChildren<QPushButton*>())
            if (b->text().startsWith(QStringLiteral("Edit"))) edit = b;
        QVERIFY(edit && edit->isEnabled());
        bool sawDialog = false, hostDisabled = false;
        QTimer::singleShot(0, &page, [&] {
            auto* d = page.findChild<NodeDialog*>();
            if (!d) return;
            sawDialog = true;
            for (auto* e : d->findChildren<QLineEdit*>())
                if (e->objectName() != QStringLiteral("nodeName") && !e->isEnabled())
                    hostDisabled = true;
            d->findChild<QDoubleSpinBox*>(QStringLiteral("nodePrice"))->setValue(0.8);
            d->accept();
        });
        QSignalSpy updated(&page, &NodesPage::nodeUpdated);
        edit->click();
        QVERIFY(sawDialog);
        QVERIFY(hostDisabled);
        QTRY_VERIFY_WITH_TIMEOUT(!updated.isEmpty(), 5000);
        QVERIFY2(updated.first().at(1).toBool(), qPrintable(updated.first().at(2).toString()));
        const auto after = wb_->store().callBlocking(
            [](store::RunStore& s) { return s.node(QStringLiteral("local")); });
        QVERIFY(after.has_value());
        QCOMPARE(after->pricePerHour.value_or(0), 0.8);
        QCOMPARE(after->id, before->id);
        QCOMPARE(after->kind, QStringLiteral("local"));
        QCOMPARE(after->host, before->host);
    }

    void editNodeThatRunsUse() {
        // Edit rewrites the node in place: a node that runs refer to (which cannot be removed)
        // takes its new price, and the runs still refer to it.
        NodesPage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("local")), 10000);
        store::NodeRecord n;
        n.name = QStringLiteral("rented");
        n.kind = QStringLiteral("ssh");
        n.host = QStringLiteral("192.0.2.7");
        n.user = QStringLiteral("me");
        n.pricePerHour = 1.5;
        const QJsonObject probe{{"cpu_threads", 4}};
        const auto ids = wb_->store().callBlocking([n, probe](store::RunStore& s) {
            const qint64 nodeId = s.addNode(n);
            s.setNodeProbe(n.name, probe);
            store::NewRun r;
            r.name = QStringLiteral("on rented");
            r.node = n.name;
            return std::pair<qint64, qint64>(nodeId, s.createRun(r));
        });
        page.refresh();
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("rented")), 5000);
        const int row = static_cast<int>(page.nodeNames().indexOf(QStringLiteral("rented")));
        page.table()->selectRow(row);
        QCOMPARE(page.table()->item(row, NodesPage::Price)->text(), QStringLiteral("$1.50/h"));
        QPushButton* edit = nullptr;
        for (auto* b : page.findChildren<QPushButton*>())
            if (b->text().startsWith(QStringLiteral("Edit"))) edit = b;
        QVERIFY(edit && edit->isEnabled());

        // The dialog (modal): the name is fixed, the price changes.
        bool sawDialog = false, nameReadOnly = false;
        QTimer::singleShot(0, &page, [&] {
            auto* d = page.findChild<NodeDialog*>();
            if (!d) return;
            sawDialog = true;
            nameReadOnly =
                d->editing() && d->findChild<QLineEdit*>(QStringLiteral("nodeName"))->isReadOnly();
            d->findChild<QDoubleSpinBox*>(QStringLiteral("nodePrice"))->setValue(3.25);
            d->accept();
        });
        QSignalSpy updated(&page, &NodesPage::nodeUpdated);
        edit->click();
        QVERIFY(sawDialog);
        QVERIFY(nameReadOnly);
        QTRY_VERIFY_WITH_TIMEOUT(!updated.isEmpty(), 5000);
        QVERIFY2(updated.first().at(1).toBool(), qPrintable(updated.first().at(2).toString()));

        const auto stored = wb_->store().callBlocking(
            [](store::RunStore& s) { return s.node(QStringLiteral("rented")); });
        QVERIFY(stored.has_value());
        QCOMPARE(stored->id, ids.first);
        QCOMPARE(stored->pricePerHour.value_or(0), 3.25);
        QCOMPARE(stored->host, n.host);
        QCOMPARE(stored->user, n.user);
        QCOMPARE(stored->probe, probe); // the connection did not change: the probe stays
        QCOMPARE(page.probesRunning(), 0);
        const auto run =
            wb_->store().callBlocking([id = ids.second](store::RunStore& s) { return s.run(id); });
        QVERIFY(run.has_value());
        QCOMPARE(run->node, QStringLiteral("rented"));
        QTRY_COMPARE_WITH_TIMEOUT(
            page.table()
                ->item(static_cast<int>(page.nodeNames().indexOf(QStringLiteral("rented"))),
                       NodesPage::Price)
                ->text(),
            QStringLiteral("$3.25/h"), 5000);

        // A change the store refuses (an unknown node) is reported, not silently dropped.
        store::NodeRecord ghost = n;
        ghost.name = QStringLiteral("ghost");
        updated.clear();
        page.updateNode(ghost);
        QTRY_VERIFY_WITH_TIMEOUT(!updated.isEmpty(), 5000);
        QCOMPARE(updated.first().at(1).toBool(), false);
        QVERIFY(!page.nodeNames().contains(QStringLiteral("ghost")));
    }

    // Saving a new price says what it reaches: new runs and, from now, the node's active runs
    // (named), while finished runs keep their cost; the store holds the schedules to match.
    void priceChangeSaysWhichRunsItReaches() {
        NodesPage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("local")), 10000);
        auto* note = page.findChild<QLabel*>(QStringLiteral("priceNote"));
        QVERIFY(note);
        QVERIFY(!note->isVisibleTo(&page));
        store::NodeRecord n;
        n.name = QStringLiteral("gpu-4090");
        n.kind = QStringLiteral("ssh");
        n.host = QStringLiteral("192.0.2.9");
        n.pricePerHour = 1.0;
        struct Ids {
            qint64 running, starting, finished;
        };
        const Ids ids = wb_->store().callBlocking([n](store::RunStore& s) {
            s.addNode(n);
            auto run = [&](const char* name) {
                store::NewRun r;
                r.name = QString::fromLatin1(name);
                r.node = n.name;
                return s.createRun(r);
            };
            Ids out{run("running"), run("starting"), run("finished")};
            s.setRunStatus(out.running, store::status::kRunning);
            s.ingest(out.running, 0,
                     R"({"t":"step","step":1,"tokens":64,"loss":5,"elapsed_s":42.5})"
                     "\n");
            s.setRunStatus(out.finished, store::status::kFinished);
            return out;
        });
        page.refresh();
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(n.name), 5000);

        store::NodeRecord edited = n;
        edited.pricePerHour = 2.1;
        QSignalSpy updated(&page, &NodesPage::nodeUpdated);
        page.updateNode(edited);
        QTRY_VERIFY_WITH_TIMEOUT(!updated.isEmpty(), 5000);
        QVERIFY2(updated.first().at(1).toBool(), qPrintable(updated.first().at(2).toString()));
        const QString expected =
            QStringLiteral("Price $2.10/h applies to new runs and, from now, to the 2 active runs "
                           "on gpu-4090 (#%1, #%2); finished runs keep their cost.")
                .arg(ids.running)
                .arg(ids.starting);
        QCOMPARE(page.priceNote(), expected);
        QVERIFY(note->isVisibleTo(&page));
        QCOMPARE(note->text(), expected);

        const auto runs = wb_->store().callBlocking([ids](store::RunStore& s) {
            return QVector<store::RunRecord>{*s.run(ids.running), *s.run(ids.starting),
                                             *s.run(ids.finished)};
        });
        QCOMPARE(runs[0].prices.segments().size(), 2);
        QCOMPARE(runs[0].prices.segments()[1].fromElapsed, 42.5);
        QCOMPARE(runs[0].prices.current(), std::optional<double>(2.1));
        QCOMPARE(runs[1].prices.current(), std::optional<double>(2.1));
        QCOMPARE(runs[2].prices.segments().size(), 1);
        QCOMPARE(runs[2].prices.current(), std::optional<double>(1.0));

        // Saving again without a price change leaves the note as it was and adds nothing.
        updated.clear();
        page.updateNode(edited);
        QTRY_VERIFY_WITH_TIMEOUT(!updated.isEmpty(), 5000);
        QCOMPARE(page.priceNote(), expected);
        QCOMPARE(wb_->store().callBlocking([ids](store::RunStore& s) {
            return s.run(ids.running)->prices.segments().size();
        }),
                 qsizetype(2));
    }

    void removeNode() {
        NodesPage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("local")), 10000);
        store::NodeRecord n;
        n.name = QStringLiteral("gone");
        n.kind = QStringLiteral("ssh");
        n.host = QStringLiteral("192.0.2.1");
        wb_->store().callBlocking([n](store::RunStore& s) { return s.addNode(n); });
        page.refresh();
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("gone")), 5000);
        page.removeNode(QStringLiteral("gone"));
        QTRY_VERIFY_WITH_TIMEOUT(!page.nodeNames().contains(QStringLiteral("gone")), 5000);
    }

    // A probe that cannot reach the node says why in its row, in plain words, until a probe
    // succeeds.
    void unreachableNodeSaysWhy() {
        int port = 0;
        {
            QTcpServer s; // a port that was free a moment ago, and is closed again
            QVERIFY(s.listen(QHostAddress::LocalHost, 0));
            port = s.serverPort();
        }
        NodesPage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("local")), 10000);
        store::NodeRecord n;
        n.name = QStringLiteral("closed");
        n.kind = QStringLiteral("ssh");
        n.host = QStringLiteral("127.0.0.1");
        n.port = port;
        wb_->store().callBlocking([n](store::RunStore& s) { return s.addNode(n); });
        page.refresh();
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("closed")), 5000);
        QSignalSpy done(&page, &NodesPage::probeFinished);
        page.probe(QStringLiteral("closed"));
        QTRY_VERIFY_WITH_TIMEOUT(!done.isEmpty(), 30000);
        QCOMPARE(done.first().at(1).toBool(), false);
        QString gpus;
        for (int r = 0; r < page.table()->rowCount(); ++r)
            if (page.table()->item(r, NodesPage::Name)->text() == QStringLiteral("closed"))
                gpus = page.table()->item(r, NodesPage::Gpus)->text();
        QVERIFY2(gpus.startsWith(QStringLiteral("unreachable: ")) &&
                     gpus.contains(QStringLiteral("connection refused: nothing accepts SSH "
                                                  "connections on port %1")
                                       .arg(port)),
                 qPrintable(gpus));
        if (auto* box = page.findChild<QWidget*>(QStringLiteral("probeFailed"))) box->close();
    }
};

QTEST_MAIN(TstNodesPage)
#include "tst_nodes_page.moc"
