// Ingestion of metrics.jsonl (app/store/ingest.cpp): idempotent by (run, type, step), torn last
// lines, byte offsets, re-reads, resumed runs, malformed lines, status records, files on disk —
// and a metrics.jsonl written by the real engine.

#include "metrics_lines.h"
#include "store/run_eta.h"
#include "store/run_store.h"
#include "store_test_util.h"

#include <QJsonDocument>
#include <QProcess>
#include <QRandomGenerator>
#include <QTest>

using namespace bcd::store;
using namespace bcd::test;

namespace {

QString storePath(const QString& name) {
    return freshDir(QStringLiteral("ingest/") + name) + QStringLiteral("/store.sqlite");
}

// The record of every event as "kind@step".
QStringList eventKeys(RunStore& s, qint64 run) {
    QStringList out;
    for (const auto& e : s.events(run))
        out << e.kind + '@' + (e.step ? QString::number(*e.step) : QStringLiteral("-"));
    return out;
}

QByteArray withoutNewline(QByteArray line) {
    line.chop(1);
    return line;
}

// Runs bcd-train with arguments; the combined output on failure.
QString train(const QStringList& args) {
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(trainExe(), args);
    if (!p.waitForFinished(120000)) return QStringLiteral("timed out");
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        return QString::fromUtf8(p.readAll());
    return {};
}

} // namespace

class TestIngest : public QObject {
    Q_OBJECT
private slots:
    // Phase records are progress, not events: each (phase, step) keeps its latest state, in the
    // order the phases happened; a re-read file stores them once; the system figures of a step
    // are stored with it.
    void phasesAndSystemFigures() {
        RunStore s(storePath(QStringLiteral("phases")));
        const qint64 id = addRun(s);
        QByteArray step10 = stepLine(10, 4.0);
        step10.replace("\"elapsed_s\"",
                       "\"cpu_pct\":180.5,\"gpu_util_pct\":87,\"gpu_mem_bytes\":41943040000,"
                       "\"gpu_power_w\":312.5,\"gpu_temp_c\":64,\"elapsed_s\"");
        const QByteArray first = startLine() + stepLines(1, 9) + step10 +
                                 phaseLine(10, "eval", "begin", 0, 0.1, 0, 12) +
                                 phaseLine(10, "eval", "progress", 1.0, 1.1, 3, 12);
        IngestResult r = s.ingest(id, 0, first);
        QCOMPARE(r.phases, qint64(2));
        QCOMPARE(r.events, qint64(1)); // start only: phases are not events
        auto phases = s.phases(id);
        QCOMPARE(phases.size(), 1);
        QCOMPARE(phases[0].phase, QStringLiteral("eval"));
        QCOMPARE(phases[0].step, qint64(10));
        QCOMPARE(phases[0].state, QStringLiteral("progress"));
        QCOMPARE(phases[0].done, std::optional<qint64>(3));
        QCOMPARE(phases[0].total, std::optional<qint64>(12));
        QCOMPARE(phases[0].seconds, 1.0);
        QCOMPARE(phases[0].elapsed, std::optional<double>(1.1));
        QVERIFY(!phases[0].ended());

        const QByteArray second = phaseLine(10, "eval", "end", 4.0, 4.1, 12, 12) +
                                  evalLine(10, 4.25) +
                                  phaseLine(10, "checkpoint", "begin", 0, 4.2) +
                                  phaseLine(10, "checkpoint", "end", 0.5, 4.7, -1, -1, 874734);
        r = s.ingest(id, r.offset, second);
        QCOMPARE(r.phases, qint64(3));
        phases = s.phases(id);
        QCOMPARE(phases.size(), 2);
        QCOMPARE(phases[0].phase, QStringLiteral("eval")); // it happened first
        QVERIFY(phases[0].ended());
        QCOMPARE(phases[0].seconds, 4.0);
        QCOMPARE(phases[1].phase, QStringLiteral("checkpoint"));
        QCOMPARE(phases[1].bytes, std::optional<qint64>(874734));
        QCOMPARE(phases[1].seconds, 0.5);
        QCOMPARE(eventKeys(s, id), QStringList{QStringLiteral("start@0")});

        // Read again from the start: the same rows.
        s.ingest(id, 0, first + second);
        QCOMPARE(s.phases(id).size(), 2);
        QCOMPARE(s.phases(id)[0].state, QStringLiteral("end"));

        const auto pt = s.points(id, PointType::Step);
        QCOMPARE(pt.size(), 10);
        QCOMPARE(pt[0].value(MetricColumn::Rss), std::optional<double>(16568320));
        QVERIFY(!pt[0].value(MetricColumn::CpuPct));
        QCOMPARE(pt[9].value(MetricColumn::CpuPct), std::optional<double>(180.5));
        QCOMPARE(pt[9].value(MetricColumn::GpuUtil), std::optional<double>(87));
        QCOMPARE(pt[9].value(MetricColumn::GpuMem), std::optional<double>(41943040000.0));
        QCOMPARE(pt[9].value(MetricColumn::GpuPower), std::optional<double>(312.5));
        QCOMPARE(pt[9].value(MetricColumn::GpuTemp), std::optional<double>(64));
        const auto lod = s.series(id, MetricColumn::GpuPower, 0, RunStore::kLastStep, 1);
        QCOMPARE(lod.size(), 1);
        QCOMPARE(lod[0].max, 312.5);
        QCOMPARE(s.startRecord(id).value("params").toInt(), 4000);
        // Deleting the run deletes its phases.
        s.setRunStatus(id, status::kFinished);
        s.deleteRun(id);
        QCOMPARE(rawInt(s.path(), "SELECT COUNT(*) FROM run_phases"), qint64(0));
    }

    // The ETA (store/run_eta.h): the steps left at the run's own step pace (phase time taken out),
    // the evaluations and checkpoints left, measured once the run has some, planned before.
    void etaWithPhases() {
        EtaInput in;
        in.done = 100;
        in.total = 300;
        in.tokens = 100 * 1000.0;
        in.config = QJsonDocument::fromJson(R"({"data":{"val":"v.txt"},
            "output":{"eval_every":100,"checkpoint_every":150}})")
                        .object();
        in.start = QJsonDocument::fromJson(R"({"params":1000000,"mode":"bcd",
            "blocks":[{"params":400000},{"params":600000}],"eval_tokens":30000})")
                       .object();
        in.elapsed = 50; // 0.5 s per step, nothing measured yet
        auto e = estimateRemaining(in);
        QVERIFY(e);
        QCOMPARE(e->step_s, 0.5);
        QCOMPARE(e->train_s, 100.0);
        QVERIFY(!e->eval_measured && !e->checkpoint_measured);
        // Planned: 30000 tokens at BCD's 2000 tok/s of training = 15 s (conservative: a BCD
        // step's truncated backward is short); evaluations at 200 and 300. Checkpoints at 150 and
        // 300: 4 MB weights + 4.8 MB AdamW state at 0.5 GB/s; plus the final model's 4 MB.
        QCOMPARE(*e->one_eval_s, 15.0);
        QCOMPARE(e->eval_s, 30.0);
        in.start[QStringLiteral("mode")] = QStringLiteral("full"); // half of a full step's time
        QCOMPARE(*estimateRemaining(in)->one_eval_s, 7.5);
        in.start[QStringLiteral("mode")] = QStringLiteral("bcd");
        QCOMPARE(*e->one_checkpoint_s, 8.8e6 / 0.5e9);
        QVERIFY(std::fabs(e->checkpoint_s - (2 * 8.8e6 + 4e6) / 0.5e9) < 1e-12);
        QCOMPARE(e->remaining_s, e->train_s + e->eval_s + e->checkpoint_s);

        // Measured: an evaluation after step 100 took 20 s (the step records' elapsed at step 100
        // does not hold it), one after step 50 took 20 s too (it does), a checkpoint 3 s.
        in.elapsed = 70; // 50 s of steps + the evaluation after step 50
        auto phase = [](const char* name, qint64 step, const char* state, double seconds) {
            PhaseRecord p;
            p.phase = QLatin1String(name);
            p.step = step;
            p.state = QLatin1String(state);
            p.seconds = seconds;
            return p;
        };
        in.config = QJsonDocument::fromJson(R"({"data":{"val":"v.txt"},
            "output":{"eval_every":50,"checkpoint_every":150}})")
                        .object();
        in.phases = {phase("eval", 50, "end", 20), phase("eval", 100, "end", 20)};
        e = estimateRemaining(in);
        QCOMPARE(e->step_s, 0.5);
        QVERIFY(e->eval_measured);
        QCOMPARE(e->eval_s, 4 * 20.0); // 150, 200, 250, 300
        // A checkpoint in progress: its measured length less what has passed.
        in.phases = {phase("eval", 50, "end", 20), phase("checkpoint", 50, "end", 3),
                     phase("eval", 100, "begin", 0)};
        in.elapsed = 73;
        in.phases[2].done = 3;
        in.phases[2].total = 12;
        e = estimateRemaining(in);
        QCOMPARE(e->step_s, 0.5);
        QCOMPARE(e->eval_s, 4 * 20.0 + 20.0 * 0.75); // and three quarters of the current one
        QCOMPARE(*e->one_checkpoint_s, 3.0);
        QCOMPARE(phaseInProgress(in.phases), QStringLiteral("evaluating 3/12"));
        in.phases[2] = phase("checkpoint", 100, "begin", 1);
        QCOMPARE(phaseInProgress(in.phases), QStringLiteral("writing checkpoint"));
        in.phases[2].state = QStringLiteral("end");
        QVERIFY(phaseInProgress(in.phases).isEmpty());
        // Without validation data nothing is evaluated.
        in.config = QJsonDocument::fromJson(R"({"output":{"eval_every":50}})").object();
        QCOMPARE(estimateRemaining(in)->eval_s, 0.0);
        in.done = 0;
        QVERIFY(!estimateRemaining(in));
    }

    void idempotent() {
        RunStore s(storePath(QStringLiteral("idempotent")));
        const qint64 id = addRun(s);
        const QByteArray data = startLine() + stepLines(1, 25) + switchLine(25, 0, 1) +
                                stepLines(26, 50) + evalLine(50, 4.5) + ckptLine(50);
        const IngestResult a = s.ingest(id, 0, data);
        QVERIFY(a.accepted);
        QCOMPARE(a.offset, qint64(data.size()));
        QCOMPARE(a.points, qint64(51));
        QCOMPARE(a.events, qint64(3));
        QCOMPARE(a.malformed, qint64(0));
        QCOMPARE(a.lastStep, std::optional<qint64>(50));
        QCOMPARE(s.run(id)->metricsOffset, qint64(data.size()));
        QCOMPARE(s.run(id)->lastStep, std::optional<qint64>(50));
        const auto pointsBefore = s.points(id, PointType::Step);

        // The same bytes again (a re-read from the start): nothing doubles.
        const IngestResult b = s.ingest(id, 0, data);
        QVERIFY(b.accepted);
        QCOMPARE(b.offset, qint64(data.size()));
        QCOMPARE(s.pointCount(id, PointType::Step), qint64(50));
        QCOMPARE(s.pointCount(id, PointType::Eval), qint64(1));
        QCOMPARE(eventKeys(s, id), (QStringList{"start@0", "switch@25", "ckpt@50"}));
        const auto pointsAfter = s.points(id, PointType::Step);
        QCOMPARE(pointsAfter.size(), pointsBefore.size());
        for (qsizetype i = 0; i < pointsAfter.size(); ++i)
            QCOMPARE(pointsAfter[i].values, pointsBefore[i].values);

        // Nothing new at the stored offset: accepted, nothing written.
        const IngestResult c = s.ingest(id, data.size(), QByteArrayView());
        QVERIFY(c.accepted);
        QCOMPARE(c.offset, qint64(data.size()));
        QCOMPARE(c.points, qint64(0));

        // Stored values are what the lines say.
        const MetricPoint& p = pointsAfter[9];
        QCOMPARE(p.step, qint64(10));
        QCOMPARE(p.value(MetricColumn::Loss), std::optional<double>(lossAt(10)));
        QCOMPARE(p.value(MetricColumn::Tokens), std::optional<double>(640));
        QCOMPARE(p.value(MetricColumn::Elapsed), std::optional<double>(10 * 0.01));
        QCOMPARE(p.value(MetricColumn::Mem), std::optional<double>(1346688));
        QCOMPARE(p.value(MetricColumn::TokS), std::optional<double>(6400.5));
        QVERIFY(!p.value(MetricColumn::ValLoss));
        QCOMPARE(s.points(id, PointType::Eval)[0].value(MetricColumn::ValLoss),
                 std::optional<double>(4.5));
    }

    void tornLastLine() {
        RunStore s(storePath(QStringLiteral("torn")));
        const qint64 id = addRun(s);
        const QByteArray head = stepLines(1, 10);
        const QByteArray line11 = stepLine(11, 0.125);
        for (qsizetype cut : {qsizetype(1), line11.size() / 2, line11.size() - 1}) {
            const IngestResult r = s.ingest(id, 0, head + line11.left(cut));
            QVERIFY(r.accepted);
            QCOMPARE(r.offset, qint64(head.size())); // the torn line is not consumed
            QCOMPARE(r.points, qint64(10));
            QCOMPARE(r.malformed, qint64(0));
            QCOMPARE(s.pointCount(id, PointType::Step), qint64(10));
        }
        // The next call starts at the stored offset with the completed line.
        const IngestResult r = s.ingest(id, head.size(), line11 + stepLine(12));
        QVERIFY(r.accepted);
        QCOMPARE(r.points, qint64(2));
        QCOMPARE(r.offset, qint64(head.size() + line11.size() + stepLine(12).size()));
        QCOMPARE(s.points(id, PointType::Step, 11, 11)[0].value(MetricColumn::Loss),
                 std::optional<double>(0.125));
        QCOMPARE(s.events(id).size(), 0); // nothing was taken for malformed
    }

    void resumesFromStoredOffset() {
        const QString path = storePath(QStringLiteral("resume-offset"));
        const QByteArray first = startLine() + stepLines(1, 20);
        const QByteArray second = stepLines(21, 30) + endLine("finished", 30);
        qint64 id = 0;
        {
            RunStore s(path);
            id = addRun(s);
            QCOMPARE(s.ingest(id, 0, first).offset, qint64(first.size()));
        }
        RunStore s(path); // the workbench restarted
        const qint64 stored = s.run(id)->metricsOffset;
        QCOMPARE(stored, qint64(first.size()));
        const IngestResult r = s.ingest(id, stored, second);
        QVERIFY(r.accepted);
        QCOMPARE(r.offset, qint64(first.size() + second.size()));
        QCOMPARE(r.points, qint64(10));
        QCOMPARE(s.pointCount(id, PointType::Step), qint64(30));
        QCOMPARE(s.run(id)->status, status::kFinished);
    }

    void wrongOffsetRejected() {
        RunStore s(storePath(QStringLiteral("wrong-offset")));
        const qint64 id = addRun(s);
        const QByteArray first = stepLines(1, 5);
        s.ingest(id, 0, first);
        const qint64 stored = first.size();
        for (qint64 offset : {stored + 1, stored - 1, qint64(1), stored * 10}) {
            const IngestResult r =
                s.ingest(id, offset, stepLines(6, 9) + startLine() + "garbage\n");
            QVERIFY(!r.accepted);
            QCOMPARE(r.offset, stored);
            QCOMPARE(r.points, qint64(0));
            QCOMPARE(r.events, qint64(0));
            QCOMPARE(s.pointCount(id, PointType::Step), qint64(5));
            QCOMPARE(s.events(id).size(), 0);
            QCOMPARE(s.run(id)->metricsOffset, stored);
            QCOMPARE(s.run(id)->status, status::kStarting);
        }
        QVERIFY(s.ingest(id, stored, stepLine(6)).accepted);
        bool threw = false;
        try {
            s.ingest(424242, 0, stepLine(1));
        } catch (const StoreError&) {
            threw = true;
        }
        QVERIFY(threw);
    }

    // The file was replaced by a shorter one (offset 0 with a stored offset beyond its end): it is
    // read again; the steps it holds take its values.
    void offsetZeroRereads() {
        RunStore s(storePath(QStringLiteral("reread")));
        const qint64 id = addRun(s);
        const QByteArray longFile = stepLines(1, 40);
        s.ingest(id, 0, longFile);
        QByteArray shortFile;
        for (int step = 1; step <= 10; ++step) shortFile += stepLine(step, 100.0 + step);
        const IngestResult r = s.ingest(id, 0, shortFile);
        QVERIFY(r.accepted);
        QCOMPARE(r.offset, qint64(shortFile.size()));
        QCOMPARE(s.run(id)->metricsOffset, qint64(shortFile.size()));
        QCOMPARE(s.points(id, PointType::Step, 7, 7)[0].value(MetricColumn::Loss),
                 std::optional<double>(107.0));
        QCOMPARE(s.pointCount(id, PointType::Step), qint64(40));
        QCOMPARE(s.run(id)->lastStep, std::optional<qint64>(40)); // never moves back
        // The series follows the new values (levels of detail updated, not stale).
        const auto b = s.series(id, MetricColumn::Loss, 1, 10, 1);
        QCOMPARE(b.size(), 1);
        QCOMPARE(b[0].max, 110.0);
        QCOMPARE(b[0].min, 101.0);
    }

    // A run resumed from its step-30 checkpoint writes steps 31..40 again: stored once, the later
    // record winning.
    void resumedRunStepsOnce() {
        RunStore s(storePath(QStringLiteral("resumed")));
        const qint64 id = addRun(s);
        QByteArray file = startLine() + stepLines(1, 30) + ckptLine(30) + stepLines(31, 40);
        file += resumeLine(30);
        for (int step = 31; step <= 50; ++step) file += stepLine(step, 0.5 + step * 1e-3, 1);
        file += ckptLine(50) + endLine("finished", 50);
        // In two parts, split inside the repeated range.
        const qsizetype cut = file.indexOf(R"("step":35)") - 5;
        const IngestResult a = s.ingest(id, 0, file.left(cut));
        const IngestResult b = s.ingest(id, a.offset, file.mid(a.offset));
        QVERIFY(a.accepted && b.accepted);
        QCOMPARE(b.offset, qint64(file.size()));
        QCOMPARE(s.pointCount(id, PointType::Step), qint64(50));
        const auto pts = s.points(id, PointType::Step);
        for (const auto& p : pts) {
            const double want = p.step <= 30 ? lossAt(p.step) : 0.5 + p.step * 1e-3;
            QCOMPARE(p.value(MetricColumn::Loss), std::optional<double>(want));
            QCOMPARE(p.value(MetricColumn::Block), std::optional<double>(p.step <= 30 ? 0 : 1));
        }
        QCOMPARE(eventKeys(s, id),
                 (QStringList{"start@0", "ckpt@30", "resume@30", "ckpt@50", "end@50"}));
        QCOMPARE(s.run(id)->status, status::kFinished);
        QCOMPARE(s.run(id)->lastStep, std::optional<qint64>(50));
        // The series over the repeated range sees the later values only.
        const auto ser = s.series(id, MetricColumn::Loss, 31, 40, 1);
        QCOMPARE(ser.size(), 1);
        QCOMPARE(ser[0].count, qint64(10));
        QCOMPARE(ser[0].max, 0.5 + 40 * 1e-3);
    }

    void malformedLinesKeptAsEvents() {
        RunStore s(storePath(QStringLiteral("malformed")));
        const qint64 id = addRun(s);
        const QByteArray bad1 = "this is not json\n";
        const QByteArray bad2 = R"({"t":"step","loss":1.0})"
                                "\n"; // no step
        const QByteArray bad3 = R"({"t":"step","step":3,"loss":"high"})"
                                "\n";
        const QByteArray data = stepLine(1) + bad1 + stepLine(2) + "\n   \r\n" + bad2 + bad3 +
                                withoutNewline(stepLine(3)) + "\r\n" + stepLine(4);
        const IngestResult r = s.ingest(id, 0, data);
        QVERIFY(r.accepted);
        QCOMPARE(r.malformed, qint64(3));
        QCOMPARE(r.points, qint64(4)); // CRLF and blank lines are fine
        QCOMPARE(r.offset, qint64(data.size()));
        QCOMPARE(s.pointCount(id, PointType::Step), qint64(4));
        const auto ev = s.events(id);
        QCOMPARE(ev.size(), 3);
        const qint64 offsets[] = {stepLine(1).size(), data.indexOf(bad2), data.indexOf(bad3)};
        for (int i = 0; i < 3; ++i) {
            QCOMPARE(ev[i].kind, QStringLiteral("malformed"));
            QCOMPARE(ev[i].source, QStringLiteral("engine"));
            QCOMPARE(ev[i].data.value(QLatin1String("offset")).toInteger(), offsets[i]);
            QVERIFY(!ev[i].data.value(QLatin1String("error")).toString().isEmpty());
        }
        QCOMPARE(ev[0].data.value(QLatin1String("line")).toString(),
                 QStringLiteral("this is not json"));
        // Read again: the malformed lines are still stored once each.
        QCOMPARE(s.ingest(id, 0, data).malformed, qint64(3));
        QCOMPARE(s.events(id).size(), 3);
        // A very long malformed line is kept shortened, not whole.
        const QByteArray huge = QByteArray(100000, 'x') + "\n";
        QCOMPARE(s.ingest(id, data.size(), huge).malformed, qint64(1));
        QVERIFY(s.events(id).last().data.value(QLatin1String("line")).toString().size() <= 200);
    }

    void statusRecords() {
        RunStore s(storePath(QStringLiteral("status")));
        const qint64 id = addRun(s);
        IngestResult r = s.ingest(id, 0, startLine());
        QCOMPARE(r.status, status::kRunning);
        QCOMPARE(s.run(id)->status, status::kRunning);
        QVERIFY(s.run(id)->startedAt);
        qint64 off = r.offset;
        r = s.ingest(id, off, stepLine(1));
        QVERIFY(r.status.isEmpty());
        off = r.offset;
        // An end record with a status this build does not know changes nothing.
        r = s.ingest(id, off, endLine("exploded", 1));
        QVERIFY(r.status.isEmpty());
        QCOMPARE(s.run(id)->status, status::kRunning);
        off = r.offset;
        r = s.ingest(id, off, endLine("failed", 2, "out of memory"));
        QCOMPARE(r.status, status::kFailed);
        const auto run = s.run(id);
        QCOMPARE(run->status, status::kFailed);
        QCOMPARE(run->message, QStringLiteral("out of memory"));
        QVERIFY(run->endedAt);
    }

    // The world size stored at launch is replaced by the engine's own (its start record); a
    // run launched without one learns it there.
    void worldSizeFromStartRecord() {
        RunStore s(storePath(QStringLiteral("world-size")));
        NewRun n;
        n.name = QStringLiteral("dp");
        n.node = QStringLiteral("local");
        n.config = QJsonObject{{"model", QJsonObject{{"path", "/m"}}}};
        n.processesPerNode = 3;
        n.worldSize = 3;
        const qint64 id = s.createRun(n);
        QCOMPARE(s.run(id)->processesPerNode, 3);
        QCOMPARE(s.run(id)->worldSize, std::optional<int>(3));
        QByteArray start = startLine();
        start.replace("\"world_size\":1", "\"world_size\":2");
        const IngestResult r = s.ingest(id, 0, start);
        QCOMPARE(s.run(id)->worldSize, std::optional<int>(2));
        QCOMPARE(s.run(id)->processesPerNode, 3);
        // A step's comm_bytes is stored with it (and summarised in the levels of detail).
        QByteArray step = stepLine(1, 5.0);
        step.replace("\"elapsed_s\"", "\"comm_bytes\":4819408,\"elapsed_s\"");
        s.ingest(id, r.offset, step);
        const auto points = s.points(id, PointType::Step);
        QCOMPARE(points.size(), 1);
        QCOMPARE(points[0].value(MetricColumn::CommBytes), std::optional<double>(4819408));
        const auto lod = s.series(id, MetricColumn::CommBytes, 0, RunStore::kLastStep, 1);
        QCOMPARE(lod.size(), 1);
        QVERIFY(lod[0].hasValue);
        QCOMPARE(lod[0].max, 4819408.0);

        const qint64 other = addRun(s);
        QVERIFY(!s.run(other)->worldSize);
        s.ingest(other, 0, startLine());
        QCOMPARE(s.run(other)->worldSize, std::optional<int>(1));
    }

    void ingestFileGrowsAndShrinks() {
        const QString dir = freshDir(QStringLiteral("ingest/file"));
        RunStore s(dir + QStringLiteral("/store.sqlite"));
        const qint64 id = addRun(s);
        const QString metrics = dir + QStringLiteral("/metrics.jsonl");
        QString missing;
        try {
            s.ingestFile(id, metrics);
        } catch (const StoreError& e) {
            missing = QString::fromUtf8(e.what());
        }
        QVERIFY2(missing.contains(metrics), qPrintable(missing));

        QByteArray content =
            startLine() + stepLines(1, 100) + withoutNewline(stepLine(101)).left(30);
        QVERIFY(writeBytes(metrics, content));
        IngestResult r = s.ingestFile(id, metrics);
        QVERIFY(r.accepted);
        QCOMPARE(r.points, qint64(100));
        QCOMPARE(r.offset, qint64(content.size() - 30));
        QCOMPARE(s.run(id)->metricsOffset, r.offset);

        // The writer finishes the line and goes on.
        content = startLine() + stepLines(1, 150) + endLine("finished", 150);
        QVERIFY(writeBytes(metrics, content));
        r = s.ingestFile(id, metrics);
        QCOMPARE(r.points, qint64(50));
        QCOMPARE(r.offset, qint64(content.size()));
        QCOMPARE(r.status, status::kFinished);
        QCOMPARE(s.pointCount(id, PointType::Step), qint64(150));
        QCOMPARE(s.ingestFile(id, metrics).points, qint64(0)); // nothing new

        // Replaced by a shorter file: read from its start.
        const QByteArray shorter = startLine() + stepLines(1, 5);
        QVERIFY(writeBytes(metrics, shorter));
        r = s.ingestFile(id, metrics);
        QCOMPARE(r.points, qint64(5));
        QCOMPARE(r.offset, qint64(shorter.size()));
        QCOMPARE(s.pointCount(id, PointType::Step), qint64(150));
    }

    // A file larger than ingestFile's 16 MiB read chunk, with lines straddling chunk edges.
    void ingestFileInChunks() {
        const QString dir = freshDir(QStringLiteral("ingest/chunks"));
        RunStore s(dir + QStringLiteral("/store.sqlite"));
        const qint64 id = addRun(s);
        const QString metrics = dir + QStringLiteral("/metrics.jsonl");
        QByteArray content = startLine();
        qint64 step = 0;
        while (content.size() < (17 << 20)) content += stepLine(++step);
        QVERIFY(writeBytes(metrics, content));
        const IngestResult r = s.ingestFile(id, metrics);
        QCOMPARE(r.offset, qint64(content.size()));
        QCOMPARE(r.points, step);
        QCOMPARE(s.pointCount(id, PointType::Step), step);
        QCOMPARE(s.run(id)->lastStep, std::optional<qint64>(step));
    }

    // A metrics.jsonl as bcd-train writes it, then resumed from an earlier checkpoint so that
    // steps repeat: the stored steps are the file's step records, each step once, with the
    // file's (later) values.
    void realEngineFile() {
        const QString dir = freshDir(QStringLiteral("ingest/engine"));
        const QString model = tinyModel(dir);
        QVERIFY2(!model.isEmpty(), "bcd-train init --preset tiny failed");
        const QString config = writeConfig(dir + QStringLiteral("/run.json"), model, 40, 10);
        QVERIFY(!config.isEmpty());
        {
            // Add validation data and evaluations to what writeConfig wrote.
            QJsonObject cfg = QJsonDocument::fromJson(fileBytes(config)).object();
            QJsonObject data = cfg.value(QLatin1String("data")).toObject();
            // A small validation file: evaluations over the whole sample would take seconds.
            const QString val = dir + QStringLiteral("/val.txt");
            QVERIFY(writeBytes(
                val, fileBytes(data.value(QLatin1String("train")).toString()).left(4096)));
            data[QStringLiteral("val")] = val;
            cfg[QStringLiteral("data")] = data;
            QJsonObject out = cfg.value(QLatin1String("output")).toObject();
            out[QStringLiteral("dir")] = QStringLiteral("run");
            out[QStringLiteral("eval_every")] = 20;
            out[QStringLiteral("keep_checkpoints")] = 10;
            cfg[QStringLiteral("output")] = out;
            QVERIFY(writeBytes(config, QJsonDocument(cfg).toJson()));
        }
        QString err = train({QStringLiteral("train"), QStringLiteral("--config"), config});
        QVERIFY2(err.isEmpty(), qPrintable(err));
        const QString metrics = dir + QStringLiteral("/run/metrics.jsonl");

        RunStore s(dir + QStringLiteral("/store.sqlite"));
        const qint64 whole = addRun(s, QStringLiteral("whole"));
        IngestResult r = s.ingestFile(whole, metrics);
        QCOMPARE(r.malformed, qint64(0));
        int stepRecords = 0;
        QMap<qint64, double> losses = fileStepLosses(metrics, &stepRecords);
        QCOMPARE(stepRecords, 40);
        QCOMPARE(s.pointCount(whole, PointType::Step), qint64(stepRecords));
        QCOMPARE(s.pointCount(whole, PointType::Eval), qint64(2));
        QCOMPARE(s.run(whole)->status, status::kFinished);
        QCOMPARE(s.run(whole)->lastStep, std::optional<qint64>(40));
        for (const auto& p : s.points(whole, PointType::Step))
            QCOMPARE(p.value(MetricColumn::Loss), std::optional<double>(losses.value(p.step)));
        QVERIFY(s.points(whole, PointType::Eval)[0].value(MetricColumn::ValLoss));
        const QStringList keys = eventKeys(s, whole);
        QVERIFY2(keys.contains("start@0") && keys.contains("switch@25") &&
                     keys.contains("ckpt@20") && keys.contains("end@40"),
                 qPrintable(keys.join(' ')));
        // The engine's phases: evaluations after 20 and 40, checkpoints every 10, the final
        // model, each ended, with its length; none of them an event.
        QStringList phases;
        for (const auto& p : s.phases(whole)) {
            phases << p.phase + '@' + QString::number(p.step);
            QVERIFY(p.ended() && p.seconds >= 0 && p.elapsed);
            if (p.phase == QLatin1String("eval")) QVERIFY(p.total && p.done == p.total);
            if (p.phase != QLatin1String("eval")) QVERIFY(p.bytes && *p.bytes > 0);
        }
        QCOMPARE(phases, (QStringList{"checkpoint@10", "eval@20", "checkpoint@20", "checkpoint@30",
                                      "eval@40", "checkpoint@40", "final@40"}));
        QVERIFY(!keys.join(' ').contains(QStringLiteral("phase")));
        // Every step has its process's CPU and memory figures.
        for (const auto& p : s.points(whole, PointType::Step))
            QVERIFY(p.value(MetricColumn::CpuPct) && p.value(MetricColumn::Rss));

        // The same file read in random pieces, as a tail would see it while being written.
        const qint64 pieces = addRun(s, QStringLiteral("pieces"));
        const QByteArray bytes = fileBytes(metrics);
        QRandomGenerator rng(3);
        qint64 offset = 0;
        qint64 end = 0;
        while (offset < bytes.size()) {
            end = std::min<qint64>(bytes.size(), end + rng.bounded(1, 700));
            r = s.ingest(pieces, offset,
                         QByteArrayView(bytes).sliced(offset, std::max(end, offset) - offset));
            QVERIFY(r.accepted);
            offset = r.offset;
            if (end == bytes.size() && offset < end) QFAIL("a complete file was not consumed");
        }
        QCOMPARE(s.points(pieces, PointType::Step).size(), 40);
        const auto a = s.points(whole, PointType::Step), b = s.points(pieces, PointType::Step);
        for (qsizetype i = 0; i < a.size(); ++i) QCOMPARE(a[i].values, b[i].values);

        // Resume from step 20: the step-30 and -40 checkpoints are gone, steps 21..40 repeat.
        QVERIFY(QDir(dir + QStringLiteral("/run/checkpoints/step-00000030")).removeRecursively());
        QVERIFY(QDir(dir + QStringLiteral("/run/checkpoints/step-00000040")).removeRecursively());
        err = train({QStringLiteral("train"), QStringLiteral("--config"), config,
                     QStringLiteral("--resume")});
        QVERIFY2(err.isEmpty(), qPrintable(err));
        r = s.ingestFile(whole, metrics);
        QCOMPARE(r.malformed, qint64(0));
        losses = fileStepLosses(metrics, &stepRecords);
        QCOMPARE(stepRecords, 60);
        QCOMPARE(losses.size(), 40);
        QCOMPARE(s.pointCount(whole, PointType::Step), qint64(losses.size()));
        for (const auto& p : s.points(whole, PointType::Step))
            QCOMPARE(p.value(MetricColumn::Loss), std::optional<double>(losses.value(p.step)));
        QVERIFY(eventKeys(s, whole).contains("resume@20"));
    }
};

QTEST_GUILESS_MAIN(TestIngest)
#include "tst_ingest.moc"
