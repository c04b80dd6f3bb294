// bcd-workbench's command line on the local node (DESIGN.md §4): the contracts of run launch,
// list, show, export and compare; bad input refused with one line and exit 2, the store
// unchanged; the workbench killed mid-run and re-attached; cancel with a checkpoint; a hostile
// run name. Real processes: the built bcd-workbench and bcd-train, the tiny preset on the CPU.

#include "cli_scenarios.h"
#include "store/run_status.h"
#include "store/run_store.h"

#include <QTest>

using namespace bcd;
using test::CliResult;
using test::runCli;

class TestCli : public QObject {
    Q_OBJECT

    QString dir_, model_, db_;
    qint64 finishedA_ = 0, finishedB_ = 0;

    QStringList db() const { return {QStringLiteral("--db"), db_}; }
    CliResult cli(const QStringList& args, int timeoutMs = 120000) const {
        return runCli(db() + args, timeoutMs);
    }

private slots:
    void initTestCase() {
        dir_ = test::freshDir(QStringLiteral("cli"));
        model_ = test::tinyModel(dir_);
        QVERIFY2(!model_.isEmpty(), "bcd-train init --preset tiny failed");
        db_ = dir_ + QStringLiteral("/store.sqlite");
    }

    // run launch follows to the end and prints the id alone on its last stdout line; run show
    // --json holds status and steps, each step once with the engine's loss.
    void launchLocal() {
        const QString cfg =
            test::writeConfig(dir_ + QStringLiteral("/a.json"), model_, 40, 0, 1e-3);
        const CliResult r =
            cli({QStringLiteral("run"), QStringLiteral("launch"), QStringLiteral("--config"), cfg,
                 QStringLiteral("--node"), QStringLiteral("local"), QStringLiteral("--tag"),
                 QStringLiteral("first")});
        QVERIFY2(r.code == 0, r.err.constData());
        static const QRegularExpression idLine(QStringLiteral("^[1-9][0-9]*$"));
        QVERIFY2(idLine.match(r.lastLine()).hasMatch(), r.out.constData());
        QVERIFY(r.out.endsWith('\n'));
        finishedA_ = r.lastLine().toLongLong();
        const QJsonObject show = test::showRun(db_, finishedA_);
        QCOMPARE(show.value(QLatin1String("id")).toInteger(), finishedA_);
        QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("finished"));
        QCOMPARE(show.value(QLatin1String("name")).toString(),
                 QStringLiteral("a")); // the config's base name
        QCOMPARE(show.value(QLatin1String("node")).toString(), QStringLiteral("local"));
        const QString bad = test::checkStepsExactlyOnce(show, 40);
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
        QVERIFY(show.value(QLatin1String("config")).toObject().contains(QStringLiteral("model")));
        QCOMPARE(show.value(QLatin1String("last_step")).toInteger(), qint64(40));
        // The final model's phase, ended, with the bytes written.
        const QJsonArray phases = show.value(QLatin1String("phases")).toArray();
        QVERIFY(!phases.isEmpty());
        const QJsonObject final = phases.last().toObject();
        QCOMPARE(final.value(QLatin1String("phase")).toString(), QStringLiteral("final"));
        QCOMPARE(final.value(QLatin1String("state")).toString(), QStringLiteral("end"));
        QCOMPARE(final.value(QLatin1String("step")).toInteger(), qint64(40));
        QVERIFY(final.value(QLatin1String("bytes")).toInteger() > 0);

        // A second run with another learning rate, for compare.
        const QString cfgB =
            test::writeConfig(dir_ + QStringLiteral("/b.json"), model_, 30, 0, 3e-3);
        const CliResult rb =
            cli({QStringLiteral("run"), QStringLiteral("launch"), QStringLiteral("--config"), cfgB,
                 QStringLiteral("--node"), QStringLiteral("local"), QStringLiteral("--name"),
                 QStringLiteral("run b")});
        QVERIFY2(rb.code == 0, rb.err.constData());
        finishedB_ = rb.lastLine().toLongLong();
        QVERIFY(finishedB_ > finishedA_);
        QVERIFY(test::checkStepsExactlyOnce(test::showRun(db_, finishedB_), 30).isEmpty());
    }

    void listRuns() {
        QVERIFY(finishedB_ > 0);
        const CliResult text = cli({QStringLiteral("run"), QStringLiteral("list")});
        QCOMPARE(text.code, 0);
        const QStringList lines = QString::fromUtf8(text.out).trimmed().split('\n');
        QVERIFY(lines.size() >= 2);
        bool seenA = false, seenB = false;
        for (const QString& l : lines) {
            const QStringList f = l.split('\t');
            if (f.value(0).toLongLong() == finishedA_)
                seenA = f.value(1) == QLatin1String("a") && f.value(2) == QLatin1String("local") &&
                        f.value(3) == QLatin1String("finished") &&
                        f.value(4) == QLatin1String("step 40/40");
            if (f.value(0).toLongLong() == finishedB_) seenB = f.value(1) == QLatin1String("run b");
        }
        QVERIFY2(seenA && seenB, text.out.constData());

        const CliResult json =
            cli({QStringLiteral("run"), QStringLiteral("list"), QStringLiteral("--json")});
        QCOMPARE(json.code, 0);
        const QJsonArray arr = QJsonDocument::fromJson(json.out).array();
        QVERIFY(arr.size() >= 2);
        bool found = false;
        for (const QJsonValue& v : arr) {
            const QJsonObject o = v.toObject();
            if (o.value(QLatin1String("id")).toInteger() != finishedA_) continue;
            found = true;
            QCOMPARE(o.value(QLatin1String("status")).toString(), QStringLiteral("finished"));
            QCOMPARE(o.value(QLatin1String("steps_total")).toInteger(), qint64(40));
            QCOMPARE(o.value(QLatin1String("tags")).toArray(), QJsonArray{QStringLiteral("first")});
        }
        QVERIFY(found);

        // show without --json: a readable summary.
        const CliResult show =
            cli({QStringLiteral("run"), QStringLiteral("show"), QString::number(finishedA_)});
        QCOMPARE(show.code, 0);
        QVERIFY2(show.out.contains("status    finished") &&
                     show.out.contains("40 stored, last 40 of 40") &&
                     show.out.contains("  phases    ") && show.out.contains("final ×1 ("),
                 show.out.constData());
        // The learning rate as every page writes it; the throughput says what it counts.
        QVERIFY2(show.out.contains(", lr 1e-3, block ") &&
                     show.out.contains(" tokens/s of step time"),
                 show.out.constData());
    }

    void exportCsv() {
        QVERIFY(finishedA_ > 0);
        const QString csv = dir_ + QStringLiteral("/export dir/a.csv");
        QDir().mkpath(QFileInfo(csv).path());
        const CliResult r = cli({QStringLiteral("run"), QStringLiteral("export"),
                                 QString::number(finishedA_), QStringLiteral("--csv"), csv});
        QVERIFY2(r.code == 0, r.err.constData());
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
        QCOMPARE(lines.value(0).trimmed(),
                 QByteArray("type,step,tokens,elapsed,loss,lr,block,grad_norm,tok_s,mem,val_loss,"
                            "comm_bytes,cpu_pct,rss,gpu_util,gpu_mem,gpu_power,gpu_temp"));
        QCOMPARE(lines.size(), 1 + 40);
        const auto losses = test::fileStepLosses(
            test::showRun(db_, finishedA_).value(QLatin1String("run_dir")).toString() +
            QStringLiteral("/metrics.jsonl"));
        for (int i = 1; i < lines.size(); ++i) {
            const QList<QByteArray> cells = lines[i].trimmed().split(',');
            QCOMPARE(cells.size(), 18);
            QCOMPARE(cells[0], QByteArray("step"));
            QCOMPARE(cells[11], QByteArray("0")); // comm_bytes: one process all-reduces nothing
            QVERIFY(cells[12].toDouble() >= 0 && !cells[12].isEmpty()); // cpu_pct
            QVERIFY(cells[13].toLongLong() > 0);                        // rss
            QVERIFY(cells[14].isEmpty());                               // a CPU run: no GPU
            QCOMPARE(cells[1].toLongLong(), qint64(i));
            QVERIFY2(qAbs(cells[4].toDouble() - losses.value(i)) <= 1e-9 * qAbs(losses.value(i)),
                     lines[i].constData());
        }
    }

    void compareRuns() {
        QVERIFY(finishedB_ > 0);
        const CliResult json = cli({QStringLiteral("compare"), QString::number(finishedA_),
                                    QString::number(finishedB_), QStringLiteral("--json")});
        QVERIFY2(json.code == 0, json.err.constData());
        const QJsonObject o = QJsonDocument::fromJson(json.out).object();
        const QJsonArray runs = o.value(QLatin1String("runs")).toArray();
        QCOMPARE(runs.size(), 2);
        QCOMPARE(runs[0].toObject().value(QLatin1String("id")).toInteger(), finishedA_);
        QCOMPARE(runs[0].toObject().value(QLatin1String("steps")).toInteger(), qint64(40));
        QCOMPARE(runs[1].toObject().value(QLatin1String("steps")).toInteger(), qint64(30));
        const QJsonObject showA = test::showRun(db_, finishedA_);
        const QJsonArray stepsA = showA.value(QLatin1String("steps")).toArray();
        QCOMPARE(runs[0].toObject().value(QLatin1String("final_loss")).toDouble(),
                 stepsA.last().toObject().value(QLatin1String("loss")).toDouble());
        bool lrDiffers = false, stepsDiffer = false;
        for (const QJsonValue& d : o.value(QLatin1String("config_differences")).toArray()) {
            const QString key = d.toObject().value(QLatin1String("key")).toString();
            const QJsonArray values = d.toObject().value(QLatin1String("values")).toArray();
            QVERIFY2(key != QLatin1String("output.dir"),
                     "output.dir is not a difference of substance");
            if (key == QLatin1String("optim.lr")) lrDiffers = values == QJsonArray{1e-3, 3e-3};
            if (key == QLatin1String("train.steps")) stepsDiffer = values == QJsonArray{40, 30};
        }
        QVERIFY2(lrDiffers && stepsDiffer, json.out.constData());

        const CliResult text = cli(
            {QStringLiteral("compare"), QString::number(finishedA_), QString::number(finishedB_)});
        QCOMPARE(text.code, 0);
        QVERIFY2(text.out.startsWith("id\tname\tstatus") &&
                     text.out.contains("optim.lr: 0.001 | 0.003"),
                 text.out.constData());
        // The last column: ranks (the engine's world size; one process here).
        const QList<QByteArray> rows = text.out.split('\n');
        QVERIFY2(rows.value(0).endsWith("\tcost\tranks") && rows.value(1).endsWith("\t1") &&
                     rows.value(2).endsWith("\t1"),
                 text.out.constData());
        // Configs compared as the engine runs them: a default written out is no difference, a
        // value other than the default is.
        qint64 implicitId = 0, explicitId = 0, otherId = 0;
        {
            store::RunStore st(db_);
            auto add = [&st](const QJsonObject& bcdSection) {
                store::NewRun n;
                n.name = QStringLiteral("defaults");
                n.node = QStringLiteral("local");
                n.config = QJsonObject{{"model", QJsonObject{{"path", "/m"}}}, {"bcd", bcdSection}};
                return st.createRun(n);
            };
            implicitId = add(QJsonObject{});
            explicitId = add(QJsonObject{{"order", "random"}, {"switch_every", 50}});
            otherId = add(QJsonObject{{"order", "ascending"}});
        }
        const CliResult defaults = cli(
            {QStringLiteral("compare"), QString::number(implicitId), QString::number(explicitId)});
        QVERIFY2(defaults.code == 0 && defaults.out.contains("configs: identical"),
                 defaults.out.constData());
        const CliResult other =
            cli({QStringLiteral("compare"), QString::number(implicitId), QString::number(otherId)});
        QVERIFY2(other.out.contains("bcd.order: \"random\" | \"ascending\"") &&
                     other.out.contains("\ttokens/s (step time)\t"),
                 other.out.constData());
        {
            store::RunStore st(db_);
            for (qint64 id : {implicitId, explicitId, otherId}) {
                st.setRunStatus(id, store::status::kCancelled); // never launched
                st.deleteRun(id);
            }
        }

        // A run compared with itself: identical configs.
        const CliResult same = cli(
            {QStringLiteral("compare"), QString::number(finishedA_), QString::number(finishedA_)});
        QCOMPARE(same.code, 0);
        QVERIFY2(same.out.contains("configs: identical"), same.out.constData());
    }

    void badInput_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("says");
        const QString dir = test::freshDir(QStringLiteral("cli-bad"));
        const QString broken = dir + QStringLiteral("/broken.json");
        QFile f(broken);
        f.open(QIODevice::WriteOnly);
        f.write("{\"model\": {\"path\": \"m\"},\n");
        f.close();
        const QString good = dir + QStringLiteral("/../cli/a.json");
        const auto launch = [](const QStringList& more) {
            return QStringList{QStringLiteral("run"), QStringLiteral("launch")} + more;
        };
        QTest::newRow("missing config")
            << launch({QStringLiteral("--config"), dir + QStringLiteral("/absent.json"),
                       QStringLiteral("--node"), QStringLiteral("local")})
            << QStringLiteral("absent.json");
        QTest::newRow("bad JSON") << launch({QStringLiteral("--config"), broken,
                                             QStringLiteral("--node"), QStringLiteral("local")})
                                  << QStringLiteral("not valid JSON");
        QTest::newRow("unknown node")
            << launch({QStringLiteral("--config"), good, QStringLiteral("--node"),
                       QStringLiteral("atlantis")})
            << QStringLiteral("no node 'atlantis'");
        QTest::newRow("no node") << launch({QStringLiteral("--config"), good})
                                 << QStringLiteral("--node");
        QTest::newRow("no config") << launch({QStringLiteral("--node"), QStringLiteral("local")})
                                   << QStringLiteral("--config");
        QTest::newRow("unknown option")
            << launch({QStringLiteral("--config"), good, QStringLiteral("--node"),
                       QStringLiteral("local"), QStringLiteral("--gpus"), QStringLiteral("8")})
            << QStringLiteral("--gpus");
        QTest::newRow("mixed local and ssh")
            << launch({QStringLiteral("--config"), good, QStringLiteral("--node"),
                       QStringLiteral("local"), QStringLiteral("--node"), QStringLiteral("local")})
            << QStringLiteral("SSH nodes");
        for (const char* verb : {"show", "attach", "cancel", "fork", "delete"}) {
            QTest::newRow(qPrintable(QStringLiteral("run %1 abc").arg(QLatin1String(verb))))
                << QStringList{QStringLiteral("run"), QLatin1String(verb), QStringLiteral("abc")}
                << QStringLiteral("'abc' is not a run id");
            QTest::newRow(qPrintable(QStringLiteral("run %1 0").arg(QLatin1String(verb))))
                << QStringList{QStringLiteral("run"), QLatin1String(verb), QStringLiteral("0")}
                << QStringLiteral("'0' is not a run id");
            QTest::newRow(qPrintable(QStringLiteral("run %1 unknown id").arg(QLatin1String(verb))))
                << QStringList{QStringLiteral("run"), QLatin1String(verb), QStringLiteral("987654")}
                << QStringLiteral("no run 987654");
        }
        QTest::newRow("export unknown id")
            << QStringList{QStringLiteral("run"), QStringLiteral("export"),
                           QStringLiteral("987654"), QStringLiteral("--csv"),
                           dir + QStringLiteral("/x.csv")}
            << QStringLiteral("no run 987654");
        QTest::newRow("export without file")
            << QStringList{QStringLiteral("run"), QStringLiteral("export"), QStringLiteral("1")}
            << QStringLiteral("--csv");
        QTest::newRow("compare bad id")
            << QStringList{QStringLiteral("compare"), QStringLiteral("1"), QStringLiteral("x1")}
            << QStringLiteral("'x1' is not a run id");
        QTest::newRow("compare unknown id")
            << QStringList{QStringLiteral("compare"), QStringLiteral("1"), QStringLiteral("987654")}
            << QStringLiteral("no run 987654");
        QTest::newRow("cancel grace")
            << QStringList{QStringLiteral("run"), QStringLiteral("cancel"), QStringLiteral("1"),
                           QStringLiteral("--grace"), QStringLiteral("-1")}
            << QStringLiteral("--grace");
        QTest::newRow("unknown command")
            << QStringList{QStringLiteral("runs")} << QStringLiteral("unknown command 'runs'");
        QTest::newRow("node probe unknown")
            << QStringList{QStringLiteral("node"), QStringLiteral("probe"),
                           QStringLiteral("atlantis")}
            << QStringLiteral("no node 'atlantis'");
        QTest::newRow("node add bad name")
            << QStringList{QStringLiteral("node"), QStringLiteral("add"), QStringLiteral("a b"),
                           QStringLiteral("--host"), QStringLiteral("h")}
            << QStringLiteral("node name 'a b'");
        QTest::newRow("node add bad port")
            << QStringList{QStringLiteral("node"), QStringLiteral("add"),
                           QStringLiteral("n"),    QStringLiteral("--host"),
                           QStringLiteral("h"),    QStringLiteral("--port"),
                           QStringLiteral("70000")}
            << QStringLiteral("--port");
        QTest::newRow("node price unknown")
            << QStringList{QStringLiteral("node"), QStringLiteral("price"),
                           QStringLiteral("atlantis"), QStringLiteral("2")}
            << QStringLiteral("no node 'atlantis'");
        QTest::newRow("node price negative")
            << QStringList{QStringLiteral("node"), QStringLiteral("price"), QStringLiteral("local"),
                           QStringLiteral("-3")}
            << QStringLiteral("'-3': expected dollars per hour");
        QTest::newRow("node price missing")
            << QStringList{QStringLiteral("node"), QStringLiteral("price"), QStringLiteral("local")}
            << QStringLiteral("expected NAME and USD_PER_HOUR");
        QTest::newRow("node add existing")
            << QStringList{QStringLiteral("node"), QStringLiteral("add"), QStringLiteral("local"),
                           QStringLiteral("--host"), QStringLiteral("h")}
            << QStringLiteral("node 'local' already exists");
    }

    // node price: the new price reaches the node's running run from its newest elapsed time, not
    // its finished one, and says so; run show lists the price segments.
    void nodePriceReachesActiveRuns() {
        const QString db = test::freshDir(QStringLiteral("cli-price")) + "/store.sqlite";
        qint64 running = 0, finished = 0;
        {
            store::RunStore s(db);
            store::NodeRecord n;
            n.name = QStringLiteral("gpu-4090");
            n.kind = QStringLiteral("ssh");
            n.host = QStringLiteral("192.0.2.4");
            n.pricePerHour = 1.0;
            s.addNode(n);
            for (qint64* id : {&running, &finished}) {
                store::NewRun r;
                r.name = id == &running ? QStringLiteral("live") : QStringLiteral("done");
                r.node = n.name;
                *id = s.createRun(r);
            }
            s.setRunStatus(running, store::status::kRunning);
            QByteArray lines;
            for (int step = 1; step <= 4; ++step)
                lines += QByteArray(R"({"t":"step","step":)") + QByteArray::number(step) +
                         R"(,"tokens":64,"loss":5,"elapsed_s":)" + QByteArray::number(step * 15) +
                         "}\n";
            s.ingest(running, 0, lines);
            s.setRunStatus(finished, store::status::kFinished);
        }
        const QStringList dbArg{QStringLiteral("--db"), db};
        const CliResult set =
            runCli(dbArg + QStringList{QStringLiteral("node"), QStringLiteral("price"),
                                       QStringLiteral("gpu-4090"), QStringLiteral("2.10")});
        QVERIFY2(set.code == 0, set.err.constData());
        QCOMPARE(QString::fromUtf8(set.out).trimmed(),
                 QStringLiteral("Price $2.10/h applies to new runs and, from now, to the active "
                                "run on gpu-4090 (#%1); finished runs keep their cost.")
                     .arg(running));
        const CliResult show =
            runCli(dbArg + QStringList{QStringLiteral("run"), QStringLiteral("show"),
                                       QString::number(running)});
        QVERIFY2(show.code == 0, show.err.constData());
        QVERIFY2(show.out.contains("  price     from 0s: $1.00/h\n"), show.out.constData());
        QVERIFY2(show.out.contains("            from 1m 00s: $2.10/h (set "), show.out.constData());
        QVERIFY2(show.out.contains("  cost      $0.0167 by 1m 00s elapsed"), show.out.constData());
        const QJsonObject json = test::showRun(db, running);
        const QJsonArray prices = json.value(QLatin1String("prices")).toArray();
        QCOMPARE(prices.size(), 2);
        QCOMPARE(prices[1].toObject().value(QLatin1String("from_elapsed")).toDouble(), 60.0);
        QCOMPARE(prices[1].toObject().value(QLatin1String("price_per_hour")).toDouble(), 2.1);
        QCOMPARE(test::showRun(db, finished).value(QLatin1String("prices")).toArray().size(), 1);
        const CliResult again =
            runCli(dbArg + QStringList{QStringLiteral("node"), QStringLiteral("price"),
                                       QStringLiteral("gpu-4090"), QStringLiteral("2.1")});
        QCOMPARE(QString::fromUtf8(again.out).trimmed(),
                 QStringLiteral("gpu-4090: the price is already $2.10/h"));
    }

    // One clear line on stderr, exit 2, and nothing in the store changes.
    void badInput() {
        QFETCH(QStringList, args);
        QFETCH(QString, says);
        QVERIFY(finishedA_ > 0);
        const QByteArray before = test::storeSnapshot(db_);
        QVERIFY(!before.isEmpty());
        const CliResult r = cli(args, 60000);
        QVERIFY2(r.code == 2, (QByteArray::number(r.code) + ": " + r.err).constData());
        const auto [lines, line] = test::lastErrLine(r);
        QCOMPARE(lines, 1);
        QVERIFY2(line.startsWith("bcd-workbench: error: ") && line.contains(says.toUtf8()),
                 line.constData());
        QVERIFY2(r.out.isEmpty(), r.out.constData()); // no id: nothing was launched
        QCOMPARE(test::storeSnapshot(db_), before);
    }

    // A config that the engine refuses (an unknown key): bad input too, with the engine's line.
    void engineRefusesConfig() {
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/typo.json"), model_, 10, 0,
                                              1e-3, QStringLiteral("train"),
                                              QJsonObject{{"steps", 10}, {"batch_sise", 2}});
        const CliResult r =
            cli({QStringLiteral("run"), QStringLiteral("launch"), QStringLiteral("--config"), cfg,
                 QStringLiteral("--node"), QStringLiteral("local")});
        QVERIFY2(r.code == 2, (QByteArray::number(r.code) + ": " + r.err).constData());
        QVERIFY2(r.err.contains("batch_sise"), r.err.constData());
        QVERIFY2(test::lastErrLine(r).first == 1, r.err.constData());
        QVERIFY(r.out.isEmpty());
    }

    void killWorkbenchAndAttach() {
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/long.json"), model_, 3000);
        test::killWorkbenchAndAttach(db_, cfg, QStringLiteral("local"), 3000);
    }

    // The workbench killed at each phase of a launch (#17 point 9), then attached again.
    void killWorkbenchWhileLaunching_data() {
        QTest::addColumn<QString>("phase");
        for (const char* phase : {"before-folder", "after-folder", "after-spawn"})
            QTest::newRow(phase) << QString::fromLatin1(phase);
    }

    void killWorkbenchWhileLaunching() {
        QFETCH(QString, phase);
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/spawn.json"), model_, 200);
        test::killWorkbenchWhileLaunching(db_, cfg, QStringLiteral("local"), 200, phase);
    }

    // Ctrl-C stops following (the run goes on); run cancel stops the run with a checkpoint.
    void interruptThenCancel() {
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/cancel.json"), model_, 5000);
        test::cancelWithCheckpoint(db_, cfg, QStringLiteral("local"),
                                   test::LaunchMode::Interrupted);
    }

    // run cancel from a second workbench while the launching one still follows: both store the
    // same points (each once) and both see the run cancelled.
    void cancelWhileAnotherFollows() {
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/cancel2.json"), model_, 5000);
        test::cancelWithCheckpoint(db_, cfg, QStringLiteral("local"), test::LaunchMode::Followed);
    }

    // run cancel --grace S on an engine that ignores SIGTERM: SIGKILL once S is over; cancelled,
    // and the message says there is no final checkpoint.
    void cancelKillsAfterGrace() {
        const QString engine = test::writeStubbornEngine(dir_ + QStringLiteral("/stubborn-engine"));
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/stubborn.json"), model_, 5);
        const CliResult launch = test::runCliIn(
            dir_,
            db() + QStringList{QStringLiteral("run"), QStringLiteral("launch"),
                               QStringLiteral("--config"), cfg, QStringLiteral("--node"),
                               QStringLiteral("local"), QStringLiteral("--detach")},
            60000, engine);
        QVERIFY2(launch.code == 0, launch.err.constData());
        const qint64 id = launch.lastLine().toLongLong();
        QJsonObject show = test::showRun(db_, id);
        const qint64 pid = show.value(QLatin1String("pid")).toInteger();
        const QString runDir = show.value(QLatin1String("run_dir")).toString();
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(runDir + QStringLiteral("/status.json")), 10000);
        QVERIFY(test::processRuns(pid, runDir + QStringLiteral("/launch.json")));
        QElapsedTimer t;
        t.start();
        const CliResult cancel = test::runCliIn(
            dir_,
            db() + QStringList{QStringLiteral("run"), QStringLiteral("cancel"), QString::number(id),
                               QStringLiteral("--grace"), QStringLiteral("0.8")},
            60000, engine);
        QVERIFY2(cancel.code == 0, // cli.h: run cancel succeeded (the run is cancelled)
                 (QByteArray::number(cancel.code) + ' ' + cancel.err).constData());
        QVERIFY2(t.elapsed() >= 800, "SIGKILL came before the grace period was over");
        QVERIFY(!test::processRuns(pid, runDir + QStringLiteral("/launch.json")));
        show = test::showRun(db_, id);
        QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("cancelled"));
        QVERIFY2(
            show.value(QLatin1String("message")).toString().contains(QStringLiteral("SIGKILL")),
            qPrintable(show.value(QLatin1String("message")).toString()));
        QStringList sent;
        for (const QJsonValue& e : show.value(QLatin1String("events")).toArray())
            if (e.toObject().value(QLatin1String("kind")).toString() == QLatin1String("signal"))
                sent << e.toObject()
                            .value(QLatin1String("data"))
                            .toObject()
                            .value(QLatin1String("signal"))
                            .toString();
        QCOMPARE(sent, (QStringList{QStringLiteral("SIGTERM"), QStringLiteral("SIGKILL")}));
    }

    // run fork: a new run from a checkpoint with changed settings, tagged with its lineage;
    // run delete: gone from the store, its folder removed with --files; live runs are refused.
    void forkAndDelete() {
        QVERIFY(finishedB_ > 0);
        const CliResult bad = cli({"run", "fork", QString::number(finishedB_), "--checkpoint",
                                   "step-00000007", "--node", "local"});
        QCOMPARE(bad.code, 2);
        QVERIFY2(bad.err.contains("has no complete checkpoint 'step-00000007' (it has: final)"),
                 bad.err.constData());
        const CliResult f = cli({"run", "fork", QString::number(finishedB_), "--set",
                                 "optim.lr=5e-4", "--set", "train.steps=10", "--node", "local"});
        QVERIFY2(f.code == 0, f.err.constData());
        const qint64 fork = f.lastLine().toLongLong();
        QVERIFY(fork > finishedB_);
        const QJsonObject show = test::showRun(db_, fork);
        QCOMPARE(show["status"].toString(), QStringLiteral("finished"));
        QCOMPARE(show["name"].toString(), QStringLiteral("run b fork"));
        const QJsonObject cfg = show["config"].toObject();
        QVERIFY2(cfg["model"].toObject()["path"].toString().endsWith("/final"),
                 qPrintable(cfg["model"].toObject()["path"].toString()));
        QCOMPARE(cfg["optim"].toObject()["lr"].toDouble(), 5e-4);
        QVERIFY(show["tags"].toArray().contains(
            QJsonValue(QStringLiteral("fork-of:%1@final").arg(finishedB_))));
        QVERIFY(test::checkStepsExactlyOnce(show, 10).isEmpty());

        const QString folder = test::showRun(db_, fork)["run_dir"].toString();
        QVERIFY2(QFileInfo(folder).isDir(), qPrintable(folder));
        const CliResult del = cli({"run", "delete", QString::number(fork), "--files"});
        QVERIFY2(del.code == 0, del.err.constData());
        QVERIFY2(del.out.contains("removed"), del.out.constData());
        QVERIFY(!QFileInfo::exists(folder));
        const CliResult gone = cli({"run", "show", QString::number(fork)});
        QCOMPARE(gone.code, 2);
        QVERIFY(cli({"run", "show", QString::number(finishedB_)}).code == 0);
    }

    // run checkpoints lists what run sample can use; run sample streams the engine's text as the
    // engine itself prints it; wrong input is one line naming the run, node and expectation.
    void sampleAndCheckpoints() {
        QVERIFY(finishedA_ > 0);
        const QString id = QString::number(finishedA_);
        const CliResult list = cli({"run", "checkpoints", id});
        QVERIFY2(list.code == 0, list.err.constData());
        QCOMPARE(list.out, QByteArray("final\n"));

        const CliResult s = cli({"run", "sample", id, "--prompt", "To be", "--max-new", "25",
                                 "--temperature", "0.9", "--top-p", "0.9", "--seed", "4"});
        QVERIFY2(s.code == 0, s.err.constData());
        const QString runDir = test::showRun(db_, finishedA_)["run_dir"].toString();
        QProcess engine;
        engine.start(test::trainExe(),
                     {"sample", "--model", runDir + "/final", "--prompt", "To be", "--max-new",
                      "25", "--temperature", "0.9", "--top-p", "0.9", "--seed", "4"});
        QVERIFY(engine.waitForFinished(60000));
        QCOMPARE(s.out, engine.readAllStandardOutput());
        QVERIFY(s.out.startsWith("To be"));
        QVERIFY2(s.err.contains("sampling final of run"), s.err.constData());

        const CliResult noCkpt =
            cli({"run", "sample", id, "--prompt", "x", "--checkpoint", "step-00000007"});
        QCOMPARE(noCkpt.code, 2);
        QVERIFY2(noCkpt.err.contains(QStringLiteral("run %1 (a) on node local has no checkpoint "
                                                    "'step-00000007' (expected one of: final)")
                                         .arg(id)
                                         .toUtf8()),
                 noCkpt.err.constData());
        const CliResult noPrompt = cli({"run", "sample", id});
        QCOMPARE(noPrompt.code, 2);
        QVERIFY2(noPrompt.err.contains("--prompt"), noPrompt.err.constData());
        const CliResult badTopP = cli({"run", "sample", id, "--prompt", "x", "--top-p", "0"});
        QCOMPARE(badTopP.code, 2);
        QVERIFY2(badTopP.err.contains("top-p: expected a value in (0, 1]"),
                 badTopP.err.constData());
        const CliResult noRun = cli({"run", "checkpoints", "9999"});
        QCOMPARE(noRun.code, 2);
        QVERIFY2(noRun.err.contains("no run 9999"), noRun.err.constData());
    }

    // run archive hides a finished run from run list (until --all); a live or unknown run is
    // refused; run unarchive shows it again.
    void archiveAndUnarchive() {
        QVERIFY(finishedB_ > 0);
        const QString id = QString::number(finishedB_);
        const CliResult a = cli({"run", "archive", id});
        QVERIFY2(a.code == 0, a.err.constData());
        QVERIFY(test::showRun(db_, finishedB_)["tags"].toArray().contains(QJsonValue("archived")));
        const CliResult list = cli({"run", "list"});
        QVERIFY(!list.out.contains(QByteArray("\n") + id.toUtf8() + "\t") &&
                !list.out.startsWith(id.toUtf8() + "\t"));
        QVERIFY2(list.out.contains("archived run(s) not shown"), list.out.constData());
        QVERIFY(cli({"run", "list", "--all"}).out.contains(id.toUtf8() + "\t"));
        QCOMPARE(cli({"run", "archive", "999999"}).code, 2);
        const CliResult u = cli({"run", "unarchive", id});
        QVERIFY2(u.code == 0, u.err.constData());
        QVERIFY(cli({"run", "list"}).out.contains(id.toUtf8() + "\t"));
    }

    void hostileName() { test::hostileName(db_, dir_, model_, QStringLiteral("local")); }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_workbench_cli.moc"
