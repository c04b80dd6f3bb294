// The durable writer (bcd/atomic_file.h): the target is the old file or the whole new one, never
// half of it, and no temporary file is left behind, whatever fails.

#include "bcd/atomic_file.h"
#include "bcd/errors.h"

#include <QtTest>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace {

fs::path dir_for(const char* name) {
    const fs::path d = fs::path(BCD_TEST_TMP) / "atomic_file" / name;
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::size_t entries(const fs::path& d) {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(d), {}));
}

} // namespace

class TestAtomicFile : public QObject {
    Q_OBJECT
private slots:
    void replaces_the_target_whole() {
        const auto d = dir_for("replace");
        bcd::write_file_atomic(d / "f", "old");
        bcd::write_file_atomic(d / "f", "new text");
        QCOMPARE(read(d / "f"), std::string("new text"));
        QCOMPARE(entries(d), std::size_t{1});
    }

    // Abandoned before commit (an exception while the content is produced): the old file stays
    // and the temporary file is gone.
    void uncommitted_leaves_the_old_file() {
        const auto d = dir_for("abandon");
        bcd::write_file_atomic(d / "f", "old");
        {
            bcd::AtomicFileWriter w(d / "f");
            w.write("half of the ne");
            QVERIFY(fs::exists(w.temp_path()));
            QCOMPARE(w.temp_path().parent_path(), d);
        }
        QCOMPARE(read(d / "f"), std::string("old"));
        QCOMPARE(entries(d), std::size_t{1});
    }

    // A header filled in at the end (token shards) by seeking back.
    void seek_rewrites_in_place() {
        const auto d = dir_for("seek");
        bcd::AtomicFileWriter w(d / "f", false);
        w.write("xxxx-body");
        w.seek(0);
        w.write("HEAD");
        w.commit();
        QCOMPARE(read(d / "f"), std::string("HEAD-body"));
    }

    // A folder that does not exist: an InternalError naming the file, nothing created.
    void failure_names_the_file() {
        const auto d = dir_for("missing");
        try {
            bcd::write_file_atomic(d / "no/such/folder/f", "x");
            QFAIL("expected an InternalError");
        } catch (const bcd::DiskFullError&) {
            QFAIL("not a full disk");
        } catch (const bcd::InternalError& e) {
            QVERIFY2(QString(e.what()).contains("no/such/folder/f"), e.what());
            QVERIFY2(QString(e.what()).contains("No such file or directory"), e.what());
        }
        QCOMPARE(entries(d), std::size_t{0});
    }

    // ENOSPC and EDQUOT are the disk's: DiskFullError with the folder; anything else is not.
    void disk_full_is_its_own_error() {
        try {
            bcd::throw_write_error("/data/run/state.bin", "write", ENOSPC);
        } catch (const bcd::DiskFullError& e) {
            QCOMPARE(QString(e.what()),
                     QString("no space left on the device holding /data/run (writing "
                             "/data/run/state.bin)"));
            QCOMPARE(e.dir(), std::string("/data/run"));
        }
        QVERIFY_THROWS_EXCEPTION(bcd::DiskFullError,
                                 bcd::throw_write_error("/q/f", "write", EDQUOT));
        try {
            bcd::throw_write_error("/data/f", "write", EIO);
            QFAIL("expected an InternalError");
        } catch (const bcd::DiskFullError&) {
            QFAIL("EIO is not a full disk");
        } catch (const bcd::InternalError& e) {
            QCOMPARE(QString(e.what()), QString("cannot write /data/f: Input/output error"));
        }
    }
};

QTEST_APPLESS_MAIN(TestAtomicFile)
#include "tst_atomic_file.moc"
