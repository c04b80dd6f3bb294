#include "nodes/ssh_session.h"

#include "nodes/ssh_session_impl.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QHostAddress>

namespace bcd::nodes {

namespace {

// libssh's connect errors in plain words, what it said kept at the end: what a user can check
// (the daemon, the port, the name, the network) rather than a socket call's wording.
QString plainConnectError(const QString& libssh, const QString& host, int port, long timeoutS) {
    const QString l = libssh.toLower();
    QString plain;
    if (l.contains(QLatin1String("connection refused")))
        plain = QStringLiteral("connection refused: nothing accepts SSH connections on port %1 "
                               "of %2 (is sshd running there, is the port right?)")
                    .arg(port)
                    .arg(host);
    else if (l.contains(QLatin1String("imeout")) || l.contains(QLatin1String("timed out")))
        plain = QStringLiteral("timed out: %1 did not answer as an SSH server within %2 s (host "
                               "down, a firewall, or not an SSH port)")
                    .arg(host)
                    .arg(timeoutS);
    else if (l.contains(QLatin1String("resolve")) || l.contains(QLatin1String("not known")))
        plain = QStringLiteral("unknown host: the name %1 cannot be resolved (check its spelling "
                               "and the DNS)")
                    .arg(host);
    else if (l.contains(QLatin1String("no route")) || l.contains(QLatin1String("unreachable")))
        plain = QStringLiteral("no route to %1 (network unreachable)").arg(host);
    return plain.isEmpty() ? libssh : plain + QStringLiteral(" [libssh: %1]").arg(libssh);
}

// Frees what libssh hands out.
struct KeyHolder {
    ssh_key key = nullptr;
    ~KeyHolder() {
        if (key) ssh_key_free(key);
    }
};
struct ChannelHolder {
    ssh_channel ch = nullptr;
    ~ChannelHolder() {
        if (ch) {
            ssh_channel_close(ch);
            ssh_channel_free(ch);
        }
    }
};

HostKey describe(ssh_key key) {
    HostKey k;
    k.type = QString::fromUtf8(ssh_key_type_to_char(ssh_key_type(key)));
    unsigned char* hash = nullptr;
    size_t len = 0;
    if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len) == SSH_OK) {
        char* fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
        if (fp) {
            k.sha256 = QString::fromUtf8(fp);
            ssh_string_free_char(fp);
        }
        ssh_clean_pubkey_hash(&hash);
    }
    return k;
}

QString knownHostsFile(const SshEndpoint& ep) {
    return ep.knownHosts.isEmpty() ? QDir::homePath() + QStringLiteral("/.ssh/known_hosts")
                                   : ep.knownHosts;
}

} // namespace

QString SshEndpoint::display() const {
    const bool v6 = QHostAddress(host).protocol() == QAbstractSocket::IPv6Protocol;
    const QString h = v6 ? '[' + host + ']' : host;
    return (user.isEmpty() ? QString() : user + '@') + h + ':' + QString::number(port);
}

SshSession::SshSession(const SshEndpoint& ep, HostKeyTrust trust, const QString& acceptFingerprint)
    : d_(std::make_unique<Impl>()) {
    d_->endpoint = ep;
    const QString where = ep.display();
    d_->session = ssh_new();
    if (!d_->session)
        throw SshError(SshError::Kind::Connect, "cannot create an SSH session (out of memory)");
    ssh_session s = d_->session;
    const QByteArray host = ep.host.toUtf8(), user = ep.user.toUtf8();
    const QString known = knownHostsFile(ep);
    const QByteArray knownPath = known.toUtf8();
    const unsigned int port = static_cast<unsigned int>(ep.port);
    const long timeout = ep.timeoutSeconds;
    const bool no = false;
    ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);
    if (ssh_options_set(s, SSH_OPTIONS_HOST, host.constData()) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_PORT, &port) != SSH_OK ||
        (!user.isEmpty() && ssh_options_set(s, SSH_OPTIONS_USER, user.constData()) != SSH_OK) ||
        ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, knownPath.constData()) != SSH_OK)
        throw SshError(SshError::Kind::Connect,
                       QStringLiteral("%1: invalid SSH options: %2").arg(where, d_->error()));

    if (ssh_connect(s) != SSH_OK) {
        const QString e = d_->error();
        const bool timedOut = e.contains(QLatin1String("imeout"));
        throw SshError(timedOut ? SshError::Kind::Timeout : SshError::Kind::Connect,
                       QStringLiteral("cannot connect to %1: %2")
                           .arg(where, plainConnectError(e, ep.host, ep.port, timeout)));
    }

    // The host key, before anything is sent to the server.
    {
        KeyHolder server;
        if (ssh_get_server_publickey(s, &server.key) != SSH_OK)
            throw SshError(SshError::Kind::Connect,
                           QStringLiteral("%1 sent no host key: %2").arg(where, d_->error()));
        d_->key = describe(server.key);
    }
    const HostKey& key = d_->key;
    const QString shown = key.type + ' ' + key.sha256;
    switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK:
        break;
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
        throw SshError(
            SshError::Kind::HostKeyChanged,
            QStringLiteral("the host key of %1 has CHANGED: the server shows %2, which does not "
                           "match the key stored in %3; refusing to connect (the connection may "
                           "be intercepted; if the host was reinstalled, remove its old entry "
                           "from %3 yourself)")
                .arg(where, shown, known),
            key);
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND: {
        if (trust != HostKeyTrust::AcceptNew)
            throw SshError(
                SshError::Kind::HostKeyUnknown,
                QStringLiteral("the host key of %1 is not known (%2 not in %3); check the "
                               "fingerprint and accept it explicitly")
                    .arg(where, shown, known),
                key);
        if (!acceptFingerprint.isEmpty() && acceptFingerprint != key.sha256)
            throw SshError(
                SshError::Kind::HostKeyUnknown,
                QStringLiteral("the host key of %1 is %2, not the %3 that was accepted; refusing "
                               "to connect")
                    .arg(where, shown, acceptFingerprint),
                key);
        QDir().mkpath(QFileInfo(known).absolutePath());
        if (ssh_session_update_known_hosts(s) != SSH_OK)
            throw SshError(SshError::Kind::Connect,
                           QStringLiteral("cannot add the host key of %1 to %2: %3")
                               .arg(where, known, d_->error()),
                           key);
        d_->added = true;
        break;
    }
    case SSH_KNOWN_HOSTS_ERROR:
    default:
        throw SshError(SshError::Kind::Connect,
                       QStringLiteral("cannot check the host key of %1 against %2: %3")
                           .arg(where, known, d_->error()),
                       key);
    }

    // Authentication.
    int rc = SSH_AUTH_ERROR;
    QString tried;
    if (!ep.identity.isEmpty()) {
        KeyHolder priv;
        const QByteArray file = ep.identity.toUtf8();
        if (ssh_pki_import_privkey_file(file.constData(), nullptr, nullptr, nullptr, &priv.key) !=
            SSH_OK)
            throw SshError(
                SshError::Kind::Auth,
                QStringLiteral(
                    "cannot read the identity file %1 (a missing file, not a private key, "
                    "or protected by a passphrase: load such keys into the SSH agent)")
                    .arg(ep.identity));
        tried = QStringLiteral("the key in %1 (%2)").arg(ep.identity, describe(priv.key).sha256);
        rc = ssh_userauth_publickey(s, nullptr, priv.key);
    } else {
        tried = QStringLiteral("the SSH agent's and ~/.ssh's default keys");
        rc = ssh_userauth_publickey_auto(s, nullptr, nullptr);
    }
    if (rc == SSH_AUTH_ERROR)
        throw SshError(SshError::Kind::Auth,
                       QStringLiteral("authentication with %1 failed: %2").arg(where, d_->error()));
    if (rc != SSH_AUTH_SUCCESS)
        throw SshError(
            SshError::Kind::Auth,
            QStringLiteral("authentication failed: %1 did not accept %2").arg(where, tried));
}

SshSession::~SshSession() = default;

const SshEndpoint& SshSession::endpoint() const {
    return d_->endpoint;
}
const HostKey& SshSession::hostKey() const {
    return d_->key;
}
bool SshSession::hostKeyAdded() const {
    return d_->added;
}

ExecResult SshSession::exec(const QString& command, int timeoutMs) {
    ExecStream whole;
    whole.timeoutMs = timeoutMs;
    return exec(command, whole);
}

ExecResult SshSession::exec(const QString& command, const ExecStream& stream) {
    const int timeoutMs = stream.timeoutMs;
    const QString where = d_->endpoint.display();
    ChannelHolder ch;
    ch.ch = ssh_channel_new(d_->session);
    if (!ch.ch || ssh_channel_open_session(ch.ch) != SSH_OK)
        throw SshError(SshError::Kind::Command,
                       QStringLiteral("%1: cannot open a channel: %2").arg(where, d_->error()));
    const QByteArray cmd = command.toUtf8();
    if (ssh_channel_request_exec(ch.ch, cmd.constData()) != SSH_OK)
        throw SshError(SshError::Kind::Command,
                       QStringLiteral("%1: cannot run a command: %2").arg(where, d_->error()));
    ssh_channel_send_eof(ch.ch); // nothing on stdin

    ExecResult r;
    QElapsedTimer timer;
    timer.start();
    char buf[16384];
    while (true) {
        // Checked on every turn: a command that never stops printing must time out all the same.
        if (stream.stop && stream.stop()) {
            // TERM for a server that delivers it; closing the channel ends the command's pipes
            // (its next write fails). A caller that must be sure kills it by pid as well.
            ssh_channel_request_send_signal(ch.ch, "TERM");
            ssh_channel_close(ch.ch);
            r.stopped = true;
            return r;
        }
        if (timeoutMs > 0 && timer.elapsed() > timeoutMs) {
            // Without a terminal the remote command outlives its channel: ask the server to stop
            // its process group (OpenSSH ≥ 7.9 does, except in root's sessions; others ignore it).
            ssh_channel_request_send_signal(ch.ch, "TERM");
            throw SshError(SshError::Kind::Timeout,
                           QStringLiteral("%1: a command did not finish within %2 s")
                               .arg(where, QString::number(timeoutMs / 1000.0)));
        }
        bool got = false;
        for (int isErr = 0; isErr < 2; ++isErr) {
            const int n = ssh_channel_read_nonblocking(ch.ch, buf, sizeof buf, isErr);
            if (n == SSH_ERROR)
                throw SshError(
                    SshError::Kind::Command,
                    QStringLiteral("%1: reading a command's output: %2").arg(where, d_->error()));
            if (n > 0) {
                if (isErr)
                    r.err.append(buf, n);
                else if (stream.onOut)
                    stream.onOut(QByteArray(buf, n));
                else
                    r.out.append(buf, n);
                got = true;
            }
        }
        if (got) continue;
        if (ssh_channel_is_eof(ch.ch)) break;
        if (ssh_channel_poll_timeout(ch.ch, 100, 0) == SSH_ERROR)
            throw SshError(SshError::Kind::Command,
                           QStringLiteral("%1: connection lost: %2").arg(where, d_->error()));
    }
    // All output is read; only now ask how the command ended.
    r.exitStatus = ssh_channel_get_exit_status(ch.ch);
    return r;
}

} // namespace bcd::nodes
