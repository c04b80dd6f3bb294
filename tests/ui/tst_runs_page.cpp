// The Runs page on a store prepared through RunStore: runs created and their metrics.jsonl
// ingested, listed with status, steps and last loss; the filter (name, tag, status); the actions
// that send the user to other pages; CSV export; Fork and Delete of a run on another node (a real
// sshd), through that node.

#include "bcd/run_config.h"
#include "sshd_fixture.h"
#include "store/run_store.h"
#include "test_runs.h"
#include "ui/pages/runs_page.h"
#include "ui/widgets/number_format.h"
#include "ui/widgets/run_info_dialog.h"
#include "ui/workbench.h"

#include <QCheckBox>
#include <QDir>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QtTest>
#include <memory>

using namespace bcd;
using namespace bcd::ui;

namespace {

// A metrics.jsonl as the engine writes it: start, `steps` step records, an end record.
QByteArray metrics(int steps, double firstLoss, const char* status) {
    QByteArray out = R"({"t":"start","time":1,"device":"cpu","world_size":1,"params":10,"steps":)" +
                     QByteArray::number(steps) + "}\n";
    for (int s = 1; s <= steps; ++s)
        out +=
            QStringLiteral(
                R"({"t":"step","step":%1,"tokens":%2,"loss":%3,"lr":0.001,"block":0,"grad_norm":1,"tok_s":1000,"elapsed_s":%4})")
                .arg(s)
                .arg(s * 64)
                .arg(firstLoss - 0.01 * s, 0, 'f', 4)
                .arg(s * 0.1)
                .toUtf8() +
            '\n';
    if (status)
        out += QByteArray(R"({"t":"end","status":")") + status + R"(","step":)" +
               QByteArray::number(steps) + "}\n";
    return out;
}

} // namespace

class TstRunsPage : public QObject {
    Q_OBJECT
    QString dir_;
    std::unique_ptr<Workbench> wb_;
    QMap<QString, qint64> ids_;

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        qputenv("BCD_PLUGIN_PATH", test::pluginDir().toLocal8Bit());
        qputenv("BCD_TRAIN", test::trainExe().toLocal8Bit());
        dir_ = test::freshDir(QStringLiteral("runs_page"));
        {
            store::RunStore s(dir_ + "/store.sqlite");
            auto add = [&](const QString& name, const QStringList& tags, const QString& mode,
                           int steps, double loss, const char* status) {
                store::NewRun r;
                r.name = name;
                r.tags = tags;
                r.node = QStringLiteral("local");
                r.config = QJsonObject{{"model", QJsonObject{{"path", "/m/tiny"}}},
                                       {"train", QJsonObject{{"steps", steps}}},
                                       {"bcd", QJsonObject{{"mode", mode}}},
                                       {"output", QJsonObject{{"dir", "/runs/x"}}}};
                r.stepsTotal = steps;
                const qint64 id = s.createRun(r);
                if (status) {
                    s.setRunStatus(id, store::status::kRunning);
                    const QByteArray data = metrics(steps, loss, status);
                    const auto res = s.ingest(id, 0, data);
                    QVERIFY(res.accepted);
                }
                ids_[name] = id;
            };
            add(QStringLiteral("alpha bcd"), {QStringLiteral("sweep"), QStringLiteral("lr")}, "bcd",
                30, 4.0, "finished");
            add(QStringLiteral("beta full"), {QStringLiteral("sweep")}, "full", 20, 5.0, "failed");
            add(QStringLiteral("gamma"), {}, "bcd", 100, 0, nullptr); // created, never started
        }
        wb_ = std::make_unique<Workbench>(dir_ + "/store.sqlite");
    }
    void cleanupTestCase() { wb_.reset(); }

    void listsRunsWithStepsAndLoss() {
        RunsPage page(*wb_);
        QTRY_COMPARE_WITH_TIMEOUT(page.visibleRuns().size(), 3, 10000);
        // Newest first.
        QCOMPARE(page.visibleRuns().first(), ids_["gamma"]);
        auto* model = page.table()->model();
        auto rowOf = [&](qint64 id) {
            for (int r = 0; r < model->rowCount(); ++r)
                if (model->index(r, RunsPage::Id).data().toLongLong() == id) return r;
            return -1;
        };
        const int alpha = rowOf(ids_["alpha bcd"]);
        QVERIFY(alpha >= 0);
        QCOMPARE(model->index(alpha, RunsPage::Status).data().toString(),
                 QStringLiteral("finished"));
        QCOMPARE(model->index(alpha, RunsPage::Steps).data().toString(), QStringLiteral("30 / 30"));
        QCOMPARE(model->index(alpha, RunsPage::Loss).data().toString(), QStringLiteral("3.7000"));
        QCOMPARE(model->index(alpha, RunsPage::Tags).data().toString(),
                 QStringLiteral("sweep, lr"));
        const int beta = rowOf(ids_["beta full"]);
        QCOMPARE(model->index(beta, RunsPage::Status).data().toString(), QStringLiteral("failed"));
        QCOMPARE(model->index(rowOf(ids_["gamma"]), RunsPage::Status).data().toString(),
                 QStringLiteral("starting"));

        // The summary of a run reads the keys its config leaves out as the engine does (its
        // own defaults: order random, lr 3e-4 in the one learning-rate format), not as a copy.
        page.table()->selectRow(alpha);
        auto* details = page.findChild<QLabel*>(QStringLiteral("runDetails"));
        QVERIFY(details);
        const bcd::RunConfig d;
        QTRY_VERIFY_WITH_TIMEOUT(details->text().contains(QStringLiteral("alpha bcd")), 5000);
        const QString text = details->text();
        QVERIFY2(
            text.contains(QStringLiteral("lr %1 %2")
                              .arg(formatLr(d.optim.lr), QString::fromStdString(d.optim.schedule))),
            qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("%1, switch every %2")
                                   .arg(QString::fromStdString(d.bcd.order))
                                   .arg(d.bcd.switch_every)),
                 qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("30 steps · batch %1 × %2")
                                   .arg(d.train.batch_size)
                                   .arg(d.train.grad_accum)),
                 qPrintable(text));
        QVERIFY(text.contains(QStringLiteral("lr 3e-4")));
    }

    void filterByNameTagAndStatus() {
        RunsPage page(*wb_);
        QTRY_COMPARE_WITH_TIMEOUT(page.visibleRuns().size(), 3, 10000);
        page.setFilter(QStringLiteral("beta"));
        QCOMPARE(page.visibleRuns(), QList<qint64>{ids_["beta full"]});
        page.setFilter(QStringLiteral("sweep"));
        QCOMPARE(page.visibleRuns().size(), 2);
        page.setFilter(QStringLiteral("SWEEP lr"));
        QCOMPARE(page.visibleRuns(), QList<qint64>{ids_["alpha bcd"]});
        page.setFilter(QStringLiteral("finished"));
        QCOMPARE(page.visibleRuns(), QList<qint64>{ids_["alpha bcd"]});
        page.setFilter(QStringLiteral("nothing like this"));
        QVERIFY(page.visibleRuns().isEmpty());
        page.setFilter({});
        QCOMPARE(page.visibleRuns().size(), 3);
    }

    void actionsSendToOtherPages() {
        RunsPage page(*wb_);
        QTRY_COMPARE_WITH_TIMEOUT(page.visibleRuns().size(), 3, 10000);
        QSignalSpy compare(wb_.get(), &Workbench::openCompare);
        QSignalSpy again(wb_.get(), &Workbench::openNewRun);
        QSignalSpy monitor(wb_.get(), &Workbench::openMonitor);
        page.selectRuns({ids_["alpha bcd"], ids_["beta full"]});
        QCOMPARE(page.selectedRuns(), (QList<qint64>{ids_["alpha bcd"], ids_["beta full"]}));
        auto button = [&](const QString& text) {
            for (auto* b : page.findChildren<QPushButton*>())
                if (b->text().startsWith(text)) return b;
            return static_cast<QPushButton*>(nullptr);
        };
        QVERIFY(button("Compare")->isEnabled());
        button("Compare")->click();
        QCOMPARE(compare.size(), 1);
        QCOMPARE(compare.first().first().value<QList<qint64>>(),
                 (QList<qint64>{ids_["alpha bcd"], ids_["beta full"]}));
        page.selectRuns({ids_["beta full"]});
        QVERIFY(!button("Compare")->isEnabled());
        QVERIFY(!button("Cancel")->isEnabled()); // not live
        button("Run again")->click();
        QCOMPARE(again.size(), 1);
        const QJsonObject cfg = again.first().first().toJsonObject();
        QCOMPARE(cfg.value("bcd").toObject().value("mode").toString(), QStringLiteral("full"));
        QVERIFY(
            !cfg.value("output").toObject().contains("dir")); // the launcher picks the new folder
        button("Monitor")->click();
        QCOMPARE(monitor.size(), 1);
        QCOMPARE(monitor.first().first().toLongLong(), ids_["beta full"]);
    }

    void exportsCsv() {
        RunsPage page(*wb_);
        QSignalSpy messages(wb_.get(), &Workbench::message);
        const QString file = dir_ + "/alpha.csv";
        page.exportCsv(ids_["alpha bcd"], file);
        QVERIFY(messages.wait(5000));
        QFile f(file);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
        QVERIFY(lines.first().startsWith("type,step,"));
        QCOMPARE(lines.size(), 31);
    }

    void refreshesWhenRunsChange() {
        RunsPage page(*wb_);
        QTRY_COMPARE_WITH_TIMEOUT(page.visibleRuns().size(), 3, 10000);
        wb_->store().callBlocking([](store::RunStore& s) {
            store::NewRun r;
            r.name = QStringLiteral("delta");
            r.node = QStringLiteral("local");
            return s.createRun(r);
        });
        emit wb_->runsChanged();
        QTRY_COMPARE_WITH_TIMEOUT(page.visibleRuns().size(), 4, 5000);
    }

    void editsNameTagsAndNotes() {
        const qint64 id = wb_->store().callBlocking([](store::RunStore& s) {
            store::NewRun r;
            r.name = QStringLiteral("epsilon");
            r.tags = {QStringLiteral("old")};
            r.notes = QStringLiteral("first try");
            r.node = QStringLiteral("local");
            return s.createRun(r);
        });
        RunsPage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(page.visibleRuns().contains(id), 10000);
        page.selectRuns({id});
        QPushButton* edit = nullptr;
        for (auto* b : page.findChildren<QPushButton*>())
            if (b->text().startsWith(QStringLiteral("Edit"))) edit = b;
        QVERIFY(edit && edit->isEnabled());
        page.selectRuns({id, ids_["alpha bcd"]});
        QVERIFY(!edit->isEnabled()); // one run at a time
        page.selectRuns({id});

        // The dialog (modal) shows the stored values; an empty name keeps it open.
        QString shownName, shownTags, shownNotes;
        bool refusedEmpty = false;
        QTimer::singleShot(0, &page, [&] {
            auto* d = page.findChild<RunInfoDialog*>();
            if (!d) return;
            auto* name = d->findChild<QLineEdit*>(QStringLiteral("runName"));
            auto* tags = d->findChild<QLineEdit*>(QStringLiteral("runTags"));
            auto* notes = d->findChild<QPlainTextEdit*>(QStringLiteral("runNotes"));
            shownName = name->text();
            shownTags = tags->text();
            shownNotes = notes->toPlainText();
            name->setText(QStringLiteral("  "));
            d->accept();
            refusedEmpty = d->isVisible() && d->result() != QDialog::Accepted;
            name->setText(QStringLiteral("epsilon, renamed "));
            tags->setText(QStringLiteral("keep, sweep ,, keep, lr 1e-3"));
            notes->setPlainText(QStringLiteral("better\nthan alpha"));
            d->accept();
        });
        QSignalSpy saved(&page, &RunsPage::runInfoSaved);
        QSignalSpy changed(wb_.get(), &Workbench::runsChanged);
        edit->click();
        QCOMPARE(shownName, QStringLiteral("epsilon"));
        QCOMPARE(shownTags, QStringLiteral("old"));
        QCOMPARE(shownNotes, QStringLiteral("first try"));
        QVERIFY(refusedEmpty);
        QTRY_VERIFY_WITH_TIMEOUT(!saved.isEmpty(), 5000);
        QVERIFY2(saved.first().at(1).toBool(), qPrintable(saved.first().at(2).toString()));
        QCOMPARE(changed.size(), 1);

        const auto stored =
            wb_->store().callBlocking([id](store::RunStore& s) { return s.run(id); });
        QCOMPARE(stored->name, QStringLiteral("epsilon, renamed"));
        QCOMPARE(stored->tags, (QStringList{"keep", "sweep", "lr 1e-3"}));
        QCOMPARE(stored->notes, QStringLiteral("better\nthan alpha"));

        // The list shows it, and the filter finds the new tags.
        auto* model = page.table()->model();
        auto cell = [&](int column) {
            for (int r = 0; r < model->rowCount(); ++r)
                if (model->index(r, RunsPage::Id).data().toLongLong() == id)
                    return model->index(r, column).data().toString();
            return QString();
        };
        QTRY_COMPARE_WITH_TIMEOUT(cell(RunsPage::Name), QStringLiteral("epsilon, renamed"), 5000);
        QCOMPARE(cell(RunsPage::Tags), QStringLiteral("keep, sweep, lr 1e-3"));
        page.setFilter(QStringLiteral("keep"));
        QCOMPARE(page.visibleRuns(), QList<qint64>{id});
        page.setFilter({});
        page.selectRuns({id});
        QVERIFY(page.findChild<QLabel*>(QStringLiteral("runDetails"))
                    ->text()
                    .contains(QStringLiteral("better<br>than alpha")));

        // The store refuses an empty name (and an unknown run); the page says so.
        saved.clear();
        page.saveRunInfo(id, QString(), {}, {});
        QTRY_VERIFY_WITH_TIMEOUT(!saved.isEmpty(), 5000);
        QCOMPARE(saved.first().at(1).toBool(), false);
        saved.clear();
        page.saveRunInfo(999999, QStringLiteral("x"), {}, {});
        QTRY_VERIFY_WITH_TIMEOUT(!saved.isEmpty(), 5000);
        QCOMPARE(saved.first().at(1).toBool(), false);
        QCOMPARE(wb_->store().callBlocking([id](store::RunStore& s) { return s.run(id); })->name,
                 QStringLiteral("epsilon, renamed"));
    }

    // The run lifecycle from the Runs page: Run again proposes a new name, Resume is offered for
    // cancelled and failed runs, Fork opens New run on a checkpoint's weights with the lineage as
    // a tag, Delete removes a finished run (and, when asked, its folder) and refuses live ones.
    // Archive hides finished runs from the list (the tag "archived"); Show archived lists them,
    // Unarchive brings them back; a live run cannot be archived.
    void archiveAndUnarchive() {
        RunsPage page(*wb_);
        const qint64 alpha = ids_["alpha bcd"];
        QTRY_VERIFY_WITH_TIMEOUT(page.visibleRuns().contains(alpha), 10000);
        const qsizetype all = page.visibleRuns().size();
        QPushButton* archive = page.button(QStringLiteral("archive"));
        QVERIFY(archive);
        page.selectRuns({alpha});
        QVERIFY(archive->isEnabled());
        QCOMPARE(archive->text(), QStringLiteral("Archive"));
        archive->click();
        QTRY_VERIFY_WITH_TIMEOUT(!page.visibleRuns().contains(alpha), 10000);
        QCOMPARE(page.visibleRuns().size(), all - 1);
        const auto stored =
            wb_->store().callBlocking([alpha](store::RunStore& s) { return s.run(alpha)->tags; });
        QVERIFY(stored.contains(QStringLiteral("archived")));
        auto* show = page.findChild<QCheckBox*>(QStringLiteral("showArchived"));
        QVERIFY(show);
        show->setChecked(true);
        QVERIFY(page.visibleRuns().contains(alpha));
        page.selectRuns({alpha});
        QCOMPARE(archive->text(), QStringLiteral("Unarchive"));
        archive->click();
        QTRY_VERIFY_WITH_TIMEOUT(
            !wb_->store()
                 .callBlocking([alpha](store::RunStore& s) { return s.run(alpha)->tags; })
                 .contains(QStringLiteral("archived")),
            10000);
        show->setChecked(false);
        QTRY_VERIFY_WITH_TIMEOUT(page.visibleRuns().contains(alpha), 10000);
        // A live run: Archive is off.
        for (const auto& [name, id] : ids_.asKeyValueRange())
            if (name != QLatin1String("alpha bcd") && name != QLatin1String("beta full")) {
                page.selectRuns({id});
                QVERIFY(!archive->isEnabled());
            }
    }

    void resumeForkAndDelete() {
        QCOMPARE(RunsPage::againName("lr sweep"), QStringLiteral("lr sweep (2)"));
        QCOMPARE(RunsPage::againName("lr sweep (2)"), QStringLiteral("lr sweep (3)"));
        const QString folder = dir_ + "/delta-run";
        QDir().mkpath(folder + "/final");
        QDir().mkpath(folder + "/checkpoints/step-00000005");
        QDir().mkpath(folder + "/checkpoints/step-00000009"); // no DONE: incomplete
        for (const QString& f :
             {folder + "/final/config.json", folder + "/checkpoints/step-00000005/DONE"}) {
            QFile file(f);
            QVERIFY(file.open(QIODevice::WriteOnly));
        }
        const qint64 delta = wb_->store().callBlocking([&](store::RunStore& s) {
            store::NewRun r;
            r.name = QStringLiteral("delta");
            r.node = QStringLiteral("local");
            r.config = QJsonObject{{"model", QJsonObject{{"path", "/m/tiny"}}},
                                   {"optim", QJsonObject{{"lr", 1e-3}}},
                                   {"output", QJsonObject{{"dir", folder}}}};
            const qint64 id = s.createRun(r);
            s.setRunLocation(id, folder, 0);
            s.setRunStatus(id, store::status::kFinished);
            return id;
        });
        RunsPage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(page.visibleRuns().contains(delta), 10000);
        QSignalSpy newRun(wb_.get(), &Workbench::openNewRun);

        page.selectRuns({ids_["beta full"]}); // failed
        QVERIFY(page.button("resume")->isEnabled());
        QVERIFY(page.button("delete")->isEnabled());
        page.button("again")->click();
        QCOMPARE(newRun.size(), 1);
        QCOMPARE(newRun[0][1].toString(), QStringLiteral("beta full (2)"));
        page.selectRuns({ids_["gamma"]}); // starting: neither resumed nor deleted
        QVERIFY(!page.button("resume")->isEnabled());
        QVERIFY(!page.button("delete")->isEnabled());

        page.selectRuns({delta});
        QVERIFY(!page.button("resume")->isEnabled()); // finished: nothing to resume
        QVERIFY(page.button("fork")->isEnabled());
        QStringList offered;
        page.setForkChooser([&](const QStringList& c) {
            offered = c;
            return QStringLiteral("step-00000005");
        });
        page.button("fork")->click();
        QCOMPARE(offered, (QStringList{"final", "step-00000005"}));
        QCOMPARE(newRun.size(), 2);
        const QJsonObject forked = newRun[1][0].toJsonObject();
        QCOMPARE(forked["model"].toObject()["path"].toString(),
                 folder + "/checkpoints/step-00000005");
        QCOMPARE(forked["optim"].toObject()["lr"].toDouble(), 1e-3);
        QVERIFY(!forked["output"].toObject().contains("dir"));
        QCOMPARE(newRun[1][1].toString(), QStringLiteral("delta fork@step-00000005"));
        QCOMPARE(newRun[1][2].toStringList(),
                 QStringList{QStringLiteral("fork-of:%1@step-00000005").arg(delta)});

        // Delete, cancelled first: nothing happens; then with the folder.
        page.setDeleteConfirm([](const QStringList&) { return std::optional<bool>(); });
        page.button("delete")->click();
        QTest::qWait(100);
        QVERIFY(wb_->store().callBlocking([delta](store::RunStore& s) { return s.run(delta); }));
        // With the folder: one that holds no launch.json is no run folder, so nothing is
        // removed and the run stays in the store, with the reason.
        QSignalSpy messages(wb_.get(), &Workbench::message);
        page.setDeleteConfirm(
            [](const QStringList& names) { return std::optional<bool>(names.size() == 1); });
        page.button("delete")->click();
        QTRY_VERIFY_WITH_TIMEOUT(!messages.isEmpty(), 10000);
        const QString refused = messages.back().at(0).toString();
        QVERIFY2(refused.contains(QStringLiteral("run #%1 kept").arg(delta)) &&
                     refused.contains(QStringLiteral("not a run folder")),
                 qPrintable(refused));
        QVERIFY(QFileInfo::exists(folder + "/final/config.json"));
        QVERIFY(wb_->store().callBlocking([delta](store::RunStore& s) { return s.run(delta); }));
        // A real run folder: removed, then its row.
        QVERIFY(QFile(folder + "/launch.json").open(QIODevice::WriteOnly));
        messages.clear();
        page.button("delete")->click();
        QTRY_VERIFY_WITH_TIMEOUT(
            !wb_->store().callBlocking([delta](store::RunStore& s) { return s.run(delta); }),
            10000);
        QVERIFY(!QFileInfo::exists(folder));
        QTRY_VERIFY(!messages.isEmpty());
        QCOMPARE(messages.back().at(0).toString(), QStringLiteral("Deleted 1 run(s)"));
        QTRY_VERIFY(!page.visibleRuns().contains(delta));
        QVERIFY(page.visibleRuns().contains(ids_["alpha bcd"]));
    }

    // A run on an SSH node (a real sshd on this machine): Fork lists its checkpoints through the
    // node and opens New run on that node with the checkpoint's path there; Delete with files
    // removes its folder through the node, then the run.
    void forkAndDeleteOnAnotherNode() {
        test::SshdFixture sshd;
        if (!sshd.start(dir_ + "/sshd")) QSKIP(qPrintable(sshd.skipReason()));
        const QString folder = dir_ + "/far-run";
        QDir().mkpath(folder + "/final");
        QDir().mkpath(folder + "/checkpoints/step-00000004");
        for (const QString& f : {folder + "/launch.json", folder + "/final/config.json",
                                 folder + "/checkpoints/step-00000004/DONE"})
            QVERIFY(QFile(f).open(QIODevice::WriteOnly));
        const qint64 far = wb_->store().callBlocking([&](store::RunStore& s) {
            s.addNode(sshd.node(QStringLiteral("box"), dir_ + "/known_hosts", test::trainExe()));
            store::NewRun r;
            r.name = QStringLiteral("far");
            r.node = QStringLiteral("box");
            r.config = QJsonObject{{"model", QJsonObject{{"path", "/m/tiny"}}}};
            const qint64 id = s.createRun(r);
            s.setRunLocation(id, folder, 0);
            s.setRunStatus(id, store::status::kFinished);
            return id;
        });
        RunsPage page(*wb_);
        emit wb_->runsChanged();
        QTRY_VERIFY_WITH_TIMEOUT(page.visibleRuns().contains(far), 10000);
        page.selectRuns({far});
        QVERIFY(page.button("fork")->isEnabled());
        QSignalSpy newRun(wb_.get(), &Workbench::openNewRun);
        QStringList offered;
        page.setForkChooser([&](const QStringList& c) {
            offered = c;
            return QStringLiteral("step-00000004");
        });
        page.button("fork")->click();
        QTRY_COMPARE_WITH_TIMEOUT(newRun.size(), 1, 30000);
        QCOMPARE(offered, (QStringList{"final", "step-00000004"}));
        QCOMPARE(newRun[0][0].toJsonObject()["model"].toObject()["path"].toString(),
                 folder + "/checkpoints/step-00000004");
        QCOMPARE(newRun[0][3].toString(), QStringLiteral("box")); // where the checkpoint is

        QSignalSpy messages(wb_.get(), &Workbench::message);
        page.setDeleteConfirm([](const QStringList&) { return std::optional<bool>(true); });
        page.button("delete")->click();
        QTRY_VERIFY_WITH_TIMEOUT(
            !wb_->store().callBlocking([far](store::RunStore& s) { return s.run(far); }), 30000);
        QVERIFY(!QFileInfo::exists(folder));
        QTRY_VERIFY(!messages.isEmpty());
        QCOMPARE(messages.back().at(0).toString(), QStringLiteral("Deleted 1 run(s)"));
    }
};

QTEST_MAIN(TstRunsPage)
#include "tst_runs_page.moc"
