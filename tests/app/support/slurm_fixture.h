#pragma once
// A real one-node Slurm cluster for the Slurm tests (docs/slurm.md, "Tests"): Debian's munged,
// slurmctld and slurmd started in a folder of the test's, on 127.0.0.1 with ports of the
// fixture's choosing, with their own munge key, socket, state and logs — nothing of the machine's
// own Slurm or munge is touched. The node "bcdnode" offers 4 CPUs (more than this machine has, so
// that several small jobs run at once) and two GPUs by GRES ("gpu:tiny:2", /dev/null and /dev/zero
// standing in for devices) in partitions "cpu" (the default) and "gpu". Clients find it through
// SLURM_CONF = conf().
//
// When a daemon is missing or the cluster does not come up, start() returns false and
// skipReason() says why; the tests skip with it — and fail in CI (CI=true), where the packages
// are installed (scripts/install-deps.sh --tests) and the cluster must run.

#include <QProcess>
#include <QString>
#include <QStringList>
#include <memory>
#include <vector>

namespace bcd::test {

class SlurmFixture {
public:
    SlurmFixture() = default;
    ~SlurmFixture();
    SlurmFixture(const SlurmFixture&) = delete;
    SlurmFixture& operator=(const SlurmFixture&) = delete;

    bool start(const QString& dir);
    void stop();
    QString skipReason() const { return skipReason_; }
    QString conf() const { return dir_ + QStringLiteral("/slurm.conf"); }
    QString nodeName() const { return QStringLiteral("bcdnode"); }
    // The daemons' logs (their last lines), for a failing test's message.
    QString logTail() const;

    // Runs a Slurm client (scontrol, squeue, ...) against this cluster; its stdout, or an error
    // in *error.
    QByteArray client(const QString& tool, const QStringList& args, QString* error = nullptr) const;

    // Whether the tests must not skip: CI=true.
    static bool required();

private:
    bool startDaemon(const QString& program, const QStringList& args, const QString& what);
    bool waitForIdleNode(int timeoutMs);

    QString dir_;
    QString skipReason_;
    std::vector<std::unique_ptr<QProcess>> daemons_;
};

} // namespace bcd::test
