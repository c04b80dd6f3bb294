// nodes::EngineVersionCheck: `bcd-train --version` answered by a signal while the caller's event
// loop keeps turning: the real engine, a missing program, one that is not the engine, and one that
// never answers (killed at the time limit). Its answers agree with the blocking localEngineVersion.

#include "nodes/engine_version_check.h"
#include "nodes/local_probe.h"
#include "test_runs.h"

#include <QFile>
#include <QSignalSpy>
#include <QtTest>

using bcd::nodes::EngineVersionCheck;

namespace {

QString script(const QString& name, const QByteArray& body) {
    const QString path = bcd::test::freshDir(QStringLiteral("engine-version-") + name) +
                         QStringLiteral("/bcd-train");
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly)) return {};
    f.write("#!/bin/sh\n" + body);
    f.close();
    f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    return path;
}

} // namespace

class TestEngineVersionCheck : public QObject {
    Q_OBJECT
private slots:
    void theBuiltEngine() {
        EngineVersionCheck check;
        QSignalSpy done(&check, &EngineVersionCheck::finished);
        check.start(bcd::test::trainExe());
        QVERIFY(!check.done()); // start() returns before the engine answers
        QVERIFY(done.wait(30000));
        QCOMPARE(done.size(), 1);
        QCOMPARE(done.first().at(0).toString(), QStringLiteral(BCD_PROJECT_VERSION));
        QVERIFY(check.done());
        QCOMPARE(check.version(), bcd::nodes::localEngineVersion(bcd::test::trainExe()));
        QVERIFY(check.note().isEmpty());
    }

    void missingProgram() {
        const QString missing =
            bcd::test::freshDir(QStringLiteral("engine-version-missing")) + QStringLiteral("/nope");
        EngineVersionCheck check;
        QSignalSpy done(&check, &EngineVersionCheck::finished);
        check.start(missing);
        QVERIFY(done.wait(10000));
        QVERIFY(check.version().isEmpty());
        QString blockingNote;
        bcd::nodes::localEngineVersion(missing, &blockingNote);
        QVERIFY2(check.note().startsWith(missing + QStringLiteral(" does not start: ")),
                 qPrintable(check.note()));
        QCOMPARE(check.note(), blockingNote);
    }

    void notAnEngine() {
        const QString fake = script(QStringLiteral("other"), "echo 'usage: else'; exit 3\n");
        EngineVersionCheck check;
        QSignalSpy done(&check, &EngineVersionCheck::finished);
        check.start(fake);
        QVERIFY(done.wait(10000));
        QCOMPARE(check.note(), fake + QStringLiteral(" --version printed no version (exit 3)"));
        QString blockingNote;
        bcd::nodes::localEngineVersion(fake, &blockingNote);
        QCOMPARE(check.note(), blockingNote);
    }

    // An engine that hangs is killed at the limit and reported.
    void neverAnswers() {
        const QString hang = script(QStringLiteral("hang"), "exec sleep 60\n");
        EngineVersionCheck check;
        QSignalSpy done(&check, &EngineVersionCheck::finished);
        check.start(hang, 300);
        QVERIFY(done.wait(10000));
        QVERIFY(check.version().isEmpty());
        QCOMPARE(check.note(), hang + QStringLiteral(" --version did not finish within 0.3 s"));
    }
};

QTEST_GUILESS_MAIN(TestEngineVersionCheck)
#include "tst_engine_version_check.moc"
