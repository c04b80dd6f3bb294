#pragma once
// Runs for the chart pages' tests: one trained by the real engine (tiny preset, validation every 20
// steps, a block switch every 25) and hand-written metrics.jsonl files of any length, stored with
// RunStore::createRun + ingestFile like the workbench does.

#include "store/store_service.h"
#include "test_runs.h"

#include <QJsonArray>
#include <QTextStream>

namespace bcd::test {

struct StoredRun {
    qint64 id = 0;
    QString dir; // the run folder (metrics.jsonl, train.log)
    QJsonObject config;
};

// Trains `steps` steps with the engine into DIR/run; the config is returned (empty on failure).
inline QJsonObject trainTinyRun(const QString& dir, int steps) {
    const QString model = tinyModel(dir);
    if (model.isEmpty()) return {};
    const QString src = sourceDir() + QStringLiteral("/resources/sample/");
    QJsonObject cfg{
        {"model", QJsonObject{{"path", model}}},
        {"data", QJsonObject{{"train", src + "shakespeare-train.txt"},
                             {"val", src + "shakespeare-val.txt"},
                             {"seq_len", 32}}},
        {"optim", QJsonObject{{"lr", 1e-3}}},
        {"train", QJsonObject{{"steps", steps}, {"batch_size", 2}}},
        {"bcd", QJsonObject{{"switch_every", 25}}},
        {"device", QJsonObject{{"threads", 1}}},
        {"output", QJsonObject{{"dir", dir + "/run"}, {"eval_every", 20}}},
    };
    QFile f(dir + "/run.json");
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) return {};
    f.write(QJsonDocument(cfg).toJson());
    f.close();
    QProcess p;
    p.start(trainExe(), {QStringLiteral("train"), QStringLiteral("--config"), f.fileName()});
    if (!p.waitForFinished(120000) || p.exitCode() != 0) return {};
    return cfg;
}

// A metrics.jsonl of `steps` steps written by hand into DIR: loss = 5 - step/steps + a small
// wiggle, 1000 tokens a step, 0.01 s a step, an eval every evalEvery steps, a switch every
// switchEvery steps; its start record says `worldSize` ranks and, with more than one, every step
// all-reduced 4096 bytes (comm_bytes).
inline void writeMetrics(const QString& dir, int steps, int evalEvery, int switchEvery,
                         double lossOffset = 0, int worldSize = 1) {
    QDir().mkpath(dir);
    QFile f(dir + "/metrics.jsonl");
    (void)f.open(QIODevice::WriteOnly | QIODevice::Truncate);
    QTextStream out(&f);
    out << QStringLiteral(
               R"({"t":"start","time":1,"device":"cpu","world_size":%1,"params":10,"blocks":[]})")
               .arg(worldSize)
        << '\n';
    for (int s = 1; s <= steps; ++s) {
        const double loss = lossOffset + 5.0 - double(s) / steps + 0.05 * ((s * 7919) % 13) / 13.0;
        out << QStringLiteral(
                   R"({"t":"step","step":%1,"tokens":%2,"loss":%3,"lr":0.001,"block":0,"grad_norm":1,"step_s":0.01,"tok_s":%4,"mem_bytes":%5,"elapsed_s":%6%7})")
                   .arg(s)
                   .arg(qint64(s) * 1000)
                   .arg(loss, 0, 'g', 12)
                   .arg(100000 - s)
                   .arg(1000000 + s)
                   .arg(s * 0.01, 0, 'g', 12)
                   .arg(worldSize > 1 ? QStringLiteral(",\"comm_bytes\":4096") : QString())
            << '\n';
        if (evalEvery > 0 && s % evalEvery == 0)
            out << QStringLiteral(R"({"t":"eval","step":%1,"val_loss":%2})")
                       .arg(s)
                       .arg(lossOffset + 5.5 - double(s) / steps, 0, 'g', 12)
                << '\n';
        if (switchEvery > 0 && s % switchEvery == 0)
            out << QStringLiteral(R"({"t":"switch","step":%1,"from":0,"to":1})").arg(s) << '\n';
    }
    out << QStringLiteral(R"({"t":"end","status":"finished","step":%1,"message":""})").arg(steps)
        << '\n';
}

// Stores a run whose folder is `runDir` and ingests its metrics.jsonl.
inline StoredRun storeRun(store::StoreService& svc, const QString& name, const QString& runDir,
                          const QJsonObject& config, std::optional<double> price,
                          std::optional<qint64> stepsTotal) {
    StoredRun r;
    r.dir = runDir;
    r.config = config;
    r.id = svc.callBlocking([&](store::RunStore& s) {
        store::NewRun n;
        n.name = name;
        n.config = config;
        n.node = QStringLiteral("local");
        n.pricePerHour = price;
        n.stepsTotal = stepsTotal;
        const qint64 id = s.createRun(n);
        s.setRunLocation(id, runDir, 0);
        s.ingestFile(id, runDir + "/metrics.jsonl");
        return id;
    });
    return r;
}

// step → value of one field of the step (or eval) records of a metrics.jsonl.
inline QMap<qint64, double> fileColumn(const QString& metricsFile, const QString& type,
                                       const QString& field) {
    QMap<qint64, double> out;
    QFile f(metricsFile);
    if (!f.open(QIODevice::ReadOnly)) return out;
    for (const QByteArray& line : f.readAll().split('\n')) {
        const QJsonObject o = QJsonDocument::fromJson(line).object();
        if (o.value(QLatin1String("t")).toString() == type && o.contains(field))
            out[o.value(QLatin1String("step")).toInteger()] = o.value(field).toDouble();
    }
    return out;
}

} // namespace bcd::test
