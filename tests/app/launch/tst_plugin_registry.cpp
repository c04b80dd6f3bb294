// PluginRegistry (app/launch/plugin_registry.h): the built launcher plugins load from their
// folder; incompatible ones are skipped by name, with the reason, before their code is loaded.

#include "launch/plugin_registry.h"
#include "launch/run_sampler.h"
#include "test_runs.h"

#include <QSignalSpy>
#include <QTest>

using namespace bcd;

namespace {

QString testPluginDir() {
    return QStringLiteral(BCD_TEST_PLUGIN_DIR);
}

// Whether a shared object is mapped into this process (its code was loaded).
bool mapped(const QString& file) {
    QFile maps(QStringLiteral("/proc/self/maps"));
    if (!maps.open(QIODevice::ReadOnly)) return false;
    return maps.readAll().contains(QFileInfo(file).canonicalFilePath().toUtf8());
}

const launch::PluginProblem* problemNamed(const launch::PluginRegistry& r, const QString& name) {
    for (const auto& p : r.problems())
        if (p.name == name) return &p;
    return nullptr;
}

} // namespace

class TestPluginRegistry : public QObject {
    Q_OBJECT

private slots:
    void loadsTheBuiltLaunchers() {
        launch::PluginRegistry r;
        r.load({test::pluginDir()});
        QVERIFY2(r.problems().isEmpty(),
                 r.problems().isEmpty() ? "" : qPrintable(r.problems().front().text()));
        QCOMPARE(r.loaded().size(), 3);
        for (const char* kind : {"local", "ssh", "slurm"}) {
            launch::LauncherPlugin* p = r.launcher(QLatin1String(kind));
            QVERIFY2(p, kind);
            QCOMPARE(p->nodeKind(), QLatin1String(kind));
        }
        for (const auto& info : r.loaded()) {
            QCOMPARE(info.name, info.nodeKind);
            // All three list and sample checkpoints (2.3).
            QCOMPARE(info.compatVersion, QStringLiteral("2.3"));
            QCOMPARE(info.compatMinor, 3);
            QVERIFY2(r.runFilesSupport(info.nodeKind).isEmpty(),
                     qPrintable(r.runFilesSupport(info.nodeKind)));
            QVERIFY(!info.version.isEmpty());
            QVERIFY(info.file.startsWith(QFileInfo(test::pluginDir()).absoluteFilePath()));
        }
        QVERIFY(!r.launcher(QStringLiteral("kubernetes")));
        const QString why = r.missingReason(QStringLiteral("kubernetes"));
        QVERIFY2(why.contains(QStringLiteral("'kubernetes'")) &&
                     why.contains(QFileInfo(test::pluginDir()).absoluteFilePath()),
                 qPrintable(why));
    }

    void searchPathFromEnvironment() {
        qputenv("BCD_PLUGIN_PATH", QByteArray("/nowhere/a:") + test::pluginDir().toLocal8Bit());
        const QStringList paths = launch::PluginRegistry::defaultSearchPaths();
        qunsetenv("BCD_PLUGIN_PATH");
        QCOMPARE(paths.value(0), QStringLiteral("/nowhere/a"));
        QCOMPARE(paths.value(1), test::pluginDir());
        // Then the install layout next to the executable.
        QVERIFY(paths.value(2).endsWith(QStringLiteral("/lib/bcd-workbench/plugins")));
        launch::PluginRegistry r;
        r.load(paths);
        QVERIFY(r.launcher(QStringLiteral("ssh")));
        QVERIFY(r.searched().contains(QStringLiteral("/nowhere/a")));
    }

    void compatibleVersions() {
        QVERIFY(launch::PluginRegistry::compatible(QStringLiteral("2.0"))); // an older minor
        QVERIFY(launch::PluginRegistry::compatible(QStringLiteral("2.1")));
        QVERIFY(launch::PluginRegistry::compatible(QStringLiteral("2.2")));
        QVERIFY(launch::PluginRegistry::compatible(QStringLiteral("2.3")));
        QVERIFY(!launch::PluginRegistry::compatible(QStringLiteral("2.4"))); // a newer minor
        QVERIFY(!launch::PluginRegistry::compatible(QStringLiteral("3.0"))); // another major
        QVERIFY(
            !launch::PluginRegistry::compatible(QStringLiteral("1.0"))); // before errors as values
        QVERIFY(!launch::PluginRegistry::compatible(QStringLiteral("2")));
        QVERIFY(!launch::PluginRegistry::compatible(QStringLiteral("one.zero")));
        QVERIFY(!launch::PluginRegistry::compatible(QString()));
    }

    // The test plugins: a newer minor, an older major, a second "local" launcher, and a file that
    // is no plugin at all. The real plugins are found first, so they keep their node kinds.
    void skipsIncompatiblePluginsByName() {
        const QString junkDir = test::freshDir(QStringLiteral("junk-plugins"));
        {
            QFile junk(junkDir + QStringLiteral("/libnot_a_plugin.so"));
            QVERIFY(junk.open(QIODevice::WriteOnly));
            junk.write("this is not an ELF file");
        }
        launch::PluginRegistry r;
        r.load({test::pluginDir(), testPluginDir(), junkDir});

        // The 2.2 plugin loads (an older minor is compatible); the other test plugins do not.
        QCOMPARE(r.loaded().size(), 4);
        QVERIFY(r.launcher(QStringLiteral("local")));
        QVERIFY(r.launcher(QStringLiteral("ssh")));
        QVERIFY(r.launcher(QStringLiteral("oldminor")));
        QVERIFY(!r.launcher(QStringLiteral("future")));
        QVERIFY(!r.launcher(QStringLiteral("old")));
        for (const auto& info : r.loaded())
            QVERIFY(info.file.startsWith(QFileInfo(test::pluginDir()).absoluteFilePath()) ||
                    info.nodeKind == QLatin1String("oldminor"));

        const auto* future = problemNamed(r, QStringLiteral("future-launcher"));
        QVERIFY(future);
        QVERIFY2(future->reason.contains(QStringLiteral("incompatible")) &&
                     future->reason.contains(QStringLiteral("2.99")) &&
                     future->reason.contains(QStringLiteral("2.3")),
                 qPrintable(future->text()));
        // Skipped on its metadata alone: its code never came into the process.
        QVERIFY2(!mapped(future->file), qPrintable(future->file));

        const auto* old = problemNamed(r, QStringLiteral("old-major-launcher"));
        QVERIFY(old);
        QVERIFY2(old->reason.contains(QStringLiteral("incompatible")), qPrintable(old->text()));
        QVERIFY(!mapped(old->file));

        const auto* dup = problemNamed(r, QStringLiteral("second-local"));
        QVERIFY(dup);
        QVERIFY2(dup->reason.contains(QStringLiteral("already handles 'local'")),
                 qPrintable(dup->text()));
        QVERIFY(!mapped(dup->file));

        const auto* junk = problemNamed(r, QStringLiteral("libnot_a_plugin.so"));
        QVERIFY(junk);
        QVERIFY2(junk->reason.contains(QStringLiteral("not a Qt plugin")),
                 qPrintable(junk->text()));
        QCOMPARE(r.problems().size(), 4);

        // The reason a kind has no launcher names the plugin that would have handled it.
        const QString why = r.missingReason(QStringLiteral("future"));
        QVERIFY2(why.contains(QStringLiteral("future-launcher")) &&
                     why.contains(QStringLiteral("incompatible")),
                 qPrintable(why));
    }

    // A plugin built for 2.2 has no vtable slots for listCheckpoints and sample: the registry
    // says so, and the RunSampler answers with that instead of calling into the plugin (its
    // open() would answer "a test plugin opens no session").
    void olderMinorCannotSample() {
        launch::PluginRegistry r;
        r.load({test::pluginDir(), testPluginDir()});
        const QString why = r.runFilesSupport(QStringLiteral("oldminor"));
        QCOMPARE(why, QStringLiteral("the old-minor-launcher plugin was built for interface 2.2 "
                                     "and cannot list or sample checkpoints or remove run "
                                     "folders; update it"));
        QVERIFY(r.runFilesSupport(QStringLiteral("kubernetes")).contains("no launcher plugin"));

        launch::RunSampler sampler(r, launch::LauncherContext{});
        QSignalSpy listed(&sampler, &launch::RunSampler::checkpointsListed);
        QSignalSpy finished(&sampler, &launch::RunSampler::finished);
        store::NodeRecord node;
        node.name = QStringLiteral("old");
        node.kind = QStringLiteral("oldminor");
        sampler.listCheckpoints(7, node, QStringLiteral("/runs/7"));
        QVERIFY(listed.wait(5000));
        QCOMPARE(listed.at(0).at(0).toLongLong(), 7);
        QVERIFY(listed.at(0).at(1).toStringList().isEmpty());
        QCOMPARE(listed.at(0).at(2).toString(), why);
        const qint64 id = sampler.sample(node, QStringLiteral("/runs/7"), {});
        QVERIFY(finished.wait(5000));
        QCOMPARE(finished.at(0).at(0).toLongLong(), id);
        QCOMPARE(finished.at(0).at(1).toString(), why);
    }
};

QTEST_GUILESS_MAIN(TestPluginRegistry)
#include "tst_plugin_registry.moc"
