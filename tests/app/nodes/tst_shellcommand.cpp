// Remote command lines from quoted words (app/nodes/shell_command.h): hostile words reach the
// program as one argument each through a real `sh -c` (dash) and `bash -c`, and run nothing.

#include "nodes/shell_command.h"
#include "test_runs.h"

#include <QFile>
#include <QProcess>
#include <QStandardPaths>
#include <QTest>

using bcd::nodes::ShellCommand;
using bcd::nodes::shellQuote;

namespace {

// The words a run name, a path or a config value might hold; MARKER would appear if any ran.
QStringList hostileWords() {
    return {
        QStringLiteral("plain"),
        QString(),
        QStringLiteral(" "),
        QStringLiteral("two words"),
        QStringLiteral("  leading and trailing  "),
        QStringLiteral("it's"),
        QStringLiteral("'"),
        QStringLiteral("''"),
        QStringLiteral("'\\''"),
        QStringLiteral("\""),
        QStringLiteral("say \"hi\""),
        QStringLiteral("\\"),
        QStringLiteral("back\\slash\\n"),
        QStringLiteral("$(touch MARKER)"),
        QStringLiteral("`touch MARKER`"),
        QStringLiteral("; touch MARKER"),
        QStringLiteral("&& touch MARKER"),
        QStringLiteral("| touch MARKER"),
        QStringLiteral("> MARKER"),
        QStringLiteral("x; touch MARKER #"),
        QStringLiteral("'; touch MARKER; echo '"),
        QStringLiteral("\"; touch MARKER; echo \""),
        QStringLiteral("$HOME"),
        QStringLiteral("${HOME}"),
        QStringLiteral("$((6*7))"),
        QStringLiteral("$'\\x41'"),
        QStringLiteral("~"),
        QStringLiteral("~root"),
        QStringLiteral("*"),
        QStringLiteral("?"),
        QStringLiteral("[a-z]*"),
        QStringLiteral("{a,b}"),
        QStringLiteral("!"),
        QStringLiteral("!!"),
        QStringLiteral("#not a comment"),
        QStringLiteral("a=b"),
        QStringLiteral("=x"),
        QStringLiteral("-n"),
        QStringLiteral("--"),
        QStringLiteral("%s%d"),
        QStringLiteral("line one\nline two"),
        QStringLiteral("\n"),
        QStringLiteral("\ttab"),
        QStringLiteral("\r\n"),
        QStringLiteral("bell\a and escape \x1b[31m"),
        QStringLiteral("ünïcødé ✓ 日本語 🚀"),
        QStringLiteral("/path/with spaces/and 'quotes'/run.json"),
        QStringLiteral("run-2024-06-11_a.b,c:d=e+f@g%h"),
    };
}

QString findShell(const QString& name) {
    return QStandardPaths::findExecutable(name);
}

struct ShellRun {
    int code = -1;
    QByteArray out, err;
};

ShellRun runShell(const QString& shell, const QString& line, const QString& workDir) {
    QProcess p;
    p.setWorkingDirectory(workDir);
    p.start(shell, {QStringLiteral("-c"), line});
    ShellRun r;
    if (!p.waitForFinished(10000)) return r;
    r.code = p.exitCode();
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

// The arguments printf received, one per NUL.
QStringList splitNul(const QByteArray& out) {
    QStringList words;
    qsizetype start = 0;
    for (qsizetype i = 0; i < out.size(); ++i)
        if (out[i] == '\0') {
            words << QString::fromUtf8(out.mid(start, i - start));
            start = i + 1;
        }
    return words;
}

} // namespace

class TestShellCommand : public QObject {
    Q_OBJECT
private:
    QString work_;

private slots:
    void initTestCase() {
        work_ = bcd::test::freshDir(QStringLiteral("shellcommand"));
        // Files a glob would expand to, were it unquoted.
        for (const char* name : {"a", "b", "zz"}) {
            QFile f(work_ + '/' + QLatin1String(name));
            QVERIFY(f.open(QIODevice::WriteOnly));
        }
    }

    void roundTrip_data() {
        QTest::addColumn<QString>("shell");
        QTest::newRow("sh") << QStringLiteral("sh");
        QTest::newRow("bash") << QStringLiteral("bash");
    }
    void roundTrip() {
        QFETCH(QString, shell);
        const QString exe = findShell(shell);
        if (exe.isEmpty()) QSKIP(qPrintable(shell + QStringLiteral(" is not installed")));
        const QStringList words = hostileWords();
        const QString line =
            ShellCommand{QStringLiteral("printf"), QStringLiteral("%s\\0")}.args(words).text();
        const ShellRun r = runShell(exe, line, work_);
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(splitNul(r.out), words);
        QVERIFY2(!QFile::exists(work_ + QStringLiteral("/MARKER")), "a quoted word ran a command");
    }

    // One word at a time too: each alone is the whole argument list.
    void eachWordAlone() {
        for (const QString& w : hostileWords()) {
            const ShellRun r = runShell(
                QStringLiteral("/bin/sh"),
                ShellCommand{QStringLiteral("printf"), QStringLiteral("%s\\0"), w}.text(), work_);
            QCOMPARE(splitNul(r.out), QStringList{w});
        }
        QVERIFY(!QFile::exists(work_ + QStringLiteral("/MARKER")));
    }

    void safeWordsStayReadable() {
        QCOMPARE(shellQuote(QStringLiteral("bcd-train")), QStringLiteral("bcd-train"));
        QCOMPARE(shellQuote(QStringLiteral("/opt/bcd/bin/bcd-train")),
                 QStringLiteral("/opt/bcd/bin/bcd-train"));
        QCOMPARE(shellQuote(QStringLiteral("--config=run.json")),
                 QStringLiteral("--config=run.json"));
        QCOMPARE(shellQuote(QStringLiteral("42")), QStringLiteral("42"));
        QCOMPARE(shellQuote(QString()), QStringLiteral("''"));
        QCOMPARE(shellQuote(QStringLiteral("it's")), QStringLiteral("'it'\\''s'"));
        QCOMPARE(shellQuote(QStringLiteral("=x")), QStringLiteral("'=x'"));
        QCOMPARE(shellQuote(QStringLiteral("~")), QStringLiteral("'~'"));
        QCOMPARE(shellQuote(QStringLiteral("ü")), QStringLiteral("'ü'"));
    }

    void nulIsRefused() {
        const QString withNul = QStringLiteral("a") + QChar(0) + QStringLiteral("b");
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, shellQuote(withNul));
        ShellCommand c{QStringLiteral("echo")};
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, c.arg(withNul));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, c.redirect(">", withNul));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 (ShellCommand{QStringLiteral("echo"), QString(QChar(0))}));
    }

    // Syntax between quoted words: redirections, && and pipes act; the words stay words.
    void syntaxAndRedirects() {
        const QString file = QStringLiteral("out file $(touch MARKER) 'x'.txt");
        ShellCommand c;
        c.arg(QStringLiteral("printf"))
            .arg(QStringLiteral("%s|"))
            .args({QStringLiteral("a; b"), QStringLiteral("*")});
        c.redirect(">", file)
            .op("&&")
            .arg(QStringLiteral("printf"))
            .arg(QStringLiteral("done %s"))
            .arg(7);
        ShellCommand upper;
        upper.arg(QStringLiteral("tr")).arg(QStringLiteral("a-z")).arg(QStringLiteral("A-Z"));
        c.op("|").append(upper).append(ShellCommand());
        const ShellRun r = runShell(QStringLiteral("/bin/sh"), c.text(), work_);
        QCOMPARE(r.code, 0);
        QCOMPARE(r.out, QByteArray("DONE 7"));
        QFile f(work_ + '/' + file);
        QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(c.text()));
        QCOMPARE(f.readAll(), QByteArray("a; b|*|"));
        QVERIFY(!QFile::exists(work_ + QStringLiteral("/MARKER")));
        // stderr redirect, appended commands joined by one space.
        ShellCommand e;
        e.arg(QStringLiteral("ls"))
            .arg(QStringLiteral("no such file"))
            .redirect("2>", QStringLiteral("err log"));
        QCOMPARE(e.text(), QStringLiteral("ls 'no such file' 2>'err log'"));
        QVERIFY(runShell(QStringLiteral("/bin/sh"), e.text(), work_).code != 0);
        QVERIFY(QFileInfo(work_ + QStringLiteral("/err log")).size() > 0);
    }
};

QTEST_APPLESS_MAIN(TestShellCommand)
#include "tst_shellcommand.moc"
