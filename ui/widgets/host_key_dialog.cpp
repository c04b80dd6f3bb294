#include "ui/widgets/host_key_dialog.h"

#include <QDialogButtonBox>
#include <QFontDatabase>
#include <QLabel>
#include <QPushButton>
#include <QStyle>
#include <QVBoxLayout>

namespace bcd::ui {

HostKeyDialog::HostKeyDialog(const QString& node, const QString& endpoint,
                             const nodes::HostKey& key, QWidget* parent)
    : QDialog(parent), key_(key) {
    setObjectName(QStringLiteral("hostKeyDialog"));
    setWindowTitle(tr("Unknown host key — %1").arg(node));
    auto* layout = new QVBoxLayout(this);
    auto* intro =
        new QLabel(tr("<b>%1</b> is not in your known_hosts. Its server presents this key:")
                       .arg(endpoint.toHtmlEscaped()),
                   this);
    intro->setWordWrap(true);
    fingerprint_ = new QLabel(QStringLiteral("%1\n%2").arg(key.type, key.sha256), this);
    fingerprint_->setObjectName(QStringLiteral("fingerprint"));
    fingerprint_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    fingerprint_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    fingerprint_->setFrameShape(QFrame::StyledPanel);
    fingerprint_->setMargin(8);
    auto* how = new QLabel(
        tr("Trust it only if it is the same as the host's own fingerprint, which an administrator "
           "of the host reads with <tt>ssh-keygen -lf /etc/ssh/ssh_host_%1_key.pub</tt>. "
           "Once trusted, the key is added to known_hosts and a different key later is refused.")
            .arg(key.type.startsWith(QLatin1String("ssh-")) ? key.type.mid(4)
                                                            : QStringLiteral("ed25519")),
        this);
    how->setWordWrap(true);
    auto* buttons = new QDialogButtonBox(this);
    trust_ = buttons->addButton(tr("Trust this key"), QDialogButtonBox::AcceptRole);
    trust_->setObjectName(QStringLiteral("trustHostKey"));
    trust_->setAutoDefault(false);
    QPushButton* cancel = buttons->addButton(QDialogButtonBox::Cancel);
    cancel->setDefault(true);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(intro);
    layout->addWidget(fingerprint_);
    layout->addWidget(how);
    layout->addWidget(buttons);
    setMinimumWidth(520);
}

QString HostKeyDialog::fingerprintText() const {
    return fingerprint_->text();
}

} // namespace bcd::ui
