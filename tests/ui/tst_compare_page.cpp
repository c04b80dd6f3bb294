// The Compare page: overlaid curves, the config diff with and without "differences only", the
// summary table against the store (a run's cost over two price segments), export of PNG, PDF and
// CSV.

#include "chart_test_runs.h"
#include "store/compare.h"
#include "ui/pages/compare_page.h"
#include "ui/widgets/metric_chart.h"
#include "ui/workbench.h"

#include <QCheckBox>
#include <QImage>
#include <QLineEdit>
#include <QListWidget>
#include <QScrollBar>
#include <QTableWidget>
#include <QtTest>
#include <memory>

using namespace bcd;
using namespace bcd::ui;

class TstComparePage : public QObject {
    Q_OBJECT
    QString dir_;
    std::unique_ptr<Workbench> wb_;
    QList<qint64> ids_;

    static QJsonObject config(double lr, int steps, const QString& out) {
        return QJsonObject{
            {"model", QJsonObject{{"path", "models/tiny"}}},
            {"data", QJsonObject{{"train", "train.txt"}, {"seq_len", 32}}},
            {"optim", QJsonObject{{"lr", lr}, {"name", "adamw"}}},
            {"train", QJsonObject{{"steps", steps}, {"batch_size", 2}}},
            {"output", QJsonObject{{"dir", out}}},
        };
    }
    static QStringList column(QTableWidget* t, int c) {
        QStringList out;
        for (int r = 0; r < t->rowCount(); ++r)
            out << (t->item(r, c) ? t->item(r, c)->text() : QString());
        return out;
    }

private slots:
    void initTestCase() {
        dir_ = test::freshDir(QStringLiteral("compare"));
        wb_ = std::make_unique<Workbench>(dir_ + "/store.sqlite");
        test::writeMetrics(dir_ + "/a", 300, 50, 25);
        test::writeMetrics(dir_ + "/b", 500, 100, 0, -0.5, /*worldSize=*/2);
        test::writeMetrics(dir_ + "/c", 100, 0, 0, 0.3);
        ids_ << test::storeRun(wb_->store(), "a", dir_ + "/a", config(1e-3, 300, dir_ + "/a"), 2.0,
                               300)
                    .id;
        ids_ << test::storeRun(wb_->store(), "b", dir_ + "/b", config(3e-4, 500, dir_ + "/b"),
                               std::nullopt, 500)
                    .id;
        ids_ << test::storeRun(wb_->store(), "c", dir_ + "/c", config(1e-3, 300, dir_ + "/c"), 1.0,
                               300)
                    .id;
    }
    void cleanupTestCase() { wb_.reset(); }

    void overlaysTheChosenRuns() {
        ComparePage page(*wb_);
        page.resize(1280, 800);
        page.show();
        page.setRuns({ids_[0], ids_[1]});
        QTRY_COMPARE_WITH_TIMEOUT(page.chart()->curveCount(), 2, 10000);
        page.chart()->replotNow();
        QCOMPARE(page.chart()->rawX(0).size(), 300);
        QCOMPARE(page.chart()->rawX(1).size(), 500);
        int before = page.curveRefreshes();
        page.setXAxisKind(XAxisKind::Tokens); // fetches the step → tokens map
        QTRY_VERIFY_WITH_TIMEOUT(page.curveRefreshes() > before, 5000);
        page.chart()->replotNow();
        QCOMPARE(page.chart()->rawX(1).back(), 500 * 1000.0);
        before = page.curveRefreshes();
        page.setXAxisKind(XAxisKind::Cost); // b has no price
        QTRY_VERIFY_WITH_TIMEOUT(page.curveRefreshes() > before, 5000);
        page.chart()->replotNow();
        QVERIFY(page.chart()->note().contains(QStringLiteral("#%1 b").arg(ids_[1])));
        QVERIFY(std::abs(page.chart()->rawX(0).back() - 300 * 0.01 * 2.0 / 3600) < 1e-12);
    }
    void configDiffShowsOnlyDifferences() {
        ComparePage page(*wb_);
        page.setRuns(ids_);
        QTRY_COMPARE_WITH_TIMEOUT(page.tableRefreshes(), 1, 10000);
        QTableWidget* t = page.configTable();
        // output.dir differs by construction and is left out.
        QCOMPARE(column(t, 0), (QStringList{"optim.lr", "train.steps"}));
        QCOMPARE(t->item(0, 1)->text(), QStringLiteral("1e-3")); // the one lr format
        QCOMPARE(t->item(0, 2)->text(), QStringLiteral("3e-4"));
        page.setDifferencesOnly(false);
        // Every key the engine resolves, defaults included (bcd.switch_every is in no config).
        const QStringList all = column(t, 0);
        QVERIFY(all.size() > int(store::flattenJson(config(1, 1, {})).size()));
        QVERIFY(all.contains(QStringLiteral("data.seq_len")));
        QVERIFY(all.contains(QStringLiteral("optim.name")));
        const qsizetype switchRow = all.indexOf(QStringLiteral("bcd.switch_every"));
        QVERIFY(switchRow >= 0);
        QCOMPARE(t->item(int(switchRow), 1)->text(), QStringLiteral("50"));
        page.setDifferencesOnly(true);
        QCOMPARE(t->rowCount(), 2);

        // Defaults written out are no difference: a run whose config states optim.name adamw,
        // bcd.switch_every 50 and train.seed 1 matches one that leaves them to the engine.
        QJsonObject explicitCfg = config(1e-3, 300, dir_ + "/d");
        explicitCfg["optim"] = QJsonObject{{"lr", 1e-3}, {"name", "adamw"}};
        explicitCfg["bcd"] = QJsonObject{{"switch_every", 50}};
        explicitCfg["train"] = QJsonObject{{"steps", 300}, {"batch_size", 2}, {"seed", 1}};
        test::writeMetrics(dir_ + "/d", 10, 0, 0);
        const qint64 d =
            test::storeRun(wb_->store(), "d", dir_ + "/d", explicitCfg, std::nullopt, 300).id;
        ComparePage same(*wb_);
        same.setRuns({ids_[0], d});
        QTRY_COMPARE_WITH_TIMEOUT(same.tableRefreshes(), 1, 10000);
        QCOMPARE(same.configTable()->rowCount(), 0);
        explicitCfg["bcd"] = QJsonObject{{"switch_every", 40}};
        const qint64 e =
            test::storeRun(wb_->store(), "e", dir_ + "/d", explicitCfg, std::nullopt, 300).id;
        ComparePage differs(*wb_);
        differs.setRuns({ids_[0], e});
        QTRY_COMPARE_WITH_TIMEOUT(differs.tableRefreshes(), 1, 10000);
        QCOMPARE(column(differs.configTable(), 0), QStringList{"bcd.switch_every"});
        QCOMPARE(differs.configTable()->item(0, 1)->text(), QStringLiteral("50"));
        QCOMPARE(differs.configTable()->item(0, 2)->text(), QStringLiteral("40"));
    }
    void summaryMatchesTheStore() {
        ComparePage page(*wb_);
        page.setRuns(ids_);
        QTRY_COMPARE_WITH_TIMEOUT(page.tableRefreshes(), 1, 10000);
        QTableWidget* t = page.summaryTable();
        QCOMPARE(t->rowCount(), 3);
        for (int r = 0; r < 3; ++r) {
            const qint64 id = t->item(r, 0)->data(Qt::UserRole).toLongLong();
            const auto s = wb_->store().callBlocking(
                [id](store::RunStore& st) { return store::summarize(st, id); });
            const auto value = [&](int c) { return t->item(r, c)->data(Qt::UserRole); };
            if (s.finalValLoss)
                QCOMPARE(value(4).toDouble(), *s.finalValLoss);
            else
                QCOMPARE(t->item(r, 4)->text(), QStringLiteral("—"));
            QCOMPARE(value(6).toDouble(), *s.tokens);
            QCOMPARE(value(7).toDouble(), *s.meanTokS);
            if (s.cost) QCOMPARE(value(8).toDouble(), *s.cost);
            QCOMPARE(value(10).toDouble(), 1000000.0 + *s.lastStep); // peak memory, bytes
            // Ranks: the world size of the engine's start record (run b: 2 ranks).
            QCOMPARE(value(11).toDouble(), id == ids_[1] ? 2.0 : 1.0);
            // Bytes all-reduced per step: run b's steps say 4096; a and c have no comm_bytes.
            if (id == ids_[1]) {
                QCOMPARE(value(12).toDouble(), 4096.0);
                QCOMPARE(t->item(r, 12)->text(), QStringLiteral("4.0 KiB"));
            } else {
                QCOMPARE(t->item(r, 12)->text(), QStringLiteral("—"));
            }
        }
        // Run a: evals every 50 steps, val = 5.5 - s/300; best = the last; $/M tokens from its
        // cost.
        const int a = t->item(0, 0)->data(Qt::UserRole).toLongLong() == ids_[0] ? 0 : 2;
        QCOMPARE(t->item(a, 0)->data(Qt::UserRole).toLongLong(), ids_[0]);
        QVERIFY(std::abs(t->item(a, 5)->data(Qt::UserRole).toDouble() - 4.5) < 1e-9);
        QVERIFY(std::abs(t->item(a, 9)->data(Qt::UserRole).toDouble() - (3.0 * 2.0 / 3600) / 0.3) <
                1e-9);
    }
    // A run whose price changed while it ran ($3.60/h for its first second, $7.20/h for the
    // next): the summary's cost and $/M tokens, and the cost axis, follow the schedule.
    void costFollowsThePriceSchedule() {
        test::writeMetrics(dir_ + "/repriced", 200, 0, 0); // 0.01 s and 1000 tokens a step
        const qint64 id = test::storeRun(wb_->store(), "repriced", dir_ + "/repriced",
                                         config(1e-3, 200, dir_ + "/repriced"), 3.6, 200)
                              .id;
        wb_->store().callBlocking([id](store::RunStore& s) { s.addRunPrice(id, 1.0, 7.2); });
        ComparePage page(*wb_);
        page.resize(1280, 800);
        page.show();
        page.setRuns({id});
        QTRY_COMPARE_WITH_TIMEOUT(page.tableRefreshes(), 1, 10000);
        QTableWidget* t = page.summaryTable();
        QCOMPARE(t->rowCount(), 1);
        const double cost = (3.6 * 1.0 + 7.2 * 1.0) / 3600;
        QVERIFY(std::abs(t->item(0, 8)->data(Qt::UserRole).toDouble() - cost) < 1e-15);
        QVERIFY(std::abs(t->item(0, 9)->data(Qt::UserRole).toDouble() - cost / 0.2) < 1e-12);
        QTRY_COMPARE_WITH_TIMEOUT(page.chart()->curveCount(), 1, 10000);
        const int before = page.curveRefreshes();
        page.setXAxisKind(XAxisKind::Cost);
        QTRY_VERIFY_WITH_TIMEOUT(page.curveRefreshes() > before, 5000);
        page.chart()->replotNow();
        const QVector<double> x = page.chart()->rawX(0);
        QCOMPARE(x.size(), 200);
        QVERIFY(std::abs(x[99] - 0.001) < 1e-12); // step 100: the first second at $3.60/h
        QVERIFY(std::abs(x.back() - cost) < 1e-12);
    }
    // A long name is elided in the middle where space is short (the legend, the table, the
    // config headers) and whole in the tooltips; the filter finds runs by name, tag or status.
    void longNamesElidedAndFilteredByTag() {
        const QString longName = QStringLiteral(
            "llama-3-8b-instruct-bcd-sweep-lr-3e-5-switch-every-50-seed-7-final-attempt");
        test::writeMetrics(dir_ + "/long", 40, 0, 0);
        const qint64 id = test::storeRun(wb_->store(), longName, dir_ + "/long",
                                         config(1e-3, 40, dir_ + "/long"), 1.0, 40)
                              .id;
        wb_->store().callBlocking([id, longName](store::RunStore& s) {
            s.updateRunInfo(id, longName, {QStringLiteral("sweep-7")}, QString());
        });
        ComparePage page(*wb_);
        page.resize(1024, 700);
        page.show();
        auto* list = page.findChild<QListWidget*>(QStringLiteral("runList"));
        QTRY_VERIFY_WITH_TIMEOUT(
            !list->findItems(QStringLiteral("#%1 ").arg(id), Qt::MatchStartsWith).isEmpty(), 10000);
        const int all = list->count();
        auto visible = [list] {
            QList<qint64> out;
            for (int i = 0; i < list->count(); ++i)
                if (!list->item(i)->isHidden())
                    out << list->item(i)->data(Qt::UserRole).toLongLong();
            return out;
        };
        auto* filter = page.findChild<QLineEdit*>(QStringLiteral("runFilter"));
        QVERIFY(filter);
        filter->setText(QStringLiteral("SWEEP-7"));
        QCOMPARE(visible(), QList<qint64>{id});
        filter->setText(QStringLiteral("sweep-7 nowhere")); // every word must match
        QVERIFY(visible().isEmpty());
        filter->setText(QStringLiteral("attempt sweep"));
        QCOMPARE(visible(), QList<qint64>{id});
        filter->setText(QStringLiteral("#%1").arg(ids_[1]));
        QCOMPARE(visible(), QList<qint64>{ids_[1]});
        filter->clear();
        QCOMPARE(visible().size(), all);
        // The list elides the long name to its width: no row wider than the list, no sideways
        // scrolling, the whole name in the tooltip.
        QListWidgetItem* longItem =
            list->findItems(QStringLiteral("#%1 ").arg(id), Qt::MatchStartsWith).value(0);
        QVERIFY(longItem && longItem->toolTip().contains(longName));
        QVERIFY(list->fontMetrics().horizontalAdvance(longItem->text()) >
                list->viewport()->width());
        QVERIFY(list->visualItemRect(longItem).width() <= list->viewport()->width());
        QCOMPARE(list->horizontalScrollBar()->maximum(), 0);
        // The number and the name, the status only when not finished (it is in the tooltip).
        QCOMPARE(longItem->text(), QStringLiteral("#%1 %2").arg(id).arg(longName));
        QVERIFY(longItem->toolTip().contains(QStringLiteral("finished on local")));

        page.setRuns({ids_[0], id});
        QTRY_COMPARE_WITH_TIMEOUT(page.summaryTable()->rowCount(), 2, 10000);
        QTableWidgetItem* name = nullptr;
        for (int r = 0; r < 2; ++r)
            if (page.summaryTable()->item(r, 0)->toolTip().contains(longName))
                name = page.summaryTable()->item(r, 0);
        QVERIFY(name);
        QVERIFY(name->text().size() <= 32);
        QVERIFY(name->text().contains(QChar(0x2026)));
        QVERIFY(name->text().startsWith(QStringLiteral("#%1 llama").arg(id)));
        QVERIFY(name->text().endsWith(QStringLiteral("attempt")));
        QVERIFY(name->toolTip().contains(QStringLiteral("sweep-7")));
        QCOMPARE(elideMiddle(QStringLiteral("short"), 32), QStringLiteral("short"));
        wb_->store().callBlocking([id](store::RunStore& s) { s.deleteRun(id); });
    }

    void exportsPngPdfAndCsv() {
        ComparePage page(*wb_);
        page.resize(1280, 800);
        page.show();
        page.setRuns({ids_[0], ids_[2]});
        QTRY_COMPARE_WITH_TIMEOUT(page.chart()->curveCount(), 2, 10000);
        const QString png = dir_ + "/chart.png", pdf = dir_ + "/chart.pdf",
                      csv = dir_ + "/data.csv";
        QVERIFY(page.exportPng(png));
        const QImage image(png);
        QVERIFY(!image.isNull() && image.width() >= 800);
        QVERIFY(page.exportPdf(pdf));
        QVERIFY(QFileInfo(pdf).size() > 1000);
        QSignalSpy done(&page, &ComparePage::csvExported);
        page.exportCsv(csv);
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 10000);
        QCOMPARE(done.front().at(1).toString(), QString());
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
        QCOMPARE(
            lines.front(),
            QByteArray(
                "run_id,run,type,step,tokens,elapsed,loss,lr,block,grad_norm,tok_s,mem,val_loss,"
                "comm_bytes,cpu_pct,rss,gpu_util,gpu_mem,gpu_power,gpu_temp"));
        QCOMPARE(lines.size(), 1 + (300 + 6) + 100); // a: 300 steps, 6 evals; c: 100 steps
        QVERIFY(page.grab().save(dir_ + "/compare.png"));
    }
};

QTEST_MAIN(TstComparePage)
#include "tst_compare_page.moc"
