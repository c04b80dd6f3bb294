// The communicator's host logic in one process (docs/data-parallel.md): a world of one, what the
// launcher's environment says, the refusal of an engine without MPI started as one of several
// ranks, the GPU a rank takes, and the NCCL library's loader.

#include "bcd/communicator.h"
#include "bcd/errors.h"

#include <QtTest>
#include <cstdlib>

namespace {

// Sets launcher variables for the life of a scope, and clears every other launcher's.
class LauncherVars {
public:
    explicit LauncherVars(std::initializer_list<std::pair<const char*, const char*>> vars) {
        for (const char* n : kAll) ::unsetenv(n);
        for (const auto& [name, value] : vars) ::setenv(name, value, 1);
    }
    ~LauncherVars() {
        for (const char* n : kAll) ::unsetenv(n);
    }

private:
    static constexpr const char* kAll[] = {"OMPI_COMM_WORLD_SIZE",
                                           "OMPI_COMM_WORLD_RANK",
                                           "OMPI_COMM_WORLD_LOCAL_RANK",
                                           "PMI_SIZE",
                                           "PMI_RANK",
                                           "MPI_LOCALRANKID",
                                           "PMIX_SIZE",
                                           "PMIX_RANK",
                                           "PMIX_LOCAL_RANK"};
};

} // namespace

class TestCommunicator : public QObject {
    Q_OBJECT
private slots:
    void single_process_is_a_world_of_one() {
        auto c = bcd::make_single_communicator();
        QCOMPARE(c->rank(), 0);
        QCOMPARE(c->size(), 1);
        std::vector<float> f{1.5f, -2.0f};
        std::vector<double> d{3.25};
        c->all_reduce_sum(f);
        c->all_reduce_sum(d);
        QCOMPARE(f, (std::vector<float>{1.5f, -2.0f}));
        QCOMPARE(d[0], 3.25);
        std::vector<std::byte> b{std::byte{7}};
        c->broadcast(b, 0);
        QCOMPARE(b[0], std::byte{7});
        c->barrier();
        QCOMPARE(c->bytes_reduced(), std::uint64_t{0});
    }

    void launcher_environment_is_read() {
        {
            LauncherVars none({});
            const auto e = bcd::launcher_environment();
            QCOMPARE(e.world_size, 1);
            QVERIFY(e.variable.empty());
        }
        {
            LauncherVars ompi({{"OMPI_COMM_WORLD_SIZE", "4"},
                               {"OMPI_COMM_WORLD_RANK", "3"},
                               {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}});
            const auto e = bcd::launcher_environment();
            QCOMPARE(e.world_size, 4);
            QCOMPARE(e.rank, 3);
            QCOMPARE(e.local_rank, 1);
            QCOMPARE(e.variable, std::string("OMPI_COMM_WORLD_SIZE"));
        }
        {
            LauncherVars hydra({{"PMI_SIZE", "2"}, {"PMI_RANK", "1"}});
            const auto e = bcd::launcher_environment();
            QCOMPARE(e.world_size, 2);
            QCOMPARE(e.rank, 1);
            QCOMPARE(e.variable, std::string("PMI_SIZE"));
        }
        {
            LauncherVars junk({{"OMPI_COMM_WORLD_SIZE", "two"}});
            QCOMPARE(bcd::launcher_environment().world_size, 1);
        }
    }

    // An engine without MPI, started by mpirun -np 2, must not train alone twice into one run
    // folder: it refuses, naming the variable that gave it away.
    void without_mpi_several_ranks_are_refused() {
        {
            LauncherVars v({{"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_RANK", "1"}});
            try {
                bcd::make_communicator(false);
                QFAIL("an engine without MPI accepted to be rank 1 of 2");
            } catch (const bcd::InputError& e) {
                const QString what = e.what();
                QVERIFY2(what.contains("OMPI_COMM_WORLD_SIZE=2") && what.contains("rank 1 of 2") &&
                             what.contains("without MPI"),
                         qPrintable(what));
            }
        }
        {
            LauncherVars v({{"PMI_SIZE", "3"}});
            QVERIFY_THROWS_EXCEPTION(bcd::InputError, bcd::make_communicator(false));
        }
        {
            // One rank is one process: no MPI needed.
            LauncherVars v({{"OMPI_COMM_WORLD_SIZE", "1"}});
            QCOMPARE(bcd::make_communicator(false)->size(), 1);
        }
        LauncherVars none({});
        QCOMPARE(bcd::make_communicator(false)->size(), 1);
        QCOMPARE(bcd::make_communicator(true)->size(), 1); // no launcher: no MPI_Init
    }

    void each_rank_on_a_node_takes_its_own_gpu() {
        QCOMPARE(bcd::device_for_local_rank(0, 4), 0);
        QCOMPARE(bcd::device_for_local_rank(3, 4), 3);
        QCOMPARE(bcd::device_for_local_rank(5, 4), 1); // more ranks than GPUs: they share
        QCOMPARE(bcd::device_for_local_rank(2, 0), 0);
    }

    // Without a GPU (or without the library) the NCCL communicator is refused with a reason,
    // never a crash.
    void nccl_without_a_gpu_says_why() {
        auto host = bcd::make_single_communicator();
        try {
            auto c = bcd::make_nccl_communicator(*host, 0);
            QCOMPARE(c->size(), 1); // a GPU is there: a world of one over NCCL
            qInfo("NCCL communicator made: %s", c->describe().c_str());
        } catch (const bcd::InternalError& e) {
            const QString what = e.what();
            qInfo("NCCL communicator refused: %s", e.what());
            QVERIFY2(what.contains("NCCL") || what.contains("libbcd_dist_nccl"), qPrintable(what));
        }
    }
};

QTEST_APPLESS_MAIN(TestCommunicator)
#include "tst_communicator.moc"
