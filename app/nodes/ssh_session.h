#pragma once
// SshSession: one libssh session to one node, used by one thread only (STYLE.md). Connecting
// checks the host key against known_hosts first — an unknown key is accepted only when asked,
// after its SHA256 fingerprint has been shown; a changed key is always refused — then
// authenticates with the node's identity file, or the SSH agent and ~/.ssh's default keys.
// Commands run through exec() (output read to the end before the exit status is asked for);
// files travel by SFTP. ~/.ssh/config is not read: a node states its host, port, user and key.

#include <QByteArray>
#include <QString>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>

namespace bcd::nodes {

struct SshEndpoint {
    QString host;
    int port = 22;
    QString user;       // empty: the local user's name
    QString identity;   // private key file; empty: the agent and default keys
    QString knownHosts; // empty: ~/.ssh/known_hosts
    int timeoutSeconds = 15;
    // "user@host:port", "[::1]:22" for IPv6 addresses.
    QString display() const;
};

struct HostKey {
    QString type;   // "ssh-ed25519", "ecdsa-sha2-nistp256", ...
    QString sha256; // "SHA256:…" as ssh-keygen -l prints it
};

enum class HostKeyTrust {
    KnownOnly, // refuse a key that is not in known_hosts
    AcceptNew, // add an unknown key to known_hosts (a changed key is refused all the same)
};

class SshError : public std::runtime_error {
public:
    enum class Kind { Connect, HostKeyUnknown, HostKeyChanged, Auth, Command, Sftp, Timeout };
    SshError(Kind kind, const QString& message, HostKey key = {})
        : std::runtime_error(message.toStdString()), kind_(kind), key_(std::move(key)) {}
    Kind kind() const { return kind_; }
    const HostKey& hostKey() const { return key_; }

private:
    Kind kind_;
    HostKey key_;
};

struct ExecResult {
    int exitStatus = -1;
    QByteArray out; // empty when streamed (ExecStream::onOut)
    QByteArray err;
    bool stopped = false; // ExecStream::stop ended it: no exit status
};

// A command whose stdout is handed over as it comes (exec(command, ExecStream)).
struct ExecStream {
    std::function<void(const QByteArray&)> onOut; // stdout chunks; unset: kept in ExecResult::out
    // Asked between reads (at least every 100 ms); true: the command is sent SIGTERM, its channel
    // closed, and exec returns with ExecResult::stopped.
    std::function<bool()> stop;
    int timeoutMs = 120000; // 0: no limit
};

class SshSession {
public:
    // Connects, checks the host key and authenticates; throws SshError. With AcceptNew and a
    // non-empty acceptFingerprint, only a key with exactly that fingerprint is added.
    explicit SshSession(const SshEndpoint& endpoint, HostKeyTrust trust = HostKeyTrust::KnownOnly,
                        const QString& acceptFingerprint = {});
    ~SshSession();
    SshSession(const SshSession&) = delete;
    SshSession& operator=(const SshSession&) = delete;

    const SshEndpoint& endpoint() const;
    const HostKey& hostKey() const;
    bool hostKeyAdded() const; // this connection wrote the key to known_hosts

    // Runs a command line (build it with ShellCommand) and returns its output and exit status.
    ExecResult exec(const QString& command, int timeoutMs = 120000);
    // The same, streaming stdout and stoppable (the loop above is this one).
    ExecResult exec(const QString& command, const ExecStream& stream);

    // --- SFTP (ssh_sftp.cpp); relative paths are relative to the remote home folder ---------
    // Up to maxBytes from offset; nullopt when the file does not exist. *size: its size now.
    std::optional<QByteArray> readFile(const QString& path, qint64 offset, qint64 maxBytes,
                                       qint64* size = nullptr);
    // Writes a file atomically (a .part file renamed over it).
    void writeFile(const QString& path, const QByteArray& data, int mode = 0644);
    void uploadFile(const QString& localPath, const QString& remotePath, int mode);
    void makeDirs(const QString& path, int mode = 0755);
    bool exists(const QString& path);
    QString canonicalPath(const QString& path);

    struct Impl;

private:
    std::unique_ptr<Impl> d_;
};

} // namespace bcd::nodes
