#pragma once
// Helpers of the workbench tests that train for real: the built engine and workbench, a tiny
// model, run configs on the bundled Shakespeare text, and metrics.jsonl as the engine wrote it.
// BCD_TRAIN_EXE, BCD_WORKBENCH_EXE, BCD_PLUGIN_DIR and BCD_SOURCE_DIR come from CMake.

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMap>
#include <QProcess>
#include <QString>

namespace bcd::test {

inline QString trainExe() {
    return QStringLiteral(BCD_TRAIN_EXE);
}
inline QString workbenchExe() {
    return QStringLiteral(BCD_WORKBENCH_EXE);
}
inline QString pluginDir() {
    return QStringLiteral(BCD_PLUGIN_DIR);
}
inline QString sourceDir() {
    return QStringLiteral(BCD_SOURCE_DIR);
}

// A fresh, empty folder under the test's temporary tree.
inline QString freshDir(const QString& name) {
    const QString d = QStringLiteral(BCD_TEST_TMP) + '/' + name;
    QDir(d).removeRecursively();
    QDir().mkpath(d);
    return d;
}

// The tiny preset (125k parameters, byte vocabulary) in DIR/model; empty on failure.
inline QString tinyModel(const QString& dir) {
    const QString out = dir + QStringLiteral("/model");
    if (QFile::exists(out + QStringLiteral("/config.json"))) return out;
    QProcess p;
    p.start(trainExe(), {QStringLiteral("init"), QStringLiteral("--preset"), QStringLiteral("tiny"),
                         QStringLiteral("--out"), out});
    if (!p.waitForFinished(120000) || p.exitCode() != 0) return {};
    return out;
}

// A run config: bytes of the Shakespeare sample, seq_len 32, batch 2, one thread (milliseconds
// per step); a checkpoint every checkpointEvery steps (0: none).
inline QString writeConfig(const QString& file, const QString& model, int steps,
                           int checkpointEvery = 0, double lr = 1e-3,
                           const QString& extraSection = {}, const QJsonObject& extra = {}) {
    QJsonObject cfg{
        {"model", QJsonObject{{"path", model}}},
        {"data",
         QJsonObject{
             {"train", sourceDir() + QStringLiteral("/resources/sample/shakespeare-train.txt")},
             {"seq_len", 32}}},
        {"optim", QJsonObject{{"lr", lr}}},
        {"train", QJsonObject{{"steps", steps}, {"batch_size", 2}}},
        {"bcd", QJsonObject{{"switch_every", 25}}},
        {"device", QJsonObject{{"threads", 1}}},
        {"output",
         QJsonObject{{"dir", QStringLiteral("unused")}, {"checkpoint_every", checkpointEvery}}},
    };
    if (!extraSection.isEmpty()) cfg[extraSection] = extra;
    QFile f(file);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) return {};
    f.write(QJsonDocument(cfg).toJson());
    return file;
}

// step → loss of a metrics.jsonl, the later record winning (as the store keys them).
inline QMap<qint64, double> fileStepLosses(const QString& metricsFile, int* stepRecords = nullptr) {
    QMap<qint64, double> out;
    QFile f(metricsFile);
    if (!f.open(QIODevice::ReadOnly)) return out;
    int n = 0;
    for (const QByteArray& line : f.readAll().split('\n')) {
        const QJsonObject o = QJsonDocument::fromJson(line).object();
        if (o.value(QLatin1String("t")).toString() != QLatin1String("step")) continue;
        out[o.value(QLatin1String("step")).toInteger()] = o.value(QLatin1String("loss")).toDouble();
        ++n;
    }
    if (stepRecords) *stepRecords = n;
    return out;
}

struct CliResult {
    int code = -1;
    QByteArray out, err;
    QString lastLine() const { return QString::fromUtf8(out).trimmed().section('\n', -1); }
};

// Runs bcd-workbench to completion with the test's plugins and engine.
inline CliResult runCli(const QStringList& args, int timeoutMs = 300000) {
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("BCD_TRAIN"), trainExe());
    env.insert(QStringLiteral("BCD_PLUGIN_PATH"), pluginDir());
    p.setProcessEnvironment(env);
    p.start(workbenchExe(), args);
    CliResult r;
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished(5000);
        r.err = "timed out";
        return r;
    }
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

} // namespace bcd::test
