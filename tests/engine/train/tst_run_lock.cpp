// The run folder's lock (docs/data-parallel.md): one writer per run folder. A second lock is
// refused naming the holder; the lock goes with its holder. (tst_data_parallel checks it between
// real processes.)

#include "bcd/errors.h"
#include "train/run_lock.h"

#include <QtTest>
#include <filesystem>
#include <fstream>
#include <optional>
#include <unistd.h>

namespace fs = std::filesystem;

class TestRunLock : public QObject {
    Q_OBJECT
private slots:
    void run_folder_lock() {
        const fs::path dir = fs::path(BCD_TEST_TMP) / "lock/run";
        fs::remove_all(dir.parent_path());
        std::optional<bcd::RunLock> first;
        first.emplace(dir, "run.json");
        QVERIFY(fs::exists(dir / bcd::RunLock::kFileName));
        try {
            bcd::RunLock second(dir, "run.json");
            QFAIL("a second lock on a held run folder was granted");
        } catch (const bcd::InputError& e) {
            const QString what = e.what();
            QVERIFY2(what.startsWith("run.json: output.dir:") && what.contains("in use") &&
                         what.contains(QString("pid %1 on host").arg(::getpid())),
                     qPrintable(what));
        }
        first.reset();
        bcd::RunLock third(dir, "run.json"); // released with its holder
        std::ifstream in(dir / bcd::RunLock::kFileName);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        QVERIFY(text.find("\"pid\":" + std::to_string(::getpid())) != std::string::npos);
    }
};

QTEST_APPLESS_MAIN(TestRunLock)
#include "tst_run_lock.moc"
