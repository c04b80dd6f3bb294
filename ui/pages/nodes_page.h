#pragma once
// The Nodes page: the local machine and the SSH nodes (name, kind, host, GPUs, engine version,
// when probed, price), adding, editing and removing SSH nodes, and probing a node through the
// workbench's launch::NodeProber (a worker thread per probe). An SSH host whose key is unknown is
// shown with its SHA256 fingerprint and is trusted only when the user accepts exactly that key; a
// changed key is refused.

#include "store/store_types.h"
#include "ui/widgets/host_key_dialog.h"

#include <QList>
#include <QMap>
#include <QPointer>
#include <QVector>
#include <QWidget>

class QLabel;
class QPushButton;
class QTableWidget;
namespace bcd::launch {
struct ProbeOutcome;
}

namespace bcd::ui {

class Workbench;

class NodesPage : public QWidget {
    Q_OBJECT
public:
    enum Column { Name = 0, Kind, Host, Gpus, Engine, Probed, Price, ColumnCount };

    explicit NodesPage(Workbench& wb, QWidget* parent = nullptr);
    ~NodesPage() override;

    void refresh();
    // Adds an SSH node to the store, then probes it.
    void saveNode(const store::NodeRecord& node);
    // Rewrites the settings of the stored node named node.name in place (runs that refer to it
    // keep doing so); probes it again when its connection (host, port, user, identity,
    // known_hosts) changed, which clears the stored probe. A changed price applies to new runs
    // and, from now, to the node's active runs (store::saveNodeSettings); priceNote() says so.
    void updateNode(const store::NodeRecord& node);
    void removeNode(const QString& name);
    void probe(const QString& name, const QString& acceptFingerprint = {});
    QStringList nodeNames() const;
    QTableWidget* table() const { return table_; }
    // The host-key question on screen (non-modal so that nothing blocks), or null.
    HostKeyDialog* hostKeyDialog() const { return hostKeyDialog_; }
    int probesRunning() const;
    // What the last saved price change did (store::describe): shown under the table until the
    // next one; empty before any.
    QString priceNote() const;

signals:
    void refreshed();
    // After updateNode: the node's settings are stored (ok) or were refused (message).
    void nodeUpdated(const QString& node, bool ok, const QString& message);
    void probeFinished(const QString& node, bool ok, const QString& message);

private:
    void showNodes(const QVector<store::NodeRecord>& nodes);
    void probeDone(const launch::ProbeOutcome& outcome);
    void updateActions();
    void addDialog();
    void editDialog();
    QString selectedNode() const;

    Workbench& wb_;
    QVector<store::NodeRecord> nodes_;
    QTableWidget* table_;
    QLabel* details_;
    QLabel* priceNote_;
    QPushButton* add_;
    QPushButton* edit_;
    QPushButton* remove_;
    QPushButton* probe_;
    QPointer<HostKeyDialog> hostKeyDialog_;
    QStringList probing_;
    // The reason the last probe of a node failed (cleared by a probe that succeeds): its row says
    // "unreachable: reason" until then.
    QMap<QString, QString> unreachable_;
};

} // namespace bcd::ui
