// Run configs as the workbench handles them before a launch (app/launch/run_config.h): reading
// with clear errors, paths resolved against the config's folder, run folder names from any name;
// and the run folder's status as the workbench reads it back (app/launch/run_files.h).

#include "launch/launcher.h"
#include "launch/run_config.h"
#include "launch/run_files.h"
#include "test_runs.h"

#include <QJsonArray>
#include <QTest>

using namespace bcd;

namespace {

QString writeText(const QString& file, const QByteArray& text) {
    QFile f(file);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) return {};
    f.write(text);
    return file;
}

// The message of the LaunchError that fn throws; empty (and a failure) when it throws none.
template <class Fn> QString launchError(Fn fn, bool* badInput) {
    try {
        fn();
    } catch (const launch::LaunchError& e) {
        *badInput = e.badInput();
        return QString::fromUtf8(e.what());
    }
    return {};
}

} // namespace

class TestRunConfig : public QObject {
    Q_OBJECT

private slots:
    void slugOfAnyName_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("slug");
        QTest::newRow("plain") << QStringLiteral("bcd-tiny_1.5") << QStringLiteral("bcd-tiny_1.5");
        QTest::newRow("spaces") << QStringLiteral("my  first run")
                                << QStringLiteral("my-first-run");
        QTest::newRow("hostile")
            << QStringLiteral("x'; touch /tmp/PWNED_$RANDOM; echo '$(touch MARK)")
            << QStringLiteral("x-touch-tmp-PWNED_-RANDOM-echo-touch-MAR"); // 40 characters
        QTest::newRow("backticks and quotes")
            << QStringLiteral("`id` \"a\" 'b'") << QStringLiteral("id-a-b");
        QTest::newRow("parent folders")
            << QStringLiteral("../../etc/passwd") << QStringLiteral("etc-passwd");
        QTest::newRow("hidden") << QStringLiteral(".bashrc") << QStringLiteral("bashrc");
        QTest::newRow("option-like") << QStringLiteral("--resume") << QStringLiteral("resume");
        QTest::newRow("empty") << QString() << QStringLiteral("run");
        QTest::newRow("dots only") << QStringLiteral("...") << QStringLiteral("run");
        QTest::newRow("not ASCII") << QStringLiteral("実験") << QStringLiteral("run");
        QTest::newRow("newline") << QStringLiteral("a\nb") << QStringLiteral("a-b");
        QTest::newRow("long") << QString(100, 'a') << QString(40, 'a');
    }

    void slugOfAnyName() {
        QFETCH(QString, name);
        QFETCH(QString, slug);
        const QString s = launch::runSlug(name);
        QCOMPARE(s, slug);
        // Whatever the name, the slug is one safe, visible path component.
        static const QRegularExpression safe(QStringLiteral("^[A-Za-z0-9_][A-Za-z0-9._-]{0,39}$"));
        QVERIFY2(safe.match(s).hasMatch(), qPrintable(s));
        QCOMPARE(launch::runFolderName(42, name), QStringLiteral("42-") + slug);
    }

    void loadValidConfig() {
        const QString dir = test::freshDir(QStringLiteral("config-valid"));
        const QString f =
            writeText(dir + QStringLiteral("/run.json"),
                      R"({"model":{"path":"m"},"data":{"train":"t.txt"},"train":{"steps":25}})");
        const QJsonObject c = launch::loadRunConfig(f);
        QCOMPARE(launch::configValue(c, QStringLiteral("model.path")).toString(),
                 QStringLiteral("m"));
        QCOMPARE(launch::configSteps(c), qint64(25));
    }

    void loadRefusesBadConfigs_data() {
        QTest::addColumn<QByteArray>("text"); // empty: no file
        QTest::addColumn<QString>("says");
        QTest::newRow("missing file") << QByteArray() << QStringLiteral("cannot read");
        QTest::newRow("bad JSON") << QByteArray(R"({"model": {"path": "m"},)")
                                  << QStringLiteral("not valid JSON");
        QTest::newRow("an array") << QByteArray(R"([1, 2])")
                                  << QStringLiteral("expected a JSON object");
        QTest::newRow("no model.path")
            << QByteArray(R"({"data":{"train":"t"}})") << QStringLiteral("model.path");
        QTest::newRow("model.path not a string")
            << QByteArray(R"({"model":{"path":3},"data":{"train":"t"}})")
            << QStringLiteral("model.path");
        QTest::newRow("no data.train")
            << QByteArray(R"({"model":{"path":"m"},"data":{}})") << QStringLiteral("data.train");
    }

    void loadRefusesBadConfigs() {
        QFETCH(QByteArray, text);
        QFETCH(QString, says);
        const QString dir = test::freshDir(QStringLiteral("config-bad"));
        const QString file = dir + QStringLiteral("/run.json");
        if (!text.isEmpty()) QVERIFY(!writeText(file, text).isEmpty());
        bool bad = false;
        const QString message = launchError([&] { launch::loadRunConfig(file); }, &bad);
        QVERIFY2(!message.isEmpty(), "no error");
        QVERIFY(bad);
        QVERIFY2(message.contains(file), qPrintable(message)); // names the file
        QVERIFY2(message.contains(says), qPrintable(message));
        QVERIFY2(!message.contains('\n'), qPrintable(message));
    }

    void resolvePaths() {
        const QJsonObject in{
            {"model", QJsonObject{{"path", "models/tiny"}}},
            {"data", QJsonObject{{"train", "../data/train.txt"},
                                 {"val", "/abs/val.txt"},
                                 {"tokenizer", "byte"}}},
            {"output", QJsonObject{{"dir", "runs/x"}}},
            {"train", QJsonObject{{"steps", 3}}},
        };
        const QJsonObject out = launch::resolveConfigPaths(in, QStringLiteral("/home/u/cfg"));
        QCOMPARE(launch::configValue(out, QStringLiteral("model.path")).toString(),
                 QStringLiteral("/home/u/cfg/models/tiny"));
        QCOMPARE(launch::configValue(out, QStringLiteral("data.train")).toString(),
                 QStringLiteral("/home/u/data/train.txt"));
        QCOMPARE(launch::configValue(out, QStringLiteral("data.val")).toString(),
                 QStringLiteral("/abs/val.txt"));
        QCOMPARE(launch::configValue(out, QStringLiteral("data.tokenizer")).toString(),
                 QStringLiteral("byte"));
        // output.dir is the launcher's; everything else is untouched.
        QCOMPARE(launch::configValue(out, QStringLiteral("output.dir")).toString(),
                 QStringLiteral("runs/x"));
        QCOMPARE(launch::configSteps(out), qint64(3));

        QJsonObject tok = launch::withConfigValue(in, QStringLiteral("data.tokenizer"),
                                                  QStringLiteral("tok/tokenizer.json"));
        tok = launch::resolveConfigPaths(tok, QStringLiteral("/c"));
        QCOMPARE(launch::configValue(tok, QStringLiteral("data.tokenizer")).toString(),
                 QStringLiteral("/c/tok/tokenizer.json"));
        // Keys that are absent stay absent.
        const QJsonObject bare = launch::resolveConfigPaths(
            QJsonObject{{"model", QJsonObject{{"path", "m"}}}}, QStringLiteral("/c"));
        QVERIFY(launch::configValue(bare, QStringLiteral("data.val")).isUndefined());
        QVERIFY(!bare.contains(QStringLiteral("data")));
    }

    void dottedKeys() {
        QJsonObject c{{"optim", QJsonObject{{"lr", 0.1}, {"name", "sgd"}}}};
        c = launch::withConfigValue(c, QStringLiteral("optim.lr"), 0.5);
        c = launch::withConfigValue(c, QStringLiteral("output.dir"), QStringLiteral("/r"));
        QCOMPARE(launch::configValue(c, QStringLiteral("optim.lr")).toDouble(), 0.5);
        QCOMPARE(launch::configValue(c, QStringLiteral("optim.name")).toString(),
                 QStringLiteral("sgd")); // sibling kept
        QCOMPARE(launch::configValue(c, QStringLiteral("output.dir")).toString(),
                 QStringLiteral("/r"));
        QVERIFY(launch::configValue(c, QStringLiteral("optim.lr.x")).isUndefined());
        QVERIFY(launch::configValue(c, QStringLiteral("nothing.here")).isUndefined());
        QCOMPARE(launch::configSteps(QJsonObject{}), qint64(1000)); // the engine's default
    }

    void statusFile() {
        const launch::StatusFile s = launch::parseStatusFile(
            R"({"state":"running","pid":77,"step":5,"steps":10,"message":"","updated":1.5})");
        QVERIFY(s.valid);
        QCOMPARE(s.state, QStringLiteral("running"));
        QCOMPARE(s.pid, qint64(77));
        QCOMPARE(s.step, qint64(5));
        QCOMPARE(s.steps, qint64(10));
        QVERIFY(!launch::parseStatusFile("{\"state\":\"runn").valid); // torn
        QVERIFY(!launch::parseStatusFile(R"({"state":"exploded"})").valid);
    }

    void finalStates() {
        using launch::finalState;
        const QByteArray cancelled =
            R"({"state":"cancelled","step":9,"message":"cancelled by signal"})";
        const QByteArray running = R"({"state":"running","step":9})";
        const QByteArray err = "step 1\nbcd-train: error: run.json: data.train: no file x\n\n";
        // The engine's final word wins.
        auto f = finalState(cancelled, err, false);
        QCOMPARE(f.status, QStringLiteral("cancelled"));
        QCOMPARE(f.message, QStringLiteral("cancelled by signal"));
        QCOMPARE(finalState(R"({"state":"finished"})", std::nullopt, true).status,
                 QStringLiteral("finished"));
        // Gone while "running": failed, with the engine's last stderr line.
        f = finalState(running, err, false);
        QCOMPARE(f.status, QStringLiteral("failed"));
        QCOMPARE(f.message, QStringLiteral("bcd-train: error: run.json: data.train: no file x"));
        f = finalState(std::nullopt, std::nullopt, false);
        QCOMPARE(f.status, QStringLiteral("failed"));
        QVERIFY(f.message.contains(QStringLiteral("without writing a final status")));
        // Killed by the workbench after the grace period, or by its SIGTERM before any status.
        f = finalState(running, err, true);
        QCOMPARE(f.status, QStringLiteral("cancelled"));
        QVERIFY(f.message.contains(QStringLiteral("SIGKILL")));
        f = finalState(std::nullopt, QByteArray(), false, true);
        QCOMPARE(f.status, QStringLiteral("cancelled"));
        QVERIFY(f.message.contains(QStringLiteral("SIGTERM")));
        QCOMPARE(launch::lastLine("a\n  b  \n\n \n"), QStringLiteral("b"));
        QCOMPARE(launch::lastLine(""), QString());
    }
};

QTEST_GUILESS_MAIN(TestRunConfig)
#include "tst_run_config.moc"
