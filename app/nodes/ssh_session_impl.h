#pragma once
// SshSession's private state, shared by ssh_session.cpp and ssh_sftp.cpp.

#include "nodes/ssh_session.h"

#include <libssh/libssh.h>
#include <libssh/sftp.h>

namespace bcd::nodes {

struct SshSession::Impl {
    SshEndpoint endpoint;
    HostKey key;
    bool added = false;
    ssh_session session = nullptr;
    sftp_session sftp = nullptr;

    ~Impl() {
        if (sftp) sftp_free(sftp);
        if (session) {
            if (ssh_is_connected(session)) ssh_disconnect(session);
            ssh_free(session);
        }
    }
    QString error() const { return QString::fromUtf8(ssh_get_error(session)); }
    sftp_session sftpSession(); // opened on first use
    [[noreturn]] void sftpFail(const QString& what, const QString& path) const;
};

} // namespace bcd::nodes
