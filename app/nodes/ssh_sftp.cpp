// SshSession's file transfers, by SFTP (not SCP: STYLE.md).

#include "nodes/shell_command.h"
#include "nodes/ssh_session.h"
#include "nodes/ssh_session_impl.h"

#include <QFile>
#include <fcntl.h>

namespace bcd::nodes {

namespace {

struct FileHolder {
    sftp_file f = nullptr;
    ~FileHolder() {
        if (f) sftp_close(f);
    }
};
struct AttrHolder {
    sftp_attributes a = nullptr;
    ~AttrHolder() {
        if (a) sftp_attributes_free(a);
    }
};

constexpr qint64 kWriteChunk = 32 * 1024;

} // namespace

sftp_session SshSession::Impl::sftpSession() {
    if (sftp) return sftp;
    sftp = sftp_new(session);
    if (!sftp)
        throw SshError(
            SshError::Kind::Sftp,
            QStringLiteral("%1: cannot start SFTP: %2").arg(endpoint.display(), error()));
    if (sftp_init(sftp) != SSH_OK) {
        const QString e = error();
        sftp_free(sftp);
        sftp = nullptr;
        throw SshError(
            SshError::Kind::Sftp,
            QStringLiteral("%1: the server offers no SFTP (%2)").arg(endpoint.display(), e));
    }
    return sftp;
}

void SshSession::Impl::sftpFail(const QString& what, const QString& path) const {
    const int code = sftp ? sftp_get_error(sftp) : -1;
    QString why;
    switch (code) {
    case SSH_FX_NO_SUCH_FILE:
    case SSH_FX_NO_SUCH_PATH:
        why = QStringLiteral("no such file or folder");
        break;
    case SSH_FX_PERMISSION_DENIED:
        why = QStringLiteral("permission denied");
        break;
    case SSH_FX_FILE_ALREADY_EXISTS:
        why = QStringLiteral("already exists");
        break;
    default:
        why = error();
        break;
    }
    throw SshError(SshError::Kind::Sftp,
                   QStringLiteral("%1: %2 %3: %4").arg(endpoint.display(), what, path, why));
}

std::optional<QByteArray> SshSession::readFile(const QString& path, qint64 offset, qint64 maxBytes,
                                               qint64* size) {
    sftp_session sftp = d_->sftpSession();
    const QByteArray p = path.toUtf8();
    FileHolder file;
    file.f = sftp_open(sftp, p.constData(), O_RDONLY, 0);
    if (!file.f) {
        if (sftp_get_error(sftp) == SSH_FX_NO_SUCH_FILE) return std::nullopt;
        d_->sftpFail(QStringLiteral("cannot open"), path);
    }
    AttrHolder attr;
    attr.a = sftp_fstat(file.f);
    if (!attr.a) d_->sftpFail(QStringLiteral("cannot stat"), path);
    const qint64 total = static_cast<qint64>(attr.a->size);
    if (size) *size = total;
    QByteArray out;
    if (offset >= total || maxBytes <= 0) return out;
    if (sftp_seek64(file.f, static_cast<uint64_t>(offset)) != 0)
        d_->sftpFail(QStringLiteral("cannot seek in"), path);
    const qint64 want = std::min(maxBytes, total - offset);
    out.resize(want);
    qint64 got = 0;
    while (got < want) {
        const auto n = sftp_read(file.f, out.data() + got,
                                 static_cast<size_t>(std::min<qint64>(want - got, 65536)));
        if (n < 0) d_->sftpFail(QStringLiteral("cannot read"), path);
        if (n == 0) break;
        got += n;
    }
    out.resize(got);
    return out;
}

namespace {

// Replaces path by part. SFTP v3 (OpenSSH's server) renames only onto a free name and libssh 0.10
// cannot send the posix-rename@openssh.com extension, so over an existing file the rename(2) is
// done by `mv -f` — the file is replaced at once, never missing. Unlink and rename is the last
// resort, for a server that runs no commands (SFTP only).
void moveOver(SshSession& ssh, SshSession::Impl& d, const QString& part, const QString& path) {
    sftp_session sftp = d.sftpSession();
    const QByteArray p = part.toUtf8(), target = path.toUtf8();
    if (sftp_rename(sftp, p.constData(), target.constData()) == SSH_OK) return;
    try {
        const ExecResult mv = ssh.exec(ShellCommand{QStringLiteral("mv"), QStringLiteral("-f"),
                                                    QStringLiteral("--"), part, path}
                                           .text(),
                                       60000);
        if (mv.exitStatus == 0) return;
        throw SshError(SshError::Kind::Sftp, QStringLiteral("%1: cannot rename %2 to %3: %4")
                                                 .arg(d.endpoint.display(), part, path,
                                                      QString::fromUtf8(mv.err).trimmed()));
    } catch (const SshError& e) {
        if (e.kind() != SshError::Kind::Command) throw; // else: the server runs no commands
    }
    sftp_unlink(sftp, target.constData());
    if (sftp_rename(sftp, p.constData(), target.constData()) != SSH_OK)
        d.sftpFail(QStringLiteral("cannot rename to"), path);
}

template <class Source>
void writeVia(SshSession& ssh, SshSession::Impl& d, const QString& path, int mode, Source&& next) {
    sftp_session sftp = d.sftpSession();
    const QString part = path + QStringLiteral(".part");
    const QByteArray p = part.toUtf8();
    {
        FileHolder file;
        file.f =
            sftp_open(sftp, p.constData(), O_WRONLY | O_CREAT | O_TRUNC, static_cast<mode_t>(mode));
        if (!file.f) d.sftpFail(QStringLiteral("cannot create"), part);
        try {
            QByteArray chunk;
            while (next(&chunk)) {
                qint64 done = 0;
                while (done < chunk.size()) {
                    const auto n = sftp_write(
                        file.f, chunk.constData() + done,
                        static_cast<size_t>(std::min<qint64>(chunk.size() - done, kWriteChunk)));
                    if (n < 0) d.sftpFail(QStringLiteral("cannot write"), part);
                    done += n;
                }
            }
            const int closed = sftp_close(file.f);
            file.f = nullptr;
            if (closed != SSH_OK) d.sftpFail(QStringLiteral("cannot write"), part);
        } catch (...) {
            if (file.f) sftp_close(file.f);
            file.f = nullptr;
            sftp_unlink(sftp, p.constData()); // no half-written .part left behind
            throw;
        }
    }
    sftp_chmod(sftp, p.constData(), static_cast<mode_t>(mode)); // the umask may have narrowed it
    moveOver(ssh, d, part, path);
}

} // namespace

void SshSession::writeFile(const QString& path, const QByteArray& data, int mode) {
    bool sent = false;
    writeVia(*this, *d_, path, mode, [&](QByteArray* chunk) {
        if (sent) return false;
        *chunk = data;
        sent = true;
        return true;
    });
}

void SshSession::uploadFile(const QString& localPath, const QString& remotePath, int mode) {
    QFile in(localPath);
    if (!in.open(QIODevice::ReadOnly))
        throw SshError(SshError::Kind::Sftp,
                       QStringLiteral("cannot read %1: %2").arg(localPath, in.errorString()));
    writeVia(*this, *d_, remotePath, mode, [&](QByteArray* chunk) {
        *chunk = in.read(1 << 20);
        return !chunk->isEmpty();
    });
}

bool SshSession::exists(const QString& path) {
    const QByteArray p = path.toUtf8();
    AttrHolder attr;
    attr.a = sftp_stat(d_->sftpSession(), p.constData());
    return attr.a != nullptr;
}

void SshSession::makeDirs(const QString& path, int mode) {
    sftp_session sftp = d_->sftpSession();
    const bool absolute = path.startsWith('/');
    QString current = absolute ? QStringLiteral("/") : QString();
    for (const QString& part : path.split('/', Qt::SkipEmptyParts)) {
        current +=
            (current.isEmpty() || current.endsWith('/') ? QString() : QStringLiteral("/")) + part;
        const QByteArray p = current.toUtf8();
        if (sftp_mkdir(sftp, p.constData(), static_cast<mode_t>(mode)) == SSH_OK) continue;
        AttrHolder attr;
        attr.a = sftp_stat(sftp, p.constData());
        if (!attr.a || attr.a->type != SSH_FILEXFER_TYPE_DIRECTORY)
            d_->sftpFail(QStringLiteral("cannot create the folder"), current);
    }
}

QString SshSession::canonicalPath(const QString& path) {
    const QByteArray p = path.toUtf8();
    char* c = sftp_canonicalize_path(d_->sftpSession(), p.constData());
    if (!c) d_->sftpFail(QStringLiteral("cannot resolve"), path);
    const QString out = QString::fromUtf8(c);
    ssh_string_free_char(c);
    return out;
}

} // namespace bcd::nodes
