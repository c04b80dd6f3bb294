#pragma once
// HostKeyDialog: an SSH host whose key is not in known_hosts. Shows the key's type and SHA256
// fingerprint and asks the user to compare it with the host's own (ssh-keygen -lf on the host);
// only an explicit "Trust this key" accepts it — the default button declines.

#include "nodes/ssh_session.h"

#include <QDialog>

class QLabel;
class QPushButton;

namespace bcd::ui {

class HostKeyDialog : public QDialog {
    Q_OBJECT
public:
    HostKeyDialog(const QString& node, const QString& endpoint, const nodes::HostKey& key,
                  QWidget* parent = nullptr);

    const nodes::HostKey& hostKey() const { return key_; }
    QString fingerprintText() const;
    QPushButton* trustButton() const { return trust_; }

private:
    nodes::HostKey key_;
    QLabel* fingerprint_;
    QPushButton* trust_;
};

} // namespace bcd::ui
