// The MPI communicator between real ranks: started by ctest as `mpirun -np N` of this test, each
// rank runs every case. All-reduces of fp32 and fp64 (also larger than one message), broadcast
// (the path the NCCL unique id takes), barrier, and the byte count the metrics report.

#include "bcd/communicator.h"

#include <QtTest>
#include <cstdlib>
#include <memory>
#include <numeric>

class TestMpiCommunicator : public QObject {
    Q_OBJECT

    std::unique_ptr<bcd::Communicator> comm_;

private slots:
    void initTestCase() {
        if (!bcd::built_with_mpi()) QSKIP("skipped: this engine was built without MPI");
        if (bcd::launcher_environment().world_size < 2)
            QSKIP("skipped: not started by mpirun with at least 2 ranks");
        comm_ = bcd::make_communicator();
        QCOMPARE(comm_->size(), bcd::launcher_environment().world_size);
        QCOMPARE(comm_->rank(), bcd::launcher_environment().rank);
        qInfo("%s", comm_->describe().c_str());
    }

    void all_reduce_sums_floats_and_doubles() {
        const int n = comm_->size(), r = comm_->rank();
        // Large enough to go through the MPI library's pipelined algorithms too.
        std::vector<float> f(300001);
        for (std::size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(r + 1) * 0.5f + i % 7;
        const std::uint64_t before = comm_->bytes_reduced();
        comm_->all_reduce_sum(f);
        QCOMPARE(comm_->bytes_reduced() - before, std::uint64_t{f.size() * sizeof(float)});
        const float ranks_sum = 0.5f * static_cast<float>(n * (n + 1) / 2);
        for (std::size_t i = 0; i < f.size(); ++i)
            if (f[i] != ranks_sum + static_cast<float>(n * static_cast<int>(i % 7)))
                QFAIL(qPrintable(QString("float %1: %2").arg(i).arg(f[i])));
        std::vector<double> d{1.0 / 3.0 * (r + 1), static_cast<double>(r == 0)};
        comm_->all_reduce_sum(d);
        QCOMPARE(d[1], 1.0);
        double expect = 0.0;
        for (int k = 0; k < n; ++k) expect += 1.0 / 3.0 * (k + 1);
        QVERIFY(std::abs(d[0] - expect) < 1e-15);
    }

    // Every rank ends with the same bits: the trainer's ranks then take identical optimizer
    // steps. Rank 0 broadcasts its result and each rank compares.
    void every_rank_gets_the_same_bits() {
        std::vector<float> f(1000);
        for (std::size_t i = 0; i < f.size(); ++i)
            f[i] = 1.0f / static_cast<float>(3 + i + 7 * comm_->rank());
        comm_->all_reduce_sum(f);
        std::vector<float> mine = f;
        comm_->broadcast(std::as_writable_bytes(std::span<float>(f)), 0);
        QVERIFY(std::memcmp(mine.data(), f.data(), f.size() * sizeof(float)) == 0);
    }

    // The NCCL unique id (128 bytes made by rank 0) reaches every rank through broadcast.
    void broadcast_carries_root_bytes() {
        std::vector<std::byte> id(128);
        if (comm_->rank() == 0)
            for (std::size_t i = 0; i < id.size(); ++i) id[i] = std::byte(i * 7 + 1);
        comm_->broadcast(id, 0);
        for (std::size_t i = 0; i < id.size(); ++i) QCOMPARE(id[i], std::byte(i * 7 + 1));
        comm_->barrier();
    }

    void cleanupTestCase() { comm_.reset(); }
};

QTEST_APPLESS_MAIN(TestMpiCommunicator)
#include "tst_mpi_communicator.moc"
